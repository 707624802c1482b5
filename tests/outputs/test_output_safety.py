"""Outputs are written aside and put in place only when whole; no output may be an input or another output.

The full disks are real: a small tmpfs mounted by the test (the tests run as root here),
filled with a file until only a few kilobytes are left, and /dev/full.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import filesystems
from helpers.coco_sets import write_coco_set
from helpers.results import count_frames
from helpers.running import ROOT, error_lines, run_demo, start_demo, wait_until

from demo.core.files import pattern_matches
from demo.frames.sources import open_source

CLIP = ROOT / "assets" / "sample_clip.avi"  # 30 frames, 640x360
PREVIOUS = b"the user's previous file, which a failed run must leave as it was\n"
KEPT = "the file is left as it was before the run"


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs, unmounted after the test."""
    with filesystems.tmpfs(tmp_path / "disk", "1m") as mounted:
        yield mounted


def fill(disk: Path, leave: int) -> None:
    """Take all of ``disk``'s space but ``leave`` bytes."""
    info = os.statvfs(disk)
    (disk / "filler").write_bytes(bytes(max(info.f_bavail * info.f_frsize - leave, 0)))


def demo_args(models, *args) -> list:
    return ["-m", models["person-0007"].xml, "--no_show", "--no_cache", *args]


def assert_failed_and_kept(run, target: Path, what: str, unit: str) -> None:
    """Exit 1, one line naming the file, the cause and how far it got; the previous file as it was; no leftovers."""
    assert run.returncode == 1, run.stderr
    pattern = rf"error: cannot write {what} '{re.escape(str(target))}': No space left on device \(\d+ {unit}s? written\); {KEPT}"
    assert [re.fullmatch(pattern, line) is not None for line in error_lines(run.stderr)] == [True], run.stderr
    assert not [line for line in run.stderr.splitlines() if line.startswith(("[ WARN", "[ERROR"))], run.stderr
    assert target.read_bytes() == PREVIOUS
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(["filler", target.name])


@pytest.mark.slow
@pytest.mark.parametrize("extension", [".avi", ".mp4", ".mkv"])
def test_a_video_on_a_full_disk_is_an_error_and_the_previous_file_stays(models, small_disk, extension):
    target = small_disk / f"out{extension}"
    target.write_bytes(PREVIOUS)
    fill(small_disk, leave=16 * 1024)

    # --loop: the run only ends when the writer notices the full disk.
    run = run_demo(*demo_args(models, "-i", CLIP, "--loop", "-o", target), timeout=120)

    assert_failed_and_kept(run, target, "video", "frame")


@pytest.mark.slow
def test_an_image_sequence_on_a_full_disk_is_an_error_and_the_previous_image_stays(models, small_disk):
    target = small_disk / "out_000.png"
    target.write_bytes(PREVIOUS)
    fill(small_disk, leave=4 * 1024)

    run = run_demo(*demo_args(models, "-i", CLIP, "-o", small_disk / "out_%03d.png"), timeout=120)

    assert_failed_and_kept(run, target, "image", "image")


@pytest.mark.slow
def test_results_on_a_full_disk_are_an_error_and_the_previous_file_stays(models, small_disk):
    target = small_disk / "results.jsonl"
    target.write_bytes(PREVIOUS)
    fill(small_disk, leave=8 * 1024)

    run = run_demo(*demo_args(models, "-i", CLIP, "--loop", "--results", target), timeout=120)

    assert_failed_and_kept(run, target, "results", "line")


@pytest.mark.slow
def test_a_benchmark_report_on_a_full_disk_is_an_error(models, small_disk):
    target = small_disk / "report.json"
    target.write_bytes(PREVIOUS)
    fill(small_disk, leave=0)

    run = run_demo(*demo_args(models, "-i", CLIP, "--benchmark", "-niter", "4", "--report", target), timeout=120)

    assert run.returncode == 1, run.stderr
    assert error_lines(run.stderr) == [
        f"error: cannot write the report '{target}': No space left on device; {KEPT}"]
    assert target.read_bytes() == PREVIOUS
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "report.json"]


@pytest.mark.slow
@pytest.mark.parametrize("flag, what", [("--results", "results"), ("--metrics", "metrics")])
def test_eval_outputs_on_a_full_disk_are_an_error(models, small_disk, tmp_path, flag, what):
    (tmp_path / "coco").mkdir()
    annotations, images = write_coco_set(tmp_path / "coco")
    target = small_disk / "out.json"
    target.write_bytes(PREVIOUS)
    fill(small_disk, leave=0)

    run = run_demo("eval", "-m", models["person-0007"].xml, "--no_cache", "--annotations", annotations,
                   "--images", images, flag, target)

    assert run.returncode == 1, run.stderr
    assert error_lines(run.stderr) == [f"error: cannot write {what} '{target}': No space left on device; {KEPT}"]
    assert target.read_bytes() == PREVIOUS
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "out.json"]


def test_results_to_dev_full_are_an_error(models):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    run = run_demo(*demo_args(models, "-i", CLIP, "--results", "/dev/full"), timeout=120)
    assert run.returncode == 1, run.stderr
    assert error_lines(run.stderr) == [
        f"error: cannot write results '/dev/full': No space left on device (0 lines written); {KEPT}"]


def test_a_finished_run_replaces_the_previous_files_keeping_their_mode(models, tmp_path):
    video, results = tmp_path / "out.mkv", tmp_path / "results.jsonl"
    for path in (video, results):
        path.write_bytes(PREVIOUS)
        path.chmod(0o640)

    run = run_demo(*demo_args(models, "-i", CLIP, "-o", video, "--results", results))

    assert run.returncode == 0, run.stderr
    assert count_frames(video) == 30
    assert [json.loads(line)["frame"] for line in results.read_text().splitlines()] == list(range(30))
    assert {path.stat().st_mode & 0o777 for path in (video, results)} == {0o640}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv", "results.jsonl"]


def test_new_files_honour_the_umask(models, tmp_path):
    video, results = tmp_path / "out.avi", tmp_path / "results.jsonl"
    command = [sys.executable, "-m", "demo", *map(str, demo_args(models, "-i", CLIP, "-o", video,
                                                                  "--results", results))]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=lambda: os.umask(0o027))
    assert done.returncode == 0, done.stderr
    assert {path.stat().st_mode & 0o777 for path in (video, results)} == {0o640}


def test_an_output_that_is_a_symlink_replaces_the_file_it_points_to(models, tmp_path):
    real, link = tmp_path / "real.jsonl", tmp_path / "link.jsonl"
    real.write_bytes(PREVIOUS)
    link.symlink_to(real)

    run = run_demo(*demo_args(models, "-i", CLIP, "--results", link))

    assert run.returncode == 0, run.stderr
    assert link.is_symlink() and len(real.read_text().splitlines()) == 30


def test_an_interrupted_run_puts_its_outputs_in_place_and_leaves_no_hidden_file(models, tmp_path):
    video, results = tmp_path / "out.mkv", tmp_path / "results.jsonl"
    process = start_demo(*demo_args(models, "-i", CLIP, "--loop", "-o", video, "--results", results))
    wait_until(lambda: hidden_lines(tmp_path) >= 10)

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    lines = results.read_text().splitlines()
    assert count_frames(video) == len(lines) >= 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv", "results.jsonl"]


def hidden_lines(folder: Path) -> int:
    for path in folder.glob(".results.jsonl.*"):
        with contextlib.suppress(FileNotFoundError):
            return len(path.read_bytes().splitlines())
    return 0


# --- An output that is an input, or another output, is refused before anything is written ----

@pytest.fixture
def inputs(tmp_path, models):
    """Copies of the clip, the model and an image, so that a failure could only hurt copies."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(CLIP, folder / "clip.avi")
    shutil.copy(models["person-0007"].xml, folder / "model.xml")
    shutil.copy(models["person-0007"].xml.with_suffix(".bin"), folder / "model.bin")
    shutil.copy(ROOT / "demo" / "results" / "coco_labels.txt", folder / "labels.txt")
    frames = folder / "frames"
    frames.mkdir()
    with open_source(str(CLIP)) as clip:
        jpeg = cv2.imencode(".jpg", next(iter(clip)).image)[1].tobytes()
    for name in ("out_000.png", "out_001.png"):
        (frames / name).write_bytes(jpeg)  # a JPEG by content
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(args: list, folder: Path, message: str) -> None:
    before = snapshot(folder)
    run = run_demo(*args, timeout=120)
    assert run.returncode == 2, run.stderr
    assert error_lines(run.stderr) == [f"error: {message}"], run.stderr
    assert snapshot(folder) == before


def run_args(folder: Path, *args) -> list:
    return ["-m", folder / "model.xml", "--no_show", "--no_cache", *args]


def test_output_equal_to_the_input_video_is_refused(inputs):
    clip = inputs / "clip.avi"
    refused(run_args(inputs, "-i", clip, "-o", clip), inputs,
            f"-o '{clip}' would overwrite -i '{clip}', which this run reads; choose another output")


def test_results_through_a_symlink_to_the_input_are_refused(inputs):
    clip, link = inputs / "clip.avi", inputs / "link.jsonl"
    link.symlink_to(clip)
    refused(run_args(inputs, "-i", clip, "--results", link), inputs,
            f"--results '{link}' would overwrite -i '{clip}', which this run reads; choose another output")


def test_results_through_a_hard_link_to_the_model_are_refused(inputs):
    model, link = inputs / "model.xml", inputs / "hard.jsonl"
    os.link(model, link)
    refused(run_args(inputs, "-i", inputs / "clip.avi", "--results", link), inputs,
            f"--results '{link}' would overwrite -m '{model}', which this run reads; choose another output")


def test_results_by_a_relative_path_to_the_weights_are_refused(inputs):
    relative = Path(os.path.relpath(inputs / "model.bin", ROOT))
    refused(run_args(inputs, "-i", inputs / "clip.avi", "--results", relative), inputs,
            f"--results '{relative}' would overwrite -m '{inputs / 'model.bin'}', which this run reads; "
            "choose another output")


def test_results_over_the_labels_are_refused(inputs):
    labels = inputs / "labels.txt"
    refused(run_args(inputs, "-i", inputs / "clip.avi", "--labels", labels, "--results", labels), inputs,
            f"--results '{labels}' would overwrite --labels '{labels}', which this run reads; choose another output")


def test_results_over_the_replacement_background_are_refused(inputs):
    picture = inputs / "frames" / "out_000.png"
    refused(run_args(inputs, "-i", inputs / "clip.avi", "--mode", "background", "--target_bgr", picture,
                     "--results", picture), inputs,
            f"--results '{picture}' would overwrite --target_bgr '{picture}', which this run reads; "
            "choose another output")


def test_an_output_pattern_over_images_of_the_input_folder_is_refused(inputs):
    frames = inputs / "frames"
    refused(run_args(inputs, "-i", frames, "-o", frames / "out_%03d.png"), inputs,
            f"-o '{frames / 'out_%03d.png'}' would overwrite -i '{frames / 'out_000.png'}', which this run reads; "
            "choose another output")


def test_an_output_pattern_equal_to_the_input_pattern_is_refused(inputs):
    pattern = inputs / "frames" / "out_%03d.png"
    refused(run_args(inputs, "-i", pattern, "-o", pattern), inputs,
            f"-o '{pattern}' would overwrite -i '{inputs / 'frames' / 'out_000.png'}', which this run reads; "
            "choose another output")


def test_two_outputs_of_one_file_are_refused(inputs, tmp_path):
    out = tmp_path / "same.json"
    refused(run_args(inputs, "-i", inputs / "clip.avi", "--benchmark", "--results", out, "--report", out), inputs,
            f"--results and --report both write '{out}'; give each output its own file")


def test_an_output_the_pattern_would_write_later_is_refused(inputs, tmp_path):
    refused(run_args(inputs, "-i", inputs / "clip.avi", "-o", tmp_path / "f_%02d.png", "--results",
                     tmp_path / "f_07.png"), inputs,
            f"-o '{tmp_path / 'f_%02d.png'}' would write --results '{tmp_path / 'f_07.png'}'; "
            "give each output its own file")


def test_eval_outputs_over_its_inputs_or_each_other_are_refused(inputs, tmp_path):
    (inputs / "coco").mkdir()
    annotations, images = write_coco_set(inputs / "coco")
    image = sorted(images.iterdir())[0]
    base = ["eval", "-m", inputs / "model.xml", "--no_cache", "--annotations", annotations, "--images", images]
    refused([*base, "--results", annotations], inputs,
            f"--results '{annotations}' would overwrite --annotations '{annotations}', which this run reads; "
            "choose another output")
    refused([*base, "--metrics", image], inputs,
            f"--metrics '{image}' would overwrite --images '{image}', which this run reads; choose another output")
    out = tmp_path / "both.json"
    refused([*base, "--results", out, "--metrics", out], inputs,
            f"--results and --metrics both write '{out}'; give each output its own file")


@pytest.mark.parametrize("pattern, name, expected", [
    ("out_%03d.png", "out_007.png", True),
    ("out_%03d.png", "out_1234.png", True),
    ("out_%03d.png", "out_07.png", False),
    ("out_%d.png", "out_007.png", False),
    ("out_%d.png", "out_12.png", True),
    ("100%%_%d.png", "100%_3.png", True),
    ("out_%03d.png", "out_.png", False),
])
def test_pattern_matches_exactly_the_names_it_writes(pattern, name, expected):
    assert pattern_matches(pattern, name) is expected
    if expected:
        assert any(pattern % n == name for n in range(10_000))


# --- An input is read whole, or the user is told what was not read ---------------------------

def write_png(path: Path, value: int) -> None:
    path.write_bytes(cv2.imencode(".png", np.full((8, 8, 3), value, np.uint8))[1].tobytes())


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_an_image_sequence_with_a_gap_warns_of_the_files_after_it(tmp_path, caplog):
    for number in (0, 1, 2, 4, 5):
        write_png(tmp_path / f"img_{number:03d}.png", number)
    pattern = str(tmp_path / "img_%03d.png")
    with caplog.at_level(logging.WARNING), open_source(pattern) as source:
        assert [int(frame.image[0, 0, 0]) for frame in source] == [0, 1, 2]
    assert warnings_of(caplog) == [f"sequence '{pattern}' ended early: read 3 of 5 frames"]


def test_a_folder_names_every_file_it_does_not_read(tmp_path, caplog):
    write_png(tmp_path / "a.png", 1)
    (tmp_path / "gone.png").symlink_to(tmp_path / "nowhere.png")
    os.mkfifo(tmp_path / "pipe.png")  # opening it to look for an image signature would block forever
    (tmp_path / "notes.txt").write_text("not an image")
    with caplog.at_level(logging.WARNING), open_source(str(tmp_path)) as source:
        assert [frame.name for frame in source] == ["a.png"]
    assert warnings_of(caplog) == [f"skipping '{tmp_path / 'gone.png'}': a link to nothing",
                                   f"skipping '{tmp_path / 'notes.txt'}': not an image",
                                   f"skipping '{tmp_path / 'pipe.png'}': not a regular file"]
