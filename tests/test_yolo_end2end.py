"""Ultralytics YOLO26-seg's end-to-end (NMS-free) head: rows [1,300,38] of final detections.

Taken for the grid head these shapes read as 38 anchors of 264 classes and decode into
rubbish; the colour-blob model of :mod:`synthetic` with YOLO26's shapes shows that they are
now recognised as what they are, decoded with no NMS, and pasted as YOLO11's masks are.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import pytest

import synthetic
from conftest import read_results, run_demo
from demo.contracts import DecodeLimits, Misfit, YoloEnd2EndContract, YoloSegContract, recognise
from demo.model_info import ModelInfo
from test_end_to_end import FRAME_SIZES, box_tolerance, check_frame, scene_shapes
from test_evaluate import check_scores_are_pycocotools_own, evaluate, write_coco_set

VARIANTS = {
    "ultralytics_ir": {},  # prototypes [1,32,160,160], rt_info
    "nhwc_prototypes_no_rt_info": {"proto_layout": "NHWC", "rt_info": False},
}


@pytest.fixture(scope="module")
def end2end_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("yolo26")
    return {name: synthetic.build_yolo_end2end_seg_model(folder / f"{name}.xml", synthetic.DEFAULT_DETECTORS, **options)
            for name, options in VARIANTS.items()}


def write_scene(path: Path, width: int, height: int) -> None:
    cv2.imwrite(str(path), synthetic.draw_scene(width, height, scene_shapes(width, height))[0])


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_old_misread_is_recognised_as_an_end2end_head(end2end_models, variant):
    model = ov.Core().read_model(end2end_models[variant])

    contract = recognise(model, variant)

    assert isinstance(contract, YoloEnd2EndContract)
    assert contract.input_size == (640, 640) and contract.plane_stride == (4.0, 4.0)
    assert contract.prototypes_channels_last == (variant != "ultralytics_ir")
    # The grid reading that used to win (264 classes over 38 anchors) now refuses, saying why.
    with pytest.raises(Misfit, match=r"\[1,300,38\] has rows of 6 \+ 32 values"):
        YoloSegContract.match(model, DecodeLimits(), ModelInfo())


@pytest.mark.parametrize("variant", VARIANTS)
def test_images_of_several_sizes_give_each_shape_once(end2end_models, tmp_path, variant):
    folder = tmp_path / "images"
    folder.mkdir()
    for number, (width, height) in enumerate(FRAME_SIZES):
        write_scene(folder / f"{number}.png", width, height)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", end2end_models[variant], "-i", folder, "--no_show", "--results", results, "--no_cache")

    assert run.returncode == 0, run.stderr
    assert "resize letterbox" in run.stderr
    records = read_results(results)
    assert len(records) == len(FRAME_SIZES)
    for record in records:
        size = FRAME_SIZES[record["frame"]]
        shapes = scene_shapes(*size)
        _, truths = synthetic.draw_scene(*size, shapes)
        check_frame(record, truths, shapes, box_tolerance(size, (640, 640), "fit"))


@pytest.fixture(scope="module")
def model_with_copies(tmp_path_factory) -> Path:
    """Each blob also as a copy 2 px right with 0.8 x the score, as a row of its own."""
    folder = tmp_path_factory.mktemp("copies")
    return synthetic.build_yolo_end2end_seg_model(folder / "m.xml", synthetic.DEFAULT_DETECTORS, duplicates=True)


ALL_SCORES = sorted([0.95, 0.9, 0.85, 0.8] + [0.8 * s for s in (0.95, 0.9, 0.85, 0.8)], reverse=True)


@pytest.mark.parametrize(("flags", "expected"), [
    ((), ALL_SCORES),  # the head has suppressed already: no NMS drops the overlapping copies
    (("--iou_threshold", "0.1"), ALL_SCORES),
    (("--max_det", "3"), ALL_SCORES[:3]),
    (("-t", "0.75"), [s for s in ALL_SCORES if s >= 0.75]),
], ids=["no_nms", "iou_flag_has_nothing_to_do", "max_det", "threshold"])
def test_rows_are_final_best_first_with_threshold_and_limit(model_with_copies, tmp_path, flags, expected):
    write_scene(tmp_path / "scene.png", 640, 480)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", model_with_copies, "-i", tmp_path / "scene.png", "--no_show", "--results", results,
                   "--no_cache", *flags)

    assert run.returncode == 0, run.stderr
    scores = [i["score"] for i in read_results(results)[0]["instances"]]
    np.testing.assert_allclose(sorted(scores, reverse=True), expected, atol=1e-3)


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
        detections = contract.decode([table, prototypes], 0.5)
        np.testing.assert_allclose(detections.boxes, [[160, 240, 320, 360], [320, 120, 480, 240]])
        assert detections.class_ids.tolist() == [2, 0] and detections.heatmaps.shape == (2, 120, 160)


def test_eval_scores_the_end2end_head_like_the_others(end2end_models, tmp_path):
    annotations, images = write_coco_set(tmp_path)

    run, results, metrics = evaluate(end2end_models["ultralytics_ir"], annotations, images, tmp_path)

    assert metrics["box"]["AP"] >= 0.95 and metrics["mask"]["AP"] >= 0.95, metrics
    assert sorted({r["category_id"] for r in results}) == [1, 3, 18]
    check_scores_are_pycocotools_own(run, metrics, annotations, tmp_path / "results.json")
