"""``--benchmark``: the report has every figure, and the figures agree with each other and the input.

These tests check consistency (frames counted, throughput = frames / time, efficiency =
the quotient of the two throughputs), never speed: that is benchmarks/throughput.py's job.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from helpers import heavy_model, synthetic
from helpers.results import count_frames, iou, read_results
from helpers.running import run_demo
from helpers.synthetic import Shape

import demo
from demo.app.benchmark import ROUND_SECONDS, BenchmarkSettings, LatencyStats, Throughput, until
from demo.picture.render import blend_masks, instance_colour
from demo.results.instances import Box, Instance
from demo.results.masks import BoxMask

REPORT_KEYS = {"frames", "seconds", "end_to_end_fps", "inference_only_fps", "efficiency", "latency_ms", "stages_ms",
               "peak_rss_mb", "device", "config"}
LATENCY_KEYS = {"median", "mean", "min", "max", "p90", "p99"}
STAGE_KEYS = {"decode", "preprocess", "inference", "postprocess", "render", "write"}
CLIP_FRAMES = 5


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A short 320x240 clip of the default detectors' four colours, so every frame has instances."""
    frames = []
    for step in range(CLIP_FRAMES):
        shapes = [Shape.rect((0, 0, 255), 20 + 4 * step, 20, 120 + 4 * step, 140),
                  Shape.ellipse((0, 255, 0), (220, 80), (60, 40)),
                  Shape.rect((255, 0, 0), 40, 160, 140, 230),
                  Shape.ellipse((0, 255, 255), (240, 190), (50, 30))]
        frames.append(synthetic.draw_scene(320, 240, shapes)[0])
    return synthetic.write_ffv1_video(tmp_path_factory.mktemp("clip") / "clip.mkv", frames)


def benchmark(models, clip, tmp_path, *flags):
    report = tmp_path / "report.json"
    run = run_demo("-m", models["person-0007"].xml, "-i", clip, "--no_cache", "--benchmark", "--report", report,
                   *flags)
    assert run.returncode == 0, run.stderr
    return json.loads(report.read_text()), run


def check_consistent(report: dict) -> None:
    assert REPORT_KEYS <= report.keys()
    assert report["end_to_end_fps"] == pytest.approx(report["frames"] / report["seconds"])
    assert report["efficiency"] == pytest.approx(report["end_to_end_fps"] / report["inference_only_fps"])
    latency = report["latency_ms"]
    assert set(latency) == LATENCY_KEYS
    assert 0 < latency["min"] <= latency["median"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert latency["min"] <= latency["mean"] <= latency["max"]
    assert set(report["stages_ms"]) == STAGE_KEYS
    assert all(ms >= 0 for ms in report["stages_ms"].values())
    assert report["stages_ms"]["inference"] > 0
    # A frame's stages happen one after another within its latency.
    assert sum(report["stages_ms"].values()) <= latency["mean"] * 1.001
    assert report["peak_rss_mb"] > 10
    # One thread runs each host stage, so its CPU time cannot exceed its wall time.
    assert set(report["host_cpu_ms"]) == STAGE_KEYS - {"inference"}
    assert all(0 <= ms <= report["stages_ms"][stage] + 0.05 for stage, ms in report["host_cpu_ms"].items())
    assert report["process_cpu_ms"]["end_to_end"] > 0 and report["process_cpu_ms"]["inference_only"] > 0
    # A frame's CPU time, shared out: what the demo's own stages took, the network alone's, and the rest.
    shares, end_to_end = report["cpu_shares"], report["process_cpu_ms"]["end_to_end"]
    assert list(shares) == ["decode", "fit", "inference", "postprocess", "output", "rest"]
    assert sum(shares.values()) == pytest.approx(1)
    assert shares["inference"] * end_to_end == pytest.approx(report["process_cpu_ms"]["inference_only"])
    for share, stages in (("decode", ["decode"]), ("fit", ["preprocess"]), ("postprocess", ["postprocess"]),
                          ("output", ["render", "write"])):
        assert shares[share] * end_to_end == pytest.approx(sum(report["host_cpu_ms"][stage] for stage in stages))


@pytest.mark.slow
def test_report_counts_every_frame_of_the_looped_input_and_writes_them(models, clip, tmp_path):
    frames = 2 * CLIP_FRAMES + 2  # more than the clip holds: the input loops
    output, results = tmp_path / "out.avi", tmp_path / "results.jsonl"

    report, run = benchmark(models, clip, tmp_path, "-niter", frames, "-nireq", "3", "--hint", "throughput",
                            "-o", output, "--results", results)

    check_consistent(report)
    assert report["frames"] == frames
    assert report["device"] == "CPU"
    assert report["infer_requests"] == 3
    config = report["config"]
    assert config["PERFORMANCE_HINT"] == "THROUGHPUT"
    assert int(config["NUM_STREAMS"]) >= 1 and int(config["INFERENCE_NUM_THREADS"]) >= 1
    assert int(config["OPTIMAL_NUMBER_OF_INFER_REQUESTS"]) >= 1
    assert config["INFERENCE_PRECISION_HINT"] in ("f32", "bf16", "f16")
    # The writers get the measured frames, not the warm-up.
    records = read_results(results)
    assert len(records) == frames
    assert all(len(record["instances"]) == 4 for record in records)
    assert count_frames(output) == frames
    # The printed figures are the report's.
    assert f"frames: {frames} in {report['seconds']:.2f} s" in run.stdout
    assert f"efficiency (end-to-end / network alone): {report['efficiency']:.3f}" in run.stdout
    # On the CPU frames are fitted here, which costs the producer's thread some CPU.
    assert report["fit"] == "host" and "frames fitted to the network here (OpenCV)" in run.stdout
    assert report["host_cpu_ms"]["preprocess"] > 0


@pytest.mark.slow
def test_time_limit_runs_at_least_that_long(models, clip, tmp_path):
    report, run = benchmark(models, clip, tmp_path, "--time", "1.5", "--hint", "latency", "--preprocess", "model")

    check_consistent(report)
    assert report["seconds"] >= 1.5
    assert report["frames"] >= 1
    assert report["config"]["PERFORMANCE_HINT"] == "LATENCY"
    assert report["fit"] == "model" and "frames fitted to the network in the model's graph" in run.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "drawn"), [((), True), (("--no_show",), False), (("--no_show", "-o", "{out}"), True)])
def test_frames_are_drawn_for_the_window_unless_nobody_would_see_them(models, clip, tmp_path, flags, drawn):
    """As for the window a run would open; with --no_show only what takes pictures (-o here) has them drawn."""
    flags = [flag.format(out=tmp_path / "out.avi") for flag in flags]
    report, _ = benchmark(models, clip, tmp_path, "-niter", "6", "--hint", "latency", *flags)

    check_consistent(report)
    assert (report["stages_ms"]["render"] > 0) is drawn
    assert (report["host_cpu_ms"]["render"] > 0) is drawn


def test_background_mode_is_measured_the_same_way(models, clip, tmp_path):
    pattern = tmp_path / "out_%02d.png"

    report, _ = benchmark(models, clip, tmp_path, "--mode", "background", "--target_color", "255,0,255",
                          "-niter", "7", "-o", pattern)

    check_consistent(report)
    assert report["frames"] == 7
    written = [cv2.imread(str(pattern).replace("%02d", f"{n:02d}")) for n in range(7)]
    assert all(picture is not None for picture in written)
    for picture in written:
        assert tuple(picture[80, 220]) == (255, 0, 255)  # the green car is background
        assert tuple(picture[100, 60]) == (0, 0, 255)  # the red person stays


@pytest.mark.parametrize("flags, message", [
    (["-niter", "5"], "-niter needs --benchmark"),
    (["--report", "r.json"], "--report needs --benchmark"),
    (["--benchmark", "--time", "0"], "expected a number of seconds > 0"),
    (["--benchmark", "-niter", "0"], "expected a whole number >= 1"),
    (["--benchmark", "--report", "no/such/folder/r.json"], "folder 'no/such/folder' does not exist"),
])
def test_bad_benchmark_flags_answer_in_one_line(models, clip, flags, message):
    run = run_demo("-m", models["person-0007"].xml, "-i", clip, "--no_cache", *flags)

    assert run.returncode == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_heavy_model_costs_five_gflops_and_finds_the_ten_shapes_through_jpeg(tmp_path):
    model = heavy_model.person_0007_cost_model(tmp_path / "heavy.xml")
    width, height = 1920, 1080
    frame, truths = synthetic.draw_scene(width, height, heavy_model.ten_shapes(width, height))
    # As an MJPG camera delivers it: JPEG-compressed, colours smeared at the edges.
    frame = cv2.imdecode(cv2.imencode(".jpg", frame)[1], cv2.IMREAD_COLOR)
    segmenter = demo.open(model, cache_dir=None, labels=synthetic.coco_names())
    instances = segmenter(frame).instances

    layers = heavy_model.body_layers_for(heavy_model.PERSON_0007_INPUT_HW, heavy_model.PERSON_0007_GFLOPS)
    assert heavy_model.conv_stack_gflops(heavy_model.PERSON_0007_INPUT_HW, layers) == pytest.approx(5.0, abs=0.5)
    convolutions = [op for op in segmenter.model.engine.compiled.get_runtime_model().get_ordered_ops()
                    if op.get_rt_info()["layerType"].astype(str) == "Convolution"]
    assert len(convolutions) == layers + 2  # nothing pruned
    assert len(instances) == 10
    for truth in truths:
        assert max(iou(instance.full_mask(), truth) for instance in instances) > 0.9


def test_latency_statistics_of_known_values():
    stats = LatencyStats.of([float(v) for v in range(100, 0, -1)])  # 1..100, in any order

    assert (stats.min, stats.max, stats.mean, stats.median) == (1.0, 100.0, 50.5, 50.5)
    assert stats.p90 == pytest.approx(90.1) and stats.p99 == pytest.approx(99.01)


def test_until_stops_at_the_count_or_the_time():
    assert list(until(iter(range(100)), 7, None)) == list(range(7))
    assert list(until(iter(range(5)), 7, None)) == list(range(5))
    assert list(until(iter(range(100)), None, 1e-9)) == []


def test_rounds_share_out_the_time_and_the_frames():
    timed = BenchmarkSettings(frames=None, seconds=5.0, report=None)
    assert timed.next_round(Throughput()) == (None, ROUND_SECONDS)
    assert timed.next_round(Throughput(120, 4.5, 9.0)) == (None, pytest.approx(0.5))
    assert timed.next_round(Throughput(130, 5.0, 10.0)) is None

    counted = BenchmarkSettings(frames=300, seconds=None, report=None)
    assert counted.next_round(Throughput(110, 2.0, 4.0)) == (190, ROUND_SECONDS)
    assert counted.next_round(Throughput(300, 5.5, 11.0)) is None


def test_rounds_add_up_to_one_throughput():
    total = Throughput(100, 2.0, 3.0) + Throughput(50, 1.0, 1.5)
    assert (total.frames, total.seconds, total.fps, total.cpu_ms_per_frame) == (150, 3.0, 50.0, 30.0)


def test_blend_tints_exactly_the_mask_half_way_to_the_colour():
    image = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    mask = np.random.default_rng(1).random((20, 30)) > 0.5
    instance = Instance(0, "person", 0.9, Box(50, 40, 80, 60), BoxMask(mask, 50, 40), (80, 60))
    before = image.copy()

    blend_masks(image, [instance])

    region_before, region_after = before[40:60, 50:80].astype(int), image[40:60, 50:80].astype(int)
    expected = (region_before + np.array(instance_colour(instance, 0))) / 2
    assert np.all(np.abs(region_after[mask] - expected[mask]) <= 1)
    assert np.array_equal(region_after[~mask], region_before[~mask])
    outside = np.ones(image.shape[:2], dtype=bool)
    outside[40:60, 50:80] = False
    assert np.array_equal(image[outside], before[outside])
