"""Faults and long runs: interrupted runs keep what they wrote, memory stays flat."""
from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import openvino as ov
import pytest

import synthetic
from conftest import ROOT, count_frames, lines_written
from demo import app
from demo.metrics import RunMetrics
from demo.model import DeviceConfig, load_segmenter
from demo.pipeline import AsyncPipeline
from demo.render import InstanceRenderer
from demo.sinks import ResultsWriter
from demo.sources import open_source
from demo.tracker import MaskTracker


def start_demo(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "demo", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for_lines(path: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if lines_written(path) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the demo did not write {count} results in time: {process.communicate()[1]}")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_run_leaves_a_playing_video_and_whole_result_lines(models, tmp_path, stop):
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


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc to read the resident memory")
def test_memory_stays_flat_over_ten_thousand_looped_frames(tmp_path):
    # A tiny input keeps 10,000 frames quick: what is measured is the demo's memory, not the network.
    model = synthetic.build_maskrcnn_model(tmp_path / "tiny.xml", synthetic.DEFAULT_DETECTORS, input_hw=(64, 96),
                                           max_detections=None, mask_size=14)
    frame, _ = synthetic.draw_scene(96, 64, [synthetic.Shape.rect((0, 0, 255), 10, 10, 40, 50),
                                             synthetic.Shape.rect((0, 255, 0), 50, 5, 90, 30)])
    image = tmp_path / "scene.png"
    cv2.imwrite(str(image), frame)
    segmenter = load_segmenter(ov.Core(), model, DeviceConfig(hint="throughput"))
    source = open_source(str(image), loop=True)
    samples: dict[int, float] = {}
    renderer = InstanceRenderer(show_boxes=True, show_scores=True)

    def render_and_sample(result):
        if result.index in (2_000, 9_999):
            samples[result.index] = rss_mb()
        return renderer(result)

    outputs = app.Outputs(results=ResultsWriter(Path(os.devnull)))
    try:
        app.run(segmenter, AsyncPipeline(segmenter, 0, 0.5), itertools.islice(source, 10_000), ["person", "car"],
                render_and_sample, outputs, MaskTracker(), RunMetrics())
    finally:
        outputs.close()

    assert sorted(samples) == [2_000, 9_999]
    assert samples[9_999] - samples[2_000] < 8, samples
