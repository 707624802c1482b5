"""--benchmark's reference: the network alone, as benchmark_app runs it (the raw network at its own input
size, fed inputs prepared beforehand, outputs not read); and the spread of its rounds, the run's noise, in
the report."""
from __future__ import annotations

import json
from contextlib import closing
from dataclasses import astuple

import numpy as np
import pytest
from helpers import synthetic
from helpers.running import run_demo
from helpers.synthetic import Shape

import demo
from demo.app.benchmark import RoundSpread, cpu_shares, measure_model_alone


def frame_with(shapes: list[Shape]) -> np.ndarray:
    return synthetic.draw_scene(320, 240, shapes)[0]


def test_round_spread_of_known_efficiencies():
    spread = RoundSpread.of([1.1, 0.9, 1.0])

    assert (spread.rounds, spread.median, spread.min, spread.max) == (3, 1.0, 0.9, 1.1)
    assert spread.sd == pytest.approx(0.1)
    assert RoundSpread.of([0.8]).sd == 0.0
    assert "median 1.000, 0.900 to 1.100, sd 0.100 over 3 rounds" in spread.text()


@pytest.mark.parametrize("place", ["host", "model"])
def test_the_network_alone_takes_its_own_input_prepared_beforehand_and_answers_as_the_segmenter(models, place):
    segmenter = demo.open(models["person-0007"].xml, cache_dir=None, labels=synthetic.coco_names(), preprocess=place)
    images = [frame_with([Shape.rect((0, 0, 255), 20, 20, 120, 140)]),
              frame_with([Shape.rect((0, 0, 255), 20, 20, 120, 140), Shape.ellipse((0, 255, 0), (220, 80), (60, 40))]),
              frame_with([])]

    with closing(segmenter.network()) as network:
        inputs = [network.inputs(image) for image in images]
        # The raw network's own input, as benchmark_app feeds it: f32 NCHW at 544x320, whatever the frame.
        assert [(array.dtype, array.shape) for array in inputs[0].values()] == [(np.float32, (1, 3, 320, 544))]
        decoded = [segmenter.model.contract.decode(network.engine.infer(item), segmenter.limits) for item in inputs]
        requests = network.engine.requests(2)
        once = measure_model_alone(requests, inputs)
        timed = measure_model_alone(requests, inputs, 0.3)

    # The detections the segmenter's own pipeline makes of the frames: the same boxes, to within one network
    # pixel (under one frame pixel here) where the segmenter's graph fits frames and the reference's are fitted
    # here.
    wanted = [segmenter(image).instances for image in images]
    assert [len(d) for d in decoded] == [len(instances) for instances in wanted] == [1, 2, 0]
    assert decoded[1].class_ids.tolist() == [0, 2]
    boxes = segmenter.geometry(images[1]).boxes_to_frame(decoded[1].boxes.astype(np.float64))
    assert np.abs(boxes - [astuple(instance.box) for instance in wanted[1]]).max() <= 1.0
    assert once.frames == 3 and once.seconds > 0
    assert timed.frames >= 1 and timed.seconds >= 0.3


def test_cpu_shares_of_known_figures():
    host = {"decode": 6.0, "preprocess": 1.0, "postprocess": 3.0, "render": 1.5, "write": 0.5}

    shares = cpu_shares(host, network_ms=38.0, end_to_end_ms=50.0)

    assert shares == pytest.approx({"decode": 0.12, "fit": 0.02, "inference": 0.76, "postprocess": 0.06,
                                    "output": 0.04, "rest": 0.0})
    assert cpu_shares(host, 38.0, 0.0) == {}


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
