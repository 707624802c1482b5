"""Frame sources on real media files generated with OpenCV in tmp_path."""
from __future__ import annotations

import itertools
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.synthetic import write_ffv1_video

from demo.core.errors import DemoError
from demo.frames.sources import Frame, open_source

HEIGHT, WIDTH = 24, 32


def random_images(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(count)]


def write_mjpg(path: Path, count: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (WIDTH, HEIGHT))
    for image in random_images(count):
        writer.write(image)
    writer.release()
    return path


def assert_bgr8(frame: Frame) -> None:
    assert frame.image.dtype == np.uint8
    assert frame.image.ndim == 3 and frame.image.shape[2] == 3
    assert frame.image.flags["C_CONTIGUOUS"]


def test_image_file(tmp_path: Path) -> None:
    [image] = random_images(1)
    cv2.imwrite(str(tmp_path / "photo.png"), image)
    with open_source(str(tmp_path / "photo.png")) as source:
        assert (source.kind, source.fps, source.live, source.frame_count) == ("image", None, False, 1)
        frames = list(source)
    assert [(f.index, f.name) for f in frames] == [(0, "photo.png")]
    assert_bgr8(frames[0])
    assert np.array_equal(frames[0].image, image)


def test_folder_is_read_in_name_order_and_skips_junk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    images = random_images(3)
    for name, image in zip(["b.png", "c.bmp", "a.png"], images):
        cv2.imwrite(str(tmp_path / name), image)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "subfolder").mkdir()
    with caplog.at_level(logging.WARNING), open_source(str(tmp_path)) as source:
        frames = list(source)
    assert source.kind == "folder"
    assert [(f.index, f.name) for f in frames] == [(0, "a.png"), (1, "b.png"), (2, "c.bmp")]
    assert np.array_equal(frames[0].image, images[2])
    assert np.array_equal(frames[1].image, images[0])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "notes.txt" in warnings[0]


def test_folder_without_images_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DemoError, match="no images") as error:
        open_source(str(tmp_path))
    assert str(tmp_path) in str(error.value)


def test_ffv1_video_frames_are_pixel_exact(tmp_path: Path) -> None:
    images = random_images(5)
    video = write_ffv1_video(tmp_path / "clip.mkv", images, fps=12.0)
    with open_source(str(video)) as source:
        assert (source.kind, source.fps, source.live, source.frame_count) == ("video", 12.0, False, 5)
        frames = list(source)
    assert [(f.index, f.name) for f in frames] == [(i, "") for i in range(5)]
    for frame, image in zip(frames, images):
        assert_bgr8(frame)
        assert np.array_equal(frame.image, image)


def test_image_sequence_pattern(tmp_path: Path) -> None:
    images = random_images(4)
    for number, image in enumerate(images, start=1):
        cv2.imwrite(str(tmp_path / f"img_{number:04d}.png"), image)
    with open_source(str(tmp_path / "img_%04d.png")) as source:
        assert (source.kind, source.fps, source.frame_count) == ("sequence", None, 4)
        frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    for frame, image in zip(frames, images):
        assert np.array_equal(frame.image, image)


def test_pattern_matching_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="no images match"):
        open_source(str(tmp_path / "img_%04d.png"))


def test_loop_repeats_video_with_increasing_indices(tmp_path: Path) -> None:
    images = random_images(3)
    video = write_ffv1_video(tmp_path / "clip.mkv", images)
    with open_source(str(video), loop=True) as source:
        frames = list(itertools.islice(source, 8))
    assert [f.index for f in frames] == list(range(8))
    for frame, image in zip(frames, itertools.cycle(images)):
        assert np.array_equal(frame.image, image)


def test_loop_repeats_images_as_separate_arrays(tmp_path: Path) -> None:
    [image] = random_images(1)
    cv2.imwrite(str(tmp_path / "photo.png"), image)
    with open_source(str(tmp_path / "photo.png"), loop=True) as source:
        frames = list(itertools.islice(source, 3))
    assert [f.index for f in frames] == [0, 1, 2]
    frames[0].image[:] = 0  # drawing on one frame must not change the next ones
    assert np.array_equal(frames[1].image, image) and np.array_equal(frames[2].image, image)


def test_loop_repeats_folder(tmp_path: Path) -> None:
    for name, image in zip(["a.png", "b.png"], random_images(2)):
        cv2.imwrite(str(tmp_path / name), image)
    with open_source(str(tmp_path), loop=True) as source:
        frames = list(itertools.islice(source, 5))
    assert [(f.index, f.name) for f in frames] == [
        (0, "a.png"), (1, "b.png"), (2, "a.png"), (3, "b.png"), (4, "a.png")
    ]


GRAY = np.arange(HEIGHT * WIDTH, dtype=np.uint8).reshape(HEIGHT, WIDTH)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        pytest.param(GRAY, cv2.merge([GRAY] * 3), id="grayscale"),
        pytest.param(cv2.merge([GRAY, GRAY // 2, GRAY // 3, np.full_like(GRAY, 7)]),
                     cv2.merge([GRAY, GRAY // 2, GRAY // 3]), id="bgra"),
        pytest.param(cv2.merge([GRAY, GRAY // 2, GRAY // 3]).astype(np.uint16) * 257,
                     cv2.merge([GRAY, GRAY // 2, GRAY // 3]), id="16-bit-bgr"),
        pytest.param(GRAY.astype(np.uint16) * 257, cv2.merge([GRAY] * 3), id="16-bit-gray"),
    ],
)
def test_images_are_normalised_to_bgr8(
    tmp_path: Path, stored: np.ndarray, expected: np.ndarray
) -> None:
    cv2.imwrite(str(tmp_path / "odd.png"), stored)
    assert cv2.imread(str(tmp_path / "odd.png"), cv2.IMREAD_UNCHANGED).dtype == stored.dtype
    with open_source(str(tmp_path / "odd.png")) as source:
        [frame] = list(source)
    assert_bgr8(frame)
    assert np.array_equal(frame.image, expected)


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(DemoError, match="does not exist") as error:
        open_source(str(missing))
    assert str(missing) in str(error.value)


@pytest.mark.parametrize("name", ["notes.txt", "fake.png"])
def test_file_that_is_neither_image_nor_video(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("just some text, no pixels here\n" * 20)
    with pytest.raises(DemoError, match="neither a readable image nor a readable video") as error:
        open_source(str(tmp_path / name))
    assert name in str(error.value)


def test_random_bytes_video_is_an_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(np.random.default_rng(1).bytes(20_000))
    with pytest.raises(DemoError, match="corrupt.avi"):
        open_source(str(corrupt))


def test_video_truncated_to_its_header_is_an_error(tmp_path: Path) -> None:
    video = write_mjpg(tmp_path / "clip.avi", 5)
    video.write_bytes(video.read_bytes()[:300])
    with pytest.raises(DemoError, match="clip.avi"):
        open_source(str(video))


def test_video_failing_midway_ends_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    video = write_mjpg(tmp_path / "clip.avi", 5)
    data = video.read_bytes()
    video.write_bytes(data[: len(data) * 3 // 4])  # the header and about half of the frames
    with caplog.at_level(logging.WARNING), open_source(str(video)) as source:
        assert source.frame_count == 5
        frames = list(source)
    assert 1 <= len(frames) < 5
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"read {len(frames)} of 5 frames" in warning


def test_camera_that_cannot_be_opened() -> None:
    with pytest.raises(DemoError, match="camera 99"):
        open_source("99")
