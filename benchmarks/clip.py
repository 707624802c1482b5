"""The benchmark's input: a 1080p MJPG clip, what a typical camera gives, of ten coloured shapes.

Each of the heavy model's ten detectors finds one shape, so every frame draws ten instances.
"""
from __future__ import annotations

from pathlib import Path

import cv2
from testkit import heavy_model, synthetic

FULL_HD = (1920, 1080)


def write_mjpg_clip(path: Path, frames: int = 60, size: tuple[int, int] = FULL_HD, fps: float = 30) -> Path:
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot open an MJPG video writer for {path}")
    try:
        for step in range(frames):
            writer.write(synthetic.draw_scene(width, height, heavy_model.ten_shapes(width, height, step))[0])
    finally:
        writer.release()
    return Path(path)
