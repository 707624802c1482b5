"""Crowded scenes: the host's time per 1080p frame with 1, 10, 30 and 100 instances, and how it grows.

For each count, a crowd of discs (benchmarks/crowd.py: one size at every count, moving 4 pixels
a frame so the tracker follows motion) goes through the demo's own host stages, each timed in CPU
milliseconds per frame (median over the frames; one thread, so CPU time is not inflated by other
load as wall time is):

- paste: the Mask R-CNN detections (28x28 heatmaps, person-0007's 544x320 input) mapped to the
  frame and pasted (:func:`demo.model.postprocess.to_instances`);
- tracking: :class:`demo.results.tracker.MaskTracker`, and the same tracker scoring every pair (its
  box-overlap prefilter off), for comparison;
- drawing: :class:`demo.picture.render.InstanceRenderer` on the frame.

It prints the table, the cost per instance, and the growth from 10 to 100 instances as a ratio
to linear growth (1.0: linear, 10: quadratic), with the tracker's goal (near-linear: < 2).

    python benchmarks/crowded.py [--frames N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from unittest import mock

# As while a segmenter is open (demo/core/blas.py): NumPy's OpenBLAS with one thread, set before it loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import crowd  # noqa: E402
import numpy as np  # noqa: E402

import demo.results.tracker  # noqa: E402
from demo.model.contracts import Detections  # noqa: E402
from demo.model.geometry import ResizePolicy, geometry_for  # noqa: E402
from demo.model.postprocess import to_instances  # noqa: E402
from demo.picture.render import InstanceRenderer  # noqa: E402
from demo.results.instances import FrameResult  # noqa: E402
from demo.results.tracker import MaskTracker  # noqa: E402

VELOCITY_PX = 4.0
STAGES = ("paste", "tracking", "drawing")
TRACKER_GROWTH_GOAL = 2.0  # times linear from 10 to 100 instances


def detections(count: int, step: int) -> Detections:
    boxes = crowd.boxes_in_input(count, step, VELOCITY_PX)
    return Detections(np.zeros(count, np.int64), np.full(count, crowd.SCORE, np.float32), boxes,
                      np.repeat(crowd.disc_heatmap()[None], count, axis=0))


def cpu_ms(work: Callable[[], object]) -> tuple[float, object]:
    started = time.process_time()
    result = work()
    return 1000 * (time.process_time() - started), result


def every_pair(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.ones((len(first), len(second)), dtype=bool)


def measure(count: int, frames: int) -> dict[str, float]:
    """Median CPU ms per frame of each stage, and of the tracker without its prefilter."""
    geometry = geometry_for(crowd.FRAME_SIZE, crowd.MODEL_INPUT_HW[::-1], ResizePolicy.STRETCH)
    render, tracker, unfiltered = InstanceRenderer(status_rows=0), MaskTracker(), MaskTracker()
    times: dict[str, list[float]] = {name: [] for name in (*STAGES, "tracking, every pair")}
    for step in range(frames):
        image = crowd.picture(count, step, VELOCITY_PX)
        found = detections(count, step)
        spent, instances = cpu_ms(lambda: to_instances(found, geometry, image.shape, ["person"]))
        times["paste"].append(spent)
        spent, tracked = cpu_ms(lambda: tracker.update(instances))
        times["tracking"].append(spent)
        with mock.patch.object(demo.results.tracker, "overlapping", every_pair):
            spent, same = cpu_ms(lambda: unfiltered.update(instances))
        times["tracking, every pair"].append(spent)
        if [i.track_id for i in same] != [i.track_id for i in tracked]:
            raise AssertionError(f"{count} instances, frame {step}: the prefilter changed the ids")
        spent, _ = cpu_ms(lambda: render(FrameResult(step, image, tracked)))
        times["drawing"].append(spent)
    # The first frame has no tracks to match: the median over the rest.
    return {name: statistics.median(values[1:]) for name, values in times.items()}


def growth(figures: dict[int, dict[str, float]], stage: str, low: int = 10, high: int = 100) -> float:
    """How much faster than linear the stage's time grows from ``low`` to ``high`` instances."""
    return (figures[high][stage] / figures[low][stage]) / (high / low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=30)
    args = parser.parse_args()
    figures = {count: measure(count, args.frames) for count in crowd.COUNTS}
    columns = [*STAGES, "tracking, every pair"]
    print(f"host CPU per 1080p frame (ms, median of {args.frames - 1} frames; load {os.getloadavg()[0]:.2f})")
    print("| instances | " + " | ".join(columns) + " | paste + tracking + drawing | per instance |")
    print("|---:|" + "---:|" * (len(columns) + 2))
    for count, stage in figures.items():
        total = sum(stage[name] for name in STAGES)
        print(f"| {count} | " + " | ".join(f"{stage[name]:.2f}" for name in columns)
              + f" | {total:.2f} | {total / count:.3f} |")
    print()
    for name in columns:
        print(f"{name}: from 10 to 100 instances, {growth(figures, name):.2f} x linear growth")
    tracker_growth = growth(figures, "tracking")
    verdict = "met" if tracker_growth < TRACKER_GROWTH_GOAL else "NOT met"
    print(f"tracker near-linear (goal < {TRACKER_GROWTH_GOAL:g} x linear): {tracker_growth:.2f} ({verdict}); "
          f"every pair scored: {growth(figures, 'tracking, every pair'):.2f}")


if __name__ == "__main__":
    main()
