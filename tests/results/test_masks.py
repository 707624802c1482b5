"""BoxMask's COCO RLE, counted over the mask's own columns, against pycocotools encoding the whole frame."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from demo.results.masks import BoxMask


@st.composite
def placed_masks(draw: st.DrawFn) -> tuple[BoxMask, tuple[int, int]]:
    width, height = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    w, h = draw(st.integers(0, width)), draw(st.integers(0, height))
    x, y = draw(st.integers(0, width - w)), draw(st.integers(0, height - h))
    fill = draw(st.sampled_from(["empty", "full", "random"]))
    seed = draw(st.integers(0, 2**32 - 1))
    bits = np.random.default_rng(seed).random((h, w)) < 0.5 if fill == "random" else np.full((h, w), fill == "full")
    return BoxMask(bits, x, y), (width, height)


@settings(max_examples=400, deadline=None)
@given(placed_masks())
def test_rle_is_what_pycocotools_gives_for_the_whole_frame(placed):
    mask, frame_size = placed
    whole = mask_utils.encode(np.asfortranarray(mask.full(frame_size).view(np.uint8)))
    rle = mask.rle(frame_size)
    assert rle == {"size": [int(s) for s in whole["size"]], "counts": whole["counts"].decode("ascii")}
    assert np.array_equal(mask_utils.decode({**rle, "counts": rle["counts"].encode()}).astype(bool),
                          mask.full(frame_size))
