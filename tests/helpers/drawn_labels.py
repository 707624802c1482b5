"""A label as it looks alone, and every place it shows whole in a picture."""
from __future__ import annotations

import cv2
import numpy as np

from demo.picture.render import FONT, TEXT_LINE, Rect, Style, text_colour_on


def label_alone(text: str, style: Style, colour: tuple[int, int, int]) -> np.ndarray:
    """How a label looks when nothing covers it: its text on its own box of its instance's ``colour``, padded."""
    (width, height), baseline = cv2.getTextSize(text, FONT, style.label_scale, style.line)
    pad = style.label_pad
    picture = np.full((height + baseline + 2 * pad, width + 2 * pad, 3), colour, np.uint8)
    cv2.putText(picture, text, (pad, height + pad), FONT, style.label_scale, text_colour_on(colour), style.line,
                TEXT_LINE)
    return picture


def find_whole(picture: np.ndarray, template: np.ndarray) -> list[Rect]:
    """Every place where ``template`` shows unaltered, pixel for pixel."""
    difference = cv2.matchTemplate(picture, template, cv2.TM_SQDIFF)
    ys, xs = np.nonzero(difference < 0.5)  # a sum of squared whole numbers: any real change is >= 1
    height, width = template.shape[:2]
    return [Rect(int(x), int(y), int(x) + width, int(y) + height) for x, y in zip(xs, ys)]
