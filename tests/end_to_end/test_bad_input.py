"""Bad input through ``python -m demo``: one clear line, the right exit code, never a traceback."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest
from helpers import synthetic
from helpers.running import run_demo


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # {model}, {image}, {video}, {tmp} are filled in
    exit_code: int
    message: str  # a fragment the one-line error must contain


def classifier(path: Path) -> Path:
    image = ops.parameter([1, 3, 64, 64], np.float32, name="image")
    pooled = ops.reduce_mean(image, ops.constant([2, 3]), keep_dims=False)
    ov.save_model(ov.Model([ops.softmax(pooled, 1).output(0)], [image]), path)
    return path


def detector_without_masks(path: Path) -> Path:
    image = ops.parameter([1, 3, 64, 64], np.float32, name="image")
    boxes = ops.reshape(ops.reduce_mean(image, ops.constant([1, 2, 3]), keep_dims=False), [1, 1], False)
    labels = ops.convert(ops.reshape(boxes, [1], False), "i32")
    out_boxes = ops.concat([boxes] * 5, 1)
    ov.save_model(ov.Model([labels.output(0), out_boxes.output(0)], [image]), path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory, models) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    model = models["person-0007"].xml
    no_bin = folder / "no_bin.xml"
    shutil.copy(model, no_bin)
    truncated_xml = folder / "truncated.xml"
    truncated_xml.write_text(model.read_text()[:2000])
    shutil.copy(model.with_suffix(".bin"), truncated_xml.with_suffix(".bin"))
    truncated_bin = folder / "truncated_bin.xml"
    shutil.copy(model, truncated_bin)
    truncated_bin.with_suffix(".bin").write_bytes(model.with_suffix(".bin").read_bytes()[:100])
    image = folder / "scene.png"
    frame, _ = synthetic.draw_scene(64, 48, [synthetic.Shape.rect((0, 0, 255), 5, 5, 30, 30)])
    cv2.imwrite(str(image), frame)
    (folder / "empty").mkdir()
    (folder / "notes.txt").write_text("not a picture\n")
    (folder / "corrupt.avi").write_bytes(b"RIFF" + bytes(range(256)) * 40)
    (folder / "empty_labels.txt").write_text("")
    return {"model": model, "no_bin": no_bin, "truncated_xml": truncated_xml, "truncated_bin": truncated_bin,
            "image": image, "tmp": folder, "classifier": classifier(folder / "classifier.xml"),
            "detector": detector_without_masks(folder / "detector.xml")}


CASES = {
    "model missing": Case(("-m", "{tmp}/nothing.xml", "-i", "{image}"), 1, "nothing.xml"),
    "xml without bin": Case(("-m", "{no_bin}", "-i", "{image}"), 1, "no_bin.bin"),
    "truncated xml": Case(("-m", "{truncated_xml}", "-i", "{image}"), 1, "truncated.xml"),
    "truncated bin": Case(("-m", "{truncated_bin}", "-i", "{image}"), 1, "truncated_bin"),
    "classifier": Case(("-m", "{classifier}", "-i", "{image}"), 1, "not a supported segmentation model"),
    "detector without masks": Case(("-m", "{detector}", "-i", "{image}"), 1, "not a supported segmentation model"),
    "input missing": Case(("-m", "{model}", "-i", "{tmp}/nowhere.mp4"), 1, "nowhere.mp4"),
    "input not media": Case(("-m", "{model}", "-i", "{tmp}/notes.txt"), 1, "notes.txt"),
    "corrupt video": Case(("-m", "{model}", "-i", "{tmp}/corrupt.avi"), 1, "corrupt.avi"),
    "empty folder": Case(("-m", "{model}", "-i", "{tmp}/empty"), 1, "no images"),
    "camera absent": Case(("-m", "{model}", "-i", "57"), 1, "camera 57"),
    "output folder missing": Case(("-m", "{model}", "-i", "{image}", "-o", "{tmp}/no/such/out.avi"), 1,
                                  "no/such"),
    "output extension": Case(("-m", "{model}", "-i", "{image}", "-o", "{tmp}/out.xyz"), 2, ".xyz"),
    "device absent": Case(("-m", "{model}", "-i", "{image}", "-d", "GPU"), 2, "available devices: CPU"),
    "threshold out of range": Case(("-m", "{model}", "-i", "{image}", "-t", "1.5"), 2, "1.5"),
    "negative requests": Case(("-m", "{model}", "-i", "{image}", "-nireq", "-1"), 2, "-1"),
    "zero resolution": Case(("-m", "{model}", "-i", "{image}", "--output_resolution", "0x0"), 2, "0x0"),
    "unknown flag": Case(("-m", "{model}", "-i", "{image}", "--frobnicate"), 2, "--frobnicate"),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gives_one_line_and_exit_code(files, name):
    case = CASES[name]
    args = [arg.format(**files) for arg in case.args]

    run = run_demo(*args, "--no_show", "--no_cache")

    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == case.exit_code, run.stderr
    assert "Traceback" not in run.stderr
    assert len(errors) == 1 and case.message in errors[0], run.stderr


def test_empty_labels_file_warns_and_falls_back_to_numbers(files, tmp_path):
    results = tmp_path / "results.jsonl"
    run = run_demo("-m", files["model"], "-i", files["image"], "--labels", files["tmp"] / "empty_labels.txt",
                   "--no_show", "--no_cache", "--results", results)
    assert run.returncode == 0, run.stderr
    assert "empty" in run.stderr and '"name": "0"' in results.read_text()


# One line means one line: what the frameworks print while failing is kept off the terminal.

@pytest.fixture(scope="module")
def garbage(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("garbage")
    noise = np.random.default_rng(12).integers(0, 256, 6000, dtype=np.uint8).tobytes()
    paths = {suffix: folder / f"model{suffix}" for suffix in (".onnx", ".tflite", ".xml")}
    for path in paths.values():
        path.write_bytes(noise)
    paths[".xml"].with_suffix(".bin").write_bytes(noise)
    return paths


@pytest.mark.parametrize("suffix, kind", [(".onnx", "ONNX"), (".tflite", "TFLite"), (".xml", "OpenVINO IR")])
def test_a_garbage_model_is_exactly_one_line(files, garbage, suffix, kind):
    run = run_demo("-m", garbage[suffix], "-i", files["image"], "--no_show", "--no_cache")

    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"error: {garbage[suffix]}: cannot read the model (not a valid {kind} file: damaged, truncated or another "
        "format)"]


def test_a_writer_that_cannot_take_the_frame_is_exactly_one_line(files, tmp_path):
    wide = tmp_path / "wide.png"  # x264 takes at most 16384 pixels a side
    cv2.imwrite(str(wide), np.zeros((64, 16400, 3), np.uint8))
    out = tmp_path / "out.mp4"

    run = run_demo("-m", files["model"], "-i", wide, "-o", out, "--no_show", "--no_cache")

    assert run.returncode == 1
    noise = [line for line in run.stderr.splitlines() if not line.startswith(("[INFO]", "frames:", "per-frame"))]
    assert noise == [f"error: cannot write video '{out}': the H.264 encoder cannot take 16400x64 frames (0 frames "
                     "written); the file is left as it was before the run"], run.stderr
