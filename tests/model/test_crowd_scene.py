"""The crowded scenes of benchmarks/crowded.py and benchmarks/peer.py: the model finds exactly the discs
drawn, so the instance counts those benchmarks report are exact."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers.results import iou
from helpers.running import ROOT

import demo

sys.path.insert(0, str(ROOT / "benchmarks"))
import crowd  # noqa: E402


@pytest.mark.parametrize("count", [1, 30])
def test_the_crowd_model_finds_each_disc_drawn(count, tmp_path):
    segmenter = demo.open(crowd.constant_maskrcnn(tmp_path / "crowd.xml", count), cache_dir=None)
    picture = crowd.picture(count)

    instances = segmenter(picture).instances

    assert picture.shape[:2] == crowd.FRAME_SIZE[::-1]
    assert len(instances) == count and {i.name for i in instances} == {"person"}
    drawn = np.any(picture != crowd.BACKGROUND, axis=2)
    masks = [instance.full_mask() for instance in instances]
    for x, y in crowd.centres(count):
        disc = np.zeros_like(drawn)
        disc[max(int(y) - 40, 0):int(y) + 40, max(int(x) - 40, 0):int(x) + 40] = True
        assert max(iou(mask, drawn & disc) for mask in masks) > 0.9
