"""--benchmark's model alone: the stream's own requests, fed decoded frames, outputs decoded as the stream
does; and the spread of its rounds, the run's noise, in the report."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import synthetic
from helpers.running import run_demo
from helpers.synthetic import Shape

import demo
from demo.app.benchmark import RoundSpread, measure_model_alone
from demo.frames.sources import Frame


def frame_with(shapes: list[Shape]) -> np.ndarray:
    return synthetic.draw_scene(320, 240, shapes)[0]


def test_round_spread_of_known_efficiencies():
    spread = RoundSpread.of([1.1, 0.9, 1.0])

    assert (spread.rounds, spread.median, spread.min, spread.max) == (3, 1.0, 0.9, 1.1)
    assert spread.sd == pytest.approx(0.1)
    assert RoundSpread.of([0.8]).sd == 0.0
    assert "median 1.000, 0.900 to 1.100, sd 0.100 over 3 rounds" in spread.text()


def test_the_model_alone_decodes_each_frame_as_the_stream_does(models):
    segmenter = demo.open(models["person-0007"].xml, cache_dir=None, labels=synthetic.coco_names())
    images = [frame_with([Shape.rect((0, 0, 255), 20, 20, 120, 140)]),
              frame_with([Shape.rect((0, 0, 255), 20, 20, 120, 140), Shape.ellipse((0, 255, 0), (220, 80), (60, 40))]),
              frame_with([])]

    decoded = [item.detections for item in segmenter.detections(images)]

    # In frame order, the detections the one-call API turns into its instances.
    assert [len(d.class_ids) for d in decoded] == [len(segmenter(image).instances) for image in images] == [1, 2, 0]
    assert decoded[1].class_ids.tolist() == [0, 2]
    frames = [Frame(index, image, "") for index, image in enumerate(images)]
    once = measure_model_alone(segmenter, frames)
    assert once.frames == 3 and once.seconds > 0
    assert measure_model_alone(segmenter, frames, 0.3).frames >= 1


@pytest.mark.slow
def test_the_report_gives_the_rounds_spread_and_the_efficiency_in_cpu_time(models, tmp_path):
    clip = synthetic.write_ffv1_video(tmp_path / "clip.mkv", [frame_with([Shape.rect((0, 0, 255), 20 + step, 20,
                                                                                   120 + step, 140)])
                                                             for step in range(4)])
    report_file = tmp_path / "report.json"

    run = run_demo("-m", models["person-0007"].xml, "-i", clip, "--no_cache", "--benchmark", "--time", "2.5",
                   "--report", report_file)

    assert run.returncode == 0, run.stderr
    report = json.loads(report_file.read_text())
    spread = report["round_efficiency"]
    # 2.5 s in rounds of at most 1 s, each at least as long as asked: two or three.
    assert spread["rounds"] in (2, 3)
    assert spread["min"] <= spread["median"] <= spread["max"]
    assert spread["sd"] >= 0
    cpu = report["process_cpu_ms"]
    assert report["cpu_efficiency"] == pytest.approx(cpu["inference_only"] / cpu["end_to_end"])
    assert 0 <= report["other_load"] <= 1  # Linux: read from /proc/stat
    assert (f"efficiency per round: median {spread['median']:.3f}, {spread['min']:.3f} to {spread['max']:.3f}, "
            f"sd {spread['sd']:.3f} over {spread['rounds']} rounds") in run.stdout
