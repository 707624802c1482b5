"""What a frame's segmentation result is: the typed objects every later stage consumes."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from demo.results.masks import BoxMask


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
    """One segmented object of a frame, in that frame's pixels."""

    class_id: int
    name: str
    score: float
    box: Box
    mask: BoxMask  # box-local: see BoxMask
    frame_size: tuple[int, int]  # (w, h) of the frame it was found in
    track_id: int | None = None
    alpha: np.ndarray | None = None  # a matting model's u8 opacity, laid out as the mask (which is alpha >= 128)

    @property
    def area(self) -> int:
        return self.mask.area

    def full_mask(self) -> np.ndarray:
        """The mask over the whole frame, bool [h, w]."""
        return self.mask.full(self.frame_size)

    def rle(self) -> dict[str, object]:
        """The frame-sized mask as COCO compressed RLE (``pycocotools.mask.decode`` reads it back)."""
        return self.mask.rle(self.frame_size)

    def polygons(self) -> list[np.ndarray]:
        """The outline of each piece of the mask: [n, 2] arrays of (x, y) in frame pixels."""
        return self.mask.polygons()


@dataclass
class FrameResult:
    """A frame (BGR), its instances, and how long each stage took for it (milliseconds)."""

    index: int
    frame: np.ndarray
    instances: list[Instance]
    timings_ms: dict[str, float] = field(default_factory=dict)  # wall time per stage
    name: str = ""  # the frame's file name, if it came from one
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU time per host stage
    captured: float = 0.0  # perf_counter() time the frame was read (see demo.frames.sources.Frame)
    dropped_before: int = 0  # frames a live source dropped just before this one
    source: str = ""  # the input it came from in a run of several sources; "" for one

    def __iter__(self) -> Iterator[Instance]:
        return iter(self.instances)

    def __len__(self) -> int:
        return len(self.instances)
