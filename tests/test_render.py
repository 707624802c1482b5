"""What is drawn, checked on the pixels: the status box, and labels that stay whole and readable."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from demo.app import status_lines, status_rows
from demo.masks import BoxMask
from demo.instances import Box, FrameResult, Instance
from demo.metrics import RunMetrics
from demo.render import (FONT, LABEL_BACKGROUND, STATUS_BACKGROUND, STATUS_ROWS, TEXT_COLOUR, TEXT_LINE,
                         InstanceRenderer, Rect, Style, draw_status, frame_style, place_labels, status_box)

STATUS = ["FPS: 31.4", "latency: 182 ms"]
GRAY = 128


def instance(name: str, score: float, x1: int, y1: int, x2: int, y2: int, frame: tuple[int, int]) -> Instance:
    """A filled box, clipped to the frame as the paste clips masks."""
    left, top = max(x1, 0), max(y1, 0)
    mask = np.ones((min(y2, frame[1]) - top, min(x2, frame[0]) - left), bool)
    return Instance(0, name, score, Box(x1, y1, x2, y2), BoxMask(mask, left, top), frame)


def label_alone(text: str, style: Style) -> np.ndarray:
    """How a label looks when nothing covers it: white text on its own black box, padded."""
    (width, height), baseline = cv2.getTextSize(text, FONT, style.label_scale, style.line)
    pad = style.label_pad
    picture = np.full((height + baseline + 2 * pad, width + 2 * pad, 3), LABEL_BACKGROUND, np.uint8)
    cv2.putText(picture, text, (pad, height + pad), FONT, style.label_scale, TEXT_COLOUR, style.line, TEXT_LINE)
    return picture


def find_whole(picture: np.ndarray, template: np.ndarray) -> list[Rect]:
    """Every place where ``template`` shows unaltered, pixel for pixel."""
    difference = cv2.matchTemplate(picture, template, cv2.TM_SQDIFF)
    ys, xs = np.nonzero(difference < 0.5)  # a sum of squared whole numbers: any real change is >= 1
    height, width = template.shape[:2]
    return [Rect(int(x), int(y), int(x) + width, int(y) + height) for x, y in zip(xs, ys)]


def drawn(frame: tuple[int, int], instances: list[Instance]) -> np.ndarray:
    """The picture as the demo makes it: instances with scores, then the status box over them."""
    canvas = np.full((frame[1], frame[0], 3), GRAY, np.uint8)
    picture = InstanceRenderer(show_boxes=True, show_scores=True)(FrameResult(0, canvas, instances))
    draw_status(picture, STATUS)
    return picture


def near(label: Rect, box: Box, reach: int) -> bool:
    """The label shares columns with its box and sits within ``reach`` rows of it."""
    return (label.x1 < box.x2 and box.x1 < label.x2
            and label.y2 > box.y1 - reach and label.y1 < box.y2 + reach)


def scene(width: int, height: int) -> list[Instance]:
    """Boxes where labels get in trouble: under the status box, at each edge, two overlapping."""
    frame = (width, height)
    w, h = width // 4, height // 4
    return [
        instance("person", 0.91, 4, 4, w, h, frame),  # under the status box
        instance("person", 0.92, width - w // 2, 2, width + 20, h, frame),  # beyond the right edge
        instance("car", 0.93, 2, height - h // 2, w, height + 10, frame),  # beyond the bottom edge
        instance("dog", 0.94, 2 * w, 2 * h, 3 * w, 3 * h, frame),  # two almost the same boxes
        instance("dog", 0.95, 2 * w + 6, 2 * h + 4, 3 * w + 6, 3 * h + 4, frame),
    ]


@pytest.mark.parametrize("size", [(3840, 2160), (1920, 1080), (480, 360)])
def test_labels_are_whole_inside_the_frame_off_each_other_and_off_the_status_box(size):
    instances = scene(*size)
    picture = drawn(size, instances)
    status = status_box(len(STATUS), STATUS, frame_style(size))
    labels = []
    for item in instances:
        text = f"{item.name} {item.score:.2f}"
        found = find_whole(picture, label_alone(text, frame_style(size)))
        assert len(found) == 1, f"{text!r} shows whole {len(found)} times"
        labels.append(found[0])
        reach = 4 * (found[0].y2 - found[0].y1)
        assert near(found[0], item.box, reach), (text, found[0], item.box)
    for number, label in enumerate(labels):
        assert not label.overlaps(status), label
        assert not any(label.overlaps(other) for other in labels[number + 1:])


def test_a_crowd_with_no_room_still_keeps_every_label_inside_the_frame():
    frame = (120, 60)
    boxes = [Box(10 + i, 10, 60 + i, 50) for i in range(8)]
    rects = place_labels(boxes, [(50, 14)] * len(boxes), frame, Rect(0, 0, 40, 20))
    assert len(rects) == len(boxes)
    assert all(0 <= r.x1 and r.x2 <= frame[0] and 0 <= r.y1 and r.y2 <= frame[1] for r in rects)


@pytest.mark.parametrize("size", [(1920, 1080), (320, 240)])
def test_the_status_text_is_on_a_box_of_its_own(size):
    picture = np.full((size[1], size[0], 3), GRAY, np.uint8)
    draw_status(picture, STATUS)
    box = status_box(len(STATUS), STATUS, frame_style(size))
    inside = picture[box.y1:box.y2, box.x1:box.x2]
    white = np.all(inside == TEXT_COLOUR, axis=2)
    background = np.all(inside == STATUS_BACKGROUND, axis=2)
    assert np.all(white | background)  # text and its box, nothing of the frame showing through
    assert 0.02 < white.mean() < 0.5  # and there is text
    # Each line has its own rows of text, separated by background rows.
    text_rows = np.flatnonzero(white.any(axis=1))
    assert np.count_nonzero(np.diff(text_rows) > 1) == len(STATUS) - 1
    outside = np.ones(size[::-1], bool)
    outside[box.y1:box.y2, box.x1:box.x2] = False
    assert np.all(picture[outside] == GRAY)  # and nothing beyond it


def test_the_status_box_keeps_its_size_as_the_figures_change():
    assert status_box(2, ["FPS: 9.9", "latency: 12 ms"]) == status_box(2, ["FPS: 123.4", "latency: 1234 ms"])
    assert status_box(2, ["FPS: 9.9", "latency: 12 ms"]) == status_box(STATUS_ROWS)


@pytest.mark.parametrize("live", [False, True])
def test_labels_keep_clear_of_every_status_line_a_run_shows(live):
    metrics = RunMetrics()
    for _ in range(3):  # finished frames give a rate, so the FPS line shows
        metrics.add({}, 10.0)
    assert len(status_lines(metrics, 10.0, 7 if live else None)) == status_rows(live)
