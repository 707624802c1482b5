"""Every numeric flag takes exactly what the library behind it accepts: a value that parses never fails later
on an OpenCV or OpenVINO assertion, and one that does not is one line naming the flag and the range."""
from __future__ import annotations

import math

import cv2
import numpy as np
import openvino as ov
import pytest
from helpers import synthetic
from helpers.running import run_demo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.app import flags
from demo.core.errors import UsageError
from demo.model.loading import DeviceConfig, compile_properties

# flag -> (is the parsed value in range?) for the flags of python -m demo that take numbers
RANGES = {
    "-t": lambda v: 0 <= v <= 1,
    "--iou_threshold": lambda v: 0 <= v <= 1,
    "-nireq": lambda v: 0 <= v <= flags.MAX_REQUESTS,
    "-nthreads": lambda v: 1 <= v < 2**31,
    "-nstreams": lambda v: v == "AUTO" or 1 <= int(v) < 2**31,
    "-limit": lambda v: v >= 0,
    "--max_frames": lambda v: v >= 0,
    "--max_det": lambda v: v >= 1,
    "--track_memory": lambda v: v >= 0,
    "--median": lambda v: 1 <= v <= 255 and v % 2,
    "--alpha_edge": lambda v: 1 <= v <= 8191 and v % 2,
    "--blur_bgr": lambda v: 1 <= v <= 8191 and v % 2,
    "-niter": lambda v: v >= 1,
    "--time": lambda v: 0 < v < math.inf,
}
DESTINATIONS = {"-t": "prob_threshold", "-nireq": "num_infer_requests", "-nthreads": "num_threads",
                "-nstreams": "num_streams", "-limit": "output_limit", "-niter": "number_iterations"}

numbers = st.one_of(st.integers(-2**40, 2**40), st.integers(-3, 300), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(["abc", "", "1e3", "0x10", "AUTO", "auto", " 7 ", "1_000", "8191", "8193"]))


def parse(flag: str, text: str):
    args = flags.build_parser().parse_args([f"{flag}={text}"])  # "=": a value like -3x4 is not taken for a flag
    return getattr(args, DESTINATIONS.get(flag, flag.lstrip("-")))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flag=st.sampled_from(sorted(RANGES)), value=numbers)
def test_a_numeric_flag_parses_only_within_its_range(flag, value):
    text = str(value)
    try:
        parsed = parse(flag, text)
    except UsageError as error:
        message = str(error)
        assert message.startswith(f"argument {flag}") and "\n" not in message
        assert "expected" in message or "invalid" in message
        return
    assert RANGES[flag](parsed), (flag, text, parsed)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 127).map(lambda n: 2 * n + 1), width=st.sampled_from([1, 5, 640, 7680]))
def test_every_median_size_that_parses_runs_in_opencv(size, width):
    parsed = parse("--median", str(size))
    mask = (np.arange(width * 9).reshape(9, width) % 3 == 0).astype(np.uint8) * 255
    assert cv2.medianBlur(mask, parsed).shape == mask.shape


@pytest.mark.parametrize("size", [1, 3, 255, 8191])
def test_box_filter_sizes_at_the_bounds_run_in_opencv(size):
    frame = np.full((48, 64, 3), 200, np.uint8)
    assert cv2.blur(frame, (parse("--blur_bgr", str(size)),) * 2).shape == frame.shape


@pytest.mark.parametrize("resolution", ["1x1", "65500x16", "32768x32768"])
def test_resolutions_at_the_bounds_parse(resolution):
    width, height = (int(side) for side in resolution.split("x"))
    assert parse("--output_resolution", resolution) == (width, height)


@pytest.mark.parametrize("resolution", ["65501x1", "32768x32769", "100000x100000", "0x5", "12x", "-3x4"])
def test_resolutions_beyond_the_bounds_are_refused(resolution):
    with pytest.raises(UsageError, match="^argument --output_resolution: expected WIDTHxHEIGHT"):
        parse("--output_resolution", resolution)


@pytest.mark.parametrize("streams, threads", [("AUTO", None), ("1", 1), (str(2**31 - 1), 2**31 - 1)])
def test_stream_and_thread_counts_at_the_bounds_compile(tmp_path, streams, threads):
    model = synthetic.person_0007_like(tmp_path / "person.xml", synthetic.DEFAULT_DETECTORS)
    args = flags.build_parser().parse_args(["-nstreams", streams] + (["-nthreads", str(threads)] if threads else []))
    config = DeviceConfig(nstreams=args.num_streams, nthreads=args.num_threads)
    compiled = ov.Core().compile_model(str(model), "CPU", compile_properties(config))
    assert compiled.get_property("NUM_STREAMS") >= 1


@pytest.mark.slow
@pytest.mark.parametrize("flags, message", [
    (["--output_resolution", "100000x100000"], "argument --output_resolution: expected WIDTHxHEIGHT with both at "
                                                "most 65500"),
    (["--mode", "background", "--blur_bgr", "99999999"], "argument --blur_bgr: expected an odd whole number >= 1, "
                                                         "got 99999999 (at most 8191)"),
    (["--mode", "background", "--median", "257"], "argument --median: expected an odd whole number >= 1, got 257 "
                                                  "(at most 255)"),
    (["-nstreams", "abc"], "argument -nstreams/--num_streams: expected AUTO or a whole number from 1 to 2147483647"),
    (["-nthreads", "99999999999999999999"], "argument -nthreads/--num_threads: expected a whole number >= 1"),
    (["-nireq", "100000"], "argument -nireq/--num_infer_requests: expected a whole number >= 0, got 100000 "
                           "(at most 64)"),
    (["--benchmark", "--time", "inf"], "argument --time: expected a number of seconds > 0, got inf (finite numbers "
                                       "only)"),
    (["-t", "nan"], "argument -t/--prob_threshold: expected a probability between 0 and 1, got nan"),
])
def test_out_of_range_flags_are_one_line_and_exit_2(models, flags, message):
    run = run_demo("-m", models["person-0007"].xml, "-i", "assets/sample_clip.avi", "--no_show", "--no_cache", *flags)

    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and run.stderr.startswith(f"error: {message}"), run.stderr
