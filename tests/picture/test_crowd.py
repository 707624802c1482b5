"""Names in a crowd, on a real street photo segmented by the real YOLO11n-seg and drawn by ``demo.draw``:
each name sits on its instance's colour, and a name that had to move off its box is joined to its
instance by a line of that colour, so that a name landing on a neighbour's mask still says whose it is."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers.drawn_labels import label_alone
from helpers.running import SHARED

import demo
from demo.picture.render import Rect, frame_style, instance_colour
from demo.results.instances import Box, FrameResult

MODEL = SHARED / "models" / "yolo11n-seg_int8_openvino_model" / "yolo11n-seg.xml"
STREET = SHARED / "media" / "images" / "enox_street.png"  # 1441x731, about 11 people and cars

if not (MODEL.is_file() and STREET.is_file()):
    pytest.skip(f"the real model and street photo are absent: {SHARED} is not beside the project",
                allow_module_level=True)

# The photo at its own size, names only; and shrunk to a small camera's 400x203 with scores, where the
# longer names crowd so that one has to slide off its box (the one above the cyan person's).
SCENES = {"full size": (None, False), "400 wide with scores": (400, True)}


@pytest.fixture(scope="module")
def drawn() -> dict[str, tuple[FrameResult, np.ndarray, bool]]:
    """Per scene: the segmentation, the picture ``demo.draw`` makes of it, and whether it shows scores."""
    street = cv2.imread(str(STREET))
    pictures = {}
    with demo.open(MODEL, cache_dir=None) as segmenter:
        for scene, (width, scores) in SCENES.items():
            frame = street if width is None else cv2.resize(
                street, (width, round(street.shape[0] * width / street.shape[1])), interpolation=cv2.INTER_AREA)
            result = segmenter(frame)
            pictures[scene] = (result, demo.draw(result, show_scores=scores), scores)
    return pictures


def differing_pixels(picture: np.ndarray, template: np.ndarray) -> np.ndarray:
    """At each place the template could lie, how many of its pixels the picture has otherwise (a label's
    template holds two colours: its background and its text)."""
    matching = 0
    for colour in np.unique(template.reshape(-1, 3), axis=0):
        wanted = np.all(template == colour, axis=2).astype(np.float32)
        present = np.all(picture == colour, axis=2).astype(np.float32)
        matching = matching + cv2.matchTemplate(present, wanted, cv2.TM_CCORR)
    return template.shape[0] * template.shape[1] - np.rint(matching)


def label_place(picture: np.ndarray, template: np.ndarray, line: int) -> Rect:
    """Where the label shows, allowing for another name's line across it (a row or a column of it)."""
    differing = differing_pixels(picture, template)
    y, x = np.unravel_index(int(np.argmin(differing)), differing.shape)
    height, width = template.shape[:2]
    assert differing[y, x] <= max(height, width) * line, f"no such label: {differing[y, x]:.0f} pixels differ"
    return Rect(int(x), int(y), int(x) + width, int(y) + height)


def against(label: Rect, box: Box) -> bool:
    """The label overlaps the box or lies along one of its sides (to within the box's rounding)."""
    return (label.x1 <= box.x2 + 1 and box.x1 - 1 <= label.x2 and label.y1 <= box.y2 + 1 and box.y1 - 1 <= label.y2)


def reached_from(picture: np.ndarray, label: Rect, colour: tuple[int, int, int], others: list[Rect]) -> np.ndarray:
    """The pixels a line of ``colour`` leads to from the label, through other labels' text where it passes
    under a name."""
    way = np.all(picture == colour, axis=2)
    for other in others:
        inside = picture[other.y1:other.y2, other.x1:other.x2]
        way[other.y1:other.y2, other.x1:other.x2] |= np.all(inside == (0, 0, 0), axis=2) | np.all(inside == 255, axis=2)
    _, pieces = cv2.connectedComponents(way.view(np.uint8), connectivity=8)
    own = np.unique(pieces[label.y1:label.y2, label.x1:label.x2][way[label.y1:label.y2, label.x1:label.x2]])
    reached = np.isin(pieces, own[own > 0])
    reached[label.y1:label.y2, label.x1:label.x2] = False  # the label itself leads nowhere
    return reached


@pytest.mark.slow
@pytest.mark.parametrize("scene", SCENES)
def test_each_name_is_on_its_instances_colour_and_a_moved_one_has_a_line_to_it(drawn, scene):
    result, picture, scores = drawn[scene]
    assert len(result.instances) >= 8  # a crowd
    style = frame_style((picture.shape[1], picture.shape[0]))
    colours = [instance_colour(item, position) for position, item in enumerate(result.instances)]
    assert len(set(colours)) == len(colours)  # each instance its own colour: a colour names one instance
    labels = []
    for item, colour in zip(result.instances, colours):
        text = f"{item.name} {item.score:.2f}" if scores else item.name
        labels.append(label_place(picture, label_alone(text, style, colour), style.line))
    moved = [number for number, (item, label) in enumerate(zip(result.instances, labels))
             if not against(label, item.box)]
    for number in moved:
        item, label = result.instances[number], labels[number]
        reached = reached_from(picture, label, colours[number], labels[:number] + labels[number + 1:])
        assert np.any(reached & item.full_mask()), f"{item.name} {item.box}: no line from {label} to it"
    if scene != "full size":
        assert moved, "no name had to move: the scene no longer tests the lines"
