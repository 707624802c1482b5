"""Live outputs through ``python -m demo``: the MJPEG stream and its page opened by real clients
(OpenCV's FFmpeg reader, headless Chromium, a raw socket that stops reading) while the demo runs
on a synthetic model, and the virtual camera where a v4l2loopback device exists.
"""
from __future__ import annotations

import http.client
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.running import one_error_line, run_demo, start_demo
from helpers.stream_servers import RawReader, free_port
from helpers.synthetic import Shape

from demo.app import flags
from demo.core.errors import UsageError
from demo.outputs.serve import FrameServer, ServeSettings
from demo.picture.render import status_box

SIZE = (320, 240)
SHAPES = [Shape.rect((0, 0, 255), 30, 60, 130, 200), Shape.ellipse((0, 255, 0), (230, 90), (60, 40)),
          Shape.rect((255, 0, 0), 170, 160, 300, 230)]
DEMO_FLAGS = ("--no_show", "--no_cache", "-r")
CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return synthetic.person_0007_like(tmp_path_factory.mktemp("serve") / "blobs.xml", synthetic.DEFAULT_DETECTORS)


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> tuple[Path, np.ndarray, list[np.ndarray]]:
    """A still scene as a 20-frame clip: every output picture is the same but for the status lines."""
    frame, truths = synthetic.draw_scene(*SIZE, SHAPES)
    clip = synthetic.write_ffv1_video(tmp_path_factory.mktemp("scene") / "scene.mkv", [frame] * 20)
    return clip, frame, truths


@pytest.fixture(scope="module")
def noisy_clip(tmp_path_factory) -> Path:
    """1280x720 frames of grey noise, about 300 KB each as JPEG: the socket buffers of a viewer that
    reads nothing (about 2 MB here) hold a few of them."""
    noise = np.random.default_rng(0).integers(90, 170, (3, 720, 1280, 3), dtype=np.uint8)
    return synthetic.write_ffv1_video(tmp_path_factory.mktemp("noise") / "noise.mkv", list(noise))


@pytest.fixture(scope="module")
def broken_model(tmp_path_factory) -> Path:
    """A model file that fails to load: an error about anything else proves it came first."""
    xml = tmp_path_factory.mktemp("broken") / "broken.xml"
    xml.write_text("not a model")
    xml.with_suffix(".bin").write_bytes(b"")
    return xml


def serving(*args: str | Path) -> tuple[RawReader, str]:
    """The demo started with --serve on a free port, once it listens; and the address served."""
    address = f"127.0.0.1:{free_port()}"
    reader = RawReader(start_demo(*args, "--serve", address, *DEMO_FLAGS))
    reader.wait_stderr("live view at")
    return reader, f"http://{address}"


class StreamViewer:
    """OpenCV reading the stream on a thread of its own, keeping what it read."""

    def __init__(self, url: str, count: int) -> None:
        self.frames: list[np.ndarray] = []
        self.capture = cv2.VideoCapture(url + "/stream.mjpg", cv2.CAP_FFMPEG)
        assert self.capture.isOpened(), f"OpenCV cannot open {url}/stream.mjpg"
        self._thread = threading.Thread(target=self._read, args=(count,), daemon=True)
        self._thread.start()

    def _read(self, count: int) -> None:
        while len(self.frames) < count:
            ok, frame = self.capture.read()
            if not ok:
                break
            self.frames.append(frame)
        self.capture.release()

    def wait(self, timeout: float = 60) -> list[np.ndarray]:
        self._thread.join(timeout)
        return self.frames


def stop(reader: RawReader) -> None:
    reader.process.send_signal(signal.SIGINT)
    assert reader.finish(timeout=20) == 130, reader.stderr


def status_corner() -> np.ndarray:
    """Where the status lines are: their figures change from frame to frame."""
    box = status_box(2)
    corner = np.zeros((SIZE[1], SIZE[0]), bool)
    corner[:box.y2 + 4, :box.x2 + 60] = True
    return corner


def assert_shows(served: np.ndarray, written: np.ndarray, clip_frame: np.ndarray, truths: list[np.ndarray]) -> None:
    """``served`` is the picture the demo wrote, up to JPEG's loss: tinted masks where the shapes are."""
    assert served.shape == written.shape == (SIZE[1], SIZE[0], 3)
    compared = ~status_corner()
    assert np.abs(served[compared].astype(int) - written[compared]).mean() < 3
    for truth in truths:
        inside = cv2.erode(truth.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & compared
        tinted = np.abs(written[inside].astype(int) - clip_frame[inside]).max(axis=1) > 12
        assert tinted.mean() > 0.9, "the written picture shows no mask here: nothing to compare"
        # JPEG rings around the outlines and the names drawn over the shapes, so a share of their pixels
        # is off by more; the tint is 19 levels at least.
        error = np.abs(served[inside].astype(int) - written[inside]).max(axis=1)
        assert np.percentile(error, 90) < 10


@pytest.mark.slow
def test_two_viewers_at_once_get_the_pictures_the_demo_writes_beyond_the_output_limit(model, scene, tmp_path):
    clip, clip_frame, truths = scene
    reader, url = serving("-m", model, "-i", clip, "--loop", "-o", tmp_path / "out_%03d.png", "-limit", "3")
    try:
        viewers = [StreamViewer(url, 12), StreamViewer(url, 12)]
        got = [viewer.wait() for viewer in viewers]
    finally:
        stop(reader)

    assert [len(frames) for frames in got] == [12, 12], reader.stderr
    written = sorted(tmp_path.glob("out_*.png"))
    assert [path.name for path in written] == ["out_000.png", "out_001.png", "out_002.png"]  # -limit 3
    for frames in got:  # 12 pictures each, where -o stopped at 3: the live view is not limited
        for served in frames[::4]:
            assert_shows(served, cv2.imread(str(written[-1])), clip_frame, truths)


def browser_screenshot(url: str, window: tuple[int, int], shot: Path) -> np.ndarray:
    """What headless Chromium shows of the page in a window of ``window`` (w, h)."""
    browser = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                              f"--window-size={window[0]},{window[1]}", "--timeout=3000", url + "/"],
                             capture_output=True, text=True, timeout=60)
    assert shot.exists(), browser.stderr
    return cv2.imread(str(shot))


def assert_fitted_in_the_middle(page: np.ndarray, written: np.ndarray) -> None:
    """The picture fills the page's width or its height, whichever fits, proportions kept, in the middle,
    on black; what it shows is the written picture, scaled."""
    height, width = page.shape[:2]
    scale = min(width / SIZE[0], height / SIZE[1])
    size = (round(SIZE[0] * scale), round(SIZE[1] * scale))
    left, top = (width - size[0]) // 2, (height - size[1]) // 2
    shown = np.flatnonzero(page.max(axis=(1, 2)) > 40), np.flatnonzero(page.max(axis=(0, 2)) > 40)
    assert abs(shown[0][0] - top) <= 1 and abs(shown[0][-1] + 1 - (top + size[1])) <= 1, (shown[0][[0, -1]], top)
    assert abs(shown[1][0] - left) <= 1 and abs(shown[1][-1] + 1 - (left + size[0])) <= 1, (shown[1][[0, -1]], left)
    picture = page[top:top + size[1], left:left + size[0]].astype(int)
    expected = cv2.resize(written, size, interpolation=cv2.INTER_LINEAR).astype(int)
    compared = ~cv2.resize(status_corner().view(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    assert np.abs(picture - expected)[compared].mean() < 6


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt install chromium-headless-shell)")
def test_a_browser_shows_the_page_fitted_to_its_window_while_opencv_reads_the_stream(model, scene, tmp_path):
    clip, clip_frame, truths = scene
    reader, url = serving("-m", model, "-i", clip, "--loop", "-o", tmp_path / "out_%03d.png", "-limit", "1")
    viewer = StreamViewer(url, 10_000)
    try:
        reader.wait_for(lambda: viewer.frames, "a first picture for OpenCV")
        before = len(viewer.frames)
        # The picture's own size, then a tall window and a wide one: it grows to fit, in the middle.
        pages = [browser_screenshot(url, window, tmp_path / f"page_{window[0]}x{window[1]}.png")
                 for window in (SIZE, (400, 600), (800, 260))]
        during = len(viewer.frames) - before
    finally:
        stop(reader)
        viewer.wait()

    assert during > 0, "OpenCV got nothing while the browser watched"
    written = cv2.imread(str(tmp_path / "out_000.png"))
    assert_shows(pages[0], written, clip_frame, truths)
    for page in pages[1:]:
        assert_fitted_in_the_middle(page, written)


def stalled_viewer(url: str) -> socket.socket:
    """Asks for the stream and never reads: a tiny receive buffer, so the server's send to it blocks."""
    viewer = socket.socket()
    viewer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = url.removeprefix("http://").split(":")
    viewer.connect((host, int(port)))
    viewer.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
    return viewer


def parts_received(viewer: socket.socket) -> int:
    """What the stalled viewer was sent, read once the server has ended its connection."""
    viewer.settimeout(10)
    data = b""
    try:
        while chunk := viewer.recv(1 << 16):
            data += chunk
    except ConnectionResetError:
        pass
    viewer.close()
    return data.count(b"--frame\r\nContent-Type: image/jpeg\r\n")


@pytest.mark.slow
def test_a_viewer_that_stops_reading_slows_neither_the_run_nor_the_other_viewer(model, noisy_clip):
    reader, url = serving("-m", model, "-i", noisy_clip, "--loop")
    try:
        stalled = stalled_viewer(url)
        reader.wait_frames(1)
        at_connect = len(reader.frames)
        viewer = StreamViewer(url, 20)
        assert len(viewer.wait()) == 20, reader.stderr
        reader.wait_frames(at_connect + 40)
        processed = len(reader.frames) - at_connect
    finally:
        stop(reader)  # with the stalled viewer still connected: the run ends all the same

    sent = parts_received(stalled)
    print(f"the stalled viewer was sent {sent} of the {processed} pictures made while it was connected")
    # 40 pictures of 300 KB are 12 MB, beyond what the kernel buffers for a viewer that reads nothing.
    assert sent < processed / 2, (sent, processed)


@pytest.mark.slow
def test_the_end_of_the_input_ends_the_server_and_its_viewers_connections(model, scene):
    clip, _, _ = scene
    reader, url = serving("-m", model, "-i", clip)
    stalled = stalled_viewer(url)  # before the model has loaded: it is there for every frame
    assert reader.finish(timeout=60) == 0, reader.stderr
    assert len(reader.frames) == 20
    assert parts_received(stalled) >= 1  # and the connection was ended: recv saw its end


def test_a_port_in_use_is_one_line_before_the_model_loads(broken_model, scene):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_demo("-m", broken_model, "-i", scene[0], "--no_show", "--serve", f"127.0.0.1:{port}")
    assert run.returncode == 2
    assert one_error_line(run.stderr) == (f"error: --serve 127.0.0.1:{port}: the port is in use by another "
                                          "program; choose another port")


@pytest.mark.parametrize(("given", "address"), [
    ("8080", ("127.0.0.1", 8080)), (":8080", ("127.0.0.1", 8080)), ("0.0.0.0:8080", ("0.0.0.0", 8080)),
    ("[::1]:8080", ("::1", 8080)), ("http://0.0.0.0:8080/", ("0.0.0.0", 8080)), ("localhost:0", ("localhost", 0)),
])
def test_serve_takes_what_a_user_types(given, address):
    args = flags.build_parser().parse_args(["--serve", given])
    assert (flags.serve_settings(args).host, flags.serve_settings(args).port) == address
    as_output = flags.build_parser().parse_args(["-o", f"http://{address[0]}:{address[1]}/".replace("::1", "[::1]")])
    assert flags.serve_settings(as_output) == flags.serve_settings(args)
    assert flags.file_output(as_output) is None


@pytest.mark.parametrize(("given", "says"), [
    (["--serve", "70000"], "a port from 0 to 65535"),
    (["--serve", "::1:8080"], "IPv6 host goes in brackets"),
    (["-o", "http://0.0.0.0:8080/live"], "give no path"),
    (["-o", "https://0.0.0.0:8080/"], "plain HTTP"),
    (["--serve", "8080", "-o", "http://0.0.0.0:8081/"], "not both"),
])
def test_a_bad_serve_address_is_one_line(given, says):
    with pytest.raises(UsageError, match=says):
        flags.serve_settings(flags.build_parser().parse_args(given))


def test_a_host_that_is_not_this_machines_is_one_line():
    with pytest.raises(UsageError, match="cannot resolve host 'no-such-host.invalid'"):
        FrameServer(ServeSettings("no-such-host.invalid", 0))
    with pytest.raises(UsageError, match="not one of this machine's"):
        FrameServer(ServeSettings("192.0.2.1", 0))  # TEST-NET-1: never a local address


def asked_by_name(url: str, host: str, path: str = "/") -> tuple[int, str]:
    """A request for ``path`` whose Host header is ``host``, as a page DNS-rebound to the view sends it:
    the status and the start of the body."""
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read(2000).decode(errors="replace")
    finally:
        connection.close()


def test_the_view_answers_only_to_the_names_it_was_started_for(model, scene):
    clip, _, _ = scene
    reader, url = serving("-m", model, "-i", clip, "--loop", "--allowed_host", "cam.lan")
    port = url.rpartition(":")[2]
    try:
        answers = {host: asked_by_name(url, f"{host}:{port}")
                   for host in ("127.0.0.1", "localhost", "cam.lan", "rebound.example")}
        stream = asked_by_name(url, f"rebound.example:{port}", "/stream.mjpg")
    finally:
        stop(reader)
    for host in ("127.0.0.1", "localhost", "cam.lan"):  # the last one by --allowed_host
        assert answers[host][0] == 200 and '<img src="/stream.mjpg"' in answers[host][1], answers[host]
    for status, body in (answers["rebound.example"], stream):
        assert status == 403
        assert "not to 'rebound.example'; to open it by that name, start the demo with --allowed_host " \
               "rebound.example" in body
    assert any(line.startswith("[WARNING] refused a viewer:") and "--allowed_host rebound.example" in line
               for line in reader.stderr), reader.stderr


def test_a_star_allows_any_name_and_allowing_names_needs_a_live_view():
    server = FrameServer(ServeSettings("127.0.0.1", 0, allowed_hosts=("*",)))
    try:
        assert asked_by_name(server.url.rstrip("/"), "rebound.example")[0] == 200
    finally:
        server.close()
    with pytest.raises(UsageError, match="--allowed_host names who may open the live view: give --serve too"):
        flags.serve_settings(flags.build_parser().parse_args(["--allowed_host", "cam.lan"]))


# ---------------------------------------------------------------------------
# Virtual camera
# ---------------------------------------------------------------------------


def loopback_device() -> str | None:
    """A v4l2loopback device the library can open, found as the demo finds it; None if there is none."""
    import pyvirtualcam

    try:
        with pyvirtualcam.Camera(*SIZE, 10, fmt=pyvirtualcam.PixelFormat.BGR) as camera:
            return camera.device
    except RuntimeError:
        return None


def test_no_virtual_camera_is_one_line_saying_what_to_install_before_the_model_loads(broken_model, scene):
    if loopback_device():
        pytest.skip("this machine has a virtual camera: the missing-device error cannot happen")
    run = run_demo("-m", broken_model, "-i", scene[0], "--no_show", "--virtual_camera")
    assert run.returncode == 2
    line = one_error_line(run.stderr)
    assert line.startswith("error: --virtual_camera: no virtual camera to send to (")
    assert "sudo modprobe v4l2loopback" in line and "v4l2loopback-dkms" in line


def test_a_virtual_camera_device_that_is_not_there_is_named(broken_model, scene):
    run = run_demo("-m", broken_model, "-i", scene[0], "--no_show", "--virtual_camera", "/dev/video-none")
    assert run.returncode == 2
    assert "/dev/video-none does not exist" in one_error_line(run.stderr)


def test_the_virtual_camera_shows_what_the_demo_writes(model, scene, tmp_path):
    device = loopback_device()
    if device is None:
        pytest.skip("no v4l2loopback device (sudo modprobe v4l2loopback exclusive_caps=1)")
    clip, clip_frame, truths = scene
    reader = RawReader(start_demo("-m", model, "-i", clip, "--loop", "--virtual_camera", device,
                                  "-o", tmp_path / "out_%03d.png", "-limit", "1", *DEMO_FLAGS))
    try:
        reader.wait_stderr("virtual camera:")
        reader.wait_frames(3)
        capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
        pictures = [capture.read()[1] for _ in range(5)]
        capture.release()
    finally:
        stop(reader)
    for picture in pictures:
        assert_shows(picture, cv2.imread(str(tmp_path / "out_000.png")), clip_frame, truths)


def test_closing_the_server_ends_a_stalled_viewers_connection_and_thread(scene):
    server = FrameServer(ServeSettings(port=0))
    stalled = stalled_viewer(server.url.rstrip("/"))
    headers = b""
    while not headers.endswith(b"\r\n\r\n"):  # the response has begun: its thread is in the stream
        headers += stalled.recv(1)
    for _ in range(20):  # more than its buffers take: its thread blocks in a send
        server.write(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8))
    server.close()
    serving = [thread for thread in threading.enumerate() if "process_request_thread" in thread.name]
    assert not serving, "a viewer's thread is still there after close"
    assert parts_received(stalled) >= 1  # then the end of the connection, not a time-out
