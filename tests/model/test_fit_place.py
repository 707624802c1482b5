"""Where frames are fitted to the network (``--preprocess``, ``demo.open(preprocess=...)``): the rule that
chooses by device, what each place compiles, and that both places give the same boxes and masks.

The synthetic colour-blob models answer exactly what they see, so where the host's fit and the graph's differ
(by rounding, at most one level of 255 at a shape's blurred edge) an edge may move by one network pixel at
most: in the frame, one network pixel mapped back (at least one frame pixel).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import openvino as ov
import pytest
from helpers import synthetic
from helpers.synthetic import Shape
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import demo
from demo.core.errors import UsageError
from demo.model.geometry import FitPlace, ResizePolicy
from demo.model.loading import fits_on_host


@pytest.mark.parametrize("device, available, here", [
    ("CPU", ["CPU"], True),
    ("GPU", ["CPU", "GPU"], False),
    ("GPU.1", ["CPU", "GPU.0", "GPU.1"], False),
    ("NPU", ["CPU", "NPU"], False),
    ("AUTO", ["CPU"], True),  # AUTO alone may pick any device present: here, the CPU only
    ("AUTO", ["CPU", "GPU"], False),
    ("AUTO:CPU", ["CPU", "GPU"], True),
    ("MULTI:CPU,GPU", ["CPU", "GPU"], False),
    ("HETERO:GPU,CPU", ["CPU", "GPU"], False),
    ("BATCH:GPU(4)", ["CPU", "GPU"], False),
])
def test_the_rule_fits_frames_on_the_host_for_the_cpu_alone(device, available, here):
    assert fits_on_host(FitPlace.AUTO, device, available, 114, "m.xml") is here
    # The setting overrides the rule either way.
    assert fits_on_host(FitPlace.HOST, device, available, 114, "m.xml") is True
    assert fits_on_host(FitPlace.MODEL, device, available, 114, "m.xml") is False


def test_a_pad_value_a_u8_frame_cannot_hold_is_padded_in_the_graph():
    assert fits_on_host(FitPlace.AUTO, "CPU", ["CPU"], 0.5, "m.xml") is False
    assert fits_on_host(FitPlace.AUTO, "CPU", ["CPU"], -1, "m.xml") is False
    with pytest.raises(UsageError, match=r"m.xml: its pad value 0.5 does not fit .* use --preprocess model"):
        fits_on_host(FitPlace.HOST, "CPU", ["CPU"], 0.5, "m.xml")


def image_port(segmenter: demo.Segmenter) -> ov.Output:
    compiled = segmenter.model.engine.compiled
    return compiled.input(segmenter.model.contract.image_input)


def test_on_the_cpu_the_network_takes_u8_frames_of_its_own_size_and_the_graph_path_any_size(models):
    person = models["person-0007"].xml
    with demo.open(person, cache_dir=None) as automatic, demo.open(person, cache_dir=None, preprocess="model") as graph:
        assert automatic.model.fit_here and not graph.model.fit_here
        assert image_port(automatic).get_element_type() == image_port(graph).get_element_type() == ov.Type.u8
        assert str(image_port(automatic).get_partial_shape()) == "[1,320,544,3]"
        assert str(image_port(graph).get_partial_shape()) == "[1,?,?,3]"


def test_a_forced_host_fit_of_a_pad_u8_cannot_hold_is_one_line(tmp_path):
    path = synthetic.build_yolo_seg_model(tmp_path / "yolo.xml", synthetic.DEFAULT_DETECTORS)
    model = ov.Core().read_model(path)
    model.set_rt_info("0.5", ["model_info", "pad_value"])
    ov.save_model(model, tmp_path / "half.xml", compress_to_fp16=False)

    with pytest.raises(UsageError, match="its pad value 0.5 does not fit in the u8 frame the host fits"):
        demo.open(tmp_path / "half.xml", cache_dir=None, preprocess="host")
    with demo.open(tmp_path / "half.xml", cache_dir=None) as automatic:
        assert not automatic.model.fit_here


# Each model's detectors: a red rectangle, a green ellipse and a blue rectangle, placed by the frame's size.
def scene(width: int, height: int) -> np.ndarray:
    return synthetic.draw_scene(width, height, [
        Shape.rect((0, 0, 255), width // 10, height // 8, width * 4 // 10, height * 7 // 10),
        Shape.ellipse((0, 255, 0), (width * 7 // 10, height * 3 // 10), (max(width // 6, 2), max(height // 6, 2))),
        Shape.rect((255, 0, 0), width // 2, height * 6 // 10, width * 9 // 10, height * 9 // 10)])[0]


MODELS = {"person-0007": lambda path: synthetic.person_0007_like(path, synthetic.DEFAULT_DETECTORS),
          "yolo": lambda path: synthetic.build_yolo_seg_model(path, synthetic.DEFAULT_DETECTORS)}


@pytest.fixture(scope="module")
def segmenters(tmp_path_factory):
    """Every synthetic model, resize policy and place of the fit, opened once."""
    folder = tmp_path_factory.mktemp("fit")
    opened = {(kind, policy, place): demo.open(build(folder / f"{kind}.xml"), cache_dir=None, resize=policy.value,
                                               preprocess=place, labels=synthetic.coco_names())
              for kind, build in MODELS.items() for policy in ResizePolicy for place in ("host", "model")}
    yield opened
    for segmenter in opened.values():
        segmenter.close()


def corners(instance) -> np.ndarray:
    box = instance.box
    return np.array([box.x1, box.y1, box.x2, box.y2])


def edge_band(mask: np.ndarray, reach: int) -> np.ndarray:
    """The pixels within ``reach`` pixels of the mask's edge, on either side."""
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    inside = mask.astype(np.uint8)
    return cv2.dilate(inside, kernel).astype(bool) & ~cv2.erode(inside, kernel, borderValue=1).astype(bool)


@pytest.mark.slow
# Without shrinking, which on a failure would run for minutes: the failing example is printed as it is.
@settings(max_examples=30, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(kind=st.sampled_from(sorted(MODELS)), policy=st.sampled_from(list(ResizePolicy)),
       width=st.integers(40, 1600), height=st.integers(40, 1600))
def test_host_and_graph_fits_give_the_same_boxes_and_masks_within_a_network_pixel(segmenters, kind, policy, width,
                                                                                   height):
    frame = scene(width, height)
    host, graph = segmenters[kind, policy, "host"], segmenters[kind, policy, "model"]

    here, there = host(frame).instances, graph(frame).instances

    # A thin shape's duplicate (the synthetic YOLO's, two input pixels aside) may outlive NMS: on both paths.
    assert [i.name for i in here] == [i.name for i in there]
    assert [i.name for i in here][:3] == ["person", "car", "dog"]
    scale = host.geometry(frame).scale
    reach = np.array([max(1.0, 1 / scale[0]), max(1.0, 1 / scale[1])] * 2) + 1e-6
    for mine, theirs in zip(here, there):
        assert mine.score == pytest.approx(theirs.score, abs=1e-3)
        assert np.all(np.abs(corners(mine) - corners(theirs)) <= reach), (mine.box, theirs.box)
        differ = mine.full_mask() ^ theirs.full_mask()
        assert not (differ & ~edge_band(theirs.full_mask(), math.ceil(reach.max()))).any()
