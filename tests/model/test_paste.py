"""The mask paste: a heatmap spanning a box, back into frame pixels."""
from __future__ import annotations

import numpy as np
import pytest

from demo.model.postprocess import box_region, paste_mask
from demo.results.instances import Box

FRAME = (1080, 1920)


def pasted_full(heatmap: np.ndarray, box: Box, frame_shape=FRAME) -> np.ndarray:
    pasted = paste_mask(heatmap, box, frame_shape)
    assert pasted is not None
    return pasted.full(frame_shape[::-1])


def box_pixels(x1: int, y1: int, x2: int, y2: int, frame_shape=FRAME) -> np.ndarray:
    full = np.zeros(frame_shape, dtype=bool)
    full[y1:y2, x1:x2] = True
    return full


@pytest.mark.parametrize("size", [28, 224])
@pytest.mark.parametrize("box", [(100, 200, 150, 260), (10, 10, 30, 20), (500, 300, 567, 367)])
def test_all_ones_heatmap_fills_exactly_the_box(size, box):
    # Up to ~2.4x enlargement every pixel of the box, corners too, is above 0.5.
    full = pasted_full(np.ones((size, size), np.float32), Box(*box))
    assert np.array_equal(full, box_pixels(*box))


def test_large_enlargement_only_rounds_the_corners():
    # Bilinear weights multiply at a corner: (0.5 + 0.5 * 28 / 400)^2 < 0.5, as with Open Model Zoo's paste.
    full = pasted_full(np.ones((28, 28), np.float32), Box(100, 100, 500, 500))
    truth = box_pixels(100, 100, 500, 500)
    assert not np.any(full & ~truth)
    assert np.count_nonzero(full) / np.count_nonzero(truth) > 0.999
    assert full[300, 100:500].all() and full[100:500, 300].all()


def test_half_heatmap_splits_the_box_in_the_middle():
    heatmap = np.zeros((28, 28), np.float32)
    heatmap[:, :14] = 1
    full = pasted_full(heatmap, Box(0, 0, 280, 100), (200, 400))
    assert np.array_equal(np.flatnonzero(full[50]), np.arange(140))


@pytest.mark.parametrize("box, visible", [
    (Box(-20, -10, 40, 30), (0, 0, 40, 30)),
    (Box(1900, 1060, 1948, 1100), (1900, 1060, 1920, 1080)),
    (Box(-6, 500, 1926, 520), (0, 500, 1920, 520)),
])
def test_masks_at_the_frame_edges_are_clipped_not_shifted(box, visible):
    heatmap = np.zeros((28, 28), np.float32)
    heatmap[7:21, 7:21] = 1  # the middle half of the box
    full = pasted_full(heatmap, box)
    middle = box_pixels(round(box.x1 + box.width / 4), round(box.y1 + box.height / 4),
                        round(box.x2 - box.width / 4), round(box.y2 - box.height / 4))
    x1, y1, x2, y2 = visible
    assert not np.any(full & ~box_pixels(x1, y1, x2, y2))
    inner = middle & box_pixels(x1, y1, x2, y2)
    assert np.count_nonzero(full & inner) >= 0.9 * np.count_nonzero(inner)


@pytest.mark.parametrize("box", [
    Box(10, 10, 10, 50),  # zero width
    Box(10, 50, 40, 10),  # inverted
    Box(2000, 10, 2100, 50),  # right of the frame
    Box(-100, -100, -10, -10),  # above and left of the frame
    Box(10.2, 10.2, 10.4, 10.4),  # no pixel centre inside
])
def test_degenerate_boxes_are_skipped(box):
    assert paste_mask(np.ones((28, 28), np.float32), box, FRAME) is None


def test_one_pixel_box_gives_one_pixel():
    mask = paste_mask(np.ones((28, 28), np.float32), Box(5, 7, 6, 8), FRAME)
    assert mask.origin == (5, 7) and mask.bits.shape == (1, 1) and mask.bits.all()


def test_mask_never_leaves_the_box_region():
    rng = np.random.default_rng(0)
    for _ in range(50):
        x1, y1 = rng.uniform(-50, 1900, 2)
        box = Box(x1, y1, x1 + rng.uniform(1, 300), y1 + rng.uniform(1, 300))
        pasted = paste_mask(rng.random((28, 28), dtype=np.float32), box, FRAME)
        region = box_region(box, FRAME)
        if pasted is None:
            assert region is None
            continue
        assert pasted.region == region
