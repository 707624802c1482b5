"""A served model that misbehaves (tests/misbehaving_kserve.py on 127.0.0.1): for each way, over REST and
gRPC, the exit code, the one line, the time to fail (the deadline plus a second, with room for a loaded
machine), the memory the demo took, and a stop by signal within a second; and a live run that goes on
through a server restarted twice and a spell of garbage answers (REST and gRPC), its frames numbered
without gaps; and an engine's close()."""
from __future__ import annotations

import gc
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest
from helpers import synthetic
from helpers.misbehaving_kserve import MisbehavingServer
from helpers.running import ROOT, one_error_line, start_demo, wait_until
from helpers.scenes import write_scene
from helpers.stream_servers import RawReader, rtsp_server, write_numbered_jpegs

import demo
from demo.core.errors import DemoError
from demo.core.stopping import INTERRUPTED, INTERRUPTED_LINE

DEMO_FLAGS = ("--no_show", "--no_cache")
DEADLINE_S = 2  # both DEMO_KSERVE_*_TIMEOUT in the time-out tests
DEADLINES = {"DEMO_KSERVE_CONNECT_TIMEOUT": str(DEADLINE_S), "DEMO_KSERVE_REQUEST_TIMEOUT": str(DEADLINE_S)}
# A failure may take its deadline plus the second, and two more for a loaded machine to end
# a process; what it replaces took for ever or, for the metadata, 31 s.
FAIL_WITHIN_S = DEADLINE_S + 1 + 2
# A stop by signal must take under a second; half a second more for a loaded machine.
STOP_WITHIN_S = 1.5
# The demo's peak memory with the test model; a client that read the 512 MB answer whole would pass it.
MEMORY_CEILING_MB = 450


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[MisbehavingServer]:
    model = synthetic.build_yolo_seg_model(tmp_path_factory.mktemp("faults") / "yolo.xml", synthetic.DEFAULT_DETECTORS)
    with MisbehavingServer("yolo", model) as running:
        yield running


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scene") / "scene.png"
    write_scene(path, 800, 600)
    return path


@dataclass
class Watched:
    returncode: int
    stderr: str
    since_last_request: float  # seconds from the server's last request to the demo's exit
    peak_mb: float  # the demo's peak resident memory (VmHWM)


def peak_memory_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # ended
        return None
    # None once it has ended and not been waited for: a zombie has no memory left to report.
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)


def run_watched(server: MisbehavingServer, *args: str | Path, env: dict[str, str] | None = None) -> Watched:
    """``python -m demo ARGS`` to its end, its peak memory sampled as it runs."""
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "demo", *map(str, args)], cwd=ROOT, text=True,
                                   stdout=subprocess.DEVNULL, stderr=stderr,
                                   env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
        peak, deadline = 0.0, time.monotonic() + 120
        while process.poll() is None:
            peak = max(peak, peak_memory_mb(process.pid) or 0.0)
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("the demo did not end within 120 s")
            time.sleep(0.02)
        ended = time.monotonic()
        stderr.seek(0)
        return Watched(process.returncode, stderr.read(), ended - server.arrivals[-1], peak)


FAULTS = [
    ("http", "malformed", "the server's answer is malformed"),
    ("http", "malformed", "the server's answer is malformed", "1"),  # -nireq 1: the issue saw both end wrong
    ("http", "trickle", "timed out waiting for the server"),
    ("http", "close", "cannot reach the server (the connection closed in the middle of the answer)"),
    ("http", "silent", "timed out waiting for the server"),
    ("http", "huge", "answered with 536870912 bytes, more than the"),
    ("http", "huge_undeclared", "answered past the"),
    ("http", "wrong_shape", "output output_0 has the shape [1, 116, 15], the metadata says [1, 116, 16]"),
    ("http", "shape_vs_bytes", "output output_0 has 7420 bytes for the shape [1, 116, 16] of FP32"),
    ("http", "wrong_dtype", "output output_0 is FP16, the metadata says FP32"),
    ("http", "missing_output", "output protos is missing"),
    ("http", "metadata_silent", "timed out waiting for the server"),
    ("http", "metadata_trickle", "timed out waiting for the server"),
    ("http", "metadata_types", "the server's metadata is malformed: its inputs are not a list"),
    ("grpc", "silent", "timed out waiting for the server"),
    ("grpc", "close", "cannot reach the server (the connection was lost)"),
    ("grpc", "huge", "the answer is larger than the model's outputs can be"),
    ("grpc", "wrong_shape", "output output_0 has the shape [1, 116, 15], the metadata says [1, 116, 16]"),
    ("grpc", "shape_vs_bytes", "output output_0 has 7420 bytes for the shape [1, 116, 16] of FP32"),
    ("grpc", "wrong_dtype", "output output_0 is FP16, the metadata says FP32"),
    ("grpc", "missing_output", "output protos is missing"),
    ("grpc", "metadata_silent", "timed out waiting for the server"),
]


@pytest.mark.slow
@pytest.mark.parametrize("protocol, fault, says, nireq", [(*case, "0")[:4] for case in FAULTS])
def test_a_misbehaving_server_ends_a_file_run_with_one_line_in_time(server, scene, protocol, fault, says, nireq):
    server.fault = fault
    try:
        done = run_watched(server, "-m", server.url(protocol), "-i", scene, "-nireq", nireq, *DEMO_FLAGS,
                           env=DEADLINES)
    finally:
        server.fault = None
    assert done.returncode == 1, done.stderr
    line = one_error_line(done.stderr)
    assert line.startswith(f"error: {server.url(protocol)}: ") and says in line, line
    assert done.since_last_request <= FAIL_WITHIN_S, done.since_last_request
    assert 0 < done.peak_mb < MEMORY_CEILING_MB


@pytest.mark.slow
def test_the_well_behaved_server_answers_the_same_tests(server, scene):
    """The faults' server, without a fault: the runs above fail because of the faults, not the server."""
    for protocol in ("http", "grpc"):
        done = run_watched(server, "-m", server.url(protocol), "-i", scene, "-r", *DEMO_FLAGS, env=DEADLINES)
        assert done.returncode == 0, done.stderr
        assert 0 < done.peak_mb < MEMORY_CEILING_MB


STALLS = [("http", "trickle", 2), ("http", "silent", 2), ("grpc", "silent", 2), ("http", "metadata_trickle", 1),
          ("http", "metadata_silent", 1), ("grpc", "metadata_silent", 1)]


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("protocol, fault, requests", STALLS)
def test_a_signal_stops_a_run_stalled_on_the_server_within_a_second(server, scene, protocol, fault, requests, stop):
    """With the default time-outs (10 s, 30 s), so that only the stop can end the run in time; ``requests``:
    the request the server stalls is the run's first (the metadata) or its second (an inference)."""
    server.fault = fault
    before = len(server.arrivals)
    run = start_demo("-m", server.url(protocol), "-i", scene, "--loop", *DEMO_FLAGS)
    try:
        assert wait_until(lambda: len(server.arrivals) >= before + requests, timeout=60), run.stderr
        time.sleep(0.5)  # well inside the stalled wait
        run.send_signal(stop)
        sent = time.monotonic()
        code = run.wait(30)
        took = time.monotonic() - sent
    finally:
        server.fault = None
        if run.poll() is None:
            run.kill()
    stderr = run.stderr.read()
    assert code == INTERRUPTED, stderr
    assert took <= STOP_WITHIN_S, took
    assert INTERRUPTED_LINE in stderr and "Traceback" not in stderr and "unexpected" not in stderr, stderr


@contextmanager
def live_run(tmp_path: Path, server: MisbehavingServer, protocol: str) -> Iterator[RawReader]:
    frames = write_numbered_jpegs(tmp_path / "frames")
    with rtsp_server(frames, 15) as stream:
        reader = RawReader(start_demo("-m", server.url(protocol), "-i", stream.url, "-r", *DEMO_FLAGS))
        try:
            yield reader
        finally:
            if reader.process.poll() is None:
                reader.process.kill()


def outage(reader: RawReader, begin: Callable[[], None], end: Callable[[], None], count: int) -> None:
    """The server lost (``begin``) while frames come, back (``end``) once the demo says it waits for it."""
    reader.wait_frames(len(reader.frames) + 10)
    begin()
    reader.wait_for(lambda: sum("reconnecting" in line for line in reader.stderr) == count, "reconnecting", 60)
    end()
    reader.wait_for(lambda: sum("is back" in line for line in reader.stderr) == count, "is back", 120)


@pytest.mark.slow
@pytest.mark.parametrize("protocol, spoilt", [("http", "malformed"), ("grpc", "wrong_shape")])
def test_a_live_run_goes_on_through_restarts_and_garbage_answers(tmp_path, server, protocol, spoilt):
    def garbage() -> None:
        server.fault = spoilt

    def sane() -> None:
        server.fault = None

    with live_run(tmp_path, server, protocol) as reader:
        outage(reader, server.stop, server.start, 1)  # the same ports again
        outage(reader, server.stop, server.start, 2)
        outage(reader, garbage, sane, 3)
        reader.wait_frames(len(reader.frames) + 10)
        reader.process.send_signal(signal.SIGINT)
        assert reader.finish() == INTERRUPTED, reader.stderr
    back = [line for line in reader.stderr if "is back" in line]
    assert len(back) == 3 and all("sent again, none lost" in line for line in back), reader.stderr
    assert sum("reconnecting" in line for line in reader.stderr) == 3, reader.stderr
    resent = sum(int(re.search(r"; (\d+) requests? in flight", line).group(1)) for line in back)
    assert any(line.endswith(f"was lost 3 times during the run; {resent} request{'' if resent == 1 else 's'} sent again, none lost")
               for line in reader.stderr), reader.stderr
    assert [index for index, _, _ in reader.frames] == list(range(len(reader.frames)))
    assert all(number is not None for _, number, _ in reader.frames)


def kserve_workers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("kserve-")]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_closing_a_served_engine_ends_its_workers_and_cuts_a_stalled_request(server, scene, protocol):
    others = set(kserve_workers())  # of segmenters that earlier tests in this process left open
    segmenter = demo.open(server.url(protocol), requests=2)
    frame = cv2.imread(str(scene))
    assert len(list(segmenter.stream([frame, frame]))) == 2
    assert len(set(kserve_workers()) - others) == 2
    server.fault = "silent"
    engine = segmenter.model.engine
    ended: list[BaseException] = []

    def stream_one() -> None:
        try:
            list(segmenter.stream([frame]))
        except DemoError as error:
            ended.append(error)

    stalled = threading.Thread(target=stream_one, daemon=True)
    try:
        before = len(server.arrivals)
        stalled.start()
        assert wait_until(lambda: len(server.arrivals) > before, timeout=30)
        engine.close()
        stalled.join(STOP_WITHIN_S)  # not the 30 s request time-out
        assert not stalled.is_alive()
        assert "the inference request was cancelled" in str(ended[0])
        assert wait_until(lambda: not set(kserve_workers()) - others, timeout=STOP_WITHIN_S)
        engine.close()  # again: nothing left to do, nothing raised
    finally:
        server.fault = None


def test_a_served_segmenter_dropped_without_closing_lets_its_workers_go(server, scene):
    others = set(kserve_workers())  # of segmenters that earlier tests in this process left open
    segmenter = demo.open(server.url("http"), requests=2)
    frame = cv2.imread(str(scene))
    assert len(list(segmenter.stream([frame, frame]))) == 2
    assert len(set(kserve_workers()) - others) == 2
    del segmenter
    gc.collect()
    assert wait_until(lambda: not set(kserve_workers()) - others, timeout=STOP_WITHIN_S)
