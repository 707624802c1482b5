"""What is drawn, checked on the pixels against what OpenCV draws when called directly: tinted masks,
the outline of every piece, boxes, labels whole inside the frame and off each other at every edge and
size, the status band; and where the status goes (the window; written frames only when asked)."""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.drawn_labels import find_whole, label_alone
from helpers.running import run_demo
from helpers.xserver import TITLE, Demo, wait_for, x_server

from demo.app.run import status_lines, status_rows
from demo.core.metrics import RunMetrics
from demo.picture.render import (
    STATUS_BACKGROUND,
    STATUS_ROWS,
    TEXT_COLOUR,
    InstanceRenderer,
    Rect,
    blend_masks,
    draw_boxes,
    draw_labels,
    draw_outlines,
    draw_status,
    frame_style,
    instance_colour,
    palette_colour,
    place_labels,
    status_box,
    text_colour_on,
)
from demo.results.instances import Box, FrameResult, Instance
from demo.results.masks import BoxMask

STATUS = ["FPS: 31.4", "latency: 182 ms"]
GRAY = 128


def instance(name: str, score: float, x1: int, y1: int, x2: int, y2: int, frame: tuple[int, int]) -> Instance:
    """A filled box, clipped to the frame as the paste clips masks."""
    left, top = max(x1, 0), max(y1, 0)
    mask = np.ones((min(y2, frame[1]) - top, min(x2, frame[0]) - left), bool)
    return Instance(0, name, score, Box(x1, y1, x2, y2), BoxMask(mask, left, top), frame)


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


@pytest.mark.slow
@pytest.mark.parametrize("size", [(3840, 2160), (1920, 1080), (480, 360)])
def test_labels_are_whole_inside_the_frame_off_each_other_and_off_the_status_box(size):
    instances = scene(*size)
    picture = drawn(size, instances)
    status = status_box(len(STATUS), STATUS, frame_style(size))
    labels = []
    for position, item in enumerate(instances):
        text = f"{item.name} {item.score:.2f}"
        found = find_whole(picture, label_alone(text, frame_style(size), instance_colour(item, position)))
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
        time.sleep(0.01)
        metrics.add({}, time.perf_counter() - 0.01)
    assert len(status_lines(metrics, 10.0, 7 if live else None)) == status_rows(live)


# --- masks, outlines and boxes, pixel for pixel ---------------------------------------------------------

def pieces_mask(frame: tuple[int, int]) -> tuple[BoxMask, list[np.ndarray]]:
    """One box-local mask of three separate pieces (a rectangle, an ellipse, a small square), and each
    piece alone, frame-sized."""
    width, height = frame
    x, y, w, h = width // 8, height // 6, width * 3 // 4, height * 2 // 3
    pieces = [np.zeros((h, w), np.uint8) for _ in range(3)]
    cv2.rectangle(pieces[0], (0, 0), (w // 4, h // 2), 1, cv2.FILLED)
    cv2.ellipse(pieces[1], (w * 2 // 3, h // 2), (w // 5, h // 3), 20, 0, 360, 1, cv2.FILLED)
    cv2.rectangle(pieces[2], (w // 8, h * 3 // 4), (w // 8 + 3, h * 3 // 4 + 3), 1, cv2.FILLED)
    bits = np.logical_or.reduce([piece.astype(bool) for piece in pieces])
    return BoxMask(bits, x, y), [BoxMask(piece.astype(bool), x, y).full(frame) for piece in pieces]


def masked_instance(mask: BoxMask, frame: tuple[int, int], track_id: int = 3) -> Instance:
    region = mask.region
    return Instance(0, "person", 0.9, Box(region.x0, region.y0, region.x1, region.y1), mask, frame, track_id)


def grey(frame: tuple[int, int]) -> np.ndarray:
    return np.full((frame[1], frame[0], 3), GRAY, np.uint8)


@pytest.mark.parametrize("frame", [(64, 48), (1280, 720), (3840, 2160)])
def test_a_mask_is_tinted_exactly_inside_itself_and_nowhere_else(frame):
    mask, _ = pieces_mask(frame)
    item = masked_instance(mask, frame)
    picture = grey(frame)
    blend_masks(picture, [item])
    colour = instance_colour(item, 0)
    # Half the grey, plus half the colour rounded to a whole level (see blend_masks).
    expected = [GRAY // 2 + round(channel / 2) for channel in colour]
    inside = item.full_mask()
    assert np.all(picture[inside] == expected)
    assert np.all(picture[~inside] == GRAY)


def test_a_mask_cut_by_the_frame_edge_is_tinted_up_to_the_edge():
    frame = (200, 100)
    bits = np.ones((40, 60), bool)
    item = masked_instance(BoxMask(bits, 140, 60), frame)  # its box's right and bottom are the frame's
    picture = grey(frame)
    blend_masks(picture, [item])
    assert np.all(picture[60:, 140:] != GRAY) and np.all(picture[:60] == GRAY) and np.all(picture[:, :140] == GRAY)


@pytest.mark.parametrize("frame", [(64, 48), (1280, 720), (3840, 2160)])
def test_every_piece_of_a_multi_piece_mask_is_outlined(frame):
    mask, pieces = pieces_mask(frame)
    item = masked_instance(mask, frame)
    line = frame_style(frame).line
    picture = grey(frame)
    draw_outlines(picture, [item], line)
    # What drawing each piece's own outline gives, by direct OpenCV calls.
    expected = grey(frame)
    for piece in pieces:
        contours, _ = cv2.findContours(piece.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        assert len(contours) == 1
        cv2.drawContours(expected, contours, -1, instance_colour(item, 0), line)
    assert np.array_equal(picture, expected)
    # Every piece's edge pixels (those beside one outside it) carry the colour: none is left unoutlined.
    coloured = np.all(picture == instance_colour(item, 0), axis=2)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    for piece in pieces:
        edge = piece & ~cv2.erode(piece.view(np.uint8), cross).astype(bool)
        assert np.all(coloured[edge])


def test_outlines_and_boxes_widen_with_the_frame():
    assert [frame_style(size).line for size in [(320, 240), (1920, 1080), (2560, 1440), (3840, 2160)]] == [1, 1, 2, 3]


@pytest.mark.parametrize("frame", [(64, 48), (1920, 1080), (3840, 2160)])
def test_boxes_lie_on_the_instance_box_edges(frame):
    width, height = frame
    item = instance("car", 0.9, width // 4, height // 4, width * 3 // 4, height * 3 // 4, frame)
    thickness = 2 * frame_style(frame).line
    picture = grey(frame)
    draw_boxes(picture, [item], thickness)
    expected = grey(frame)
    cv2.rectangle(expected, (width // 4, height // 4), (width * 3 // 4 - 1, height * 3 // 4 - 1),
                  instance_colour(item, 0), thickness)
    assert np.array_equal(picture, expected)
    coloured = np.all(picture == instance_colour(item, 0), axis=2)
    for x, y in [(width // 4, height // 4), (width * 3 // 4 - 1, height * 3 // 4 - 1)]:
        assert coloured[y, x]  # the box's own corner pixels
    assert not coloured[height // 2, width // 2]


def box_edge_width(frame: tuple[int, int]) -> int:
    """How many columns of the box's colour the renderer draws across a box's left edge."""
    width, height = frame
    item = instance("car", 0.9, width // 4, height // 4, width * 3 // 4, height * 3 // 4, frame)
    picture = InstanceRenderer(show_boxes=True, status_rows=0)(FrameResult(0, grey(frame), [item]))
    coloured = np.all(picture == instance_colour(item, 0), axis=2)
    # Mid-height, away from the label; the tint inside the box is not the box's colour.
    row = coloured[height // 2, width // 4 - 20:width // 4 + 20]
    return int(np.count_nonzero(row))


def test_the_renderer_draws_wider_boxes_on_larger_frames():
    assert box_edge_width((1280, 720)) <= 3
    assert box_edge_width((3840, 2160)) >= 6


# --- labels and the status band on every size of frame ----------------------------------------------------

def label_share(size: tuple[int, int]) -> float:
    """The height of a label drawn on a frame of ``size``, as a share of the frame's height."""
    item = instance("person", 0.9, size[0] // 3, size[1] // 3, size[0] * 2 // 3, size[1] * 2 // 3, size)
    picture = InstanceRenderer(status_rows=0)(FrameResult(0, grey(size), [item]))
    found = find_whole(picture, label_alone("person", frame_style(size), instance_colour(item, 0)))
    assert len(found) == 1
    return (found[0].y2 - found[0].y1) / size[1]


def test_labels_take_a_like_share_of_every_frame_size():
    shares = {size: label_share(size) for size in [(320, 240), (1280, 720), (1920, 1080), (3840, 2160)]}
    assert all(0.02 <= share <= 0.06 for share in shares.values()), shares
    assert shares[(3840, 2160)] == pytest.approx(shares[(1280, 720)], rel=0.1)


def edge_scene(width: int, height: int) -> list[Instance]:
    """A box at every corner and in the middle of every edge, each reaching beyond the frame."""
    frame, w, h = (width, height), width // 6, height // 6
    xs, ys = (-w // 2, width // 2 - w // 2, width - w // 2), (-h // 2, height // 2 - h // 2, height - h // 2)
    return [instance("person", 0.5 + number / 100, x, y, x + w, y + h, frame)
            for number, (x, y) in enumerate((x, y) for x in xs for y in ys if (x, y) != (xs[1], ys[1]))]


@pytest.mark.slow
@pytest.mark.parametrize("size", [(320, 240), (1920, 1080), (3840, 2160)])
@pytest.mark.parametrize("status", [True, False])
def test_labels_at_every_edge_and_corner_are_whole_inside_the_frame(size, status):
    instances = edge_scene(*size)
    canvas = grey(size)
    picture = InstanceRenderer(show_scores=True, status_rows=STATUS_ROWS if status else 0)(
        FrameResult(0, canvas, instances))
    if status:
        draw_status(picture, STATUS)
    labels = []
    for position, item in enumerate(instances):
        text = f"{item.name} {item.score:.2f}"
        found = find_whole(picture, label_alone(text, frame_style(size), instance_colour(item, position)))
        assert len(found) == 1, f"{text!r} at {item.box} shows whole {len(found)} times"
        label = found[0]
        assert 0 <= label.x1 and label.x2 <= size[0] and 0 <= label.y1 and label.y2 <= size[1]
        assert near(label, item.box, 4 * (label.y2 - label.y1)), (text, label, item.box)
        labels.append(label)
    status_band = status_box(len(STATUS), STATUS, frame_style(size))
    for number, label in enumerate(labels):
        assert not (status and label.overlaps(status_band)), label
        assert not any(label.overlaps(other) for other in labels[number + 1:])


def test_labels_on_a_tiny_frame_fit_it_and_keep_off_each_other():
    size = (64, 48)
    instances = [instance("person", 0.9, 2, 6, 30, 40, size), instance("bicycle", 0.8, 34, 10, 62, 44, size)]
    picture = grey(size)
    draw_labels(picture, instances, show_scores=True)
    blocks = []
    for position, item in enumerate(instances):
        # A label is a box of its instance's colour with its text inside: find each as a block of its pixels.
        colour = instance_colour(item, position)
        text = np.all(picture == text_colour_on(colour), axis=2)
        label_pixels = np.all(picture == colour, axis=2) | text
        count, _, stats, _ = cv2.connectedComponentsWithStats(label_pixels.view(np.uint8), connectivity=4)
        assert count == 2, stats  # one block: not cut in two by the other label
        x, y, w, h, _ = stats[1]
        block = Rect(x, y, x + w, y + h)
        assert np.all(label_pixels[y:y + h, x:x + w])  # a whole rectangle
        inside = text[y:y + h, x:x + w]
        # Padded on every side: no text cut off by the frame's edge.
        assert inside.any() and not (inside[0].any() or inside[-1].any() or inside[:, 0].any() or inside[:, -1].any())
        blocks.append(block)
    assert not blocks[0].overlaps(blocks[1]), blocks


def contrast(first: tuple[int, int, int], second: tuple[int, int, int]) -> float:
    """WCAG's contrast ratio of two BGR colours."""
    def luminance(colour: tuple[int, int, int]) -> float:
        b, g, r = (c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in colour)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_a_names_text_stands_out_on_every_colour_of_the_palette():
    colours = [palette_colour(key) for key in range(100)]
    texts = [text_colour_on(colour) for colour in colours]
    assert {(0, 0, 0), (255, 255, 255)} == set(texts)  # black on the light colours, white on the dark
    # WCAG's AA level for text; the other of black and white would give less.
    assert all(contrast(text, colour) >= 4.5 for text, colour in zip(texts, colours))
    assert text_colour_on(palette_colour(1)) == (255, 255, 255)  # the palette's blue
    assert text_colour_on(palette_colour(4)) == (0, 0, 0)  # its cyan


def test_a_name_that_had_to_move_off_its_box_has_a_straight_line_of_its_colour_to_its_mask():
    frame = (200, 200)
    disc = np.zeros((40, 40), np.uint8)
    cv2.circle(disc, (20, 20), 19, 1, cv2.FILLED)
    mask = BoxMask(disc.astype(bool), 80, 100)
    moved = Instance(0, "person", 0.9, Box(80, 100, 120, 140), mask, frame)
    beside = instance("car", 0.8, 150, 10, 190, 40, frame)
    picture = grey(frame)
    # A band over the box and the places next to it: the name goes up above the band, off its box.
    draw_labels(picture, [moved, beside], show_scores=False, keep_out=Rect(0, 60, 200, 160))
    colour = instance_colour(moved, 0)
    [label] = find_whole(picture, label_alone("person", frame_style(frame), colour))
    assert label.y2 < 60
    line = np.all(picture == colour, axis=2)
    line[label.y1:label.y2, label.x1:label.x2] = False
    ys, xs = np.nonzero(line)
    # One column, from the row under the name down to the top of the disc, and no further.
    top = 100 + int(np.flatnonzero(disc.any(axis=1))[0])
    assert len(set(xs)) == 1 and list(ys) == list(range(label.y2, top + 1))
    assert mask.full(frame)[top, xs[0]] and label.x1 <= xs[0] < label.x2
    # A name against its box has no line: its colour is on its label only.
    car = np.all(picture == instance_colour(beside, 1), axis=2)
    [car_label] = find_whole(picture, label_alone("car", frame_style(frame), instance_colour(beside, 1)))
    car[car_label.y1:car_label.y2, car_label.x1:car_label.x2] = False
    assert not car.any()


def test_where_no_place_is_free_a_label_covers_as_little_as_it_can():
    frame = (200, 100)
    # The status band fills the top; the box's first places (above it, inside its top) fall in it.
    keep_out = Rect(0, 0, 200, 40)
    [rect] = place_labels([Box(10, 30, 190, 95)], [(60, 20)], frame, keep_out)
    assert not rect.overlaps(keep_out)  # below the band, inside the box
    crowd = place_labels([Box(0, 0, 200, 100)] * 40, [(200, 25)] * 40, frame, None)
    # Four rows of labels fill the frame; the rest must overlap, but each first takes a free row.
    assert sorted(rect.y1 for rect in crowd[:4]) == [0, 25, 50, 75]


@pytest.mark.parametrize("size", [(64, 48), (320, 240), (1920, 1080), (3840, 2160)])
def test_the_status_band_is_whole_in_the_top_left_corner_and_scales(size):
    picture = grey(size)
    draw_status(picture, STATUS)
    band = status_box(len(STATUS), STATUS, frame_style(size))
    assert band.x1 == band.y1 == 0 and band.x2 <= size[0] and band.y2 <= size[1]
    inside = picture[band.y1:band.y2, band.x1:band.x2]
    white = np.all(inside == TEXT_COLOUR, axis=2)
    assert np.all(white | np.all(inside == STATUS_BACKGROUND, axis=2))
    assert white.any() and not white[:, -1].any()  # the text fits inside the band
    outside = np.ones(size[::-1], bool)
    outside[band.y1:band.y2, band.x1:band.x2] = False
    assert np.all(picture[outside] == GRAY)
    if size[1] >= 240:
        assert 0.05 <= band.y2 / size[1] <= 0.15, band


# --- where the status goes: the window, and written frames only when asked ---------------------------------

def scene_image(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 640x360 picture with one shape, well away from the status band."""
    image, _ = synthetic.draw_scene(640, 360, [synthetic.Shape.rect((0, 0, 255), 300, 150, 500, 320)])
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), image)
    return path, image


def status_pixels(picture: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """Where ``picture``'s one-line status band (a single frame has no rate yet: latency only) would be,
    True for each pixel of the band's grey or of its white text."""
    band = status_box(1, style=frame_style((picture.shape[1], picture.shape[0])))
    inside = picture[band.y1:band.y2, band.x1:band.x2].astype(int)
    return np.all(np.abs(inside - STATUS_BACKGROUND) <= tolerance, axis=2) | np.all(
        np.abs(inside - TEXT_COLOUR) <= tolerance, axis=2)


@pytest.mark.slow
@pytest.mark.parametrize("flags, in_file", [((), False), (("--status_in_output",), True),
                                            (("--no_status", "--status_in_output"), False)])
def test_written_frames_hold_the_status_only_when_asked(models, tmp_path, flags, in_file):
    source, image = scene_image(tmp_path)
    written = tmp_path / "out.png"
    run = run_demo("-m", models["person-0007"].xml, "-i", source, "--no_show", "-o", written, *flags)
    assert run.returncode == 0, run.stderr
    picture = cv2.imread(str(written))
    band = status_box(1, style=frame_style((640, 360)))
    if in_file:
        assert np.all(status_pixels(picture)) and np.any(picture[band.y1:band.y2, band.x1:band.x2] == 255)
    else:
        assert np.array_equal(picture[band.y1:band.y2, band.x1:band.x2], image[band.y1:band.y2, band.x1:band.x2])
    assert np.any(picture[150:320, 300:500] != image[150:320, 300:500])  # and the instance is drawn


@pytest.mark.parametrize("flags, in_window", [((), True), (("--no_status",), False)])
def test_the_window_shows_the_status_that_the_file_leaves_out(models, tmp_path, flags, in_window):
    source, image = scene_image(tmp_path)
    written = tmp_path / "out.png"
    band = status_box(1, style=frame_style((640, 360)))
    outside = np.ones((360, 640), bool)
    outside[band.y1:band.y2, band.x1:band.x2] = False

    def shown_as_written(window: str) -> list[np.ndarray]:
        """The screen, once it shows the written picture (to within a few levels) but for the band."""
        screen = display.screenshot(window)
        matches = screen.shape == picture.shape and cv2.absdiff(screen, picture).max(axis=2)[outside].mean() < 1.0
        return [screen] if matches else []

    with x_server() as display:
        demo = Demo(display, tmp_path, "-m", models["person-0007"].xml, "-i", source, "-o", written, *flags)
        try:
            window = display.find_window(TITLE)
            wait_for(written.exists, "the output image")
            picture = cv2.imread(str(written))
            [screenshot] = wait_for(lambda: shown_as_written(window), "the picture on screen")
            display.key(window, "Return")
            assert demo.finish() == 0, demo.stderr
        finally:
            demo.stop()
    assert np.array_equal(picture[band.y1:band.y2, band.x1:band.x2], image[band.y1:band.y2, band.x1:band.x2])
    shows_band = status_pixels(screenshot, tolerance=8).mean() > 0.95
    assert shows_band == in_window
