"""The whole demo through ``python -m demo``, on drawn scenes whose answer is known to the pixel."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.results import count_frames, read_results
from helpers.running import ROOT, run_demo
from helpers.scenes import FRAME_SIZES, box_tolerance, check_frame, scene_shapes


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["fit", "stretch"])
@pytest.mark.parametrize("model_name", ["security-0091", "person-0007", "two-input"])
def test_images_of_several_sizes(models, tmp_path, model_name, policy):
    model = models[model_name]
    folder = tmp_path / "images"
    folder.mkdir()
    scenes = {}
    for number, (width, height) in enumerate(FRAME_SIZES):
        shapes = scene_shapes(width, height)
        frame, truths = synthetic.draw_scene(width, height, shapes)
        cv2.imwrite(str(folder / f"{number}_{width}x{height}.png"), frame)
        scenes[number] = (shapes, truths, (width, height))
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", model.xml, "-i", folder, "--no_show", "--resize_type", policy, "--results", results,
                   "-o", tmp_path / "out_%02d.png", "--no_cache")

    assert run.returncode == 0, run.stderr
    records = read_results(results)
    assert [r["frame"] for r in records] == [0, 1, 2]
    for record in records:
        shapes, truths, size = scenes[record["frame"]]
        check_frame(record, truths, shapes, box_tolerance(size, model.input_size, policy))
    written = [cv2.imread(str(tmp_path / f"out_{n:02d}.png")) for n in range(3)]
    assert [image.shape[1::-1] for image in written] == [tuple(size) for size in FRAME_SIZES]


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["security-0091", "person-0007"])
def test_video_every_frame_in_order(models, tmp_path, model_name):
    width, height = 640, 480
    frames, truths_by_frame, shapes_by_frame = [], [], []
    for step in range(12):
        shapes = scene_shapes(width, height, step)
        frame, truths = synthetic.draw_scene(width, height, shapes)
        frames.append(frame)
        truths_by_frame.append(truths)
        shapes_by_frame.append(shapes)
    video = synthetic.write_ffv1_video(tmp_path / "clip.mkv", frames)
    results, output = tmp_path / "results.jsonl", tmp_path / "out.avi"

    run = run_demo("-m", models[model_name].xml, "-i", video, "--no_show", "--results", results, "-o", output,
                   "-nireq", "3", "--no_cache")

    assert run.returncode == 0, run.stderr
    records = read_results(results)
    assert [r["frame"] for r in records] == list(range(12))
    tolerance = box_tolerance((width, height), models[model_name].input_size, "stretch")
    for record in records:
        n = record["frame"]
        check_frame(record, truths_by_frame[n], shapes_by_frame[n], np.maximum(tolerance, 6))
    assert count_frames(output) == 12
    capture = cv2.VideoCapture(str(output))
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (width, height)
    assert "FPS" in run.stderr and "inference" in run.stderr


@pytest.mark.slow
def test_the_projects_own_sample_clip(tmp_path):
    """assets/sample_clip.avi (MJPG, made by assets/make_sample_clip.py) runs whole through the shipped sample
    model, shapes found in every frame and named as the docs say."""
    results, output = tmp_path / "results.jsonl", tmp_path / "out.mp4"

    run = run_demo("-m", "assets/sample_model.xml", "-i", "assets/sample_clip.avi", "--no_show",
                   "--results", results, "-o", output, "--show_boxes", "--show_scores", "--no_cache")

    assert run.returncode == 0, run.stderr
    records = read_results(results)
    assert len(records) == 30
    assert all(sorted(i["name"] for i in r["instances"]) == ["car", "dog", "person", "person"] for r in records)
    assert count_frames(output) == 30


def test_the_shipped_sample_model_is_what_its_script_makes(tmp_path):
    """assets/sample_model.{xml,bin} are committed: they must stay what assets/make_sample_model.py builds from
    the test suite's detectors, or the docs' example would describe another model."""
    done = subprocess.run([sys.executable, str(ROOT / "assets" / "make_sample_model.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    for name in ("sample_model.xml", "sample_model.bin"):
        assert (tmp_path / name).read_bytes() == (ROOT / "assets" / name).read_bytes(), name
