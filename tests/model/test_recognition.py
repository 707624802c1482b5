"""Recognition that cannot be fooled: a model that only half fits a contract is refused with one line.

Each case is a contract's own shapes with one thing wrong (a dimension, the class count,
an output too many or too few, what the model's metadata says); the line must name what
is wrong. ``--model_type`` forces a contract, and is refused the same way when the model
does not fit it either.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import openvino as ov
import pytest
from helpers import synthetic
from helpers.running import SHARED, run_demo

from demo.core.errors import DemoError
from demo.model.contracts import (
    MaskRCNNContract,
    TwoInputContract,
    YolactContract,
    YoloEnd2EndContract,
    YoloSegContract,
    recognise,
)
from demo.model.model_info import read_metadata, read_model_info

F32, I32 = ov.Type.f32, ov.Type.i32
COCO = synthetic.coco_names()

# Each contract's shapes as the real models have them: (inputs, outputs).
GOOD = {
    "maskrcnn": ([("image", [1, 3, 800, 1344])],
                 [("labels", [100], I32), ("boxes", [100, 5], F32), ("masks", [100, 28, 28], F32)]),
    "two-input": ([("im_data", [1, 3, 480, 640]), ("im_info", [1, 3])],
                  [("boxes", [100, 4], F32), ("scores", [100], F32), ("classes", [100], I32),
                   ("raw_masks", [100, 81, 14, 14], F32)]),
    "yolo": ([("images", [1, 3, 640, 640])], [("", [1, 116, 8400], F32), ("protos", [1, 32, 160, 160], F32)]),
    "yolo-end2end": ([("images", [1, 3, 640, 640])], [("", [1, 300, 38], F32), ("protos", [1, 32, 160, 160], F32)]),
    "yolact": ([("input.1", [1, 3, 550, 550])],
               [("conf", [1, 19248, 81], F32), ("mask", [1, 19248, 32], F32), ("proto", [1, 138, 138, 32], F32),
                ("boxes", [1, 19248, 4], F32)]),
}
CONTRACT_OF = {"maskrcnn": MaskRCNNContract, "two-input": TwoInputContract, "yolo": YoloSegContract,
               "yolo-end2end": YoloEnd2EndContract, "yolact": YolactContract}


def changed(kind: str, port: str, shape: list[int] | None = None, element: ov.Type | None = None) -> tuple:
    """``kind``'s good shapes with one input or output changed (shape None: left out)."""
    inputs, outputs = GOOD[kind]
    if any(name == port for name, _ in inputs):
        return [(name, shape if name == port else old) for name, old in inputs], outputs
    if shape is None and element is None:
        return inputs, [output for output in outputs if output[0] != port]
    return inputs, [(name, shape or old, element or old_type) if name == port else (name, old, old_type)
                    for name, old, old_type in outputs]


def extra_output(kind: str) -> tuple:
    inputs, outputs = GOOD[kind]
    return inputs, [*outputs, ("extra", [1, 10], F32)]


def recognise_file(path: Path, model_type: str | None = None):
    """Recognition as the demo does it: the model, its rt_info and any metadata.yaml beside it."""
    model = ov.Core().read_model(path)
    return recognise(model, str(path), read_model_info(model, path), model_type)


def refusal(path: Path, model_type: str | None = None) -> str:
    with pytest.raises(DemoError) as raised:
        recognise_file(path, model_type)
    message = str(raised.value)
    assert "\n" not in message
    return message


def shaped(tmp_path: Path, shapes: tuple, labels: tuple[str, ...] = (), name: str = "m.xml") -> Path:
    return synthetic.build_shaped_model(tmp_path / name, *shapes, labels=labels)


@pytest.mark.parametrize("kind", GOOD)
def test_each_contracts_own_shapes_are_recognised_as_it(tmp_path, kind):
    assert isinstance(recognise_file(shaped(tmp_path, GOOD[kind])), CONTRACT_OF[kind])


HALF_FITS = {
    # name: (shapes, rt_info labels, a fragment the one line must hold)
    "maskrcnn_four_channels": (changed("maskrcnn", "image", [1, 4, 800, 1344]), (),
                               "the image input is [1,4,800,1344]"),
    "maskrcnn_batch_of_two": (changed("maskrcnn", "image", [2, 3, 800, 1344]), (), "expected [1,3,H,W]"),
    "maskrcnn_float_labels": (changed("maskrcnn", "labels", element=F32), (), "labels [N] of an integer type"),
    "maskrcnn_no_masks": (changed("maskrcnn", "masks"), (), "2 outputs where 3 are expected"),
    "maskrcnn_extra_output": (extra_output("maskrcnn"), (), "4 outputs where 3 are expected"),
    "maskrcnn_rows_disagree": (changed("maskrcnn", "masks", [50, 28, 28]), (), "do not agree on the number of rows"),
    "two_input_no_class_channels": (changed("two-input", "raw_masks", [100, 1, 14, 14]), (),
                                    "no class besides the background"),
    "two_input_masks_rank_3": (changed("two-input", "raw_masks", [100, 14, 14]), (), "raw_masks [N,C,h,w]"),
    "two_input_extra_output": (extra_output("two-input"), (), "5 outputs where 4 are expected"),
    "two_input_rows_disagree": (changed("two-input", "scores", [50]), (), "do not agree on the number of rows"),
    "yolo_prototype_aspect": (changed("yolo", "protos", [1, 32, 160, 120]), (), "aspect ratio"),
    "yolo_no_classes": (changed("yolo", "", [1, 36, 8400]), (), "leaves 0 classes"),
    "yolo_classes_not_its_names": (changed("yolo", "", [1, 120, 8400]), COCO,
                                   "gives 84 classes but the model names 80"),
    "yolo_extra_output": (extra_output("yolo"), (), "3 outputs where 2 are expected"),
    "yolo_dynamic_input": (changed("yolo", "images", [1, 3, -1, -1]), (), "no static size"),
    "yolo_end2end_row_width": (changed("yolo-end2end", "", [1, 300, 37]), COCO, "should have 6 + 32 values per row"),
    "yolact_rows_disagree": (changed("yolact", "conf", [1, 19000, 81]), (), "do not agree on the number of rows"),
    "yolact_coefficients": (changed("yolact", "mask", [1, 19248, 31]), (), "one coefficient per prototype"),
    "yolact_prototype_aspect": (changed("yolact", "proto", [1, 138, 100, 32]), (), "aspect ratio"),
    "yolact_background_only": (changed("yolact", "conf", [1, 19248, 1]), (), "leaves 0 classes"),
    "yolact_classes_not_its_names": (changed("yolact", "conf", [1, 19248, 91]), COCO,
                                     "gives 90 classes but the model names 80"),
    "yolact_no_prototypes": (changed("yolact", "proto"), (), "3 outputs where 4 are expected"),
    "yolact_extra_output": (extra_output("yolact"), (), "5 outputs where 4 are expected"),
}


@pytest.mark.parametrize("case", HALF_FITS)
def test_half_fitting_model_is_one_line_naming_what_is_wrong(tmp_path, case):
    shapes, labels, fragment = HALF_FITS[case]

    message = refusal(shaped(tmp_path, shapes, labels))

    assert "not a supported segmentation model" in message and fragment in message, message


@pytest.mark.parametrize(("case", "fragment"), [
    ("yolo_extra_output", "3 outputs where 2"), ("yolact_coefficients", "one coefficient per prototype"),
])
def test_half_fitting_model_through_the_demo_is_exit_1_and_one_line(tmp_path, case, fragment):
    shapes, labels, _ = HALF_FITS[case]
    image = tmp_path / "scene.png"
    cv2.imwrite(str(image), synthetic.draw_scene(64, 48, [])[0])

    run = run_demo("-m", shaped(tmp_path, shapes, labels), "-i", image, "--no_show", "--no_cache")

    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert len(errors) == 1 and fragment in errors[0], run.stderr


def test_detection_only_yolo_models_have_no_masks(tmp_path):
    grid = shaped(tmp_path, ([("images", [1, 3, 640, 640])], [("", [1, 84, 8400], F32)]), name="grid.xml")
    end2end = shaped(tmp_path, ([("images", [1, 3, 640, 640])], [("", [1, 300, 6], F32)]), name="e2e.xml")

    for path in (grid, end2end):
        assert "this model has no masks" in refusal(path)


@pytest.mark.parametrize(("metadata", "fragment"), [
    ({"task": "detect"}, "this model has no masks"),
    ({"task": "pose"}, "says task pose, not segment"),
    ({"imgsz": (320, 320)}, "imgsz 320x320 but the input is 640x640"),
    ({"end2end": True}, "its metadata says end2end"),
], ids=["task_detect", "task_pose", "image_size", "end2end_on_a_grid_head"])
def test_metadata_that_contradicts_the_shapes_is_refused(tmp_path, metadata, fragment):
    model = shaped(tmp_path, GOOD["yolo"])
    synthetic.write_ultralytics_metadata(tmp_path, **metadata)

    assert fragment in refusal(model)


def test_metadata_that_agrees_changes_nothing(tmp_path):
    model = shaped(tmp_path, GOOD["yolo-end2end"])
    synthetic.write_ultralytics_metadata(tmp_path, end2end=True)

    assert isinstance(recognise_file(model), YoloEnd2EndContract)


def test_an_end2end_head_said_not_to_be_one_is_refused(tmp_path):
    model = shaped(tmp_path, GOOD["yolo-end2end"])
    synthetic.write_ultralytics_metadata(tmp_path, end2end=False)

    message = refusal(model)

    assert "not end2end" in message and "rows of 6 + 32 values" in message


def test_nms_export_metadata_counts_as_end2end(tmp_path):
    # Ultralytics' nms=True export of a YOLO11-seg gives the same rows as YOLO26's one-to-one head.
    model = shaped(tmp_path, GOOD["yolo"])
    synthetic.write_ultralytics_metadata(tmp_path, nms=True)

    assert "its metadata says end2end" in refusal(model)


def ambiguous_model(tmp_path: Path) -> Path:
    """A 32x32 YOLO whose [1,40,21] table reads as 21 anchors (its grid's count for strides 8, 16, 32)
    of 4 + 21 + 15 values, or as 40 rows of 6 + 15 values: only the user can tell."""
    return shaped(tmp_path, ([("images", [1, 3, 32, 32])], [("", [1, 40, 21], F32), ("protos", [1, 15, 8, 8], F32)]))


def test_ambiguous_model_is_one_line_naming_the_candidates(tmp_path):
    message = refusal(ambiguous_model(tmp_path))

    assert "ambiguous" in message and "--model_type yolo|yolo-end2end" in message


@pytest.mark.parametrize(("kind", "contract"), [("yolo", YoloSegContract), ("yolo-end2end", YoloEnd2EndContract)])
def test_model_type_forces_a_contract_recognition_cannot_choose(tmp_path, kind, contract):
    assert isinstance(recognise_file(ambiguous_model(tmp_path), kind), contract)


@pytest.mark.parametrize(("kind", "model", "fragment"), [
    ("yolact", "yolo", "not a yolact model: expected one image input [1,3,H,W]; outputs boxes"),
    ("yolo", "yolo-end2end", "not a yolo model: [1,300,38] has rows of 6 + 32 values"),
    ("maskrcnn", "two-input", "not a maskrcnn model"),
    ("yolo-end2end", "yolo", "not a yolo-end2end model: detections [1,116,8400] should have 6 + 32 values"),
])
def test_model_type_that_does_not_fit_is_refused(tmp_path, kind, model, fragment):
    assert fragment in refusal(shaped(tmp_path, GOOD[model]), kind)


@pytest.mark.slow
def test_model_type_flag_through_the_demo(tmp_path):
    image = tmp_path / "scene.png"
    cv2.imwrite(str(image), synthetic.draw_scene(64, 48, [])[0])

    forced = run_demo("-m", shaped(tmp_path, GOOD["yolo"]), "-i", image, "--model_type", "yolact", "--no_show",
                      "--no_cache")
    unknown = run_demo("-m", shaped(tmp_path, GOOD["yolo"]), "-i", image, "--model_type", "ssd", "--no_show")

    errors = [line for line in forced.stderr.splitlines() if line.startswith("error:")]
    assert forced.returncode == 1 and len(errors) == 1 and "not a yolact model" in errors[0], forced.stderr
    assert unknown.returncode == 2 and "ssd" in unknown.stderr and "Traceback" not in unknown.stderr


def test_metadata_yaml_is_read_as_ultralytics_writes_it(tmp_path):
    (tmp_path / "metadata.yaml").write_text(
        "description: Ultralytics YOLO26n-seg model\ntask: segment\nbatch: 1\nimgsz: [480, 640]\n"
        "names:\n  0: person\n  1: 'traffic light'\nargs:\n  batch: 1\n  nms: false\nend2end: true\n")
    info = read_metadata(tmp_path / "metadata.yaml")
    assert (info.task, info.end2end, info.image_size, info.labels) == (
        "segment", True, (640, 480), ("person", "traffic light"))

    yolo11 = SHARED / "models" / "yolo11n-seg_int8_openvino_model" / "metadata.yaml"
    if not yolo11.is_file():
        pytest.skip(f"{yolo11} is absent")
    real = read_metadata(yolo11)
    assert (real.task, real.end2end, real.image_size, len(real.labels)) == ("segment", None, (640, 640), 80)


def test_matting_models_with_more_inputs_are_recognised_or_refused_by_what_they_lack(tmp_path):
    """Recurrent and two-image matting models are supported (tests/model/test_recurrent.py); an RVM-shaped model
    without its next states is one line naming the first state left unfed."""
    states = [("r1i", [1, 16, 144, 256]), ("r2i", [1, 20, 72, 128]), ("r3i", [1, 40, 36, 64]),
              ("r4i", [1, 64, 18, 32])]
    outputs = [("fgr", [1, 3, 288, 512], F32), ("pha", [1, 1, 288, 512], F32)]

    message = refusal(shaped(tmp_path, ([("src", [1, 3, 288, 512]), *states], outputs)))

    assert "the state input r1i [1,16,144,256] needs one output of 16 channels to be fed back from" in message
    plate = shaped(tmp_path, ([("src", [1, 3, 720, 1280]), ("bgr", [1, 3, 720, 1280])],
                              [("fgr", [1, 3, 720, 1280], F32), ("pha", [1, 1, 720, 1280], F32)]), name="bgm.xml")
    assert recognise(ov.Core().read_model(plate), "bgm").kind == "plate-matting"
