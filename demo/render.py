"""Drawing instances on a frame: small annotators, each working inside the instance's box."""
from __future__ import annotations

import colorsys
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from .instances import Box, FrameResult, Instance

FONT = cv2.FONT_HERSHEY_SIMPLEX
# Plain, as Open Model Zoo's demos draw text: anti-aliased text costs five times as much,
# 0.3 ms of a 1080p frame's labels and status lines.
TEXT_LINE = cv2.LINE_8
TEXT_COLOUR = (255, 255, 255)
LABEL_SCALE = 0.5
LABEL_BACKGROUND = (0, 0, 0)
STATUS_SCALE = 0.7
# Dark grey, told apart from a label's black; text on a box of its own needs no outline.
STATUS_BACKGROUND = (48, 48, 48)
STATUS_PAD = 6
STATUS_WIDEST = "latency: 0000 ms"  # the status box is at least this wide
STATUS_ROWS = 2  # the status lines of a file's run (FPS, latency): the area labels keep clear of


@lru_cache(maxsize=256)
def palette_colour(key: int) -> tuple[int, int, int]:
    """A bright BGR colour per key; golden-ratio hue steps keep neighbouring keys apart."""
    hue = (key * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def instance_colour(instance: Instance, position: int) -> tuple[int, int, int]:
    return palette_colour(instance.track_id if instance.track_id is not None else position)


def blend_masks(image: np.ndarray, instances: list[Instance], alpha: float = 0.5) -> None:
    for position, instance in enumerate(instances):
        region = instance.mask.within(image)
        # A whole-number tint keeps OpenCV's add on its integer SIMD path: a fractional one
        # costs four times as much, for at most one level of difference.
        tint = tuple(round(alpha * channel) for channel in instance_colour(instance, position)) + (0,)
        # Two SIMD passes in OpenCV, the masked add writing straight into the frame: a
        # NumPy masked copy of the same pixels costs ten times as much.
        cv2.add(cv2.convertScaleAbs(region, alpha=1 - alpha), tint, dst=region, mask=instance.mask.as_u8)


def draw_outlines(image: np.ndarray, instances: list[Instance], thickness: int = 1) -> None:
    # One pixel, as Open Model Zoo's visualiser draws them: OpenCV draws thicker lines as a
    # polygon per contour segment, five times the cost (0.4 ms per 1080p frame of ten instances).
    for position, instance in enumerate(instances):
        # RETR_EXTERNAL gives one outline per piece, so a split object is outlined whole.
        contours, _ = cv2.findContours(instance.mask.as_u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(image, contours, -1, instance_colour(instance, position), thickness,
                         offset=instance.mask.origin)


def draw_boxes(image: np.ndarray, instances: list[Instance], thickness: int = 2) -> None:
    for position, instance in enumerate(instances):
        box = instance.box
        cv2.rectangle(image, (round(box.x1), round(box.y1)), (round(box.x2) - 1, round(box.y2) - 1),
                      instance_colour(instance, position), thickness)


class Rect(NamedTuple):
    """A rectangle of whole pixels: columns x1..x2-1, rows y1..y2-1."""

    x1: int
    y1: int
    x2: int
    y2: int

    def overlaps(self, other: Rect) -> bool:
        return self.x1 < other.x2 and other.x1 < self.x2 and self.y1 < other.y2 and other.y1 < self.y2


def label_candidates(box: Box, size: tuple[int, int], frame: tuple[int, int]) -> Iterator[Rect]:
    """Where a label of ``size`` (w, h) may go for ``box``, best first, each moved inside ``frame`` (w, h).

    Above the box, inside its top, below it, at its left and then its right edge; then stacked
    down inside the box and up above it, for crowds. Made one by one: most labels take the first.
    """
    (width, height), (frame_width, frame_height) = size, frame
    left, top, right, bottom = round(box.x1), round(box.y1), round(box.x2), round(box.y2)
    corners = itertools.chain(((x, y) for x in (left, right - width) for y in (top - height, top, bottom)),
                              ((left, top + step * height) for step in range(1, 4)),
                              ((left, top - step * height) for step in range(2, 5)))
    for x, y in corners:
        x, y = min(max(x, 0), max(frame_width - width, 0)), min(max(y, 0), max(frame_height - height, 0))
        yield Rect(x, y, x + width, y + height)


def place_labels(boxes: list[Box], sizes: list[tuple[int, int]], frame: tuple[int, int],
                 keep_out: Rect | None) -> list[Rect]:
    """Greedy: each label at its first candidate that covers neither a label placed before it nor
    ``keep_out``; where none is free (no room), at its first candidate."""
    placed: list[Rect] = []
    taken = [keep_out] if keep_out else []
    for box, size in zip(boxes, sizes):
        candidates = label_candidates(box, size, frame)
        first = next(candidates)
        free = (c for c in itertools.chain([first], candidates) if not any(c.overlaps(t) for t in taken))
        rect = next(free, first)
        placed.append(rect)
        taken.append(rect)
    return placed


def label_text(instance: Instance, show_score: bool) -> str:
    """The name, the track id when tracked (``person 3``), the score when asked (``person 3 0.91``)."""
    name = instance.name if instance.track_id is None else f"{instance.name} {instance.track_id}"
    return f"{name} {instance.score:.2f}" if show_score else name


def draw_labels(image: np.ndarray, instances: list[Instance], show_scores: bool,
                keep_out: Rect | None = None) -> None:
    """White names on black, inside the frame, off one another and off ``keep_out`` where there is room."""
    texts = [label_text(i, show_scores) for i in instances]
    metrics = [cv2.getTextSize(text, FONT, LABEL_SCALE, 1) for text in texts]
    sizes = [(width, height + baseline) for (width, height), baseline in metrics]
    rects = place_labels([i.box for i in instances], sizes, (image.shape[1], image.shape[0]), keep_out)
    for text, rect, (_, baseline) in zip(texts, rects, metrics):
        cv2.rectangle(image, (rect.x1, rect.y1), (rect.x2 - 1, rect.y2 - 1), LABEL_BACKGROUND, cv2.FILLED)
        cv2.putText(image, text, (rect.x1, rect.y2 - baseline), FONT, LABEL_SCALE, TEXT_COLOUR, 1, TEXT_LINE)


@lru_cache(maxsize=1)
def _status_row() -> tuple[int, int, int]:
    """The status text's row pitch, its baseline, and the width of STATUS_WIDEST."""
    (width, height), baseline = cv2.getTextSize(STATUS_WIDEST, FONT, STATUS_SCALE, 1)
    return height + baseline + STATUS_PAD, baseline, width


def status_box(rows: int, texts: Sequence[str] = ()) -> Rect:
    """The top-left box that holds ``rows`` lines of ``texts``, or of text no wider than STATUS_WIDEST.

    It is never narrower than STATUS_WIDEST, so it keeps its size as the figures change.
    """
    pitch, _, widest = _status_row()
    width = max([widest] + [cv2.getTextSize(text, FONT, STATUS_SCALE, 1)[0][0] for text in texts])
    return Rect(0, 0, width + 2 * STATUS_PAD, rows * pitch + STATUS_PAD)


def draw_status(image: np.ndarray, lines: list[str]) -> None:
    """The status lines (FPS, latency) on a box of their own in the top-left corner."""
    if not lines:
        return
    box = status_box(len(lines), lines)
    pitch, baseline, _ = _status_row()
    cv2.rectangle(image, (box.x1, box.y1), (box.x2 - 1, box.y2 - 1), STATUS_BACKGROUND, cv2.FILLED)
    for row, text in enumerate(lines):
        cv2.putText(image, text, (STATUS_PAD, (row + 1) * pitch - baseline), FONT, STATUS_SCALE, TEXT_COLOUR, 1,
                    TEXT_LINE)


@dataclass(frozen=True)
class InstanceRenderer:
    """The instance-segmentation view: tinted masks, outlines, names, optional boxes and scores."""

    show_boxes: bool = False
    show_scores: bool = False
    status_rows: int = STATUS_ROWS  # the status box's lines, drawn later, which labels keep clear of

    def __call__(self, result: FrameResult) -> np.ndarray:
        # Drawn on the frame itself, whose inference is over: a copy would write a whole
        # frame more per frame (0.4 ms of CPU at 1080p).
        canvas = result.frame
        blend_masks(canvas, result.instances)
        draw_outlines(canvas, result.instances)
        if self.show_boxes:
            draw_boxes(canvas, result.instances)
        draw_labels(canvas, result.instances, self.show_scores,
                    status_box(self.status_rows) if self.status_rows else None)
        return canvas


def draw(result: FrameResult, show_boxes: bool = False, show_scores: bool = False) -> np.ndarray:
    """A new picture of the result's frame with its instances drawn (the frame is left as it was)."""
    return InstanceRenderer(show_boxes, show_scores, status_rows=0)(replace(result, frame=result.frame.copy()))
