"""Every file name the file system can hold works: names whose bytes are not UTF-8 made with os.fsdecode.

Python carries such a name as a str with surrogates; OpenCV's binding crashed on it (exit 139).
The test itself never hands one to OpenCV either: it reads files back through ASCII-named links.
"""
from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.results import count_frames
from helpers.running import ROOT, run_demo

from demo.frames.sources import open_source

CLIP = ROOT / "assets" / "sample_clip.avi"  # 30 frames, 640x360


def odd(folder: Path, name: bytes) -> Path:
    """``folder / name`` for a name that is not UTF-8."""
    return folder / os.fsdecode(name)


def decoded(path: Path) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)


def frames_of(video: Path, tmp_path: Path) -> int:
    link = tmp_path / f"readback{video.suffix}"
    link.symlink_to(video)
    return count_frames(link)


def demo(models, *args):
    return run_demo("-m", models["person-0007"].xml, "--no_show", "--no_cache", *args, timeout=120)


def first_frame() -> np.ndarray:
    capture = cv2.VideoCapture(str(CLIP))
    ok, frame = capture.read()
    capture.release()
    assert ok
    return frame


@pytest.mark.slow
def test_an_image_with_such_a_name_goes_to_a_video_with_such_a_name(models, tmp_path):
    image, video = odd(tmp_path, b"caf\xe9.png"), odd(tmp_path, b"r\xe9sultat\xff.mkv")
    image.write_bytes(cv2.imencode(".png", first_frame())[1].tobytes())

    run = demo(models, "-i", image, "-o", video, "--results", odd(tmp_path, b"\xfe.jsonl"))

    assert run.returncode == 0, run.stderr
    assert frames_of(video, tmp_path) == 1
    assert len(odd(tmp_path, b"\xfe.jsonl").read_text().splitlines()) == 1


@pytest.mark.slow
def test_a_video_with_such_a_name_plays_to_the_end_into_such_a_video(models, tmp_path):
    clip, video = odd(tmp_path, b"clip\xe9.avi"), odd(tmp_path, b"out\xe9.avi")
    shutil.copy(CLIP, clip)

    run = demo(models, "-i", clip, "-o", video)

    assert run.returncode == 0, run.stderr
    assert frames_of(video, tmp_path) == 30


@pytest.mark.slow
def test_such_names_inside_an_input_folder_and_as_an_output_pattern(models, tmp_path):
    folder, out = odd(tmp_path, b"in\xe9"), odd(tmp_path, b"out\xe9")
    folder.mkdir()
    out.mkdir()
    frame = first_frame()
    (odd(folder, b"a\xe9.png")).write_bytes(cv2.imencode(".png", frame)[1].tobytes())
    (odd(folder, b"b\xff.jpg")).write_bytes(cv2.imencode(".jpg", frame[:100, :200])[1].tobytes())
    (odd(folder, b"notes\xe9.txt")).write_text("not an image")

    run = demo(models, "-i", folder, "-o", odd(out, b"r\xe9_%03d.png"))

    assert run.returncode == 0, run.stderr
    assert sorted(os.listdir(os.fsencode(out))) == [b"r\xe9_000.png", b"r\xe9_001.png"]
    assert decoded(odd(out, b"r\xe9_000.png")).shape == (360, 640, 3)
    assert decoded(odd(out, b"r\xe9_001.png")).shape == (100, 200, 3)
    # The skipped file is named readably: its undecodable byte as an escape.
    assert "skipping '" + str(folder).replace(os.fsdecode(b"\xe9"), "\\xe9") + "/notes\\xe9.txt': not an image" \
        in run.stderr


@pytest.mark.slow
def test_such_a_name_in_an_error_is_printed_readably(models, tmp_path):
    missing = odd(tmp_path, b"missing\xe9.png")
    run = demo(models, "-i", missing)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == f"error: input '{tmp_path}/missing\\xe9.png' does not exist"


def test_a_looped_video_with_such_a_name_reopens(tmp_path):
    clip = odd(tmp_path, b"loop\xe9.avi")
    shutil.copy(CLIP, clip)
    with open_source(str(clip), loop=True) as source:
        frames = list(itertools.islice(source, 45))
    assert [frame.index for frame in frames] == list(range(45))
    assert np.array_equal(frames[30].image, frames[0].image)


def test_an_image_sequence_in_a_folder_with_such_a_name(tmp_path):
    folder = odd(tmp_path, b"seq\xe9")
    folder.mkdir()
    for number in range(3):
        (folder / f"img_{number:03d}.png").write_bytes(cv2.imencode(".png", np.full((8, 8, 3), number, np.uint8))[1])
    with open_source(str(folder / "img_%03d.png")) as source:
        assert [int(frame.image[0, 0, 0]) for frame in source] == [0, 1, 2]
