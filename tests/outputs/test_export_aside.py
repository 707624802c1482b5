"""``python -m demo export MODEL DIR`` writes the repository aside: it appears whole or not at all.

A full disk (a small tmpfs the test mounts) or Ctrl-C mid-export leaves DIR as it was, so a
retry is never refused for what a failed export left, and a retry after freeing space succeeds.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest
from helpers import filesystems, synthetic
from helpers.running import SHARED, one_error_line, run_demo, start_demo

YOLO11 = SHARED / "models" / "yolo11n-seg_int8_openvino_model" / "yolo11n-seg.xml"  # 3.7 MB of IR
NOTES = b"the user's own file in the export folder\n"


def contents(folder: Path) -> dict[str, bytes | str]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else "dir" for p in sorted(folder.rglob("*"))}


def assert_exported(folder: Path, name: str) -> None:
    assert sorted(contents(folder)) == ["config.json", name, f"{name}/1", f"{name}/1/model.bin",
                                        f"{name}/1/model.xml"]
    assert json.loads((folder / "config.json").read_text()) == {
        "model_config_list": [{"config": {"name": name, "base_path": name}}]}
    assert ov.Core().read_model(folder / name / "1" / "model.xml").get_rt_info(
        ["model_info", "embedded_processing"]).astype(str) == "YES"


@pytest.mark.slow
def test_export_into_a_file_is_one_line_and_the_file_stays(tmp_path):
    file = tmp_path / "repository"
    file.write_bytes(NOTES)

    run = run_demo("export", YOLO11, file, timeout=120)

    assert run.returncode == 2, run.stderr
    assert one_error_line(run.stderr) == f"error: export: '{file}' is a file; give a new or empty folder"
    assert contents(tmp_path) == {"repository": NOTES}


@pytest.mark.slow
def test_a_full_disk_leaves_nothing_and_a_retry_after_freeing_space_succeeds(tmp_path):
    with filesystems.tmpfs(tmp_path / "disk", "8m") as disk:
        filler = disk / "filler"
        filler.write_bytes(bytes(7 * 1024 * 1024))  # leaves 1 MiB: less than the model
        folder = disk / "repository"

        full = run_demo("export", YOLO11, folder, timeout=120)

        assert full.returncode == 1, full.stderr
        assert one_error_line(full.stderr) == (f"error: cannot write the model in {folder}: No space left on "
                                               "device; nothing was put there")
        assert sorted(contents(disk)) == ["filler"]  # not even the folder the export made

        filler.unlink()
        retry = run_demo("export", YOLO11, folder, timeout=120)

        assert retry.returncode == 0, retry.stderr
        assert_exported(folder, "yolo11n-seg")


@pytest.fixture
def large_model(tmp_path) -> Path:
    """A YOLO-seg model with 200 MB of weights its output depends on, so that saving it takes a while."""
    model = ov.Core().read_model(synthetic.build_yolo_seg_model(tmp_path / "small.xml", synthetic.DEFAULT_DETECTORS))
    image, result = model.inputs[0], model.get_results()[0]
    weights = ops.constant(np.random.default_rng(0).random(50_000_000, dtype=np.float32))
    nothing = ops.multiply(ops.reduce_min(image, [0, 1, 2, 3], keep_dims=True), np.float32(0))  # not folded away
    picked = ops.gather(weights, ops.reshape(ops.convert(nothing, "i64"), [1], False), np.int64(0))
    boxes = result.input_value(0)
    boxes.get_tensor().set_names(set())
    summed = ops.add(boxes, ops.reshape(picked, [1, 1, 1], False))
    summed.output(0).get_tensor().set_names({"output0"})
    result.input(0).replace_source_output(summed.output(0))
    path = tmp_path / "large.xml"
    ov.save_model(model, path, compress_to_fp16=False)
    return path


def staging_appears(folder: Path, process: subprocess.Popen, timeout: float = 120) -> bool:
    """Whether the export's hidden folder appeared while the export runs: looked for every few
    milliseconds, as saving the model takes only a few tenths of a second."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if any(folder.glob(".large.*.export")):
            return True
        time.sleep(0.002)
    return False


@pytest.mark.slow
def test_ctrl_c_mid_export_leaves_the_folder_as_it_was_and_a_retry_succeeds(large_model, tmp_path):
    folder = tmp_path / "repository"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(NOTES)

    process = start_demo("export", large_model, folder)
    assert staging_appears(folder, process), process.communicate(timeout=60)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 130, stderr
    assert contents(folder) == {"notes.txt": NOTES}

    retry = run_demo("export", large_model, folder, timeout=300)

    assert retry.returncode == 0, retry.stderr
    assert (folder / "notes.txt").read_bytes() == NOTES
    (folder / "notes.txt").unlink()
    assert_exported(folder, "large")
