"""YOLO-seg models: recognised by shape, fed as trained, suppressed with NMS, masks from prototypes.

The colour-blob YOLO models of :mod:`synthetic` know their answer to the pixel in every
layout Ultralytics exports (NCHW or NHWC input, boxes in pixels or normalised, prototypes
channels first or last, with or without rt_info), so each step is checked against it.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest
from helpers import synthetic
from helpers.results import read_results
from helpers.running import run_demo
from helpers.scenes import (
    check_each_scene_size,
    scores_on_a_scene,
    write_scene,
)

from demo.app.flags import build_parser
from demo.core.errors import DemoError
from demo.model.contracts import DecodeLimits, YoloSegContract, decoding, recognise
from demo.model.geometry import ResizePolicy, geometry_for
from demo.model.loading import embed_preprocessing
from demo.model.model_info import read_model_info
from demo.model.postprocess import to_instances
from demo.model.segmenter import class_names

VARIANTS = {
    "ultralytics_ir": {},  # NCHW, boxes in pixels, prototypes [1,32,h,w], rt_info
    "tflite_like": {"layout": "NHWC", "normalized_boxes": True, "proto_layout": "NHWC", "rt_info": False},
    "landscape_input": {"input_hw": (480, 640), "normalized_boxes": True, "proto_layout": "NHWC"},
}


@pytest.fixture(scope="module")
def yolo_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("yolo")
    return {name: synthetic.build_yolo_seg_model(folder / f"{name}.xml", synthetic.DEFAULT_DETECTORS, **options)
            for name, options in VARIANTS.items()}


@pytest.mark.parametrize("variant", VARIANTS)
def test_recognised_by_shape(yolo_models, variant):
    options = VARIANTS[variant]
    contract = recognise(ov.Core().read_model(yolo_models[variant]), variant)

    assert isinstance(contract, YoloSegContract)
    height, width = options.get("input_hw", (640, 640))
    assert contract.input_size == (width, height)
    assert contract.num_classes == 80
    assert contract.prototypes_channels_last == (options.get("proto_layout") == "NHWC")
    assert contract.plane_stride == (synthetic.YOLO_PROTO_STRIDE, synthetic.YOLO_PROTO_STRIDE)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_images_of_several_sizes_give_each_shape_once(yolo_models, tmp_path, variant):
    # Every variant but the plain one has a weaker copy of each blob 2 px to the right: NMS must drop it.
    height, width = VARIANTS[variant].get("input_hw", (640, 640))
    # The letterbox scales both axes alike, as "fit" does.
    check_each_scene_size(yolo_models[variant], tmp_path, "letterbox", (width, height), "fit")


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "expected"), [
    (("--iou_threshold", "0.99"), [0.95, 0.9, 0.8, 0.8 * 0.95, 0.85, 0.8 * 0.9, 0.8 * 0.85, 0.8 * 0.8]),
    (("--max_det", "2"), [0.95, 0.9]),
], ids=["nms_threshold_keeps_copies", "max_det"])
def test_nms_and_instance_limit_flags(yolo_models, tmp_path, flags, expected):
    scores = scores_on_a_scene(yolo_models["ultralytics_ir"], tmp_path, *flags)
    np.testing.assert_allclose(scores, sorted(expected, reverse=True), atol=1e-3)


@pytest.mark.slow
def test_class_names_from_metadata_beside_the_model(tmp_path):
    # No rt_info, so the names come from Ultralytics' metadata.yaml in the export folder.
    model = synthetic.build_yolo_seg_model(tmp_path / "m.xml", synthetic.DEFAULT_DETECTORS, rt_info=False)
    names = [f"thing {i}" for i in range(80)]
    names[0], names[2], names[16] = "walker", "'quoted car'", "hound"
    (tmp_path / "metadata.yaml").write_text(
        "task: segment\nnames:\n" + "".join(f"  {i}: {name}\n" for i, name in enumerate(names)) + "imgsz:\n- 640\n")
    write_scene(tmp_path / "scene.png", 640, 480)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", model, "-i", tmp_path / "scene.png", "--no_show", "--results", results, "--no_cache")

    assert run.returncode == 0, run.stderr
    assert sorted(i["name"] for i in read_results(results)[0]["instances"]) == [
        "hound", "quoted car", "walker", "walker"]


def test_class_names_from_rt_info_and_labels_flag_wins(yolo_models, tmp_path):
    model = ov.Core().read_model(yolo_models["ultralytics_ir"])
    model.set_rt_info("walking_person bike", ["model_info", "labels"])
    info = read_model_info(model, yolo_models["ultralytics_ir"])
    assert info.labels == ("walking person", "bike")  # exporters write spaces as underscores
    assert build_parser().parse_args(["-m", "m.xml", "-i", "x.png"]).labels is None
    assert class_names(None, info.labels) == ["walking person", "bike"]
    own = tmp_path / "mine.txt"
    own.write_text("a\nb\n")
    assert class_names(build_parser().parse_args(["--labels", str(own)]).labels, info.labels) == ["a", "b"]


@pytest.mark.slow
def test_bad_rt_info_is_one_line(yolo_models, tmp_path):
    model = ov.Core().read_model(yolo_models["ultralytics_ir"])
    model.set_rt_info("grey", ["model_info", "pad_value"])
    ov.save_model(model, tmp_path / "bad.xml", compress_to_fp16=False)
    write_scene(tmp_path / "scene.png", 64, 48)

    run = run_demo("-m", tmp_path / "bad.xml", "-i", tmp_path / "scene.png", "--no_show", "--no_cache")

    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert len(errors) == 1 and "pad_value" in errors[0] and "grey" in errors[0], run.stderr


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_preprocessing_is_rgb_over_255_letterboxed_with_114(layout):
    # A network that returns its own input shows exactly what the graph made of the frame.
    shape = [1, 3, 64, 64] if layout == "NCHW" else [1, 64, 64, 3]
    image = ops.parameter(shape, np.float32, name="images")
    model = ov.Model([ops.abs(image)], [image])
    assert YoloSegContract.preprocessing.policy is ResizePolicy.LETTERBOX
    size = embed_preprocessing(model, SimpleNamespace(image_input=0), YoloSegContract.preprocessing,
                               Path("identity.xml"))
    frame = np.empty((32, 64, 3), np.uint8)
    frame[:] = (10, 20, 30)  # BGR

    seen = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(frame[None])[0][0]

    rgb = seen if layout == "NHWC" else seen.transpose(1, 2, 0)
    assert size == (64, 64)
    np.testing.assert_allclose(rgb[16:48], np.broadcast_to([30 / 255, 20 / 255, 10 / 255], (32, 64, 3)), atol=1e-6)
    np.testing.assert_allclose(rgb[:16], 114 / 255, atol=1e-6)
    np.testing.assert_allclose(rgb[48:], 114 / 255, atol=1e-6)


def test_rt_info_preprocessing_replaces_the_defaults(yolo_models, caplog):
    model = ov.Core().read_model(yolo_models["ultralytics_ir"])
    model.set_rt_info("0 0 0", ["model_info", "mean_values"])
    model.set_rt_info("58.4 57.1 57.4", ["model_info", "scale_values"])
    model.set_rt_info("NO", ["model_info", "reverse_input_channels"])
    model.set_rt_info("fit_to_window", ["model_info", "resize_type"])
    model.set_rt_info("0.45", ["model_info", "iou_threshold"])

    info = read_model_info(model, Path("m.xml"))
    prepared = info.preprocessing(YoloSegContract.preprocessing)

    assert (prepared.reverse_channels, prepared.scale, prepared.pad_value, prepared.policy) == (
        False, (58.4, 57.1, 57.4), 114.0, ResizePolicy.FIT)
    assert info.iou_threshold == 0.45
    model.set_rt_info("crop", ["model_info", "resize_type"])
    assert read_model_info(model, Path("m.xml")).policy is None and "crop" in caplog.text


def test_not_a_number_in_rt_info_raises_demo_error(yolo_models):
    model = ov.Core().read_model(yolo_models["ultralytics_ir"])
    model.set_rt_info("0.7 0.5", ["model_info", "iou_threshold"])
    with pytest.raises(DemoError, match="iou_threshold"):
        read_model_info(model, Path("m.xml"))


def test_empty_frame_gives_no_instances(yolo_models):
    contract = recognise(ov.Core().read_model(yolo_models["ultralytics_ir"]), "m")
    anchors = np.zeros((1, 4 + 80 + 32, 40), np.float32)
    prototypes = np.zeros((1, 32, 160, 160), np.float32)

    detections = contract.decode([anchors, prototypes], DecodeLimits(0.5))

    assert len(detections) == 0 and detections.heatmaps.shape == (0, 160, 160)
    assert to_instances(detections, geometry_for((640, 480), (640, 640), ResizePolicy.LETTERBOX),
                        (480, 640, 3), []) == []


def test_nms_is_per_class_best_first_and_limited():
    boxes = np.array([[0, 0, 100, 100], [2, 0, 102, 100], [0, 0, 100, 100], [300, 300, 340, 340]], np.float32)
    scores = np.array([0.6, 0.9, 0.7, 0.5], np.float32)
    class_ids = np.array([0, 0, 1, 0])

    assert decoding.class_aware_nms(boxes, scores, class_ids, 0.7, 100).tolist() == [1, 2, 3]
    assert decoding.class_aware_nms(boxes, scores, class_ids, 0.99, 100).tolist() == [1, 2, 0, 3]
    assert decoding.class_aware_nms(boxes, scores, class_ids, 0.7, 2).tolist() == [1, 2]
    assert decoding.class_aware_nms(boxes[:0], scores[:0], class_ids[:0], 0.7, 100).tolist() == []


def test_normalised_boxes_are_told_from_pixel_boxes():
    pixel_centres = np.array([[4.0, 300.0, 636.0], [4.0, 200.0, 476.0]])
    assert decoding.box_scale(pixel_centres, (640, 480)).tolist() == [1, 1, 1, 1]
    assert decoding.box_scale(pixel_centres / [[640], [480]], (640, 480)).tolist() == [640, 480, 640, 480]


def test_prototype_layouts_give_the_same_masks():
    rng = np.random.default_rng(0)
    coefficients = rng.normal(size=(3, 32)).astype(np.float32)
    prototypes = rng.normal(size=(32, 12, 16)).astype(np.float32)

    first = decoding.mask_heatmaps(coefficients, prototypes, channels_last=False)
    last = decoding.mask_heatmaps(coefficients, prototypes.transpose(1, 2, 0), channels_last=True)

    expected = 1 / (1 + np.exp(-np.einsum("nc,chw->nhw", coefficients, prototypes)))
    np.testing.assert_allclose(first, expected, atol=1e-5)
    np.testing.assert_allclose(last, expected, atol=1e-5)
