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

from demo.results.instances import Box, FrameResult, Instance

FONT = cv2.FONT_HERSHEY_SIMPLEX
# Plain, as Open Model Zoo's demos draw text: anti-aliased text costs five times as much,
# 0.3 ms of a 1080p frame's labels and status lines.
TEXT_LINE = cv2.LINE_8
TEXT_COLOUR = (255, 255, 255)
DARK_TEXT = (0, 0, 0)  # on a label whose colour is too light for white text
# Dark grey, told apart from the labels' bright colours; text on a box of its own needs no outline.
STATUS_BACKGROUND = (48, 48, 48)
STATUS_WIDEST = "latency: 0000 ms"  # the status box is at least this wide
STATUS_ROWS = 2  # the status lines of a file's run (FPS, latency): the area labels keep clear of
# Sizes are those of a frame whose shorter side is REFERENCE_SIDE, scaled with the frame's shorter
# side, so that text takes the same share of a 320x240 frame as of a 4K one.
REFERENCE_SIDE = 720
LABEL_SCALE, STATUS_SCALE, LABEL_PAD, STATUS_PAD = 0.5, 0.7, 2, 6
# Hershey text below this scale (8 pixels high) is no longer legible; a frame too narrow even for
# that gets smaller text rather than text cut off at its edge.
SMALLEST_SCALE = 0.35
SLIDE_REACH = 3  # a label slid off what covers its place stays this many label heights of its box
LARGEST_FACTOR = 8.0  # 8K's shorter side is 6 references: beyond, nobody looks at the whole frame


def fitted_scale(text: str, scale: float, thickness: int, room: int) -> float:
    """``scale``, or the largest below it at which ``text`` is no wider than ``room`` pixels."""
    for _ in range(4):  # text width is near proportional to the scale: one step nearly always fits
        width = cv2.getTextSize(text, FONT, scale, thickness)[0][0]
        if width <= room or room <= 0:
            break
        scale *= room / width * 0.98
    return scale


@dataclass(frozen=True)
class Style:
    """How large annotations are drawn on a frame of one size."""

    label_scale: float
    status_scale: float
    line: int  # stroke width of outlines, text, leader lines, and half that of boxes
    label_pad: int  # around a label's text, inside its coloured box
    status_pad: int


@lru_cache(maxsize=8)
def frame_style(size: tuple[int, int]) -> Style:
    """The style for a frame of ``size`` (w, h): sizes follow its shorter side."""
    factor = min(min(size) / REFERENCE_SIDE, LARGEST_FACTOR)
    # Strokes widen in whole steps only from 1440p: at 1080p a 2-pixel outline would cost five
    # times a 1-pixel one (OpenCV draws thick lines as a polygon per contour segment).
    line = max(1, int(factor))
    status_pad = max(2, round(STATUS_PAD * factor))
    status_scale = fitted_scale(STATUS_WIDEST, max(STATUS_SCALE * factor, SMALLEST_SCALE), line,
                                size[0] - 2 * status_pad)
    return Style(max(LABEL_SCALE * factor, SMALLEST_SCALE), status_scale, line,
                 max(1, round(LABEL_PAD * factor)), status_pad)


REFERENCE_STYLE = frame_style((REFERENCE_SIDE * 16 // 9, REFERENCE_SIDE))


@lru_cache(maxsize=256)
def palette_colour(key: int) -> tuple[int, int, int]:
    """A bright BGR colour per key; golden-ratio hue steps keep neighbouring keys apart."""
    hue = (key * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def instance_colour(instance: Instance, position: int) -> tuple[int, int, int]:
    return palette_colour(instance.track_id if instance.track_id is not None else position)


@lru_cache(maxsize=256)
def text_colour_on(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """White or black, whichever stands out more on ``background`` (BGR) by WCAG's contrast ratio of
    relative luminances: on the palette, at least 4.5, WCAG's AA level for text. Its blues and violets
    (hues 220-280 degrees) take white, the rest black."""
    linear = [channel / 255 / 12.92 if channel <= 10 else ((channel / 255 + 0.055) / 1.055) ** 2.4
              for channel in background]
    luminance = 0.0722 * linear[0] + 0.7152 * linear[1] + 0.2126 * linear[2]
    return TEXT_COLOUR if (1.05 / (luminance + 0.05)) > ((luminance + 0.05) / 0.05) else DARK_TEXT


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
    # One pixel up to 1080p, as Open Model Zoo's visualiser draws them: see Style.line.
    for position, instance in enumerate(instances):
        # RETR_EXTERNAL gives one outline per piece, so a split object is outlined whole.
        contours, _ = cv2.findContours(instance.mask.as_u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(image, contours, -1, instance_colour(instance, position), thickness,
                         offset=instance.mask.origin)


def draw_boxes(image: np.ndarray, instances: list[Instance], thickness: int = 2) -> None:
    for position, instance in enumerate(instances):
        box = box_rect(instance.box)
        cv2.rectangle(image, (box.x1, box.y1), (box.x2 - 1, box.y2 - 1), instance_colour(instance, position), thickness)


class Rect(NamedTuple):
    """A rectangle of whole pixels: columns x1..x2-1, rows y1..y2-1."""

    x1: int
    y1: int
    x2: int
    y2: int

    def overlaps(self, other: Rect) -> bool:
        return self.x1 < other.x2 and other.x1 < self.x2 and self.y1 < other.y2 and other.y1 < self.y2


def box_rect(box: Box) -> Rect:
    """The box in whole pixels, as it is drawn and as its label is placed against it."""
    return Rect(round(box.x1), round(box.y1), round(box.x2), round(box.y2))


def label_candidates(box: Box, size: tuple[int, int], frame: tuple[int, int]) -> Iterator[Rect]:
    """Where a label of ``size`` (w, h) may go for ``box``, best first, each moved inside ``frame`` (w, h).

    Above the box, inside its top, below it, at its left and then its right edge; then stacked
    down inside the box and up above it, for crowds. Made one by one: most labels take the first.
    """
    (width, height), (frame_width, frame_height) = size, frame
    left, top, right, bottom = box_rect(box)
    corners = itertools.chain(((x, y) for x in (left, right - width) for y in (top - height, top, bottom)),
                              ((left, top + step * height) for step in range(1, 4)),
                              ((left, top - step * height) for step in range(2, 5)))
    for x, y in corners:
        x, y = min(max(x, 0), max(frame_width - width, 0)), min(max(y, 0), max(frame_height - height, 0))
        yield Rect(x, y, x + width, y + height)


def slid_candidates(box: Box, size: tuple[int, int], frame: tuple[int, int], taken: list[Rect]) -> Iterator[Rect]:
    """The first candidate moved down, then up, to the nearest gap between the rectangles of ``taken``
    in its columns, while it stays within the frame and SLIDE_REACH label heights of the box: room
    just beside a band or a crowd."""
    first, height = next(label_candidates(box, size, frame)), size[1]
    lowest = min(round(box.y2) + SLIDE_REACH * height, frame[1] - height)
    highest = max(round(box.y1) - (SLIDE_REACH + 1) * height, 0)
    # Rows taken in the label's columns, by their top: one pass over ``taken``, then a short walk.
    spans = sorted((other.y1, other.y2) for other in taken if other.x1 < first.x2 and first.x1 < other.x2)
    y = first.y1
    for top, bottom in spans:  # down: each span reaching into the label pushes it below that span
        if top >= y + height:
            break
        y = max(y, bottom)
    if y <= lowest:
        yield Rect(first.x1, y, first.x2, y + height)
    y = first.y1
    for top, bottom in sorted(spans, key=lambda span: span[1], reverse=True):  # up: the same, mirrored
        if bottom <= y:
            break
        y = min(y, top - height)
    if y >= highest:
        yield Rect(first.x1, y, first.x2, y + height)


def least_covering(candidates: list[Rect], taken: np.ndarray) -> Rect:
    """The candidate that covers the fewest pixels of ``taken`` ([n, 4] rectangles), the earliest of
    equals (the nearer place).

    All pairs at once: in a crowd every label comes here, and pair by pair in Python a hundred
    labels would take 0.1 s a frame.
    """
    mine, theirs = np.array(candidates)[:, None, :], taken[None, :, :]
    widths = np.minimum(mine[..., 2], theirs[..., 2]) - np.maximum(mine[..., 0], theirs[..., 0])
    heights = np.minimum(mine[..., 3], theirs[..., 3]) - np.maximum(mine[..., 1], theirs[..., 1])
    covered = (np.maximum(widths, 0) * np.maximum(heights, 0)).sum(axis=1)
    return candidates[int(np.argmin(covered))]  # argmin gives the first of equal minima


def place_labels(boxes: list[Box], sizes: list[tuple[int, int]], frame: tuple[int, int],
                 keep_out: Rect | None) -> list[Rect]:
    """Greedy: each label at its first candidate that covers neither a label placed before it nor
    ``keep_out``; where none is free (no room), at the one that covers the fewest of their pixels."""
    placed: list[Rect] = []
    taken = [keep_out] if keep_out else []
    taken_array = np.array(taken + [Rect(0, 0, 0, 0)] * len(boxes))  # the same, filled in, for least_covering
    for box, size in zip(boxes, sizes):
        tried: list[Rect] = []
        # The slid places are made only once every fixed one is taken: most labels never need them.
        for candidate in itertools.chain(label_candidates(box, size, frame),
                                         slid_candidates(box, size, frame, taken)):
            if not any(candidate.overlaps(other) for other in taken):
                break
            tried.append(candidate)
        else:
            candidate = least_covering(tried, taken_array[:len(taken)])
        placed.append(candidate)
        taken_array[len(taken)] = candidate
        taken.append(candidate)
    return placed


def label_text(instance: Instance, show_score: bool) -> str:
    """The name, the track id when tracked (``person 3``), the score when asked (``person 3 0.91``)."""
    name = instance.name if instance.track_id is None else f"{instance.name} {instance.track_id}"
    return f"{name} {instance.score:.2f}" if show_score else name


@dataclass(frozen=True)
class TextLayout:
    """A label's text as drawn: its scale, its size (w, h) with padding, and the baseline's depth."""

    text: str
    scale: float
    size: tuple[int, int]
    baseline: int


def label_layout(text: str, style: Style, frame_width: int) -> TextLayout:
    """The label's box around ``text``, whole inside a frame ``frame_width`` wide where text so small can be."""
    room = frame_width - 2 * style.label_pad
    scale = style.label_scale
    (width, height), baseline = cv2.getTextSize(text, FONT, scale, style.line)
    if width > room:  # rare: a long name on a tiny frame
        scale = fitted_scale(text, scale, style.line, room)
        (width, height), baseline = cv2.getTextSize(text, FONT, scale, style.line)
    return TextLayout(text, scale, (width + 2 * style.label_pad, height + baseline + 2 * style.label_pad), baseline)


def touches(label: Rect, box: Rect) -> bool:
    """Whether ``label`` overlaps ``box`` or lies right against one of its sides."""
    return label.x1 <= box.x2 and box.x1 <= label.x2 and label.y1 <= box.y2 and box.y1 <= label.y2


def nearest_between(a: Rect, b: Rect) -> tuple[tuple[int, int], tuple[int, int]]:
    """A pixel of ``a`` and a pixel of ``b`` as near each other as any two (apart, they share no pixel):
    straight across where they share columns or rows, at the middle of what they share."""
    ends = []
    for a_low, a_high, b_low, b_high in ((a.x1, a.x2 - 1, b.x1, b.x2 - 1), (a.y1, a.y2 - 1, b.y1, b.y2 - 1)):
        low, high = max(a_low, b_low), min(a_high, b_high)
        if low <= high:
            ends.append(((low + high) // 2,) * 2)
        else:
            ends.append((a_high, b_low) if a_high < b_low else (a_low, b_high))
    (ax, bx), (ay, by) = ends
    return (ax, ay), (bx, by)


def leader_target(instance: Instance, label: Rect) -> Rect:
    """What a label moved off its box points at: the pixel of the mask's outline nearest the label,
    or the box where the mask is empty."""
    contours, _ = cv2.findContours(instance.mask.as_u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return box_rect(instance.box)
    points = np.concatenate(contours)[:, 0, :] + instance.mask.origin  # the nearest pixel is on an outline
    dx = np.maximum(np.maximum(label.x1 - points[:, 0], points[:, 0] - (label.x2 - 1)), 0)
    dy = np.maximum(np.maximum(label.y1 - points[:, 1], points[:, 1] - (label.y2 - 1)), 0)
    x, y = points[int(np.argmin(dx * dx + dy * dy))]
    return Rect(int(x), int(y), int(x) + 1, int(y) + 1)


def draw_leader(image: np.ndarray, instance: Instance, label: Rect, colour: tuple[int, int, int],
                thickness: int) -> None:
    """A line in the instance's colour from a label that had to move off its box to the instance."""
    start, end = nearest_between(label, leader_target(instance, label))
    cv2.line(image, start, end, colour, thickness, cv2.LINE_8)


def draw_labels(image: np.ndarray, instances: list[Instance], show_scores: bool,
                keep_out: Rect | None = None, style: Style | None = None) -> None:
    """Names on the instance's colour, inside the frame, off one another and off ``keep_out`` where there is
    room; a name that had to move off its box has a line to its instance. In a crowd a name may land on a
    neighbour: its colour and its line say whose it is."""
    frame = (image.shape[1], image.shape[0])
    style = style or frame_style(frame)
    layouts = [label_layout(label_text(i, show_scores), style, frame[0]) for i in instances]
    rects = place_labels([i.box for i in instances], [layout.size for layout in layouts], frame, keep_out)
    colours = [instance_colour(instance, position) for position, instance in enumerate(instances)]
    for rect, colour in zip(rects, colours):
        cv2.rectangle(image, (rect.x1, rect.y1), (rect.x2 - 1, rect.y2 - 1), colour, cv2.FILLED)
    # A label slid past others has its line cross them: over their colour, so that it shows whole,
    # under their text, so that the text does.
    for instance, rect, colour in zip(instances, rects, colours):
        if not touches(rect, box_rect(instance.box)):
            draw_leader(image, instance, rect, colour, style.line)
    for layout, rect, colour in zip(layouts, rects, colours):
        cv2.putText(image, layout.text, (rect.x1 + style.label_pad, rect.y2 - style.label_pad - layout.baseline),
                    FONT, layout.scale, text_colour_on(colour), style.line, TEXT_LINE)


@lru_cache(maxsize=8)
def _status_row(style: Style) -> tuple[int, int, int]:
    """The status text's row pitch, its baseline, and the width of STATUS_WIDEST."""
    (width, height), baseline = cv2.getTextSize(STATUS_WIDEST, FONT, style.status_scale, style.line)
    return height + baseline + style.status_pad, baseline, width


def status_box(rows: int, texts: Sequence[str] = (), style: Style = REFERENCE_STYLE) -> Rect:
    """The top-left box that holds ``rows`` lines of ``texts``, or of text no wider than STATUS_WIDEST.

    It is never narrower than STATUS_WIDEST, so it keeps its size as the figures change.
    """
    pitch, _, widest = _status_row(style)
    width = max([widest] + [cv2.getTextSize(text, FONT, style.status_scale, style.line)[0][0] for text in texts])
    return Rect(0, 0, width + 2 * style.status_pad, rows * pitch + style.status_pad)


def draw_status(image: np.ndarray, lines: list[str]) -> None:
    """The status lines (FPS, latency) on a box of their own in the top-left corner, sized for the image."""
    if not lines:
        return
    style = frame_style((image.shape[1], image.shape[0]))
    box = status_box(len(lines), lines, style)
    pitch, baseline, _ = _status_row(style)
    cv2.rectangle(image, (box.x1, box.y1), (box.x2 - 1, box.y2 - 1), STATUS_BACKGROUND, cv2.FILLED)
    for row, text in enumerate(lines):
        cv2.putText(image, text, (style.status_pad, (row + 1) * pitch - baseline), FONT, style.status_scale,
                    TEXT_COLOUR, style.line, TEXT_LINE)


@dataclass(frozen=True)
class StatusSettings:
    """Where the status lines (FPS, latency) are drawn: the window always, written frames when asked."""

    shown: bool = True  # False: nowhere (--no_status)
    in_output: bool = False  # also into what -o writes (--status_in_output)

    def drawn(self, window: bool) -> bool:
        """Whether a run with (or without) a window draws the status anywhere."""
        return self.shown and (window or self.in_output)


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
        style = frame_style((canvas.shape[1], canvas.shape[0]))
        blend_masks(canvas, result.instances)
        draw_outlines(canvas, result.instances, style.line)
        if self.show_boxes:
            draw_boxes(canvas, result.instances, 2 * style.line)
        draw_labels(canvas, result.instances, self.show_scores,
                    status_box(self.status_rows, style=style) if self.status_rows else None, style)
        return canvas


def draw(result: FrameResult, show_boxes: bool = False, show_scores: bool = False) -> np.ndarray:
    """A new picture of the result's frame with its instances drawn (the frame is left as it was)."""
    return InstanceRenderer(show_boxes, show_scores, status_rows=0)(replace(result, frame=result.frame.copy()))
