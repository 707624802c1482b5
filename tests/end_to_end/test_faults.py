"""Faults and long runs: interrupted runs keep what they wrote, memory stays flat."""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import heavy_model, synthetic
from helpers.results import count_frames
from helpers.running import ROOT, lines_written, start_demo

import demo
from demo.app import run as app
from demo.core.metrics import RunMetrics
from demo.frames.sources import open_source
from demo.outputs.sinks import ResultsWriter
from demo.picture.render import InstanceRenderer
from demo.results.tracker import MaskTracker


def wait_for_lines(path: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if lines_written(path) >= count:
            return
        time.sleep(0.2)
    process.kill()  # a looping run would never end by itself
    raise AssertionError(f"the demo did not write {count} results in time: {process.communicate()[1]}")


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_run_leaves_a_playing_video_and_whole_lines_written(models, tmp_path, stop):
    results, video = tmp_path / "results.jsonl", tmp_path / "out.avi"
    process = start_demo("-m", models["person-0007"].xml, "-i", "assets/sample_clip.avi", "--loop", "--no_show",
                         "--no_cache", "-o", video, "--results", results)
    wait_for_lines(results, 40, process)

    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr and "FPS" in stderr
    lines = results.read_text().splitlines()
    assert all(json.loads(line)["frame"] == n for n, line in enumerate(lines))
    assert count_frames(video) == len(lines) >= 40


@pytest.mark.slow
def test_limit_stops_writing_but_the_run_goes_on(models, tmp_path):
    results, video = tmp_path / "results.jsonl", tmp_path / "out.avi"
    process = start_demo("-m", models["person-0007"].xml, "-i", "assets/sample_clip.avi", "--loop", "--no_show",
                         "--no_cache", "-o", video, "--results", results, "-limit", "5", "-r")
    deadline = time.monotonic() + 120
    while "frame 60:" not in (process.stdout.readline() or "frame 60:") and time.monotonic() < deadline:
        pass

    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)

    assert len(results.read_text().splitlines()) == 5
    assert count_frames(video) == 5


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PicturesDropped:
    """An output that takes every drawn picture and keeps none (-o to /dev/null)."""

    def write(self, picture: np.ndarray, captured: float | None = None) -> None:
        assert picture.ndim == 3

    def close(self) -> None:
        pass


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc to read the resident memory")
def test_memory_stays_flat_over_ten_thousand_looped_frames(tmp_path):
    # A tiny input keeps 10,000 frames quick: what is measured is the demo's memory, not the network.
    model = synthetic.build_maskrcnn_model(tmp_path / "tiny.xml", synthetic.DEFAULT_DETECTORS, input_hw=(64, 96),
                                           max_detections=None, mask_size=14)
    frame, _ = synthetic.draw_scene(96, 64, [synthetic.Shape.rect((0, 0, 255), 10, 10, 40, 50),
                                             synthetic.Shape.rect((0, 255, 0), 50, 5, 90, 30)])
    image = tmp_path / "scene.png"
    cv2.imwrite(str(image), frame)
    segmenter = demo.open(model, cache_dir=None, labels=["person", "car"])
    source = open_source(str(image), loop=True)
    samples: dict[int, float] = {}
    renderer = InstanceRenderer(show_boxes=True, show_scores=True)

    def render_and_sample(result):
        if result.index in (2_000, 9_999):
            samples[result.index] = rss_mb()
        return renderer(result)

    # Pictures are drawn only for an output that takes them, as -o does.
    outputs = app.Outputs(sinks=[PicturesDropped()], results=ResultsWriter(Path(os.devnull)))
    try:
        app.run(segmenter, itertools.islice(source, 10_000), render_and_sample, outputs, MaskTracker(), RunMetrics())
    finally:
        outputs.close()

    assert sorted(samples) == [2_000, 9_999]
    assert samples[9_999] - samples[2_000] < 8, samples


# Signals at every moment of a run: always exit 130, one "interrupted" line, no traceback, whole outputs.

STOP_SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP}


def proc_status(process: subprocess.Popen, field: str) -> str:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def wait_until(condition, process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return
        time.sleep(0.01)
    process.kill()  # a looping run would never end by itself
    raise AssertionError(f"the demo never reached {what}: {process.communicate()[1]}")


def catches_stop_signals(process: subprocess.Popen) -> bool:
    """Whether the process has its own handlers for SIGTERM and SIGHUP yet (Python starts with SIGINT only)."""
    caught = int(proc_status(process, "SigCgt") or "0", 16)
    return all(caught >> (number - 1) & 1 for number in (signal.SIGTERM, signal.SIGHUP))


def maps_file(process: subprocess.Popen, path: Path) -> bool:
    with contextlib.suppress(OSError):
        return str(path) in Path(f"/proc/{process.pid}/maps").read_text()
    return False


def assert_stopped_cleanly(process: subprocess.Popen, results: Path, video: Path) -> str:
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "FATAL" not in stderr, stderr
    assert stderr.count("interrupted") == 1, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted: output files were closed"
    lines = results.read_text().splitlines() if results.exists() else []
    assert all(json.loads(line)["frame"] == n for n, line in enumerate(lines))
    if lines:
        assert count_frames(video) == len(lines)
    else:
        assert not video.exists() or count_frames(video) == 0
    return stderr


def moment(name: str, process: subprocess.Popen, model: Path, results: Path) -> None:
    """Wait until the run is at ``name``."""
    if name == "start-up":  # the handlers are in, OpenVINO and OpenCV are still loading
        wait_until(lambda: catches_stop_signals(process), process, name)
    elif name == "model compile":  # the weights are mapped: OpenVINO is reading or compiling them
        wait_until(lambda: maps_file(process, model.with_suffix(".bin")), process, name)
    elif name == "first frame":
        wait_until(lambda: lines_written(results) >= 1, process, name)
    else:
        wait_until(lambda: lines_written(results) >= 20, process, name)


needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to see the run's moments")


@pytest.mark.slow
@needs_proc
@pytest.mark.parametrize("when, signals", [
    ("start-up", ["SIGTERM"]),
    ("start-up", ["SIGINT", "SIGHUP"]),
    ("model compile", ["SIGHUP", "SIGTERM"]),
    ("first frame", ["SIGINT", "SIGINT", "SIGINT"]),
    ("mid-run", ["SIGTERM", "SIGINT", "SIGHUP"]),
    ("mid-run", ["SIGHUP"]),
])
def test_signals_at_any_moment_stop_cleanly_with_status_130(tmp_path, when, signals):
    model = heavy_model.person_0007_cost_model(tmp_path / "heavy.xml")  # long enough a compile to land in
    results, video = tmp_path / "results.jsonl", tmp_path / "out.avi"
    process = start_demo("-m", model, "-i", "assets/sample_clip.avi", "--loop", "--no_show", "--no_cache",
                         "-o", video, "--results", results)
    try:
        moment(when, process, model, results)
        for name in signals:  # in quick succession: the later ones arrive while the stop is under way
            process.send_signal(STOP_SIGNALS[name])
        stderr = assert_stopped_cleanly(process, results, video)
        if when in ("start-up", "model compile"):
            assert "[INFO] model" not in stderr, stderr  # stopped before the model was ready, as meant
    finally:
        process.kill()


@pytest.mark.slow
@needs_proc
def test_signals_during_the_stop_itself_are_ignored(tmp_path):
    model = synthetic.person_0007_like(tmp_path / "person.xml", synthetic.DEFAULT_DETECTORS)
    results, video = tmp_path / "results.jsonl", tmp_path / "out.avi"
    process = start_demo("-m", model, "-i", "assets/sample_clip.avi", "--loop", "--no_show", "--no_cache",
                         "-o", video, "--results", results)
    try:
        moment("mid-run", process, model, results)
        process.send_signal(signal.SIGINT)
        for delay in (0.001, 0.005, 0.02, 0.05, 0.1):  # spread over the stop: closing, summary, exit
            time.sleep(delay)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM if delay < 0.03 else signal.SIGINT)
        assert_stopped_cleanly(process, results, video)
    finally:
        process.kill()


@pytest.mark.slow
def test_a_closed_stdout_ends_the_run_quietly(models, tmp_path):
    results, video = tmp_path / "results.jsonl", tmp_path / "out.avi"
    process = start_demo("-m", models["person-0007"].xml, "-i", "assets/sample_clip.avi", "--loop", "--no_show",
                         "--no_cache", "-r", "-o", video, "--results", results)
    while not (process.stdout.readline() or "frame 3:").startswith("frame 3:"):
        pass
    process.stdout.close()  # as `| head` does once it has its lines
    stderr = process.stderr.read()
    process.wait(timeout=60)

    assert process.returncode == 141, stderr  # 128 + SIGPIPE, as the shell reports for `seq 1000000 | head -1`
    assert "error" not in stderr and "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    lines = results.read_text().splitlines()
    assert all(json.loads(line)["frame"] == n for n, line in enumerate(lines))
    assert count_frames(video) == len(lines) >= 3, stderr  # frames 0-2 were delivered before frame 3 printed


@pytest.mark.slow
@needs_proc
def test_under_nohup_a_hang_up_does_not_stop_the_run(models, tmp_path):
    results, video = tmp_path / "results.jsonl", tmp_path / "out.avi"
    command = [sys.executable, "-m", "demo", "-m", str(models["person-0007"].xml), "-i", "assets/sample_clip.avi",
               "--loop", "--no_show", "--no_cache", "-o", str(video), "--results", str(results)]
    process = subprocess.Popen(command, cwd=ROOT, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(ROOT)},
                               preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))  # as nohup does
    try:
        wait_for_lines(results, 5, process)
        process.send_signal(signal.SIGHUP)
        written = lines_written(results)
        wait_until(lambda: lines_written(results) >= written + 10, process, "ten frames after the hang-up")
        process.send_signal(signal.SIGINT)
        assert_stopped_cleanly(process, results, video)
    finally:
        process.kill()
