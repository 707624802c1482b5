"""A clip that tests identities: two people (red and yellow, one class) cross head-on, then the
red one walks behind a pillar that hides it wholly for HIDDEN_FRAMES frames and comes out on
the other side. Every frame's visible masks are known, so each reported instance can be told
which person it is."""
from __future__ import annotations

import numpy as np
from helpers import synthetic

WIDTH, HEIGHT = 800, 360
FRAMES = 86
SIDE = 40
SPEED = 8  # pixels a frame, both people
PILLAR = synthetic.Shape.rect((40, 90, 140), 424, 100, 616, 260)  # a colour no detector finds
HIDDEN_FRAMES = 20  # frames 53..72: red's x1 from 424 to 576, all of it behind the pillar
RED, YELLOW = synthetic.DEFAULT_DETECTORS[0].colour, synthetic.DEFAULT_DETECTORS[3].colour  # both person


def people(t: int) -> dict[str, synthetic.Shape]:
    """Red walks right from the left edge; yellow walks left, 10 rows lower, and leaves the frame."""
    return {"red": synthetic.Shape.rect(RED, SPEED * t, 160, SPEED * t + SIDE, 160 + SIDE),
            "yellow": synthetic.Shape.rect(YELLOW, 384 - SPEED * t, 170, 424 - SPEED * t, 170 + SIDE)}


def frame(t: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Frame ``t`` (yellow in front of red, the pillar in front of both) and each person's visible mask."""
    shapes = people(t)
    image, visible = synthetic.draw_scene(WIDTH, HEIGHT, [*shapes.values(), PILLAR])
    return image, {name: mask for name, mask in zip(shapes, visible) if mask.any()}


def hidden(t: int) -> bool:
    return "red" not in frame(t)[1]
