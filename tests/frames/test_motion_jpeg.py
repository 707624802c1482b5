"""Motion JPEG videos decoded by libjpeg-turbo: the same pictures cv2.imread gives for the video's own JPEG
frames, close to FFmpeg's, and a hostile or unusual frame handled as FFmpeg's reader would."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from demo.frames import motion_jpeg
from demo.frames.motion_jpeg import decoded
from demo.frames.sources import open_source

ROOT = Path(__file__).resolve().parents[2]
SIZE = (320, 240)


def scene(step: int) -> np.ndarray:
    """Sharp colour edges, where decoders differ most."""
    width, height = SIZE
    image = np.full((height, width, 3), 40, np.uint8)
    cv2.rectangle(image, (20 + 8 * step, 30), (140 + 8 * step, 150), (0, 0, 255), -1)
    cv2.circle(image, (230, 120 + 4 * step), 50, (255, 200, 0), -1)
    cv2.putText(image, f"frame {step}", (20, 220), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    return image


def jpeg_frames(folder: Path, count: int) -> list[Path]:
    paths = []
    for step in range(count):
        path = folder / f"{step:03d}.jpg"
        cv2.imwrite(str(path), scene(step), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def mux(folder: Path, video: Path) -> Path:
    """The JPEG files as they are, one a frame, into an AVI: what a camera's MJPG recording holds."""
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is not installed")
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-framerate", "10", "-i", str(folder / "%03d.jpg"),
                    "-c:v", "copy", str(video)], check=True)
    return video


def frames_of(video: Path) -> list[np.ndarray]:
    with open_source(str(video)) as source:
        return [frame.image for frame in source]


def ffmpeg_frames(video: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    return frames


def test_frames_are_the_jpegs_as_libjpeg_decodes_them(tmp_path: Path) -> None:
    (tmp_path / "jpegs").mkdir()
    jpegs = jpeg_frames(tmp_path / "jpegs", 6)
    video = mux(tmp_path / "jpegs", tmp_path / "camera.avi")
    frames = frames_of(video)
    assert len(frames) == 6
    for frame, jpeg in zip(frames, jpegs):
        assert np.array_equal(frame, cv2.imread(str(jpeg), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION))
    # FFmpeg's decode of the same frames differs only where chroma is upsampled at sharp edges.
    for frame, theirs in zip(frames, ffmpeg_frames(video), strict=True):
        assert cv2.absdiff(frame, theirs).mean() < 1.5


def test_opencv_written_mjpg_plays_whole(tmp_path: Path) -> None:
    video = tmp_path / "written.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, SIZE)
    for step in range(5):
        writer.write(scene(step))
    writer.release()
    frames = frames_of(video)
    assert [frame.shape for frame in frames] == [(SIZE[1], SIZE[0], 3)] * 5
    assert all(cv2.absdiff(frame, scene(step)).mean() < 4 for step, frame in enumerate(frames))


def resized_header(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0) claiming another size: the data stays the small picture's."""
    start = jpeg.index(b"\xff\xc0")
    return jpeg[:start + 5] + struct.pack(">HH", height, width) + jpeg[start + 9:]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read the peak memory")
def test_a_frame_claiming_a_huge_size_is_skipped_not_allocated(tmp_path: Path) -> None:
    """One frame's header, well inside the video, says 30000x30000 (2.7 GB decoded); it is passed over, and
    the run ends normally."""
    (tmp_path / "jpegs").mkdir()
    jpegs = jpeg_frames(tmp_path / "jpegs", 20)
    jpegs[15].write_bytes(resized_header(jpegs[15].read_bytes(), 30000, 30000))
    video = mux(tmp_path / "jpegs", tmp_path / "hostile.avi")
    results = tmp_path / "results.jsonl"
    run = subprocess.run([sys.executable, "-c", (
        # VmHWM is this program's own peak; ru_maxrss would also count the test process it was forked from.
        "import runpy, sys; sys.argv = sys.argv[1:]\n"
        "try:\n    runpy.run_module('demo', run_name='__main__')\n"
        "finally:\n    print('peak', [line.split()[1] for line in open('/proc/self/status')\n"
        "                       if line.startswith('VmHWM:')][0], file=sys.stderr)\n"),
        "demo", "-m", str(ROOT / "assets" / "sample_model.xml"), "-i", str(video), "--no_show",
        "--results", str(results)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "read 19 of 20 frames" in run.stderr
    peak_kb = int(run.stderr.rsplit("peak", 1)[1])
    assert peak_kb < 1_000_000, f"peak memory {peak_kb // 1024} MB"
    assert [json.loads(line)["frame"] for line in results.read_text().splitlines()] == list(range(19))


def test_a_stream_whose_first_frame_does_not_decode_here_is_left_to_ffmpeg(tmp_path: Path, monkeypatch) -> None:
    """Interlaced cameras put two half-height fields in each packet, which FFmpeg weaves into one frame and
    libjpeg would take for a picture of half the size. No tool here writes such a file, so the size check
    refusing the first packet stands in for one: every frame is then FFmpeg's, the first included."""
    (tmp_path / "jpegs").mkdir()
    jpeg_frames(tmp_path / "jpegs", 4)
    video = mux(tmp_path / "jpegs", tmp_path / "fields.avi")
    refused = []

    def refusing_the_first(packet: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
        refused.append(size)
        return None if len(refused) == 1 else decoded(packet, size)

    monkeypatch.setattr(motion_jpeg, "decoded", refusing_the_first)
    frames = frames_of(video)
    assert refused == [SIZE]  # asked once, then never again: the capture is FFmpeg's from the start
    assert len(frames) == 4
    for frame, theirs in zip(frames, ffmpeg_frames(video), strict=True):
        assert np.array_equal(frame, theirs)
