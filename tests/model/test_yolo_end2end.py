"""Ultralytics YOLO26-seg's end-to-end (NMS-free) head: rows [1,300,38] of final detections.

Taken for the grid head these shapes read as 38 anchors of 264 classes and decode into
rubbish; the colour-blob model of :mod:`synthetic` with YOLO26's shapes shows that they are
now recognised as what they are, decoded with no NMS, and pasted as YOLO11's masks are.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import pytest
from helpers import synthetic
from helpers.coco_sets import check_scores_are_pycocotools_own, evaluate, write_coco_set
from helpers.scenes import SCORES_WITH_COPIES, check_each_scene_size, scores_on_a_scene

from demo.model.contracts import DecodeLimits, Misfit, YoloEnd2EndContract, YoloSegContract, recognise
from demo.model.model_info import ModelInfo

VARIANTS = {
    "ultralytics_ir": {},  # prototypes [1,32,160,160], rt_info
    "nhwc_prototypes_no_rt_info": {"proto_layout": "NHWC", "rt_info": False},
}


@pytest.fixture(scope="module")
def end2end_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("yolo26")
    return {name: synthetic.build_yolo_end2end_seg_model(folder / f"{name}.xml", synthetic.DEFAULT_DETECTORS, **options)
            for name, options in VARIANTS.items()}


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_old_misread_is_recognised_as_an_end2end_head(end2end_models, variant):
    model = ov.Core().read_model(end2end_models[variant])

    contract = recognise(model, variant)

    assert isinstance(contract, YoloEnd2EndContract)
    assert contract.input_size == (640, 640) and contract.plane_stride == (4.0, 4.0)
    assert contract.prototypes_channels_last == (variant != "ultralytics_ir")
    # The grid reading that used to win (264 classes over 38 anchors) now refuses, saying why.
    with pytest.raises(Misfit, match=r"\[1,300,38\] has rows of 6 \+ 32 values"):
        YoloSegContract.match(model, ModelInfo())


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_images_of_several_sizes_give_each_shape_once(end2end_models, tmp_path, variant):
    check_each_scene_size(end2end_models[variant], tmp_path, "letterbox", (640, 640), "fit")


@pytest.fixture(scope="module")
def model_with_copies(tmp_path_factory) -> Path:
    """Each blob also as a copy 2 px right with 0.8 x the score, as a row of its own."""
    folder = tmp_path_factory.mktemp("copies")
    return synthetic.build_yolo_end2end_seg_model(folder / "m.xml", synthetic.DEFAULT_DETECTORS, duplicates=True)


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "expected"), [
    ((), SCORES_WITH_COPIES),  # the head has suppressed already: no NMS drops the overlapping copies
    (("--iou_threshold", "0.1"), SCORES_WITH_COPIES),
    (("--max_det", "3"), SCORES_WITH_COPIES[:3]),
    (("-t", "0.75"), [s for s in SCORES_WITH_COPIES if s >= 0.75]),
], ids=["no_nms", "iou_flag_has_nothing_to_do", "max_det", "threshold"])
def test_rows_are_final_best_first_with_threshold_and_limit(model_with_copies, tmp_path, flags, expected):
    np.testing.assert_allclose(scores_on_a_scene(model_with_copies, tmp_path, *flags), expected, atol=1e-3)


def test_normalised_rows_are_scaled_to_input_pixels():
    # TFLite exports give the corners in 0..1; the far corners of real detections tell them apart.
    contract = YoloEnd2EndContract(0, 1, False, (640, 480), (4.0, 4.0), 100)
    rows = np.zeros((1, 300, 38), np.float32)
    rows[0, 0, :6] = [0.25, 0.5, 0.5, 0.75, 0.9, 2]
    rows[0, 1, :6] = [0.5, 0.25, 0.75, 0.5, 0.6, 0]
    in_pixels = rows.copy()
    in_pixels[0, :, :4] *= [640, 480, 640, 480]
    prototypes = np.zeros((1, 32, 120, 160), np.float32)

    for table in (rows, in_pixels):
        detections = contract.decode([table, prototypes], DecodeLimits(0.5))
        np.testing.assert_allclose(detections.boxes, [[160, 240, 320, 360], [320, 120, 480, 240]])
        assert detections.class_ids.tolist() == [2, 0] and detections.heatmaps.shape == (2, 120, 160)


@pytest.mark.slow
def test_eval_scores_the_end2end_head_like_the_others(end2end_models, tmp_path):
    annotations, images = write_coco_set(tmp_path)

    run, results, metrics = evaluate(end2end_models["ultralytics_ir"], annotations, images, tmp_path)

    assert metrics["box"]["AP"] >= 0.95 and metrics["mask"]["AP"] >= 0.95, metrics
    assert sorted({r["category_id"] for r in results}) == [1, 3, 18]
    check_scores_are_pycocotools_own(run, metrics, annotations, tmp_path / "results.json")
