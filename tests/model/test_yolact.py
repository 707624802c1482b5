"""YOLACT as Open Model Zoo converts yolact-resnet50-fpn-pytorch.

The colour-blob YOLACT of :mod:`synthetic` has the converted model's interface: 19248
priors whose offsets the graph decodes to normalised corners, a softmax ``conf`` with the
background in column 0, 32 coefficients per prior and prototypes ``[1,138,138,32]``. Each
blob is found at one prior, and a weaker copy 2 px to the right at another, which
per-class NMS must suppress.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import pytest
from helpers import synthetic
from helpers.coco_sets import check_scores_are_pycocotools_own, evaluate, write_coco_set
from helpers.results import iou
from helpers.scenes import SCORES_WITH_COPIES, check_each_scene_size, scene_shapes, scores_on_a_scene

from demo.model.contracts import DecodeLimits, YolactContract, recognise
from demo.model.contracts.decoding import best_per_class

INPUT = 550
PLANE = 138


@pytest.fixture(scope="module")
def yolact_model(tmp_path_factory) -> Path:
    return synthetic.build_yolact_model(tmp_path_factory.mktemp("yolact") / "yolact.xml", synthetic.DEFAULT_DETECTORS)


def test_the_graphs_priors_decode_to_the_shapes_drawn(yolact_model):
    """The synthetic model itself, run on a 550x550 scene with no demo code: its answers are known."""
    shapes = scene_shapes(INPUT, INPUT)
    frame, truths = synthetic.draw_scene(INPUT, INPUT, shapes)
    compiled = ov.Core().compile_model(yolact_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    outputs = {port.get_any_name(): value[0] for port, value in compiled(frame.transpose(2, 0, 1)[None]).items()}
    priors = synthetic.yolact_priors((INPUT, INPUT))
    exact, copies = synthetic.yolact_rows(len(synthetic.DEFAULT_DETECTORS), len(priors))

    assert len(priors) == 19248 and outputs["proto"].shape == (PLANE, PLANE, 32)
    for row, copy, detector, truth in zip(exact, copies, synthetic.DEFAULT_DETECTORS, truths):
        np.testing.assert_allclose(outputs["boxes"][row] * INPUT, synthetic.truth_box(truth), atol=0.05)
        np.testing.assert_allclose(outputs["boxes"][copy] * INPUT - outputs["boxes"][row] * INPUT, [2, 0, 2, 0],
                                   atol=0.05)
        assert outputs["conf"][row].argmax() == detector.class_id + 1
        assert outputs["conf"][row, detector.class_id + 1] == pytest.approx(detector.score)
        assert outputs["conf"][copy, detector.class_id + 1] == pytest.approx(0.8 * detector.score)
        logits = outputs["proto"] @ outputs["mask"][row]
        mask = cv2.resize(logits, (INPUT, INPUT), interpolation=cv2.INTER_LINEAR) > 0
        assert iou(mask, truth) >= 0.9
    others = np.setdiff1d(np.arange(len(priors)), np.concatenate([exact, copies]))
    assert (outputs["conf"][others, 0] == 1).all()
    centre, size = priors[others, :2], priors[others, 2:]
    np.testing.assert_allclose(outputs["boxes"][others], np.hstack([centre - size / 2, centre + size / 2]), atol=1e-5)


def test_recognised_with_its_parts(yolact_model):
    contract = recognise(ov.Core().read_model(yolact_model), "yolact")

    assert isinstance(contract, YolactContract)
    assert (contract.conf, contract.coefficients, contract.prototypes, contract.boxes) == (0, 1, 2, 3)
    assert contract.prototypes_channels_last and contract.input_size == (INPUT, INPUT)
    assert contract.plane_stride == (INPUT / PLANE, INPUT / PLANE)


@pytest.mark.slow
def test_images_of_several_sizes_give_each_shape_once(yolact_model, tmp_path):
    # Stretched, as Open Model Zoo's accuracy check resizes.
    check_each_scene_size(yolact_model, tmp_path, "stretch", (INPUT, INPUT), "stretch")


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "expected"), [
    ((), [0.95, 0.9, 0.85, 0.8]),  # NMS at 0.5, Open Model Zoo's, drops each shifted copy
    (("--iou_threshold", "0.99"), SCORES_WITH_COPIES),
    (("--max_det", "2"), [0.95, 0.9]),
], ids=["nms_drops_copies", "nms_threshold_keeps_copies", "max_det"])
def test_nms_and_limits(yolact_model, tmp_path, flags, expected):
    np.testing.assert_allclose(scores_on_a_scene(yolact_model, tmp_path, *flags), expected, atol=1e-3)


def decode(conf: np.ndarray, boxes: list, threshold: float = 0.5):
    """A 100x100 YOLACT's decoding of these conf rows [R,81] and normalised boxes [R,4]."""
    contract = YolactContract(3, 0, 1, 2, True, (100, 100), (25.0, 25.0))
    rows = len(boxes)
    coefficients = np.eye(rows, 32, dtype=np.float32)[None]
    prototypes = np.zeros((1, 4, 4, 32), np.float32)
    return contract.decode([conf[None].astype(np.float32), coefficients, prototypes,
                            np.asarray(boxes, np.float32)[None]], DecodeLimits(threshold))


def test_nms_is_per_class_and_a_prior_may_give_several_classes():
    boxes = [[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.52, 0.5], [0.6, 0.6, 0.9, 0.9]]
    conf = np.zeros((3, 81))
    conf[0, [1, 3]] = [0.9, 0.6]  # prior 0: a person (0.9) and a car (0.6) over the same box
    conf[1, 1] = 0.7  # prior 1: an overlapping, weaker person: suppressed
    conf[2, 18] = 0.55  # prior 2: a dog elsewhere
    conf[:, 0] = 1 - conf[:, 1:].sum(axis=1)

    detections = decode(conf, boxes)

    assert detections.class_ids.tolist() == [0, 2, 17]  # 0-based COCO ids
    np.testing.assert_allclose(detections.scores, [0.9, 0.6, 0.55])
    np.testing.assert_allclose(detections.boxes, [[10, 10, 50, 50], [10, 10, 50, 50], [60, 60, 90, 90]], atol=1e-4)
    assert detections.heatmaps.shape == (3, 4, 4)


def test_background_and_nan_scores_are_never_detections():
    conf = np.zeros((2, 81))
    conf[0, 0] = 0.99  # background only
    conf[1, 5] = np.nan

    assert len(decode(conf, [[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.6, 0.6]], threshold=0.001)) == 0


def test_candidates_are_capped_per_class_best_first():
    scores = np.array([[0.1, 0.8], [0.9, 0.7], [0.5, 0.2], [0.3, np.nan], [0.6, 0.05]], np.float32)

    for limit, expected in ((2, {(1, 0, 0.9), (4, 0, 0.6), (0, 1, 0.8), (1, 1, 0.7)}),
                            (5, {(1, 0, 0.9), (4, 0, 0.6), (2, 0, 0.5), (0, 1, 0.8), (1, 1, 0.7)})):
        rows, classes, kept = best_per_class(scores, 0.4, limit)
        assert {(r, c, round(float(k), 2)) for r, c, k in zip(rows, classes, kept)} == expected


@pytest.mark.slow
def test_eval_scores_yolact_like_the_others(yolact_model, tmp_path):
    annotations, images = write_coco_set(tmp_path)

    run, results, metrics = evaluate(yolact_model, annotations, images, tmp_path)

    assert metrics["box"]["AP"] >= 0.95 and metrics["mask"]["AP"] >= 0.95, metrics
    assert sorted({r["category_id"] for r in results}) == [1, 3, 18]
    check_scores_are_pycocotools_own(run, metrics, annotations, tmp_path / "results.json")
