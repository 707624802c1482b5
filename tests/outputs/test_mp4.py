""".mp4 output is H.264 as a browser takes it: checked by decoding it back, by ffprobe, by its atoms,
and by headless Chromium playing it in a <video> element served over HTTP on 127.0.0.1.

Every frame carries its own number as eight black or white squares, so a decoded frame says which
frame it is, whoever decoded it.
"""
from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from helpers import filesystems, heavy_model, synthetic
from helpers.running import ROOT, lines_written, run_demo, start_demo, wait_until
from helpers.stream_servers import RawReader, rtsp_server, served, write_numbered_jpegs

from demo.core.errors import DemoError
from demo.outputs.sinks import VideoSettings, VideoSink

SIZE = (160, 96)  # (w, h)
SQUARE = 16
BITS = 8


def numbered_frame(number: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A frame showing ``number`` in binary as squares along the top, over a colour that changes with it."""
    width, height = size
    image = np.empty((height, width, 3), np.uint8)
    image[:] = (40 + 3 * number % 180, 200 - 2 * number % 150, 90)
    image[SQUARE:, : width // 2] = (30, 160, 220)  # a second, fixed colour, to see the conversion's accuracy
    for bit in range(BITS):
        image[:SQUARE, bit * SQUARE:(bit + 1) * SQUARE] = 255 if number >> bit & 1 else 0
    return image


def number_shown(image: np.ndarray) -> int:
    """The number a frame of :func:`numbered_frame` shows, read at the squares' centres."""
    centre = SQUARE // 2
    return sum(1 << bit for bit in range(BITS) if image[centre, bit * SQUARE + centre].mean() > 128)


def write_mp4(path: Path, count: int, fps: float, settings: VideoSettings = VideoSettings(),
              size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    frames = [numbered_frame(n, size) for n in range(count)]
    with VideoSink(path, fps, settings) as sink:
        for frame in frames:
            sink.write(frame)
    return frames


def decoded(path: Path) -> list[np.ndarray]:
    """Every frame as FFmpeg (PyAV's) decodes it, in presentation order, as BGR."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]


def ffprobe(path: Path, *options: str) -> dict:
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is not installed (Debian: apt install ffmpeg)")
    done = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *options, str(path)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def top_level_atoms(path: Path) -> list[tuple[str, int]]:
    """The type and size of an MP4's top-level boxes, in file order (ISO/IEC 14496-12: 32-bit size,
    type, a 64-bit size when the first is 1, to the end of the file when it is 0)."""
    atoms = []
    with path.open("rb") as file:
        end = os.fstat(file.fileno()).st_size
        offset = 0
        while offset < end:
            file.seek(offset)
            size, kind = struct.unpack(">I4s", file.read(8))
            if size == 1:
                size = struct.unpack(">Q", file.read(8))[0]
            elif size == 0:
                size = end - offset
            assert size >= 8, f"a box of {size} bytes at {offset}"
            atoms.append((kind.decode("latin-1"), size))
            offset += size
    return atoms


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --- The file ---------------------------------------------------------------------------------

def test_every_frame_decodes_back_in_order_close_to_what_was_written(tmp_path):
    path = tmp_path / "out.mp4"
    written = write_mp4(path, 60, fps=25.0)

    frames = decoded(path)

    assert [number_shown(frame) for frame in frames] == list(range(60))
    assert max(mean_difference(frame, original) for frame, original in zip(frames, written)) < 2.0
    # The flat colours come back within a few levels: the BGR/YUV conversion is BT.601 both ways.
    assert np.abs(frames[30][60, 20].astype(int) - (30, 160, 220)).max() <= 3


def test_the_stream_is_h264_high_yuv420p_tagged_bt601(tmp_path):
    path = tmp_path / "out.mp4"
    write_mp4(path, 10, fps=25.0)

    [stream] = ffprobe(path, "-show_streams")["streams"]

    assert (stream["codec_name"], stream["profile"], stream["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert (stream["width"], stream["height"]) == SIZE
    assert (stream["color_space"], stream["color_range"]) == ("smpte170m", "tv")
    assert int(stream["nb_frames"]) == 10


def test_the_index_comes_before_the_frames_so_it_plays_while_loading(tmp_path):
    path = tmp_path / "out.mp4"
    write_mp4(path, 10, fps=25.0)

    atoms = [kind for kind, _ in top_level_atoms(path)]

    assert atoms[0] == "ftyp" and "moov" in atoms and "mdat" in atoms
    assert atoms.index("moov") < atoms.index("mdat")


@pytest.mark.parametrize("fps, rate", [(25.0, "25/1"), (30000 / 1001, "30000/1001"), (12.5, "25/2")])
def test_frame_n_is_at_n_over_fps_and_the_duration_is_exact(tmp_path, fps, rate):
    path = tmp_path / "out.mp4"
    write_mp4(path, 30, fps=fps)

    probe = ffprobe(path, "-show_streams", "-show_frames", "-show_entries", "frame=pts_time:stream=r_frame_rate,duration")
    times = [float(frame["pts_time"]) for frame in probe["frames"]]

    [stream] = probe["streams"]
    assert stream["r_frame_rate"] == rate
    assert times == pytest.approx([n / Fraction(rate) for n in range(30)], abs=1e-4)
    assert float(stream["duration"]) == pytest.approx(30 / Fraction(rate), abs=1e-4)


def test_an_odd_size_is_padded_with_black_to_even_and_keeps_every_pixel_in_place(tmp_path):
    path = tmp_path / "out.mp4"
    written = write_mp4(path, 5, fps=25.0, size=(45, 31))

    frames = decoded(path)
    with av.open(str(path)) as container:
        luma = [frame.to_ndarray()[:32] for frame in container.decode(video=0)]  # yuv420p: Y, then U and V

    assert [frame.shape for frame in frames] == [(32, 46, 3)] * 5
    for frame, original, y in zip(frames, written, luma):
        assert mean_difference(frame[:31, :45], original) < 3.0
        # The padding is black (Y = 16). In 4:2:0 it shares a colour sample with the last row and
        # column, so in BGR it shows a dark tint of them rather than pure black.
        assert y[31, 2:43].max() <= 20 and y[2:29, 45].max() <= 20


def test_a_lower_crf_is_a_larger_and_closer_file(tmp_path):
    noisy = np.random.default_rng(0).integers(0, 256, (SIZE[1], SIZE[0], 3), np.uint8)
    files_by_crf = {}
    for crf in (10, 35):
        path = files_by_crf[crf] = tmp_path / f"crf{crf}.mp4"
        with VideoSink(path, 25.0, VideoSettings(crf)) as sink:
            for n in range(5):
                sink.write(cv2.addWeighted(noisy, 0.5, numbered_frame(n), 0.5, 0))
    fine, coarse = (decoded(files_by_crf[crf])[2] for crf in (10, 35))
    original = cv2.addWeighted(noisy, 0.5, numbered_frame(2), 0.5, 0)

    assert files_by_crf[10].stat().st_size > 2 * files_by_crf[35].stat().st_size
    assert mean_difference(fine, original) < mean_difference(coarse, original)


def test_crf_0_is_lossless_in_yuv420p(tmp_path):
    path = tmp_path / "out.mp4"
    written = write_mp4(path, 5, fps=25.0, settings=VideoSettings(crf=0))

    with av.open(str(path)) as container:
        planes = [frame.to_ndarray() for frame in container.decode(video=0)]

    assert len(planes) == 5
    for plane, original in zip(planes, written):
        assert np.array_equal(plane, cv2.cvtColor(original, cv2.COLOR_BGR2YUV_I420))


def test_into_a_pipe_it_is_a_fragmented_mp4_that_plays_whole(tmp_path):
    """A pipe cannot seek back to put the index first, so the index comes first and the frames follow
    in fragments; coded in display order, frame n is still at n / fps."""
    pipe, received = tmp_path / "pipe.mp4", tmp_path / "received.mp4"
    os.mkfifo(pipe)
    reader = threading.Thread(target=lambda: received.write_bytes(pipe.read_bytes()))
    reader.start()
    written = write_mp4(pipe, 40, fps=25.0)
    reader.join(timeout=30)

    atoms = [kind for kind, _ in top_level_atoms(received)]
    frames = decoded(received)
    times = [float(f["pts_time"]) for f in ffprobe(received, "-show_frames", "-show_entries", "frame=pts_time")["frames"]]

    assert atoms[:3] == ["ftyp", "moov", "moof"] and "mdat" in atoms
    assert [number_shown(frame) for frame in frames] == list(range(40))
    assert max(mean_difference(frame, original) for frame, original in zip(frames, written)) < 2.0
    assert times == pytest.approx([n / 25 for n in range(40)], abs=1e-4)


# --- Through the command line -------------------------------------------------------------------

@pytest.mark.slow
def test_crf_reaches_the_encoder_and_an_input_without_a_rate_is_written_at_25_fps(models, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for n in range(3):
        cv2.imwrite(str(folder / f"{n}.png"), numbered_frame(n))
    out = tmp_path / "out.mp4"

    run = run_demo("-m", models["person-0007"].xml, "-i", folder, "-o", out, "--crf", "37", "--no_show", "--no_cache")

    assert run.returncode == 0, run.stderr
    [stream] = ffprobe(out, "-show_streams")["streams"]
    assert (stream["codec_name"], stream["r_frame_rate"], int(stream["nb_frames"])) == ("h264", "25/1", 3)
    # x264 writes the settings it encoded with into the stream itself.
    assert b" crf=37.0 " in out.read_bytes()


def test_crf_with_another_output_is_refused(tmp_path):
    run = run_demo("--crf", "20", "-o", tmp_path / "out.avi", "--no_show")
    assert run.returncode == 2
    assert run.stderr.splitlines() == [f"error: --crf sets the quality of an .mp4 output, and -o "
                                       f"'{tmp_path / 'out.avi'}' is not one"]
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_an_interrupted_run_leaves_a_whole_mp4_at_the_sources_rate(models, tmp_path):
    out, results = tmp_path / "out.mp4", tmp_path / "results.jsonl"
    clip = ROOT / "assets" / "sample_clip.avi"  # 10 fps
    process = start_demo("-m", models["person-0007"].xml, "-i", clip, "--loop", "-o", out, "--results", results,
                         "--no_show", "--no_cache")
    wait_until(lambda: lines_written(results) >= 12)

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    count = len(results.read_text().splitlines())
    assert count >= 12
    assert len(decoded(out)) == count
    times = [float(f["pts_time"]) for f in ffprobe(out, "-show_frames", "-show_entries", "frame=pts_time")["frames"]]
    assert times == pytest.approx([n / 10 for n in range(count)], abs=1e-4)
    atoms = [kind for kind, _ in top_level_atoms(out)]
    assert atoms.index("moov") < atoms.index("mdat")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "results.jsonl"]


# --- In a browser ---------------------------------------------------------------------------------

def chromium() -> str:
    for candidate in ("chromium-headless-shell", "/usr/lib/chromium/chromium-headless-shell", "chromium"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.skip("no headless Chromium (Debian: apt install chromium-headless-shell)")


# The page plays the video to its end, then seeks to one frame, draws it on a canvas and posts
# what the element reported and that frame's pixels back to the server.
PAGE = """<!doctype html>
<html><body>
<video id="video" muted playsinline preload="auto" src="clip.mp4"></video>
<script>
const video = document.getElementById("video");
const report = {events: []};
const send = () => fetch("/report", {method: "POST", body: JSON.stringify(report)});
video.addEventListener("error", () => { report.error = video.error && video.error.code; send(); });
video.addEventListener("loadedmetadata", () => {
  report.duration = video.duration;
  report.size = [video.videoWidth, video.videoHeight];
  video.play().then(() => report.events.push("playing"), e => { report.play_error = String(e); send(); });
});
video.addEventListener("ended", () => {
  report.events.push("ended");
  report.ended_at = video.currentTime;
  report.decoded_frames = video.getVideoPlaybackQuality().totalVideoFrames;
  video.currentTime = SEEK_TO;
});
video.addEventListener("seeked", () => {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let text = "";
  for (let i = 0; i < rgba.length; i += 8192) text += String.fromCharCode.apply(null, rgba.subarray(i, i + 8192));
  report.frame_rgba = btoa(text);
  send();
});
</script>
</body></html>
"""


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[tuple[str, list[dict], threading.Event]]:
    """An HTTP server on 127.0.0.1 at a free port serving ``folder``, collecting the page's reports."""
    reports: list[dict] = []
    reported = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            """The file asked for, or the byte range asked for: as every web server does, and without
            which a browser cannot seek in a video it has not wholly loaded."""
            data = (folder / self.path.lstrip("/")).read_bytes()
            asked = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            first, last = (int(asked[1]), int(asked[2] or len(data) - 1)) if asked else (0, len(data) - 1)
            self.send_response(206 if asked else 200)
            self.send_header("Content-Type", "video/mp4" if self.path.endswith(".mp4") else "text/html")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(last + 1 - first))
            if asked:
                self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # the browser may have what it needs and hang up
                self.wfile.write(data[first:last + 1])

        def do_POST(self):
            reports.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()
            reported.set()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", reports, reported
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def stop_group(process: subprocess.Popen) -> None:
    """End ``process`` and every process it started (Debian's chromium-headless-shell is a script that
    starts the browser, which starts its own helpers): they share the session's process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def played_in_chromium(video: Path, seek_to: float, tmp_path: Path) -> dict:
    """What a <video> element in headless Chromium reports for ``video``, served over HTTP."""
    browser = chromium()
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(video, site / "clip.mp4")
    (site / "index.html").write_text(PAGE.replace("SEEK_TO", repr(seek_to)))
    with serving(site) as (address, reports, reported):
        process = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--mute-audio", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--autoplay-policy=no-user-gesture-required",
             f"{address}/index.html"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            reported.wait(timeout=60)  # a deadline for a browser that never reports, not a timing check
        finally:
            stop_group(process)
    assert reports, "the page reported nothing within 60 s"
    return reports[0]


@pytest.mark.slow
def test_headless_chromium_plays_it_to_the_end_and_shows_the_frame_sought(tmp_path):
    path = tmp_path / "out.mp4"
    written = write_mp4(path, 40, fps=25.0)
    frame = 23
    reference = decoded(path)[frame]

    report = played_in_chromium(path, seek_to=(frame + 0.5) / 25, tmp_path=tmp_path)

    assert "error" not in report and "play_error" not in report, report
    assert report["size"] == list(SIZE)
    assert report["duration"] == pytest.approx(40 / 25, abs=1e-3)
    assert report["events"] == ["playing", "ended"]
    assert report["ended_at"] == pytest.approx(40 / 25, abs=1e-3)
    assert report["decoded_frames"] == 40
    rgba = np.frombuffer(base64.b64decode(report["frame_rgba"]), np.uint8).reshape(SIZE[1], SIZE[0], 4)
    shown = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR)
    assert number_shown(shown) == frame
    assert mean_difference(shown, reference) < 2.0  # the browser's picture is FFmpeg's, colours and all
    assert mean_difference(shown, written[frame]) < 3.0


@pytest.mark.slow
def test_headless_chromium_refuses_mpeg4_part2_so_the_check_can_fail(tmp_path):
    """What .mp4 used to be (mp4v, by OpenCV): the same page reports an error, not a duration."""
    path = tmp_path / "mp4v.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, SIZE)
    for n in range(10):
        writer.write(numbered_frame(n))
    writer.release()

    report = played_in_chromium(path, seek_to=0.1, tmp_path=tmp_path)

    assert report.get("error") == 4  # MEDIA_ERR_SRC_NOT_SUPPORTED


# --- A live source ------------------------------------------------------------------------------

CAPTURED = [1000.0, 1000.1, 1000.3, 1000.35, 1000.9]  # perf_counter times, with frames dropped between


def test_in_real_time_each_frame_is_at_its_capture_time(tmp_path):
    path = tmp_path / "out.mp4"
    with VideoSink(path, 10.0, VideoSettings(real_time=True)) as sink:
        for n, captured in enumerate(CAPTURED):
            sink.write(numbered_frame(n), captured)

    times = [float(f["pts_time"]) for f in ffprobe(path, "-show_frames", "-show_entries", "frame=pts_time")["frames"]]

    assert times == pytest.approx([t - CAPTURED[0] for t in CAPTURED], abs=1e-4)
    assert [number_shown(frame) for frame in decoded(path)] == list(range(5))


def test_capture_times_are_ignored_unless_asked_for(tmp_path):
    path = tmp_path / "out.mp4"
    with VideoSink(path, 10.0) as sink:
        for n, captured in enumerate(CAPTURED):
            sink.write(numbered_frame(n), captured)

    times = [float(f["pts_time"]) for f in ffprobe(path, "-show_frames", "-show_entries", "frame=pts_time")["frames"]]

    assert times == pytest.approx([n / 10 for n in range(5)], abs=1e-4)


@pytest.mark.slow
def test_a_recording_of_a_stream_that_drops_frames_lasts_as_long_as_what_was_seen(tmp_path):
    """A model slower than a 60 fps RTSP stream takes some of its frames; at n / fps the recording
    would play them in less time than they took, with capture times it takes as long as they did."""
    model = heavy_model.person_0007_cost_model(tmp_path / "slow.xml", synthetic.DEFAULT_DETECTORS, gflops=30.0)
    out = tmp_path / "out.mp4"
    with rtsp_server(write_numbered_jpegs(tmp_path / "served"), 60) as server:
        reader = RawReader(start_demo("-m", model, "-i", server.url, "-o", out, "--no_show", "--no_cache", "-r"))
        reader.wait_frames(25, timeout=120)
        reader.process.send_signal(signal.SIGINT)
        assert reader.finish() == 130, reader.stderr

    numbers = served(reader)
    times = [float(f["pts_time"]) for f in ffprobe(out, "-show_frames", "-show_entries", "frame=pts_time")["frames"]]
    seen_for = (numbers[-1] - numbers[0]) / 60
    assert len(times) == len(numbers)
    assert len(numbers) < 0.7 * (numbers[-1] - numbers[0] + 1), "the model kept up: this test needs a slower one"
    assert all(later > earlier for earlier, later in zip(times, times[1:]))
    # The first and last frames' arrival jitter is all the difference; at n / fps the recording
    # would last (len(numbers) - 1) / 60, under 0.7 of what was seen, outside this band.
    assert times[-1] == pytest.approx(seen_for, rel=0.25)


# --- A full disk --------------------------------------------------------------------------------

PREVIOUS = b"the user's previous file, which a failed run must leave as it was\n"


def test_a_disk_that_fills_while_the_index_is_moved_to_the_front_is_an_error(tmp_path):
    """The frames fit, the index (moov) written at the end and moved before them does not: close()
    says so in the one line, removes the hidden file and leaves the previous file as it was."""
    frames = [np.full((16, 16, 3), n % 256, np.uint8) for n in range(3000)]  # small frames, a large index
    reference = tmp_path / "reference.mp4"
    with VideoSink(reference, 25.0) as sink:
        for frame in frames:
            sink.write(frame)
    whole = reference.stat().st_size
    moov = dict(top_level_atoms(reference))["moov"]
    assert moov > 3 * 4096, "the index must span several of tmpfs's pages for this test"
    with filesystems.tmpfs(tmp_path / "disk", "1m") as disk:
        target = disk / "out.mp4"
        target.write_bytes(PREVIOUS)
        info = os.statvfs(disk)
        (disk / "filler").write_bytes(bytes(info.f_bavail * info.f_frsize - (whole - moov // 2)))
        sink = VideoSink(target, 25.0)
        for frame in frames:
            sink.write(frame)

        with pytest.raises(DemoError) as error:
            sink.close()

        assert str(error.value) == (f"cannot write video '{target}': No space left on device (3000 frames written); "
                                    "the file is left as it was before the run")
        assert target.read_bytes() == PREVIOUS
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "out.mp4"]
