"""The synthetic models and scenes really give the answers the other tests rely on.

Models run straight on OpenVINO with frames already at their input size: no demo code.
"""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import pytest

from helpers.synthetic import (
    DEFAULT_DETECTORS,
    GRAY_BACKGROUND,
    Shape,
    build_two_input_model,
    build_yolo_seg_model,
    coco_names,
    draw_scene,
    person_0007_like,
    read_video,
    security_0091_like,
    truth_box,
    write_ffv1_video,
)

BLUE_ROW = 2  # DEFAULT_DETECTORS row whose colour the standard scene leaves out
# Detector row -> index of its shape in the standard scene.
SCENE_SHAPE_OF_ROW = {0: 0, 1: 1, 3: 2}
MIN_MASK_IOU = 0.9


def _standard_scene(width: int, height: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Red rectangle, green tilted ellipse, yellow polygon; no blue, so one detector misses."""
    def at(fx: float, fy: float) -> tuple[int, int]:
        return round(fx * width), round(fy * height)

    shapes = [
        Shape.rect(DEFAULT_DETECTORS[0].colour, *at(0.08, 0.15), *at(0.3, 0.6)),
        Shape.ellipse(DEFAULT_DETECTORS[1].colour, at(0.52, 0.5), at(0.12, 0.15), angle=25),
        Shape.polygon(
            DEFAULT_DETECTORS[3].colour, [at(0.72, 0.1), at(0.95, 0.2), at(0.85, 0.85), at(0.7, 0.6)],
        ),
    ]
    return draw_scene(width, height, shapes)


def _nchw(frame: np.ndarray) -> np.ndarray:
    return frame.transpose(2, 0, 1)[None].astype(np.float32)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a & b) / np.count_nonzero(a | b))


def _heatmap_iou(heatmap: np.ndarray, box: np.ndarray, truth_mask: np.ndarray) -> float:
    """IoU of a box-relative heatmap, stretched over its box, with the truth inside that box."""
    x1, y1, x2, y2 = (int(round(v)) for v in box[:4])
    stretched = cv2.resize(heatmap.astype(np.float32), (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
    return _iou(stretched > 0.5, truth_mask[y1:y2, x1:x2])


def _outputs_by_name(compiled: ov.CompiledModel, inputs: object) -> dict[str, np.ndarray]:
    results = compiled(inputs)
    return {output.get_any_name(): results[output] for output in compiled.outputs}


def _check_found_instance(box: np.ndarray, heatmap: np.ndarray, truth_mask: np.ndarray) -> None:
    np.testing.assert_allclose(box[:4], truth_box(truth_mask), atol=1.0)
    assert _heatmap_iou(heatmap, box, truth_mask) >= MIN_MASK_IOU


# ---------------------------------------------------------------------------
# Names, colours, scenes, videos
# ---------------------------------------------------------------------------


def test_coco_names_are_the_standard_80() -> None:
    names = coco_names()
    assert len(names) == len(set(names)) == 80
    assert (names[0], names[2], names[16], names[79]) == ("person", "car", "dog", "toothbrush")
    assert "traffic light" in names and "hair drier" in names


def test_default_colours_are_far_from_each_other_and_the_background() -> None:
    colours = [np.array(d.colour) for d in DEFAULT_DETECTORS] + [np.array(GRAY_BACKGROUND)]
    for a, b in combinations(colours, 2):
        assert np.abs(a - b).max() >= 100


def test_draw_scene_paints_pure_colours_and_returns_visible_masks() -> None:
    red, green = DEFAULT_DETECTORS[0].colour, DEFAULT_DETECTORS[1].colour
    shapes = [Shape.rect(red, 10, 20, 60, 70), Shape.ellipse(green, (60, 60), (25, 15), angle=30)]
    frame, masks = draw_scene(120, 100, shapes)

    assert frame.shape == (100, 120, 3) and frame.dtype == np.uint8
    colours_present = {tuple(int(c) for c in pixel) for pixel in frame.reshape(-1, 3)}
    assert colours_present == {GRAY_BACKGROUND, red, green}  # no blended edge pixels
    for shape, mask in zip(shapes, masks):
        assert mask.dtype == bool and (frame[mask] == shape.colour).all()
    assert not (masks[0] & masks[1]).any()  # the ellipse, drawn later, hides part of the rect
    background = ~(masks[0] | masks[1])
    assert (frame[background] == GRAY_BACKGROUND).all()
    assert truth_box(masks[0]) == (10, 20, 60, 70)


def test_truth_box_is_continuous_and_rejects_empty_masks() -> None:
    mask = np.zeros((10, 10), dtype=bool)
    mask[3, 4] = True
    assert truth_box(mask) == (4, 3, 5, 4)
    with pytest.raises(ValueError):
        truth_box(np.zeros((4, 4), dtype=bool))


@pytest.mark.parametrize("suffix", [".avi", ".mkv"])
def test_ffv1_video_reads_back_identical(tmp_path: Path, suffix: str) -> None:
    frames = [_standard_scene(96, 64)[0] for _ in range(2)]
    frames.append(np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8))
    path = write_ffv1_video(tmp_path / f"clip{suffix}", frames)
    decoded = read_video(path)
    assert len(decoded) == len(frames)
    for written, read in zip(frames, decoded):
        np.testing.assert_array_equal(written, read)


def test_ffv1_video_raises_when_writer_cannot_open(tmp_path: Path) -> None:
    frame = _standard_scene(32, 32)[0]
    with pytest.raises(RuntimeError):
        write_ffv1_video(tmp_path / "missing_dir" / "clip.avi", [frame])


def _feed(model: ov.Model) -> dict[str, np.ndarray]:
    """The standard scene in whatever form the model's inputs take."""
    feed = {}
    for model_input in model.inputs:
        name = model_input.get_any_name()
        shape = model_input.get_partial_shape().to_shape()
        if name == "im_info":
            feed[name] = np.array([[shape[2], shape[3], 1]], dtype=np.float32)
            continue
        nhwc = shape[3] == 3
        height, width = (shape[1], shape[2]) if nhwc else (shape[2], shape[3])
        frame = _standard_scene(width, height)[0]
        if name == "images":  # YOLO: RGB 0..1
            frame = frame[:, :, ::-1].astype(np.float32) / 255
        feed[name] = frame[None].astype(np.float32) if nhwc else _nchw(frame)
    return feed


@pytest.mark.parametrize(
    "build",
    [
        security_0091_like,
        person_0007_like,
        build_two_input_model,
        build_yolo_seg_model,
        lambda path, detectors: build_yolo_seg_model(path, detectors, layout="NHWC", normalized_boxes=True),
    ],
    ids=["security_0091", "person_0007", "two_input", "yolo", "yolo_nhwc_normalized"],
)
def test_answers_do_not_depend_on_the_default_inference_precision(tmp_path: Path, build) -> None:
    # Some CPUs default to bf16, which would round boxes and scores of ops such as MatMul.
    core = ov.Core()
    model = core.read_model(build(tmp_path / "m.xml", DEFAULT_DETECTORS))
    feed = _feed(model)
    default = core.compile_model(model, "CPU")(feed)
    exact = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(feed)
    for default_value, exact_value in zip(default.values(), exact.values()):
        np.testing.assert_array_equal(default_value, exact_value)


# ---------------------------------------------------------------------------
# Mask R-CNN style models
# ---------------------------------------------------------------------------


def test_security_0091_like_has_fixed_rows_and_exact_answers(tmp_path: Path) -> None:
    compiled = ov.Core().compile_model(security_0091_like(tmp_path / "m.xml", DEFAULT_DETECTORS), "CPU")
    assert [o.get_any_name() for o in compiled.outputs] == ["labels", "boxes", "masks"]
    assert compiled.input(0).get_any_name() == "image"
    assert [o.get_element_type() for o in compiled.outputs] == [ov.Type.i32, ov.Type.f32, ov.Type.f32]
    assert [o.get_partial_shape().to_shape() for o in compiled.outputs] == [[100], [100, 5], [100, 28, 28]]

    frame, masks = _standard_scene(1344, 800)
    out = _outputs_by_name(compiled, {"image": _nchw(frame)})

    np.testing.assert_array_equal(out["labels"][:4], [d.class_id for d in DEFAULT_DETECTORS])
    for row, shape_index in SCENE_SHAPE_OF_ROW.items():
        assert out["boxes"][row, 4] == pytest.approx(DEFAULT_DETECTORS[row].score)
        _check_found_instance(out["boxes"][row], out["masks"][row], masks[shape_index])
    assert not out["boxes"][BLUE_ROW].any() and not out["masks"][BLUE_ROW].any()
    assert not out["labels"][4:].any() and not out["boxes"][4:].any() and not out["masks"][4:].any()


def test_person_0007_like_outputs_only_found_detectors(tmp_path: Path) -> None:
    model_path = person_0007_like(tmp_path / "m.xml", DEFAULT_DETECTORS)
    core = ov.Core()
    model = core.read_model(model_path)
    assert str(model.output("boxes").get_partial_shape()) == "[?,5]"
    assert model.output("masks").get_partial_shape()[1:].to_shape() == [224, 224]
    compiled = core.compile_model(model, "CPU")
    assert compiled.output("labels").get_element_type() == ov.Type.i64

    frame, masks = _standard_scene(544, 320)
    out = _outputs_by_name(compiled, {"image": _nchw(frame)})

    found_rows = list(SCENE_SHAPE_OF_ROW)
    assert out["labels"].dtype == np.int64
    np.testing.assert_array_equal(out["labels"], [DEFAULT_DETECTORS[row].class_id for row in found_rows])
    np.testing.assert_allclose(out["boxes"][:, 4], [DEFAULT_DETECTORS[row].score for row in found_rows])
    for out_row, shape_index in enumerate(SCENE_SHAPE_OF_ROW.values()):
        _check_found_instance(out["boxes"][out_row], out["masks"][out_row], masks[shape_index])

    empty_frame, _ = draw_scene(544, 320, [])
    empty = _outputs_by_name(compiled, {"image": _nchw(empty_frame)})
    assert empty["boxes"].shape == (0, 5) and empty["masks"].shape == (0, 224, 224)


def test_two_input_model_has_one_based_classes_and_per_class_masks(tmp_path: Path) -> None:
    core = ov.Core()
    model = core.read_model(build_two_input_model(tmp_path / "m.xml", DEFAULT_DETECTORS))
    assert model.input("im_info").get_target_inputs()  # consumed, so it cannot be pruned
    compiled = core.compile_model(model, "CPU")
    assert sorted(i.get_any_name() for i in compiled.inputs) == ["im_data", "im_info"]
    assert [o.get_any_name() for o in compiled.outputs] == ["boxes", "scores", "classes", "raw_masks"]
    shapes = [o.get_partial_shape().to_shape() for o in compiled.outputs]
    assert shapes == [[100, 4], [100], [100], [100, 81, 14, 14]]

    frame, masks = _standard_scene(640, 480)
    image_info = np.array([[480, 640, 1]], dtype=np.float32)
    out = _outputs_by_name(compiled, {"im_data": _nchw(frame), "im_info": image_info})

    np.testing.assert_array_equal(out["classes"][:4], [d.class_id + 1 for d in DEFAULT_DETECTORS])
    for row, shape_index in SCENE_SHAPE_OF_ROW.items():
        class_channel = DEFAULT_DETECTORS[row].class_id + 1
        assert out["scores"][row] == pytest.approx(DEFAULT_DETECTORS[row].score)
        heatmap = out["raw_masks"][row, class_channel]
        _check_found_instance(out["boxes"][row], heatmap, masks[shape_index])
        other_channels = np.delete(out["raw_masks"][row], class_channel, axis=0)
        complement = np.broadcast_to(1 - heatmap, other_channels.shape)
        np.testing.assert_allclose(other_channels, complement, atol=1e-6)
    assert out["scores"][BLUE_ROW] == 0 and not out["boxes"][BLUE_ROW].any()
    padding = slice(len(DEFAULT_DETECTORS), None)
    for name in ("boxes", "scores", "classes", "raw_masks"):
        assert not out[name][padding].any()


# ---------------------------------------------------------------------------
# YOLO-seg models
# ---------------------------------------------------------------------------


YOLO_SIZE = 640
YOLO_VARIANTS = {
    "defaults": {},
    "nhwc_normalized_plain": {
        "layout": "NHWC", "normalized_boxes": True, "proto_layout": "NHWC",
        "duplicates": False, "rt_info": False,
    },
}


def _yolo_anchors(output: np.ndarray, normalized: bool) -> dict[str, np.ndarray]:
    """Per-anchor xyxy pixel boxes, class scores and mask coefficients of output 0."""
    per_anchor = output[0].T
    cx, cy, w, h = per_anchor[:, :4].T * (YOLO_SIZE if normalized else 1)
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return {"boxes": boxes, "scores": per_anchor[:, 4:-32], "coefficients": per_anchor[:, -32:]}


def _yolo_instance_mask(coefficients: np.ndarray, protos_nchw: np.ndarray) -> np.ndarray:
    probabilities = 1 / (1 + np.exp(-np.tensordot(coefficients, protos_nchw[0], axes=1)))
    size = (YOLO_SIZE, YOLO_SIZE)
    return cv2.resize(probabilities.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) > 0.5


def _run_yolo(compiled: ov.CompiledModel, options: dict) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Anchors (decoded to pixels) and NCHW prototypes for the standard scene."""
    rgb = _standard_scene(YOLO_SIZE, YOLO_SIZE)[0][:, :, ::-1].astype(np.float32) / 255
    results = compiled(rgb[None] if options.get("layout") == "NHWC" else rgb.transpose(2, 0, 1)[None])
    anchors = _yolo_anchors(results[compiled.outputs[0]], options.get("normalized_boxes", False))
    protos = results[compiled.outputs[1]]
    return anchors, protos.transpose(0, 3, 1, 2) if options.get("proto_layout") == "NHWC" else protos


@pytest.mark.parametrize("options", YOLO_VARIANTS.values(), ids=YOLO_VARIANTS.keys())
def test_yolo_seg_model_has_the_ultralytics_interface(tmp_path: Path, options: dict) -> None:
    model = ov.Core().read_model(build_yolo_seg_model(tmp_path / "m.xml", DEFAULT_DETECTORS, **options))
    assert model.outputs[0].get_names() == set()
    anchor_count = len(DEFAULT_DETECTORS) * (2 if options.get("duplicates", True) else 1) + 8
    assert model.outputs[0].get_partial_shape().to_shape() == [1, 4 + 80 + 32, anchor_count]
    nhwc = options.get("proto_layout") == "NHWC"
    protos_shape = [1, 160, 160, 32] if nhwc else [1, 32, 160, 160]
    assert model.outputs[1].get_partial_shape().to_shape() == protos_shape
    if not options.get("rt_info", True):
        assert not model.has_rt_info(["model_info", "model_type"])
        return
    assert model.get_rt_info(["model_info", "model_type"]).astype(str) == "YOLO"
    assert model.get_rt_info(["model_info", "resize_type"]).astype(str) == "fit_to_window_letterbox"
    assert model.get_rt_info(["model_info", "pad_value"]).astype(str) == "114"
    labels = model.get_rt_info(["model_info", "labels"]).astype(str).split(" ")
    assert labels == [name.replace(" ", "_") for name in coco_names()]


@pytest.mark.parametrize("options", YOLO_VARIANTS.values(), ids=YOLO_VARIANTS.keys())
def test_yolo_seg_model_finds_each_blob_once_plus_a_weaker_copy(tmp_path: Path, options: dict) -> None:
    duplicates = options.get("duplicates", True)
    model_path = build_yolo_seg_model(tmp_path / "m.xml", DEFAULT_DETECTORS, **options)
    compiled = ov.Core().compile_model(model_path, "CPU")
    anchors, protos = _run_yolo(compiled, options)
    masks = _standard_scene(YOLO_SIZE, YOLO_SIZE)[1]

    scored = anchors["scores"].max(axis=1) > 0
    owner = anchors["coefficients"].argmax(axis=1)
    assert np.count_nonzero(scored) == len(SCENE_SHAPE_OF_ROW) * (2 if duplicates else 1)
    assert not scored[owner == BLUE_ROW].any()
    for row, shape_index in SCENE_SHAPE_OF_ROW.items():
        detector, truth = DEFAULT_DETECTORS[row], masks[shape_index]
        own = np.flatnonzero(scored & (owner == row))
        best = own[anchors["scores"][own, detector.class_id].argmax()]
        assert anchors["scores"][best, detector.class_id] == pytest.approx(detector.score)
        assert np.count_nonzero(anchors["scores"][best]) == 1
        np.testing.assert_allclose(anchors["boxes"][best], truth_box(truth), atol=1.0)
        x1, y1, x2, y2 = truth_box(truth)
        predicted = _yolo_instance_mask(anchors["coefficients"][best], protos)
        assert _iou(predicted[y1:y2, x1:x2], truth[y1:y2, x1:x2]) >= MIN_MASK_IOU
        copies = own[own != best]
        assert copies.size == (1 if duplicates else 0)
        for copy in copies:
            assert anchors["scores"][copy, detector.class_id] == pytest.approx(0.8 * detector.score)
            shift = anchors["boxes"][copy] - anchors["boxes"][best]
            np.testing.assert_allclose(shift, [2, 0, 2, 0], atol=1e-3)


def test_yolo_seg_model_refuses_more_detectors_than_prototypes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        build_yolo_seg_model(tmp_path / "m.xml", DEFAULT_DETECTORS * 9)
