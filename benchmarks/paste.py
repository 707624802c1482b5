"""Micro-benchmark: pasting 100 instances' 28x28 heatmaps into a 1080p frame.

Runs :func:`demo.model.postprocess.to_instances` (box mapping, paste, clipping) on a fixed,
seeded set of detections and reports milliseconds per frame, CPU and wall.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

# As while a segmenter is open (demo/core/blas.py): NumPy's OpenBLAS with one thread, set before it loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from demo.model.contracts import Detections  # noqa: E402
from demo.model.geometry import ResizePolicy, geometry_for  # noqa: E402
from demo.model.postprocess import to_instances  # noqa: E402

FRAME_SIZE = (1920, 1080)
MODEL_INPUT = (544, 320)  # person-0007's, so boxes are scaled up as in the demo
BOX_SIDES_PX = (32, 192)  # in the frame: a crowd, from distant to near


@dataclass(frozen=True)
class PasteTiming:
    instances: int
    pixels: int  # frame pixels covered by the pasted masks' regions
    cpu_ms: float  # median per frame
    wall_ms: float


def crowd_detections(count: int, heatmap_size: int = 28, seed: int = 0) -> Detections:
    """``count`` boxes with sides drawn from BOX_SIDES_PX, in model-input pixels, and smooth heatmaps."""
    rng = np.random.default_rng(seed)
    scale = np.array(MODEL_INPUT * 2, dtype=np.float64) / np.array(FRAME_SIZE * 2)
    sides = rng.uniform(*BOX_SIDES_PX, (count, 2))
    corners = rng.uniform(0, 1, (count, 2)) * (np.array(FRAME_SIZE) - sides)
    boxes = np.hstack([corners, corners + sides]) * scale
    # A blob per heatmap (a centred Gaussian) has a real boundary to find, unlike noise.
    axis = np.linspace(-1, 1, heatmap_size, dtype=np.float32)
    blob = np.exp(-3 * (axis[:, None] ** 2 + axis[None, :] ** 2))
    heatmaps = np.repeat(blob[None], count, axis=0)
    return Detections(np.zeros(count, np.int64), np.full(count, 0.9, np.float32), boxes.astype(np.float32),
                      heatmaps)


def time_paste(count: int = 100, repeats: int = 50) -> PasteTiming:
    detections = crowd_detections(count)
    geometry = geometry_for(FRAME_SIZE, MODEL_INPUT, ResizePolicy.STRETCH)
    shape = (FRAME_SIZE[1], FRAME_SIZE[0], 3)
    instances = to_instances(detections, geometry, shape, ["person"])
    cpu, wall = [], []
    for _ in range(repeats):
        cpu_started, started = time.process_time(), time.perf_counter()
        to_instances(detections, geometry, shape, ["person"])
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    pixels = sum(instance.mask.bits.size for instance in instances)
    return PasteTiming(len(instances), pixels, 1000 * statistics.median(cpu), 1000 * statistics.median(wall))


def main() -> None:
    timing = time_paste()
    print(f"paste: {timing.instances} instances, 28x28 heatmaps, {timing.pixels / 1e6:.2f} Mpx of regions "
          f"on {FRAME_SIZE[0]}x{FRAME_SIZE[1]}: {timing.cpu_ms:.2f} ms CPU, {timing.wall_ms:.2f} ms wall per frame")


if __name__ == "__main__":
    main()
