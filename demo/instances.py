"""What a frame's segmentation result is: the typed objects every later stage consumes."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in frame pixels, in continuous coordinates.

    Pixel (col, row) covers [col, col+1) x [row, row+1), so a shape drawn on columns
    10..19 has x1 = 10 and x2 = 20.
    """

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]


@dataclass(frozen=True)
class Instance:
    """One segmented object of a frame.

    The mask is box-local: ``mask[r, c]`` is frame pixel ``(origin[0] + c, origin[1] + r)``.
    It covers the integer region around the box that the paste worked in, never the
    whole frame; :meth:`full_mask` expands it when a frame-sized mask is really needed.
    """

    class_id: int
    name: str
    score: float
    box: Box
    mask: np.ndarray  # bool, box-local
    origin: tuple[int, int]  # (x, y) of mask[0, 0] in the frame
    track_id: int | None = None
    alpha: np.ndarray | None = None  # a matting model's u8 opacity, laid out as the mask (which is alpha >= 128)

    @cached_property  # the tracker asks for it once per candidate pair
    def area(self) -> int:
        return int(np.count_nonzero(self.mask))

    def full_mask(self, frame_shape: tuple[int, ...]) -> np.ndarray:
        height, width = frame_shape[:2]
        full = np.zeros((height, width), dtype=bool)
        x, y = self.origin
        h, w = self.mask.shape
        full[y:y + h, x:x + w] = self.mask
        return full


@dataclass
class FrameResult:
    """A frame, its instances, and how long each stage took for it (milliseconds)."""

    index: int
    frame: np.ndarray
    instances: list[Instance]
    timings_ms: dict[str, float] = field(default_factory=dict)
    name: str = ""
