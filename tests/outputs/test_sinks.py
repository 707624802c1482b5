"""Sinks write files that OpenCV and pycocotools read back as expected."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.synthetic import read_video
from pycocotools import mask as mask_utils

from demo.core.errors import DemoError, UsageError
from demo.outputs import sinks
from demo.outputs.sinks import ImageSequenceSink, ResultsWriter, VideoSink, open_output
from demo.results.instances import Box, FrameResult, Instance
from demo.results.masks import BoxMask


def random_images(count: int, height: int, width: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize("extension", [".mkv", ".avi", ".mp4"])
def test_video_reads_back_with_odd_size_padded_to_even(tmp_path: Path, extension: str) -> None:
    images = random_images(5, height=31, width=45)
    path = tmp_path / f"out{extension}"
    with open_output(str(path), fps=10.0) as sink:
        assert isinstance(sink, VideoSink)
        for image in images:
            sink.write(image)
    frames = read_video(path)
    assert len(frames) == 5
    assert all(frame.shape == (32, 46, 3) for frame in frames)


def test_mkv_is_pixel_exact_and_padding_is_black(tmp_path: Path) -> None:
    images = random_images(3, height=31, width=45)
    path = tmp_path / "out.mkv"
    with VideoSink(path, fps=5.0) as sink:
        for image in images:
            sink.write(image)
    for frame, image in zip(read_video(path), images, strict=True):
        assert np.array_equal(frame[:31, :45], image)
        assert not frame[31, :].any() and not frame[:, 45].any()


def test_even_size_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "out.mkv"
    with VideoSink(path, fps=5.0) as sink:
        sink.write(random_images(1, height=30, width=40)[0])
    assert read_video(path)[0].shape == (30, 40, 3)


def test_writer_opens_at_first_frame_and_close_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "out.avi"
    sink = VideoSink(path, fps=5.0)
    assert not path.exists()
    sink.write(random_images(1, height=30, width=40)[0])
    sink.close()
    sink.close()
    assert len(read_video(path)) == 1


def test_video_frame_size_change_is_an_error(tmp_path: Path) -> None:
    with VideoSink(tmp_path / "out.mkv", fps=5.0) as sink:
        sink.write(random_images(1, height=30, width=40)[0])
        with pytest.raises(DemoError, match="out.mkv"):
            sink.write(random_images(1, height=20, width=40)[0])


def test_image_sequence_lands_as_numbered_files(tmp_path: Path) -> None:
    images = random_images(3, height=31, width=45)
    with open_output(str(tmp_path / "out_%03d.png"), fps=10.0) as sink:
        assert isinstance(sink, ImageSequenceSink)
        for image in images:
            sink.write(image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_000.png", "out_001.png", "out_002.png"]
    for number, image in enumerate(images):
        assert np.array_equal(cv2.imread(str(tmp_path / f"out_{number:03d}.png")), image)


@pytest.mark.parametrize("name", ["out.txt", "out.gif", "out", "out_%03d.xyz"])
def test_unsupported_output_type(tmp_path: Path, name: str) -> None:
    path = str(tmp_path / name)
    with pytest.raises(UsageError) as error:
        open_output(path, fps=10.0)
    message = str(error.value)
    assert path in message and ".mkv" in message and "out_%03d.png" in message


def test_pattern_needing_two_numbers_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="one frame number"):
        open_output(str(tmp_path / "out_%03d_%03d.png"), fps=10.0)


def test_non_positive_fps_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="fps"):
        open_output(str(tmp_path / "out.mkv"), fps=0.0)


@pytest.mark.parametrize("name", ["out.mp4", "out_%03d.png"])
def test_missing_output_folder(tmp_path: Path, name: str) -> None:
    path = str(tmp_path / "missing" / name)
    with pytest.raises(DemoError, match="does not exist") as error:
        open_output(path, fps=10.0)
    assert not isinstance(error.value, UsageError)
    assert str(tmp_path / "missing") in str(error.value)


def test_unwritable_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests may run as root, for whom every folder is writable, so fake the permission check.
    monkeypatch.setattr(sinks.os, "access", lambda path, mode: False)
    with pytest.raises(DemoError, match="not writable") as error:
        open_output(str(tmp_path / "out.mkv"), fps=10.0)
    assert str(tmp_path / "out.mkv") in str(error.value)


def make_instance(class_id: int, mask: np.ndarray, origin: tuple[int, int]) -> Instance:
    x, y = origin
    box = Box(x, y, x + mask.shape[1], y + mask.shape[0])
    return Instance(class_id, f"class{class_id}", np.float32(0.75), box, BoxMask(mask, x, y), (60, 40))


# pycocotools' own decode trips a NumPy 2 deprecation inside the library; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_results_lines_decode_back_to_the_exact_masks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = np.zeros((40, 60, 3), dtype=np.uint8)
    results = [
        FrameResult(0, frame, [
            make_instance(0, rng.random((10, 12)) > 0.5, (5, 3)),
            make_instance(2, rng.random((40, 60)) > 0.3, (0, 0)),
        ]),
        FrameResult(1, frame, []),
    ]
    path = tmp_path / "results.jsonl"
    with ResultsWriter(path) as writer:
        for result in results:
            writer.write(result)
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["frame"] for r in records] == [0, 1]
    assert records[1]["instances"] == []
    for record, instance in zip(records[0]["instances"], results[0].instances, strict=True):
        assert record["label"] == instance.class_id and record["name"] == instance.name
        assert record["score"] == pytest.approx(0.75)
        assert record["box"] == instance.box.as_list()
        assert record["mask"]["size"] == [40, 60] and isinstance(record["mask"]["counts"], str)
        decoded = mask_utils.decode(record["mask"])
        assert np.array_equal(decoded.astype(bool), instance.full_mask())


def test_results_lines_are_on_disk_before_close(tmp_path: Path) -> None:
    # Before close the lines are in the hidden file beside the target, which close puts in place.
    path = tmp_path / "results.jsonl"
    writer = ResultsWriter(path)
    writer.write(FrameResult(0, np.zeros((4, 4, 3), np.uint8), []))
    [aside] = tmp_path.glob(".results.jsonl.*.jsonl")
    assert json.loads(aside.read_text(encoding="utf-8")) == {"frame": 0, "instances": []}
    writer.close()
    assert json.loads(path.read_text(encoding="utf-8")) == {"frame": 0, "instances": []}
    assert list(tmp_path.iterdir()) == [path]


def test_results_in_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "results.jsonl"
    with pytest.raises(DemoError, match="results.jsonl"):
        ResultsWriter(path)
