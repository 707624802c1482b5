"""The scene ``--mode background`` is checked on (a car, a dog and two people) and the documented
halo-free blur, computed independently of the demo."""
from __future__ import annotations

import cv2
import numpy as np
from helpers import synthetic
from helpers.scenes import BLUE, GREEN, RED, YELLOW
from helpers.synthetic import Shape

PERSON_COLOURS = (RED, YELLOW)  # DEFAULT_DETECTORS: red and yellow are "person", green "car", blue "dog"
FULL_HD, VGA = (1920, 1080), (640, 480)
# app.run prints FPS and latency in the top-left corner of every written frame.
STATUS_AREA = (slice(0, 70), slice(0, 300))


def scene(size: tuple[int, int], people: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A frame with a car and a dog, and two people unless ``people`` is False; and the
    union of the drawn people's pixels."""
    width, height = size

    def at(fx: float, fy: float) -> tuple[int, int]:
        return int(fx * width), int(fy * height)

    shapes = [
        Shape.ellipse(GREEN, at(0.5, 0.3), (int(0.12 * width), int(0.1 * height))),
        Shape.polygon(BLUE, [at(0.45, 0.9), at(0.52, 0.6), at(0.6, 0.88)]),
    ]
    if people:
        shapes += [
            Shape.ellipse(RED, at(0.175, 0.3), (int(0.04 * width), int(0.08 * height))),  # head
            Shape.rect(RED, *at(0.1, 0.37), *at(0.25, 0.9)),  # body
            Shape.ellipse(YELLOW, at(0.8, 0.65), (int(0.07 * width), int(0.25 * height)), angle=10),
        ]
    frame, masks = synthetic.draw_scene(width, height, shapes)
    people_mask = np.zeros(frame.shape[:2], dtype=bool)
    for shape, mask in zip(shapes, masks):
        if shape.colour in PERSON_COLOURS:
            people_mask |= mask
    return frame, people_mask


def window_sums(values: np.ndarray, kernel: int) -> np.ndarray:
    """Each pixel's sum over its kernel x kernel window, the picture reflected at its border
    (OpenCV's default, edge pixel not repeated), from an integral image rather than OpenCV's filter."""
    reach, extra = kernel // 2, [(0, 0)] * (values.ndim - 2)
    padded = np.pad(values.astype(np.int64), [(reach, reach), (reach, reach), *extra], mode="reflect")
    integral = np.pad(padded.cumsum(0).cumsum(1), [(1, 0), (1, 0), *extra])
    height, width = values.shape[:2]
    return (integral[kernel:kernel + height, kernel:kernel + width] - integral[:height, kernel:kernel + width]
            - integral[kernel:kernel + height, :width] + integral[:height, :width])


def halo_free_blur(frame: np.ndarray, alpha: np.ndarray, kernel: int) -> np.ndarray:
    """The documented --blur_bgr: where a window holds people (opacity above 0) and background,
    the rounded mean of its background pixels; elsewhere the plain box blur."""
    background = alpha == 0
    counted = window_sums(background, kernel)
    sums = window_sums(frame * background[..., None], kernel)
    mixed = (counted < kernel * kernel) & (counted > 0)
    blurred = cv2.blur(frame, (kernel, kernel))
    counts = counted[mixed][:, None]
    blurred[mixed] = (2 * sums[mixed] + counts) // (2 * counts)
    return blurred
