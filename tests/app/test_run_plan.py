"""The run plan decides before anything opens; the runner closes whatever opened, however the run ends."""
from __future__ import annotations

import socket

import pytest
from helpers.running import SHARED, one_error_line

from demo.app import flags, plan
from demo.app.cli import main

YOLO = SHARED / "models" / "yolo11n-seg_int8_openvino_model" / "yolo11n-seg.xml"
CLIP = SHARED / "media" / "people-detection-preview.gif"


def planned(*args: str) -> plan.RunPlan:
    return plan.build(flags.build_parser().parse_args(["-m", str(YOLO), "--no_show", *args]))


@pytest.fixture
def listener():
    """A port on 127.0.0.1 that takes connections without answering: a stream that was never opened leaves it
    untouched."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        yield server


def connected(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return False
    return True


def test_one_stream_gets_the_latency_hint_and_reconnects_a_served_model_as_the_stream(listener):
    url = f"rtsp://127.0.0.1:{listener.getsockname()[1]}/live"
    run = planned("-i", url, "--reconnect", "3")
    assert (run.settings.hint, run.settings.reconnect) == ("latency", 3)
    assert run.inputs == (url,) and not run.several
    assert not connected(listener)  # the plan decided it without opening the stream


def test_a_file_keeps_the_default_hint_and_never_waits_for_a_lost_server():
    run = planned("-i", str(CLIP), "--reconnect", "3")
    assert (run.settings.hint, run.settings.reconnect) == (None, 0)


def test_hint_given_wins_over_a_live_input(listener):
    run = planned("-i", f"rtsp://127.0.0.1:{listener.getsockname()[1]}/live", "--hint", "throughput")
    assert run.settings.hint == "throughput"


def test_several_inputs_keep_throughput_and_reconnect_when_one_is_live(listener, tmp_path):
    port = listener.getsockname()[1]
    run = planned("-i", str(CLIP), "-i", f"rtsp://127.0.0.1:{port}/live", "--reconnect", "2",
                  "-o", str(tmp_path / "out_{source}.mp4"))
    assert (run.settings.hint, run.settings.reconnect) == (None, 2)
    assert run.names == ("people-detection-preview", f"127.0.0.1_{port}_live")
    assert run.frame_outputs == {name: str(tmp_path / f"out_{name}.mp4") for name in run.names}
    assert [output.path for output in run.writes] == [tmp_path / f"out_{name}.mp4" for name in run.names]
    assert not connected(listener)


def test_the_plan_lists_every_file_read(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("person\n")
    run = planned("-i", str(CLIP), "--labels", str(labels))
    read = {(named.flag, named.path.name) for named in run.reads}
    assert {("-i", CLIP.name), ("-m", "yolo11n-seg.xml"), ("-m", "yolo11n-seg.bin"), ("--labels", "labels.txt")} <= read


def test_a_model_that_fails_to_load_leaves_no_server_behind(tmp_path, capsys):
    broken = tmp_path / "broken.xml"
    broken.write_text("not a model")
    broken.with_suffix(".bin").write_bytes(b"")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = main(["-m", str(broken), "-i", str(CLIP), "--no_show", "--serve", f"127.0.0.1:{port}"])
    assert code == 1
    assert one_error_line(capsys.readouterr().err).startswith("error: ")
    with socket.socket() as again:  # the live server opened before the model, and was closed when it failed
        again.bind(("127.0.0.1", port))
