"""Where results go: a video file, numbered images, a preview window and JSON Lines."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from demo.errors import DemoError, UsageError, native_stderr_captured
from demo.instances import FrameResult, Instance
from demo.sources import FRAME_NUMBER_FIELD, ClosesOnExit

logger = logging.getLogger(__name__)

FOURCC_BY_EXTENSION = {".avi": "MJPG", ".mp4": "mp4v", ".mkv": "FFV1"}
SUPPORTED_OUTPUTS = ".avi, .mp4, .mkv, or an image pattern like out_%03d.png with .png/.jpg/.bmp"

Item = TypeVar("Item", contravariant=True)


class Sink(Protocol[Item]):
    """What every output offers: write items one by one, then close (also on context exit)."""

    def write(self, item: Item) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...


def open_output(path: str, fps: float, single_frame: bool = False) -> Sink[np.ndarray]:
    """An image sequence when ``path`` has a frame-number field like %03d, one image when it
    is an image file and the input is a single frame, else a video.

    Everything that can be checked without a frame is checked here, so a bad path fails
    before inference starts.
    """
    if FRAME_NUMBER_FIELD.search(path):
        return ImageSequenceSink(path)
    if Path(path).suffix.lower() not in FOURCC_BY_EXTENSION and cv2.haveImageWriter(path):
        if not single_frame:
            raise UsageError(f"output '{path}' is one image but the input has several frames; "
                             f"use {SUPPORTED_OUTPUTS}")
        return ImageSequenceSink(path)
    return VideoSink(Path(path), fps)


class VideoSink(ClosesOnExit):
    """Writes frames to a video whose codec follows the extension (.avi MJPG, .mp4 mp4v, .mkv FFV1).

    The writer opens at the first frame and takes its size from it. OpenCV's writers
    silently drop the last column/row of odd-sized frames, so an odd width or height is
    padded with one black column/row at the right/bottom: the video is then 1 px larger,
    never smaller, and every original pixel keeps its place.
    """

    def __init__(self, path: Path, fps: float) -> None:
        fourcc = FOURCC_BY_EXTENSION.get(path.suffix.lower())
        if fourcc is None:
            raise UsageError(f"output '{path}': unsupported type; use {SUPPORTED_OUTPUTS}")
        if not fps > 0:
            raise UsageError(f"output '{path}': fps must be positive, got {fps}")
        require_writable_folder(path)
        self.path = path
        self._fourcc = fourcc
        self._fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] = (0, 0)
        self._closed = False

    def write(self, image: np.ndarray) -> None:
        if self._closed:
            # Reopening would silently overwrite the finished video.
            raise ValueError(f"write to closed video '{self.path}'")
        image = _pad_to_even(image)
        size = (image.shape[1], image.shape[0])
        if self._writer is None:
            self._writer = self._open_writer(size)
            self._size = size
        elif size != self._size:
            raise DemoError(
                f"output '{self.path}': a frame is {size[0]}x{size[1]} but the video is "
                f"{self._size[0]}x{self._size[1]}; write mixed sizes to an image pattern instead"
            )
        self._writer.write(image)

    def _open_writer(self, size: tuple[int, int]) -> cv2.VideoWriter:
        fourcc = cv2.VideoWriter_fourcc(*self._fourcc)
        with native_stderr_captured():  # FFmpeg's and OpenCV's warnings would bury our line
            try:
                writer = cv2.VideoWriter(str(self.path), fourcc, self._fps, size)
            except cv2.error:
                writer = None
        if writer is None or not writer.isOpened():
            raise DemoError(
                f"could not open video writer for '{self.path}' ({self._fourcc}, {size[0]}x{size[1]})"
            )
        return writer

    def close(self) -> None:
        # Releasing writes the container's index; without it the file does not play.
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._closed = True


class ImageSequenceSink(ClosesOnExit):
    """Writes frame i to ``pattern % i``: out_%03d.png gives out_000.png, out_001.png, …

    A pattern without a number field is one image file, for a single-frame input.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._numbered = FRAME_NUMBER_FIELD.search(pattern) is not None
        try:
            first_path = self._path(0)
        except (TypeError, ValueError):
            raise UsageError(
                f"output pattern '{pattern}' must take one frame number, like out_%03d.png"
            ) from None
        if not cv2.haveImageWriter(first_path):
            raise UsageError(f"output '{pattern}': unsupported image type; use {SUPPORTED_OUTPUTS}")
        require_writable_folder(Path(first_path))
        self._next_number = 0

    def _path(self, number: int) -> str:
        return self.pattern % number if self._numbered else self.pattern

    def write(self, image: np.ndarray) -> None:
        path = self._path(self._next_number)
        try:
            written = cv2.imwrite(path, image)
        except cv2.error:
            written = False
        if not written:
            raise DemoError(f"could not write image '{path}'")
        self._next_number += 1

    def close(self) -> None:
        pass  # every image is complete once imwrite returns


class Window(ClosesOnExit):
    """A preview window that becomes a no-op, after one warning, where there is no display."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._opened = False
        self._headless = False
        if not _display_available():
            self._go_headless()

    def show(self, image: np.ndarray) -> int:
        """Shows ``image`` and returns the key pressed meanwhile (0-255), or -1 for none."""
        if self._headless:
            return -1
        try:
            cv2.imshow(self.title, image)
            key = cv2.waitKey(1)
        except cv2.error:
            # opencv-python-headless has no GUI backend and raises here.
            self._go_headless()
            return -1
        self._opened = True
        return -1 if key == -1 else key & 0xFF

    def _go_headless(self) -> None:
        logger.warning("no display: running headless")
        self._headless = True

    def close(self) -> None:
        if self._opened:
            # The user may already have closed the window, which makes destroyWindow raise.
            with contextlib.suppress(cv2.error):
                cv2.destroyWindow(self.title)
            self._opened = False


class ResultsWriter(ClosesOnExit):
    """Writes one JSON line per frame: ``{"frame": i, "instances": [...]}``.

    Each instance is ``{"label", "name", "score", "box": [x1, y1, x2, y2], "mask"}`` where
    the mask is the full-frame COCO RLE ``{"size": [h, w], "counts": str}`` that
    ``pycocotools.mask.decode`` reads back.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file = path.open("w", encoding="utf-8")
        except OSError as error:
            raise DemoError(f"cannot write results to '{path}': {error.strerror}") from None

    def write(self, result: FrameResult) -> None:
        record = {
            "frame": result.index,
            "instances": [_instance_record(i, result.frame.shape) for i in result.instances],
        }
        # The whole line in one call, then flush: an interrupted run leaves only whole lines.
        try:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        except OSError as error:
            raise DemoError(f"cannot write results to '{self.path}': {error.strerror}") from None

    def close(self) -> None:
        self._file.close()


def mask_rle(instance: Instance, frame_shape: tuple[int, ...]) -> dict[str, Any]:
    """The instance's frame-sized mask as COCO RLE, with ``counts`` as text so JSON can hold it."""
    # pycocotools wants a Fortran-ordered uint8 mask; viewing the bool mask as uint8 costs no copy.
    rle = mask_utils.encode(np.asfortranarray(instance.full_mask(frame_shape).view(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _instance_record(instance: Instance, frame_shape: tuple[int, ...]) -> dict[str, Any]:
    return {
        "label": int(instance.class_id),
        "name": instance.name,
        "score": float(instance.score),
        "box": [float(v) for v in instance.box.as_list()],
        "mask": mask_rle(instance, frame_shape),
    }


def _pad_to_even(image: np.ndarray) -> np.ndarray:
    """``image`` with a black column/row added if its width/height is odd; else unchanged."""
    height, width = image.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return image
    return cv2.copyMakeBorder(image, 0, height % 2, 0, width % 2, cv2.BORDER_CONSTANT, value=0)


def write_json(path: Path, content: object, what: str, indent: int | None = None) -> None:
    """Write ``content`` to ``path`` as JSON; a failure is one line naming ``what`` and why."""
    try:
        path.write_text(json.dumps(content, indent=indent) + "\n", encoding="utf-8")
    except OSError as error:
        raise DemoError(f"cannot write {what} to '{path}': {error.strerror or error}") from None


def require_writable_folder(path: Path) -> None:
    """Fail before a long run, not after it, when ``path`` cannot be written."""
    folder = path.parent
    if not folder.is_dir():
        raise DemoError(f"cannot write '{path}': folder '{folder}' does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DemoError(f"cannot write '{path}': folder '{folder}' is not writable")


def _display_available() -> bool:
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
