"""The Python API as a user calls it: ``demo.open``, one frame, a stream, the instances' conversions.

What the API gives must be exactly what the command line writes for the same input, for every
kind of model, since both are the same stages.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.results import read_results
from helpers.running import ROOT, SHARED, run_demo
from helpers.scenes import write_scene
from pycocotools import mask as mask_utils

import demo

REAL_MODELS = {"yolo11n-ir": SHARED / "models" / "yolo11n-seg_int8_openvino_model" / "yolo11n-seg.xml",
               "yolov8n-tflite": SHARED / "models" / "yolov8n-seg_int8_tflite" / "yolov8n-seg_int8.tflite"}
SYNTHETIC = {
    "maskrcnn": lambda path: synthetic.build_maskrcnn_model(path, synthetic.DEFAULT_DETECTORS, input_hw=(320, 544)),
    "two-input": lambda path: synthetic.build_two_input_model(path, synthetic.DEFAULT_DETECTORS),
    "yolo": lambda path: synthetic.build_yolo_seg_model(path, synthetic.DEFAULT_DETECTORS),
    "yolo-end2end": lambda path: synthetic.build_yolo_end2end_seg_model(path, synthetic.DEFAULT_DETECTORS),
    "yolact": lambda path: synthetic.build_yolact_model(path, synthetic.DEFAULT_DETECTORS),
}


@pytest.fixture(scope="module")
def contract_models(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("api_models")
    return {kind: build(folder / f"{kind}.xml") for kind, build in SYNTHETIC.items()}


def model_for(kind: str, contract_models: dict):
    if kind in REAL_MODELS:
        if not REAL_MODELS[kind].is_file():
            pytest.skip(f"{REAL_MODELS[kind]} is absent: the shared data folder is not beside the project")
        return REAL_MODELS[kind]
    return contract_models[kind]


def scene_for(kind: str, tmp_path):
    """The synthetic scene for synthetic models; a real photo for the real ones."""
    if kind in REAL_MODELS:
        photos = sorted((SHARED / "media" / "images").glob("*.jpg"))
        if not photos:
            pytest.skip("no shared photos")
        return photos[0]
    path = tmp_path / "scene.png"
    write_scene(path, 640, 480)
    return path


def as_record(instance: demo.Instance) -> dict:
    """An instance as the command line writes it to --results."""
    return {"label": instance.class_id, "name": instance.name, "score": instance.score,
            "box": instance.box.as_list(), "mask": instance.rle()}


def assert_same_instances(got: list[dict], written: list[dict]) -> None:
    assert len(got) == len(written) > 0
    for mine, theirs in zip(got, written):
        assert (mine["label"], mine["name"]) == (theirs["label"], theirs["name"])
        assert mine["score"] == pytest.approx(theirs["score"], abs=1e-6)
        assert mine["box"] == pytest.approx(theirs["box"], abs=1e-4)
        assert mine["mask"] == theirs["mask"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", [*SYNTHETIC, *REAL_MODELS])
def test_one_frame_and_a_stream_give_what_the_command_line_writes(kind, contract_models, tmp_path):
    model, scene = model_for(kind, contract_models), scene_for(kind, tmp_path)
    results = tmp_path / "results.jsonl"
    run = run_demo("-m", model, "-i", scene, "--no_show", "--no_cache", "--results", results)
    assert run.returncode == 0, run.stderr
    written = read_results(results)[0]["instances"]
    frame = cv2.imread(str(scene))

    segmenter = demo.open(model, cache_dir=None)
    single = segmenter(frame)
    streamed = list(segmenter.stream([frame, frame.copy()]))

    assert [result.index for result in streamed] == [0, 1]
    for result in (single, *streamed):
        assert_same_instances([as_record(i) for i in result], written)


def test_limits_change_per_call_without_recompiling(contract_models, tmp_path):
    write_scene(tmp_path / "scene.png", 640, 480)
    frame = cv2.imread(str(tmp_path / "scene.png"))
    segmenter = demo.open(contract_models["yolo"], cache_dir=None)
    compiled = segmenter.model.engine

    default = [round(i.score, 3) for i in segmenter(frame)]
    strict = [round(i.score, 3) for i in segmenter(frame, threshold=0.86)]
    two = [round(i.score, 3) for r in segmenter.stream([frame], max_det=2) for i in r]
    copies = [round(i.score, 3) for i in segmenter(frame, iou_threshold=0.99)]

    assert default == [0.95, 0.9, 0.85, 0.8]
    assert strict == [0.95, 0.9] and two == [0.95, 0.9]
    assert len(copies) == 8  # the weaker copy of each blob survives an NMS that allows 99% overlap
    assert segmenter.model.engine is compiled and [round(i.score, 3) for i in segmenter(frame)] == default


@pytest.mark.slow
def test_classes_by_name_or_id_in_the_api_and_on_the_command_line(contract_models, tmp_path):
    write_scene(tmp_path / "scene.png", 640, 480)
    frame = cv2.imread(str(tmp_path / "scene.png"))
    results = tmp_path / "results.jsonl"

    kept = {i.name for i in demo.open(contract_models["yolo"], cache_dir=None, classes=["person", 16])(frame)}
    run = run_demo("-m", contract_models["yolo"], "-i", tmp_path / "scene.png", "--no_show", "--no_cache",
                   "--results", results, "--classes", "car")
    unknown = run_demo("-m", contract_models["yolo"], "-i", tmp_path / "scene.png", "--no_show", "--no_cache",
                       "--classes", "person,unicorn")

    assert kept == {"person", "dog"}
    assert run.returncode == 0 and {i["name"] for i in read_results(results)[0]["instances"]} == {"car"}
    lines = unknown.stderr.strip().splitlines()
    assert unknown.returncode == 2 and len(lines) == 1 and "'unicorn'" in lines[0] and "person, bicycle" in lines[0]


def test_an_instance_converts_to_full_mask_rle_and_polygons(contract_models, tmp_path):
    width, height = 640, 480
    shapes = [synthetic.Shape.ellipse((0, 0, 255), (200, 220), (90, 60)),
              synthetic.Shape.polygon((0, 255, 0), [(400, 100), (600, 140), (560, 400), (420, 300)])]
    frame, truths = synthetic.draw_scene(width, height, shapes)

    result = demo.open(contract_models["yolo"], cache_dir=None)(frame)

    assert len(result) == 2
    for instance, truth in zip(sorted(result, key=lambda i: i.box.x1), truths):
        full = instance.full_mask()
        assert full.shape == (height, width) and full.sum() == instance.mask.area
        assert np.array_equal(mask_utils.decode({**instance.rle(), "counts": instance.rle()["counts"].encode()}), full)
        polygons = [polygon.ravel().tolist() for polygon in instance.polygons()]
        drawn = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))).astype(bool)
        assert (drawn & full).sum() / (drawn | full).sum() >= 0.95
        assert (full & truth).sum() / (full | truth).sum() >= 0.9


def test_draw_shows_a_result_without_touching_the_frame(contract_models, tmp_path):
    write_scene(tmp_path / "scene.png", 640, 480)
    frame = cv2.imread(str(tmp_path / "scene.png"))
    result = demo.open(contract_models["yolo"], cache_dir=None)(frame)
    before = result.frame.copy()

    picture = demo.draw(result)

    assert np.array_equal(result.frame, before)
    for instance in result:
        inside = instance.mask.within(picture)[instance.mask.bits]
        assert not np.array_equal(inside, instance.mask.within(before)[instance.mask.bits])
    assert picture.shape == frame.shape


def test_frames_that_are_no_pictures_are_one_clear_error(contract_models):
    segmenter = demo.open(contract_models["yolo"], cache_dir=None)
    for bad in (np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 3), np.float32), "frame.png", np.zeros((0, 4, 3), np.uint8)):
        with pytest.raises(ValueError, match="a frame must be"):
            segmenter(bad)
    gray = segmenter(np.full((48, 64), 128, np.uint8))
    assert gray.frame.shape == (48, 64, 3) and len(gray) == 0


def test_an_unknown_setting_is_a_type_error(contract_models):
    with pytest.raises(TypeError, match="threshhold"):
        demo.open(contract_models["yolo"], threshhold=0.3)


def test_closing_a_stream_stops_it(contract_models, tmp_path):
    write_scene(tmp_path / "scene.png", 640, 480)
    frame = cv2.imread(str(tmp_path / "scene.png"))
    taken = []

    def endless():
        while True:
            taken.append(1)
            yield frame

    segmenter = demo.open(contract_models["yolo"], cache_dir=None)
    stream = segmenter.stream(endless())
    first = next(stream)
    stream.close()
    count = len(taken)

    assert len(first) == 4
    assert count <= segmenter.read_ahead() + 1  # what the pipeline reads ahead, and the one it stopped on
    assert len(list(segmenter.stream([frame]))) == 1  # and the segmenter streams again
    assert len(taken) == count


def test_importing_the_package_changes_nothing_global():
    # What OpenCV's own import does (its Qt plugin paths) is not the package's doing: it is imported first.
    script = ("import logging, os, signal, sys, cv2, numpy, openvino; "
              "before = (dict(os.environ), signal.getsignal(signal.SIGINT), "
              "logging.getLogger().handlers[:], logging.getLogger().level); import demo; demo.open; demo.Segmenter; "
              "after = (dict(os.environ), signal.getsignal(signal.SIGINT), logging.getLogger().handlers[:], "
              "logging.getLogger().level); print(before == after)")
    env = {key: value for key, value in os.environ.items() if key != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.stdout.strip() == "True", done.stderr


def readme_python_example() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## From Python")
    block = text.index("```python\n", start) + len("```python\n")
    return text[block:text.index("```", block)]


README_EXAMPLE_LINE = re.compile(r"  (\w+) (\d+): score [0-9.]+, x (\d+) to (\d+)$")


@pytest.mark.slow
def test_the_readme_example_prints_where_each_shape_of_the_sample_clip_is(tmp_path):
    """The README's example runs as written on the shipped model and clip, and what it prints can be checked
    against the clip's drawing (assets/make_sample_clip.py): people walk 6 px a frame, the car and dog stay."""
    (tmp_path / "assets").symlink_to(ROOT / "assets")

    done = subprocess.run([sys.executable, "-c", readme_python_example()], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})

    assert done.returncode == 0, done.stderr
    frames: dict[int, list[tuple[str, int, int, int]]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("frame "):
            shown = frames.setdefault(int(line.removeprefix("frame ").rstrip(":")), [])
        else:
            name, track, x1, x2 = README_EXAMPLE_LINE.match(line).groups()
            shown.append((name, int(track), int(x1), int(x2)))
    assert list(frames) == [0, 10, 20]
    for instances in frames.values():
        assert [(name, track) for name, track, _, _ in instances] == [("person", 1), ("car", 2), ("dog", 3),
                                                                      ("person", 4)]
    first_person = [instances[0][2] for instances in frames.values()]
    second_person = [instances[3][2] for instances in frames.values()]
    assert first_person == pytest.approx([20, 80, 140], abs=1)  # the red rectangle, 6 px a frame to the right
    assert second_person == pytest.approx([600, 540, 480], abs=1)  # the yellow one walking in from the right
    [dog] = {instances[2][2] for instances in frames.values()}  # the dog stays
    assert dog == pytest.approx(400, abs=1)


@pytest.mark.slow
def test_every_module_imports_on_its_own():
    """No import cycle: each module loads first in a fresh interpreter, whichever a user imports."""
    modules = sorted(f"demo.{path.relative_to(ROOT / 'demo').with_suffix('').as_posix().replace('/', '.')}"
                     for path in (ROOT / "demo").rglob("*.py") if path.stem not in ("__init__", "__main__"))
    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.invalidate_caches()\n" \
             "    [sys.modules.pop(m) for m in list(sys.modules) if m == 'demo' or m.startswith('demo.')]\n" \
             "    importlib.import_module(name)\n"
    done = subprocess.run([sys.executable, "-c", script, *modules], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr


def test_a_device_named_in_small_letters_is_the_same_device(contract_models, tmp_path):
    """Ultralytics' habit (``device="cpu"``) opens OpenVINO's CPU and finds what ``"CPU"`` finds."""
    frame = cv2.imread(str(scene_for("yolo", tmp_path)))
    with demo.open(contract_models["yolo"], device="cpu") as lower, \
            demo.open(contract_models["yolo"], device="CPU") as upper:
        assert [as_record(i) for i in lower(frame)] == [as_record(i) for i in upper(frame)] != []
