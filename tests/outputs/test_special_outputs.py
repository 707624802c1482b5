"""Outputs that are not regular files, or whose folder goes away: one line, never a hang or a traceback.

A pipe given as an output is opened without blocking: with a reader it is written as before; with
none, the run waits for one for 10 s at most, and a signal ends that wait at once.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import threading
import time
from pathlib import Path

import pytest
from helpers.running import ROOT, error_lines, one_error_line, run_demo, start_demo, wait_until

CLIP = ROOT / "assets" / "sample_clip.avi"  # 30 frames
KEPT = "the file is left as it was before the run"
PREVIOUS = b"a file of the user's beside the outputs\n"


def demo_args(models, *args) -> list:
    return ["-m", models["person-0007"].xml, "--no_show", "--no_cache", "-i", CLIP, *args]


def entries(folder: Path) -> dict[str, object]:
    return {p.name: "pipe" if stat.S_ISFIFO(p.lstat().st_mode) else p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "notes.txt").write_bytes(PREVIOUS)
    return tmp_path


@pytest.mark.slow
def test_a_signal_ends_the_wait_for_a_reader_of_a_pipe_given_as_coco_results(models, folder):
    pipe, results = folder / "coco.json", folder / "results.jsonl"
    os.mkfifo(pipe)
    process = start_demo(*demo_args(models, "--coco_results", pipe, "--results", results))
    # The results are put in place as the run ends, just before the COCO results are written.
    assert wait_until(results.exists), process.communicate(timeout=60)

    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _, stderr = process.communicate(timeout=60)

    assert time.monotonic() - signalled < 5, "the wait did not yield to the signal"
    assert process.returncode == 1, stderr
    assert one_error_line(stderr) == f"error: cannot write COCO results '{pipe}': no program reads the pipe (stopped)"
    assert entries(folder) == {"coco.json": "pipe", "notes.txt": PREVIOUS, "results.jsonl": results.read_bytes()}
    assert len(results.read_text().splitlines()) == 30


@pytest.mark.slow
@pytest.mark.parametrize("flag, name, what", [("-o", "out.mp4", "video"), ("--results", "results.jsonl", "results")])
def test_a_pipe_nobody_reads_is_one_line_after_a_bounded_wait(models, folder, flag, name, what):
    pipe = folder / name
    os.mkfifo(pipe)
    started = time.monotonic()

    run = run_demo(*demo_args(models, flag, pipe), timeout=120)

    assert run.returncode == 1, run.stderr
    assert one_error_line(run.stderr) == f"error: cannot write {what} '{pipe}': no program reads the pipe (waited 10 s)"
    assert time.monotonic() - started < 60
    assert entries(folder) == {name: "pipe", "notes.txt": PREVIOUS}


@pytest.mark.slow
def test_a_pipe_with_a_reader_gets_the_coco_results(models, folder):
    pipe = folder / "coco.json"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()

    run = run_demo(*demo_args(models, "--coco_results", pipe), timeout=300)
    reader.join(timeout=60)

    assert run.returncode == 0, run.stderr
    detections = json.loads(received[0])
    assert detections and {"image_id", "category_id", "bbox", "score", "segmentation"} <= set(detections[0])
    assert entries(folder) == {"coco.json": "pipe", "notes.txt": PREVIOUS}


def hidden_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob(".*") if p.is_file())


@pytest.mark.slow
@pytest.mark.parametrize("flag, name, what, unit", [("-o", "out.avi", "video", "frame"),
                                                    ("--results", "results.jsonl", "results", "line")])
def test_an_output_folder_removed_mid_run_is_one_line(models, folder, flag, name, what, unit):
    outputs = folder / "outputs"
    outputs.mkdir()
    process = start_demo(*demo_args(models, "--loop", flag, outputs / name))
    assert wait_until(lambda: hidden_size(outputs) > 0), process.communicate(timeout=60)

    shutil.rmtree(outputs)
    # A video notices within 16 frames; results, written to a file that is gone, when the run ends.
    if not wait_until(lambda: process.poll() is not None, timeout=10):
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 1, stderr
    [line] = error_lines(stderr)  # after the run's summary, as for any run that ends on a write
    assert re.fullmatch(rf"error: cannot write {what} '{re.escape(str(outputs / name))}': folder "
                        rf"'{re.escape(str(outputs))}' was removed during the run \(\d+ {unit}s? written\); {KEPT}",
                        line), stderr
    assert entries(folder) == {"notes.txt": PREVIOUS}
