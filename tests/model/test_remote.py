"""Remote inference against a real KServe v2 server (tests/kserve_server.py, KServe's ModelServer) on
127.0.0.1: the same answers as the local model over REST and gRPC, for a model exported by
``python -m demo export`` (pre-processing in the served graph) and for one served with its raw network
input (pre-processing on the client); and what a user sees when the server is wrong, absent or lost."""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.kserve_process import KServe, export
from helpers.results import decode_mask, iou, read_results
from helpers.running import SHARED, one_error_line, run_demo, start_demo
from helpers.scenes import write_scene
from helpers.stream_servers import RawReader, free_port, rtsp_server, write_numbered_jpegs

import demo

DEMO_FLAGS = ("--no_show", "--no_cache")
YOLO11 = SHARED / "models" / "yolo11n-seg_int8_openvino_model" / "yolo11n-seg.xml"


SYNTHETIC = {
    "yolo": lambda path: synthetic.build_yolo_seg_model(path, synthetic.DEFAULT_DETECTORS),
    "maskrcnn": lambda path: synthetic.security_0091_like(path, synthetic.DEFAULT_DETECTORS),
    "two-input": lambda path: synthetic.build_two_input_model(path, synthetic.DEFAULT_DETECTORS),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[KServe, dict[str, Path]]:
    """Each synthetic model served twice: exported (name-served) and as it is (name-raw)."""
    folder = tmp_path_factory.mktemp("served")
    local = {kind: build(folder / f"{kind}.xml") for kind, build in SYNTHETIC.items()}
    models = {}
    for kind, path in local.items():
        models[f"{kind}-served"] = export(path, folder / f"repository-{kind}", f"{kind}-served")
        models[f"{kind}-raw"] = path
    with KServe(models, folder / "server.log") as server:
        yield server, local


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scene") / "scene.png"
    write_scene(path, 800, 600)
    return path


def results_of(model: str | Path, image: Path, tmp_path: Path, *flags: str) -> list[dict]:
    results = tmp_path / f"results-{abs(hash(str(model)))}.jsonl"
    done = run_demo("-m", model, "-i", image, "--results", results, *DEMO_FLAGS, *flags)
    assert done.returncode == 0, done.stderr
    return read_results(results)


@dataclass(frozen=True)
class Tolerance:
    score: float
    box_px: float
    mask_iou: float


# Client-side pre-processing is the same OpenVINO graph as the in-graph path, run as a model of its
# own: on the synthetic models the answers are the same to float rounding. On the INT8 YOLO11 the
# CPU plugin fuses in-graph pre-processing into the quantised first layer, which rounds otherwise:
# scores moved by up to 0.019, boxes by up to 3.1 px, masks kept an IoU of 0.90 or more (measured).
SYNTHETIC_TOLERANCE = Tolerance(1e-3, 1.0, 0.98)
INT8_TOLERANCE = Tolerance(0.025, 4.0, 0.88)


def assert_same_within_tolerance(remote: list[dict], local: list[dict], tolerance: Tolerance) -> None:
    """The same instances, frame by frame, each matched to the local one its mask overlaps most
    (close scores may swap places in the score order)."""
    assert [len(r["instances"]) for r in remote] == [len(r["instances"]) for r in local]
    for remote_frame, local_frame in zip(remote, local):
        wanted = {index: decode_mask(want) for index, want in enumerate(local_frame["instances"])}
        for got in remote_frame["instances"]:
            mask = decode_mask(got)
            best = max(wanted, key=lambda index: iou(mask, wanted[index]))
            want = local_frame["instances"][best]
            assert iou(mask, wanted.pop(best)) >= tolerance.mask_iou
            assert got["label"] == want["label"]
            assert got["score"] == pytest.approx(want["score"], abs=tolerance.score)
            assert np.allclose(got["box"], want["box"], atol=tolerance.box_px)


@pytest.mark.slow
@pytest.mark.parametrize("kind", SYNTHETIC)
def test_served_models_give_the_local_answers_over_rest_and_grpc(served, scene, tmp_path, kind):
    server, local = served
    expected = results_of(local[kind], scene, tmp_path)
    assert len(expected[0]["instances"]) == 4  # the scene's four blobs: a test that can fail

    # The exported model prepares the frame in the served graph: the very same computation.
    assert results_of(server.url(f"{kind}-served"), scene, tmp_path) == expected
    # The raw model gets the frame prepared on the client.
    for protocol in ("http", "grpc"):
        assert_same_within_tolerance(results_of(server.url(f"{kind}-raw", protocol), scene, tmp_path), expected,
                                     SYNTHETIC_TOLERANCE)


@pytest.mark.slow
def test_a_served_model_keeps_several_requests_in_flight_and_its_order(served, tmp_path):
    server, local = served
    # A red square that moves right frame after frame: a result out of order would show.
    frames = [synthetic.draw_scene(320, 240, [synthetic.Shape.rect((0, 0, 255), 10 + 8 * n, 20, 70 + 8 * n, 80)])[0]
              for n in range(12)]
    remote = demo.open(server.url("yolo-raw", "grpc"), requests=4)
    nearby = demo.open(local["yolo"], cache_dir=None)
    assert remote.requests == 4
    got = [[i.box for i in result] for result in remote.stream(frames)]
    want = [[i.box for i in result] for result in nearby.stream(frames)]
    assert got == want


def received(server: KServe, name: str) -> list[str]:
    """What the server logged of each request to the model ``name``: 'INPUT DATATYPE [shape]'."""
    prefix = f"{name} received "
    return [line[len(prefix):] for line in server.log.read_text().splitlines() if line.startswith(prefix)]


@pytest.mark.slow
def test_the_client_sends_the_network_sized_input_not_the_frame(served, scene, tmp_path):
    """The 800x600 scene fitted here to yolo's 640x640: an exported model gets that u8 picture (its graph's fit
    leaves it as it is), a raw one its f32 input prepared from it; with --preprocess model the exported
    model gets the whole frame. The answers are the local model's either way."""
    server, local = served
    expected = results_of(local["yolo"], scene, tmp_path)
    for place, exported_gets in (("host", "UINT8 [1, 640, 640, 3]"), ("model", "UINT8 [1, 600, 800, 3]")):
        for protocol in ("http", "grpc"):
            before = len(received(server, "yolo-raw"))
            assert_same_within_tolerance(results_of(server.url("yolo-raw", protocol), scene, tmp_path,
                                                    "--preprocess", place), expected, SYNTHETIC_TOLERANCE)
            assert received(server, "yolo-raw")[before:] == ["images FP32 [1, 3, 640, 640]"]
        before = len(received(server, "yolo-served"))
        assert results_of(server.url("yolo-served"), scene, tmp_path, "--preprocess", place) == expected
        assert received(server, "yolo-served")[before:] == [f"images {exported_gets}"]


def test_the_python_api_opens_a_served_model(served, scene):
    server, local = served
    frame = cv2.imread(str(scene))
    remote, nearby = demo.open(server.url("maskrcnn-served")), demo.open(local["maskrcnn"], cache_dir=None)
    got, want = remote(frame), nearby(frame)
    assert [(i.name, round(i.score, 4), i.box) for i in got] == [(i.name, round(i.score, 4), i.box) for i in want]
    assert len(got.instances) == 4
    streamed = list(remote.stream([frame, frame]))
    assert [len(result.instances) for result in streamed] == [4, 4]


@pytest.mark.slow
def test_benchmark_runs_against_a_served_model(served, scene, tmp_path):
    server, _ = served
    report = tmp_path / "report.json"
    done = run_demo("-m", server.url("yolo-raw", "grpc"), "-i", scene, "--benchmark", "-niter", "8", "-nireq", "2",
                    "--report", report, *DEMO_FLAGS)
    assert done.returncode == 0, done.stderr
    written = json.loads(report.read_text())
    assert written["infer_requests"] == 2 and written["frames"] == 8
    assert written["config"]["PROTOCOL"] == "gRPC" and written["config"]["PREPROCESSING"] == "on this machine (CPU)"
    assert written["inference_only_fps"] > 0


def test_an_exported_model_over_grpc_asks_for_the_rest_address(served, scene):
    server, _ = served
    done = run_demo("-m", server.url("yolo-served", "grpc"), "-i", scene, *DEMO_FLAGS)
    assert done.returncode == 1
    assert "give the REST address" in one_error_line(done.stderr)


@pytest.mark.parametrize("address, code, says", [
    ("http://127.0.0.1:{http}/models/yolo-raw", 2, "not a served model's address"),
    ("grpc://127.0.0.1/v2/models/yolo-raw", 2, "give the server's port"),
    ("http://admin:secret@127.0.0.1:{http}/v2/models/yolo-raw", 2, "DEMO_KSERVE_USER"),
    ("http://127.0.0.1:{http}/v2/models/nothing", 1, "the server has no such model"),
    ("grpc://127.0.0.1:{grpc}/v2/models/nothing", 1, "the server has no such model"),
    ("http://127.0.0.1:{closed}/v2/models/yolo-raw", 1, "cannot reach the server"),
    ("grpc://127.0.0.1:{closed}/v2/models/yolo-raw", 1, "cannot reach the server"),
])
def test_a_wrong_address_is_one_line(served, scene, address, code, says):
    server, _ = served
    url = address.format(http=server.http_port, grpc=server.grpc_port, closed=free_port())
    done = run_demo("-m", url, "-i", scene, *DEMO_FLAGS)
    assert done.returncode == code
    line = one_error_line(done.stderr)
    assert says in line and "secret" not in line


@pytest.mark.slow
def test_a_server_that_never_answers_times_out(scene):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections into the backlog, never answers
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v2/models/m"
        done = run_demo("-m", url, "-i", scene, *DEMO_FLAGS, env={"DEMO_KSERVE_REQUEST_TIMEOUT": "1"}, timeout=60)
    finally:
        silent.close()
    assert done.returncode == 1
    assert "timed out" in one_error_line(done.stderr)


def test_export_refuses_to_replace_anything(served, tmp_path):
    _, local = served
    folder = tmp_path / "repository"
    (folder).mkdir()
    (folder / "config.json").write_text("mine\n")
    done = run_demo("export", local["yolo"], folder)
    assert done.returncode == 2
    assert "config.json already exists" in one_error_line(done.stderr)
    assert (folder / "config.json").read_text() == "mine\n" and not (folder / "yolo").exists()


@pytest.mark.slow
def test_export_writes_what_ovms_reads(served, scene, tmp_path):
    _, local = served
    model = export(local["two-input"], tmp_path / "repository", "blobs")
    config = json.loads((tmp_path / "repository" / "config.json").read_text())
    assert config == {"model_config_list": [{"config": {"name": "blobs", "base_path": "blobs"}}]}
    import openvino as ov
    written = ov.Core().read_model(model)
    image = written.input("im_data")
    assert image.get_element_type() == ov.Type.u8 and str(image.get_partial_shape()) == "[1,?,?,3]"
    assert written.get_rt_info(["model_info", "embedded_processing"]).astype(str) == "YES"
    assert (written.get_rt_info(["model_info", "orig_width"]).astype(str),
            written.get_rt_info(["model_info", "orig_height"]).astype(str)) == ("640", "480")
    # Run here, it would be prepared twice: one line says what it is.
    done = run_demo("-m", model, "-i", scene, *DEMO_FLAGS)
    assert done.returncode == 1 and "made for a model server" in one_error_line(done.stderr)


@pytest.mark.slow
def test_losing_the_server_ends_a_file_run_with_one_line(tmp_path, scene):
    model = SYNTHETIC["yolo"](tmp_path / "yolo.xml")
    with KServe({"yolo": model}, tmp_path / "server.log") as server:
        results = tmp_path / "results.jsonl"
        run = start_demo("-m", server.url("yolo", "grpc"), "-i", scene, "--loop", "--results", results, *DEMO_FLAGS)
        try:
            deadline = time.monotonic() + 60
            # The results go to a hidden file beside results.jsonl until the run ends: the run is under way once
            # that file has lines (waiting for results.jsonl itself spent the whole minute).
            while not any(path.stat().st_size > 0 for path in tmp_path.glob(".results*")) \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
            server.stop()
            # Read while it runs, so that a full pipe cannot stall it; generous, as a loaded machine is slow.
            _, stderr = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()
                print("the demo wrote, before it was killed:", run.communicate()[1])
    code = run.returncode
    assert code == 1
    assert "cannot reach the server" in one_error_line("\n".join(
        line for line in stderr.splitlines() if line.startswith(("error", "[WARNING]", "[ERROR]"))))


@contextmanager
def live_run_on_a_served_model(tmp_path: Path, *flags: str) -> Iterator[tuple[KServe, RawReader]]:
    """A live RTSP stream through a model on a KServe server: the server, and the demo's -r lines."""
    frames = write_numbered_jpegs(tmp_path / "frames")
    model = synthetic.person_0007_like(tmp_path / "blobs.xml", synthetic.DEFAULT_DETECTORS)
    server = KServe({"blobs": model}, tmp_path / "server.log").start()
    try:
        with rtsp_server(frames, 15) as stream:
            yield server, RawReader(start_demo("-m", server.url("blobs", "grpc"), "-i", stream.url, "-r", *flags,
                                               *DEMO_FLAGS))
    finally:
        server.stop()


@pytest.mark.slow
def test_a_live_run_waits_for_a_lost_server_and_goes_on(tmp_path):
    with live_run_on_a_served_model(tmp_path) as (server, reader):
        reader.wait_frames(10)
        server.stop()
        reader.wait_stderr("reconnecting")
        before = len(reader.frames)
        server.start()  # on the same ports
        reader.wait_stderr("is back", timeout=120)
        reader.wait_frames(before + 10)
        reader.process.send_signal(signal.SIGINT)
        assert reader.finish() == 130, reader.stderr
    assert sum("reconnecting" in line for line in reader.stderr) == 1, reader.stderr
    assert [index for index, _, _ in reader.frames] == list(range(len(reader.frames)))
    assert all(number is not None for _, number, _ in reader.frames)


@pytest.mark.slow
def test_a_live_run_gives_up_on_a_lost_server_after_the_reconnect_attempts(tmp_path):
    with live_run_on_a_served_model(tmp_path, "--reconnect", "2") as (server, reader):
        reader.wait_frames(5)
        server.stop()
        code = reader.finish(timeout=30)
    assert code == 1, reader.stderr
    assert sum("reconnecting" in line for line in reader.stderr) == 1, reader.stderr
    assert "did not come back after 2 reconnection attempts" in one_error_line("\n".join(
        line for line in reader.stderr if line.startswith(("error", "[ERROR]")))), reader.stderr


@pytest.mark.slow
@pytest.mark.skipif(not YOLO11.is_file(), reason=f"{YOLO11} is absent (../shared/models)")
def test_a_real_yolo_model_gives_the_local_answers_when_served(tmp_path):
    image = SHARED / "media" / "images" / "enox_street.png"
    exported = export(YOLO11, tmp_path / "repository", "yolo11")
    with KServe({"yolo11": exported, "yolo11-raw": YOLO11}, tmp_path / "server.log") as server:
        expected = results_of(YOLO11, image, tmp_path)
        assert len(expected[0]["instances"]) >= 5  # the street's people and cars
        assert results_of(server.url("yolo11"), image, tmp_path) == expected
        for protocol in ("http", "grpc"):
            assert_same_within_tolerance(results_of(server.url("yolo11-raw", protocol), image, tmp_path), expected,
                                         INT8_TOLERANCE)


def write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it signed for 127.0.0.1 with its key: (ca, certificate, key)."""
    ca, ca_key, certificate, key = (folder / name for name in ("ca.pem", "ca.key", "server.pem", "server.key"))
    quiet = {"check": True, "capture_output": True}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
                    "-days", "2", "-subj", "/CN=demo test CA"], **quiet)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", folder / "server.csr",
                    "-subj", "/CN=127.0.0.1"], **quiet)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    subprocess.run(["openssl", "x509", "-req", "-in", folder / "server.csr", "-CA", ca, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", certificate, "-days", "2", "-extfile", folder / "san.ext"], **quiet)
    return ca, certificate, key


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_https_with_a_ca_file_and_a_bearer_token_from_the_environment(tmp_path, scene):
    ca, certificate, key = write_certificates(tmp_path)
    model = SYNTHETIC["yolo"](tmp_path / "yolo.xml")
    expected = results_of(model, scene, tmp_path)
    token = "s3cret-token"
    with KServe({"yolo": model}, tmp_path / "server.log", ("--ssl_certfile", str(certificate), "--ssl_keyfile",
                                                          str(key)), {"TEST_SERVER_TOKEN": token}) as server:
        url = server.url("yolo", "https")
        trusted = {"DEMO_KSERVE_CA_FILE": str(ca), "DEMO_KSERVE_TOKEN": token}
        results = tmp_path / "over-tls.jsonl"
        done = run_demo("-m", url, "-i", scene, "--results", results, *DEMO_FLAGS, env=trusted)
        assert done.returncode == 0, done.stderr
        assert_same_within_tolerance(read_results(results), expected, SYNTHETIC_TOLERANCE)

        untrusted = run_demo("-m", url, "-i", scene, *DEMO_FLAGS, env={"DEMO_KSERVE_TOKEN": token})
        assert untrusted.returncode == 1
        assert "certificate" in one_error_line(untrusted.stderr).lower()

        no_token = run_demo("-m", url, "-i", scene, *DEMO_FLAGS, env={"DEMO_KSERVE_CA_FILE": str(ca)})
        assert no_token.returncode == 1
        line = one_error_line(no_token.stderr)
        assert "401" in line and token not in line


@pytest.mark.slow
def test_eval_scores_a_served_model_as_the_local_one(served, tmp_path):
    from helpers.coco_sets import write_coco_set
    server, local = served
    annotations, images = write_coco_set(tmp_path)
    scores = []
    for model in (local["two-input"], server.url("two-input-served"), server.url("two-input-raw", "grpc")):
        metrics = tmp_path / "metrics.json"
        done = run_demo("eval", "-m", model, "--annotations", annotations, "--images", images, "--metrics", metrics,
                        "--no_cache")
        assert done.returncode == 0, done.stderr
        scores.append(json.loads(metrics.read_text()))
    assert scores[0]["mask"]["AP"] >= 0.95  # the known shapes, found
    assert scores[1] == scores[0]
    assert scores[2]["box"]["AP"] == pytest.approx(scores[0]["box"]["AP"], abs=1e-3)
    assert scores[2]["mask"]["AP"] == pytest.approx(scores[0]["mask"]["AP"], abs=1e-3)
