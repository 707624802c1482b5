"""Models and the sample clip by name, fetched from a local server through the mirror settings: never the internet."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import filesystems
from helpers.mirror import CLIP_FRAMES, PERSON, SECURITY, World, pattern_bytes, settle
from helpers.results import read_results
from helpers.running import ROOT, SHARED, run_demo

from demo.core.errors import DemoError, UsageError
from demo.model import catalogue, download
from demo.model.geometry import ResizePolicy


def leftovers(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def last_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    return stderr.strip().splitlines()[-1]


def fetcher(world: World, tries: int = 3) -> download.Fetcher:
    return download.Fetcher({download.MODEL_ORIGIN: world.server.url}, tries=tries, backoff=0.01)


def security_bin(world: World) -> catalogue.RemoteFile:
    return catalogue.load_catalogue(world.catalogue).models[SECURITY].files("FP32")[1]


# Through the command line, as a user runs it.

def test_download_by_name_puts_verified_files_in_place(world, tmp_path):
    out = tmp_path / "out"
    run = run_demo("download", PERSON, SECURITY, "--precision", "FP16", "--output_dir", out, env=world.env)

    assert run.returncode == 0, run.stderr
    assert f"skipping {SECURITY}: it has no FP16 files (it has FP32)" in run.stderr
    assert sorted(leftovers(out)) == [out / PERSON / "FP16" / f"{PERSON}.bin", out / PERSON / "FP16" / f"{PERSON}.xml"]
    for path in leftovers(out):
        assert path.read_bytes() == world.bodies[path.name]


@pytest.mark.slow
def test_second_download_is_a_cache_hit_and_a_damaged_file_is_fetched_again(world, tmp_path):
    out = tmp_path / "out"
    assert run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", out, env=world.env).returncode == 0
    xml, weights = out / SECURITY / "FP32" / f"{SECURITY}.xml", out / SECURITY / "FP32" / f"{SECURITY}.bin"
    fetched = len(world.server.state.requests)
    stamps = [xml.stat().st_mtime_ns, weights.stat().st_mtime_ns]

    again = run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", out, env=world.env)

    assert again.returncode == 0, again.stderr
    assert len(world.server.state.requests) == fetched == 2
    assert [xml.stat().st_mtime_ns, weights.stat().st_mtime_ns] == stamps
    assert again.stderr.count("present and verified") == 2

    weights.write_bytes(b"x" * weights.stat().st_size)  # same size, wrong content
    repaired = run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", out, env=world.env)

    assert repaired.returncode == 0, repaired.stderr
    assert world.server.state.requests[fetched:] == [(world.path_of(weights.name), None)]
    assert weights.read_bytes() == world.bodies[weights.name]


def remote_file_of(path: Path) -> catalogue.RemoteFile:
    body = path.read_bytes()
    return catalogue.RemoteFile(path.name, "https://example.invalid/" + path.name, len(body), "sha384",
                               hashlib.sha384(body).hexdigest())


def test_a_settled_verified_file_is_not_hashed_again_until_it_changes(tmp_path, monkeypatch):
    weights = tmp_path / "model.bin"
    weights.write_bytes(os.urandom(4096))
    file = remote_file_of(weights)
    settle(weights)
    assert download.verified_once(weights, file)

    def no_hashing(*args):
        raise AssertionError("hashed again")

    with monkeypatch.context() as patched:
        patched.setattr(hashlib, "file_digest", no_hashing)
        assert download.verified_once(weights, file)

    weights.write_bytes(b"x" * file.size)  # same size, other content, a new modification time
    settle(weights, 1800)
    assert not download.verified_once(weights, file)
    assert [path.name for path in tmp_path.iterdir()] == ["model.bin"]  # the stale stamp is gone


def test_a_file_changed_just_now_is_hashed_every_time(tmp_path):
    weights = tmp_path / "model.bin"
    weights.write_bytes(os.urandom(4096))
    file = remote_file_of(weights)
    assert download.verified_once(weights, file)
    assert [path.name for path in tmp_path.iterdir()] == ["model.bin"]  # no stamp for a file this fresh


def test_not_found_is_one_line_and_leaves_nothing(world, tmp_path):
    path = world.path_of(f"{SECURITY}.bin")
    del world.server.state.files[path]
    out = tmp_path / "out"

    run = run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", out, env=world.env)

    assert run.returncode == 1
    assert last_line(run.stderr) == f"error: {world.server.url}{path}: HTTP 404 Not Found"
    assert leftovers(out) == [out / SECURITY / "FP32" / f"{SECURITY}.xml"]  # the one that was there is kept


def test_checksum_mismatch_removes_the_download(world, tmp_path):
    path = world.path_of(f"{SECURITY}.bin")
    world.server.state.files[path] = pattern_bytes(len(world.bodies[f"{SECURITY}.bin"]), seed=7)
    out = tmp_path / "out"

    run = run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", out, env=world.env)

    assert run.returncode == 1
    line = last_line(run.stderr)
    assert line.startswith(f"error: {world.server.url}{path}: sha384 checksum mismatch")
    assert line.endswith("the download was removed")
    assert not (out / SECURITY / "FP32" / f"{SECURITY}.bin").exists()
    assert [p.name for p in leftovers(out)] == [f"{SECURITY}.xml"]


def test_offline_is_one_line(world, tmp_path):
    with socket.socket() as probe:  # a port that nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    listing = tmp_path / "models.lst"  # the world's models: its catalogue has no matting models
    listing.write_text(f"{PERSON}\ninstance-segmentation-security-????\n")

    run = run_demo("download", "--list", listing, "--precision", "FP32", "--output_dir", tmp_path / "out",
                   env={**world.env, "OMZ_MIRROR": f"http://127.0.0.1:{port}"})

    assert run.returncode == 1
    assert last_line(run.stderr) == f"error: cannot reach 127.0.0.1:{port}: Connection refused (offline?)"
    assert leftovers(tmp_path / "out") == []


def test_ctrl_c_mid_download_leaves_no_part_file(world, tmp_path):
    world.server.state.stall.add(world.path_of(f"{SECURITY}.bin"))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "demo", "download", SECURITY, "--precision", "FP32", "--output_dir", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **world.env},
                               stderr=subprocess.PIPE, text=True)
    try:
        assert world.server.state.stalled.wait(timeout=60), "the download never started"
        assert any(path.name.endswith(".part") for path in leftovers(out))  # mid-download, as the test means
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()

    assert process.returncode == 130, stderr
    assert [p.name for p in leftovers(out)] == [f"{SECURITY}.xml"]


@pytest.mark.slow
def test_no_arguments_runs_the_default_model_on_the_sample_clip(world, tmp_path):
    results = tmp_path / "results.jsonl"

    run = run_demo("--no_show", "--no_cache", "--results", results, env=world.env)

    assert run.returncode == 0, run.stderr
    assert f"model {PERSON} on CPU, resize stretch" in run.stderr
    records = read_results(results)
    assert [r["frame"] for r in records] == list(range(CLIP_FRAMES))
    for number, record in enumerate(records):
        assert [i["name"] for i in record["instances"]] == ["person"]
        truth = [40 + 10 * number, 60, 300 + 10 * number, 400]
        assert max(abs(a - b) for a, b in zip(record["instances"][0]["box"], truth)) <= 3
    cached = world.cache / "openvino-segmentation-demo"
    assert sorted(p.relative_to(cached).as_posix() for p in leftovers(cached)) == [
        "media/clip.mkv", f"models/{PERSON}/FP16/{PERSON}.bin", f"models/{PERSON}/FP16/{PERSON}.xml"]

    fetched = len(world.server.state.requests)
    again = run_demo("-m", PERSON, "--no_show", "--no_cache", "-limit", "1", "--results", results, env=world.env)

    assert again.returncode == 0, again.stderr
    assert len(world.server.state.requests) == fetched == 3
    assert len(read_results(results)) == 1


def test_unknown_model_name_is_a_usage_error(world, clip):
    run = run_demo("-m", "instance-segmentation-person-9999", "-i", clip, env=world.env)

    assert run.returncode == 2
    assert last_line(run.stderr).startswith(
        "error: model 'instance-segmentation-person-9999' is neither a file, a folder nor a known model name")


# The download itself, with retries kept short.

def test_resumes_after_a_dropped_connection(world, tmp_path):
    file = security_bin(world)
    path = world.path_of(file.name)
    world.server.state.drop_once.add(path)

    target = download.fetch(file, tmp_path, fetcher(world))

    assert target.read_bytes() == world.bodies[file.name]
    assert world.server.state.requests == [(path, None), (path, f"bytes={file.size // 2}-")]
    assert leftovers(tmp_path) == [target]


def test_starts_over_when_the_server_cannot_resume(world, tmp_path):
    file = security_bin(world)
    path = world.path_of(file.name)
    world.server.state.drop_once.add(path)
    world.server.state.ranges = False

    target = download.fetch(file, tmp_path, fetcher(world))

    assert target.read_bytes() == world.bodies[file.name]
    assert [r[0] for r in world.server.state.requests] == [path, path]


def test_gives_up_after_a_bounded_number_of_tries(world, tmp_path):
    file = security_bin(world)
    world.server.state.drop_always.add(world.path_of(file.name))

    with pytest.raises(DemoError, match=r"download failed after 3 tries \(connection dropped at \d+ of 200000 bytes"):
        download.fetch(file, tmp_path, fetcher(world, tries=3))

    assert len(world.server.state.requests) == 3
    assert leftovers(tmp_path) == []


def test_truncated_file_is_refused_and_removed(world, tmp_path):
    file = security_bin(world)
    path = world.path_of(file.name)
    world.server.state.files[path] = world.bodies[file.name][:150_000]

    with pytest.raises(DemoError, match="expected 200000 bytes, got 150000; the download was removed"):
        download.fetch(file, tmp_path, fetcher(world))

    assert len(world.server.state.requests) == 1  # a whole answer that is too short is not worth retrying
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mirror", ["ftp://example.org", "127.0.0.1:8000"])
def test_mirror_must_be_http(monkeypatch, mirror):
    monkeypatch.setenv("OMZ_MIRROR", mirror)
    with pytest.raises(UsageError, match="must be an http:// or https:// URL"):
        download.Fetcher.from_environment()


# The bundled catalogue and models.lst.

def test_models_lst_names_exactly_the_catalogue_models():
    known = catalogue.load_catalogue(catalogue.BUNDLED_CATALOGUE).models
    assert catalogue.read_model_list(ROOT / "models.lst", known) == [
        PERSON, SECURITY, "instance-segmentation-security-0091", "instance-segmentation-security-0228",
        "instance-segmentation-security-1039", "instance-segmentation-security-1040",
        "robust-video-matting-mobilenetv3", "background-matting-mobilenetv2"]


@pytest.mark.parametrize(("name", "file", "size", "sha384"), [
    ("robust-video-matting-mobilenetv3", "robust_video_matting_mobilenetv3.onnx", 14981904,
     "d6eeb320496d9a7de7d740806f1edf4c7144d97bffec0f279abd2eb3c6c8f3dd9b311eb48f8e70478a1d4e8c172ea720"),
    ("background-matting-mobilenetv2", "bgm_mobilenetv2.onnx", 20006715,
     "3fc7bad659149e3e9e0feb4ef531c177ab158e5bbcfdabba9952c3832053f353d23560ff488aeae857245734ef639e6b"),
])
def test_a_matting_model_is_one_onnx_file_whatever_the_precision(name, file, size, sha384):
    """As Open Model Zoo's model.yml (7ef5b91f) lists it: one ONNX file, FP32, no COCO AP."""
    info = catalogue.load_catalogue(catalogue.BUNDLED_CATALOGUE).models[name]

    assert (info.box_ap, info.mask_ap, info.input_size, info.resize) == (None, None, (1280, 720), ResizePolicy.STRETCH)
    for precision in catalogue.PRECISIONS:
        (onnx,) = info.files(precision)
        assert info.precision_for(precision) == "FP32"
        assert (onnx.name, onnx.size, onnx.algorithm, onnx.digest) == (file, size, "sha384", sha384)
        assert onnx.url == f"https://github.com/DmitriySidnev/{onnx.url.split('/')[4]}/raw/master/onnx/{file}"


def test_precision_a_model_lacks_is_a_usage_error():
    person = catalogue.load_catalogue(catalogue.BUNDLED_CATALOGUE).models[PERSON]
    with pytest.raises(UsageError, match=f"{PERSON} has no FP16-INT8 files \\(it has FP16, FP32\\)"):
        person.files("FP16-INT8")


def test_default_resize_comes_from_the_catalogue(tmp_path):
    policies = {name: entry.resize for name, entry in catalogue.load_catalogue(catalogue.BUNDLED_CATALOGUE).models.items()}
    fit = {SECURITY, "instance-segmentation-security-0091"}
    assert policies == {name: ResizePolicy.FIT if name in fit else ResizePolicy.STRETCH for name in policies}
    # A model given as a path brings no facts, whatever its file is called: it says itself, or its kind's default holds.
    named_like_one = tmp_path / f"{SECURITY}.xml"
    named_like_one.touch()
    assert download.resolve_model(named_like_one, "FP16", tmp_path, download.Fetcher()).facts == catalogue.ModelFacts()


def test_catalogue_carries_the_open_model_zoo_facts():
    source = SHARED / "omz" / "models.json"
    if not source.is_file():
        pytest.skip(f"{source} is absent: the shared data folder is not beside the project")
    facts = json.loads(source.read_text())["models"]
    bundled = catalogue.load_catalogue(catalogue.BUNDLED_CATALOGUE).models

    # The shared facts cover the instance segmentation models, which have a COCO AP; matting models are above.
    assert sorted(name for name, info in bundled.items() if info.box_ap is not None) == sorted(facts)
    for name, fact in facts.items():
        info = bundled[name]
        _, _, height, width = fact["input"][0]["shape"]
        accuracy = fact["accuracy_check"]
        assert (info.input_size, info.resize.value, info.box_ap, info.mask_ap) == (
            (width, height), accuracy["resize"], accuracy["coco_box_AP"], accuracy["coco_mask_AP"])
        ours = {f"{precision}/{f.name}": (f.url, f.size, f.algorithm, f.digest)
                for precision, files in info.precisions.items() for f in files}
        assert ours == {f["name"]: (f["url"], f["size"], "sha384", f["sha384"]) for f in fact["files"]}


def test_sample_clip_entry_matches_the_shared_copy():
    clip = catalogue.load_catalogue(catalogue.BUNDLED_CATALOGUE).sample_clip
    shared = SHARED / "media" / clip.name
    if not shared.is_file():
        pytest.skip(f"{shared} is absent: the shared data folder is not beside the project")
    assert clip.url.startswith(download.MEDIA_ORIGIN + "/intel-iot-devkit/sample-videos/")
    assert download.verified(shared, clip)


# Failures that are not the network's, and a network that is there but silent.

@pytest.fixture
def silent_server():
    """Accepts every connection and never sends a byte; yields (URL, the connections accepted)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def hold() -> None:
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                pass

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    done.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.mark.slow
def test_a_mirror_that_never_answers_fails_once_in_one_line(world, silent_server, tmp_path):
    url, accepted = silent_server

    run = run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", tmp_path / "out",
                   env={**world.env, "OMZ_MIRROR": url})

    assert run.returncode == 1
    host = url.removeprefix("http://")
    assert last_line(run.stderr) == f"error: {host} accepted the connection but sent no answer within 10 s"
    assert len(accepted) == 1  # not retried: the time a user waits is one time-out, not three
    assert [p.name for p in leftovers(tmp_path / "out")] == []


def test_silence_after_some_data_is_retried_and_resumed(world, tmp_path):
    file = security_bin(world)
    path = world.path_of(file.name)
    world.server.state.stall_once.add(path)
    quick = download.Fetcher({download.MODEL_ORIGIN: world.server.url}, backoff=0.01, timeout=0.5)

    target = download.fetch(file, tmp_path, quick)

    assert target.read_bytes() == world.bodies[file.name]
    assert world.server.state.requests == [(path, None), (path, f"bytes={file.size // 2}-")]


def test_a_full_disk_is_reported_as_such_and_not_retried(world, tmp_path):
    with filesystems.full_tmpfs(tmp_path / "models") as models:
        run = run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", models, env=world.env)
        left = [p.name for p in leftovers(models)]

    assert run.returncode == 1
    assert last_line(run.stderr) == f"error: cannot write in {models / SECURITY / 'FP32'}: No space left on device"
    assert "connection dropped" not in run.stderr and "trying again" not in run.stderr
    assert len(world.server.state.requests) == 1
    assert left == [".filler"]  # no .part file left behind


def test_a_read_only_models_folder_is_one_line(world, tmp_path):
    with filesystems.tmpfs(tmp_path / "models", read_only=True) as models:
        run = run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", models, env=world.env)

    assert run.returncode == 1
    assert last_line(run.stderr) == f"error: cannot write in {models / SECURITY / 'FP32'}: Read-only file system"
    assert world.server.state.requests == []


@pytest.mark.slow
def test_a_read_only_folder_of_verified_files_still_serves_them(world, tmp_path):
    out = tmp_path / "out"
    assert run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", out, env=world.env).returncode == 0
    fetched = len(world.server.state.requests)

    with filesystems.read_only_bind(out):
        again = run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", out, env=world.env)

    assert again.returncode == 0, again.stderr
    assert again.stderr.count("present and verified") == 2
    assert len(world.server.state.requests) == fetched


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_downloaded_files_honour_the_umask(world, tmp_path, umask, mode):
    file = security_bin(world)
    previous = os.umask(umask)
    try:
        target = download.fetch(file, tmp_path, fetcher(world))
    finally:
        os.umask(previous)

    assert target.stat().st_mode & 0o777 == mode
