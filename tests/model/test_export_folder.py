"""The folder Ultralytics' ``yolo export format=openvino`` writes (NAME.xml, NAME.bin, metadata.yaml) given as the
model: it stands for the one .xml inside, with its metadata.yaml, in the run, eval, export, --benchmark and
``demo.open``; a folder that cannot be one model is one line saying what to give instead."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import synthetic
from helpers.coco_sets import evaluate, write_coco_set
from helpers.results import read_results
from helpers.running import SHARED, one_error_line, run_demo
from helpers.scenes import expected_names, scene_shapes, write_scene

import demo
from demo.core.errors import DemoError
from demo.model.segmenter import resolve

REAL_FOLDER = SHARED / "models" / "yolo11n-seg_int8_openvino_model"
EXPORT = "`yolo export model=yolo11n-seg.pt format=openvino`"


def export_folder(folder: Path, names: list[str] | None = None) -> Path:
    """A YOLO-seg export as Ultralytics lays it out, its class names in metadata.yaml only (no rt_info)."""
    folder.mkdir(exist_ok=True)
    synthetic.build_yolo_seg_model(folder / "blobs-seg.xml", synthetic.DEFAULT_DETECTORS, rt_info=False)
    synthetic.write_ultralytics_metadata(folder, names=names)
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return export_folder(tmp_path_factory.mktemp("exports") / "blobs-seg_openvino_model")


def test_a_folder_resolves_to_its_one_xml(folder):
    assert resolve(folder).path == folder / "blobs-seg.xml"
    assert resolve(str(folder) + "/").path == folder / "blobs-seg.xml"


def test_demo_open_of_a_folder_names_the_classes_its_metadata_gives(tmp_path):
    renamed = [f"class {number}" for number in range(80)]
    renamed[0], renamed[2], renamed[16] = "walker", "cart", "hound"  # COCO's person, car and dog
    folder = export_folder(tmp_path / "renamed_openvino_model", renamed)
    frame, _ = synthetic.draw_scene(640, 480, scene_shapes(640, 480))
    coco_to_renamed = {"person": "walker", "car": "cart", "dog": "hound"}

    with demo.open(folder) as segmenter:
        found = sorted(instance.name for instance in segmenter(frame).instances)

    assert found == sorted(coco_to_renamed[name] for name in expected_names().values())


def write_models(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text("<net/>")  # never read: the folder is refused before its model is


NO_XML = ("model folder '{folder}' holds no OpenVINO model (.xml): give -m a model file (.xml, .onnx or .tflite) or a "
          f"folder that {EXPORT} wrote")
TWO_XML = "model folder '{folder}' holds 2 .xml models (a.xml, b.xml): give -m the one to run, e.g. -m '{folder}/a.xml'"
OTHER_TASK = ("'{folder}': this model has no masks: its metadata.yaml says task {task}, not segment; give a "
              f"segmentation (-seg) model, such as the folder {EXPORT} writes")


@pytest.mark.parametrize(("files", "task", "message"), [
    ((), None, NO_XML), (("yolo.onnx",), None, NO_XML), (("b.xml", "a.xml"), None, TWO_XML),
    (("yolo11n.xml",), "detect", OTHER_TASK), (("yolo11n-pose.xml",), "pose", OTHER_TASK),
], ids=["empty", "onnx_only", "two_models", "detect_export", "pose_export"])
def test_a_folder_that_is_not_one_segmentation_model_is_one_line(tmp_path, files, task, message):
    write_models(tmp_path, *files)
    if task:
        synthetic.write_ultralytics_metadata(tmp_path, task=task)

    with pytest.raises(DemoError) as raised:
        resolve(tmp_path)

    assert str(raised.value) == message.format(folder=tmp_path, task=task)


# The user's view: python -m demo with the folder.

@pytest.mark.slow
def test_the_real_export_folder_runs_exactly_as_the_xml_inside(tmp_path):
    photo = SHARED / "media" / "images" / "darknet_dog.jpg"
    records = {}
    for name, model in (("folder", REAL_FOLDER), ("xml", REAL_FOLDER / "yolo11n-seg.xml")):
        results = tmp_path / f"{name}.jsonl"
        run = run_demo("-m", model, "-i", photo, "--no_show", "--results", results)
        assert run.returncode == 0, run.stderr
        records[name] = read_results(results)

    assert records["folder"] == records["xml"]
    assert {"bicycle", "dog", "car"} <= {instance["name"] for instance in records["folder"][0]["instances"]}


@pytest.mark.slow
def test_a_detection_export_folder_is_refused_before_the_input_opens(tmp_path):
    detect = tmp_path / "yolo11n_openvino_model"
    detect.mkdir()
    write_models(detect, "yolo11n.xml")
    synthetic.write_ultralytics_metadata(detect, task="detect")

    run = run_demo("-m", detect, "-i", "0", "--no_show")  # a camera that is never opened

    assert run.returncode == 1
    assert one_error_line(run.stderr) == "error: " + OTHER_TASK.format(folder=detect, task="detect")


@pytest.mark.slow
def test_eval_takes_a_folder(folder, tmp_path):
    annotations, images = write_coco_set(tmp_path)

    _, _, metrics = evaluate(folder, annotations, images, tmp_path)

    assert metrics["box"]["AP"] >= 0.95 and metrics["mask"]["AP"] >= 0.95, metrics


@pytest.mark.slow
def test_export_takes_a_folder_and_names_the_served_model_by_its_xml(folder, tmp_path):
    run = run_demo("export", folder, tmp_path / "repository")

    assert run.returncode == 0, run.stderr
    assert (tmp_path / "repository" / "blobs-seg" / "1" / "model.xml").is_file()


@pytest.mark.slow
def test_benchmark_takes_a_folder(folder, tmp_path):
    scene = tmp_path / "scene.png"
    write_scene(scene, 640, 480)

    run = run_demo("-m", folder, "-i", scene, "--benchmark", "-niter", "8", "--no_cache")

    assert run.returncode == 0, run.stderr
    assert "blobs-seg" in run.stdout + run.stderr
