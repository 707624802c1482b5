"""Where results go: a video file, numbered images and JSON Lines."""
from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, Protocol, Self, TypeVar

import cv2
import numpy as np

from demo import files
from demo.errors import DemoError, UsageError, native_stderr_captured
from demo.files import FRAME_NUMBER_FIELD, shown
from demo.instances import FrameResult, Instance
from demo.sources import ClosesOnExit

FOURCC_BY_EXTENSION = {".avi": "MJPG", ".mp4": "mp4v", ".mkv": "FFV1"}
# OpenCV opens FFmpeg inputs one at a time: a stream reconnecting to a server that accepts but does
# not answer holds that lock for its whole open time-out. MJPG AVIs (which OpenCV writes itself)
# are checked by OpenCV's own reader, so finishing one never waits on a camera.
READER_BY_FOURCC = {"MJPG": cv2.CAP_OPENCV_MJPEG}
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
    if Path(path).suffix.lower() not in FOURCC_BY_EXTENSION and _image_type(path):
        if not single_frame:
            raise UsageError(f"output '{shown(path)}' is one image but the input has several frames; "
                             f"use {SUPPORTED_OUTPUTS}")
        return ImageSequenceSink(path)
    return VideoSink(Path(path), fps)


class VideoSink(ClosesOnExit):
    """Writes frames to a video whose codec follows the extension (.avi MJPG, .mp4 mp4v, .mkv FFV1).

    The writer opens at the first frame and takes its size from it. OpenCV's writers
    silently drop the last column/row of odd-sized frames, so an odd width or height is
    padded with one black column/row at the right/bottom: the video is then 1 px larger,
    never smaller, and every original pixel keeps its place.

    The video is written to a hidden file beside the target and put in place at ``close``
    only once it plays every frame written. OpenCV's writer reports no write errors, so
    every ``CHECK_EVERY`` frames a file that stopped growing on a full disk ends the run.
    """

    CHECK_EVERY = 16

    def __init__(self, path: Path, fps: float) -> None:
        fourcc = FOURCC_BY_EXTENSION.get(path.suffix.lower())
        if fourcc is None:
            raise UsageError(f"output '{shown(path)}': unsupported type; use {SUPPORTED_OUTPUTS}")
        if not fps > 0:
            raise UsageError(f"output '{shown(path)}': fps must be positive, got {fps}")
        require_writable_folder(path)
        self.path = path
        self._fourcc = fourcc
        self._fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] = (0, 0)
        self._written = 0
        self._bytes_at_check = 0
        self._aside = files.WriteAside(path, "video")
        self._closed = False

    def write(self, image: np.ndarray) -> None:
        if self._closed:
            # Reopening would silently overwrite the finished video.
            raise ValueError(f"write to closed video '{shown(self.path)}'")
        image = _pad_to_even(image)
        size = (image.shape[1], image.shape[0])
        if self._writer is None:
            self._writer = self._open_writer(size)
            self._size = size
        elif size != self._size:
            self._fail(f"a frame is {size[0]}x{size[1]} but the video is {self._size[0]}x{self._size[1]}; "
                       "write mixed sizes to an image pattern instead")
        self._writer.write(image)
        self._written += 1
        if self._written % self.CHECK_EVERY == 0:
            self._check_growth()

    def _open_writer(self, size: tuple[int, int]) -> cv2.VideoWriter:
        fourcc = cv2.VideoWriter_fourcc(*self._fourcc)
        with native_stderr_captured():  # FFmpeg's and OpenCV's warnings would bury our line
            try:
                writer = cv2.VideoWriter(files.opencv_name(self._aside.path), fourcc, self._fps, size)
            except cv2.error:
                writer = None
        if writer is None or not writer.isOpened():
            self._fail(f"the {self._fourcc} encoder cannot take {size[0]}x{size[1]} frames")
        return writer

    def _check_growth(self) -> None:
        grown = self._aside.size()
        if grown == self._bytes_at_check and self._aside.free_bytes() < files.FULL_DISK_BYTES:
            self._fail(os.strerror(errno.ENOSPC))
        self._bytes_at_check = grown

    def _fail(self, cause: str) -> NoReturn:
        """Stop writing, remove the unfinished file and raise: a failed video never replaces the target."""
        self._release()
        self._aside.discard()
        self._closed = True
        raise files.failed_write("video", self.path, cause, _count(self._written, "frame"))

    def _release(self) -> None:
        # Releasing writes the container's index; without it the file does not play.
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def close(self) -> None:
        if self._closed:
            return
        self._release()
        self._closed = True
        if not self._written:
            self._aside.discard()  # nothing to show for the run: whatever was there stays
            return
        with self._aside.finishing():
            # More frames than counted play when an interruption came between a write and its count.
            played = self._written if self._aside.in_place else frames_that_play(
                files.opencv_name(self._aside.path), self._written, READER_BY_FOURCC.get(self._fourcc, cv2.CAP_FFMPEG))
            if played < self._written:
                full = self._aside.free_bytes() < files.FULL_DISK_BYTES
                self._fail(os.strerror(errno.ENOSPC) if full else f"the finished file plays only {played} frames")
            self._aside.commit(_count(self._written, "frame"))


def frames_that_play(name: str, expected: int, backend: int = cv2.CAP_FFMPEG) -> int:
    """How many frames the video at ``name`` plays, checked cheaply when it says it holds ``expected``.

    The container's own count, the last frame and nothing after it; only when these disagree
    is every frame decoded and counted (a seek is not trusted to prove a file broken).
    """
    # A broken file makes the readers print their diagnosis; the error line says it for them.
    with native_stderr_captured():
        capture = cv2.VideoCapture(name, backend)
        try:
            if int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == expected and expected > 0:
                capture.set(cv2.CAP_PROP_POS_FRAMES, expected - 1)
                if capture.grab() and not capture.grab():
                    return expected
            capture.release()
            capture = cv2.VideoCapture(name, backend)
            played = 0
            while capture.grab():
                played += 1
            return played
        finally:
            capture.release()


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'' if number == 1 else 's'}"


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
        if not _image_type(first_path):
            raise UsageError(f"output '{shown(pattern)}': unsupported image type; use {SUPPORTED_OUTPUTS}")
        require_writable_folder(Path(first_path))
        self._extension = Path(first_path).suffix
        self._next_number = 0

    def _path(self, number: int) -> Path:
        return Path(self.pattern % number if self._numbered else self.pattern)

    def write(self, image: np.ndarray) -> None:
        write_image(self._path(self._next_number), image, _count(self._next_number, "image"))
        self._next_number += 1

    def close(self) -> None:
        pass  # every image is in place once write returns


def write_image(path: Path, image: np.ndarray, done: str, what: str = "image") -> None:
    """Encode ``image`` by ``path``'s extension in memory and write the bytes through Python, which reports
    a full disk as OSError and takes any file name; the image is put in place only once whole.
    ``done`` says how far the output got, for the error line."""
    try:
        encoded, data = cv2.imencode(path.suffix, image)
    except cv2.error:
        encoded = False
    if not encoded:
        raise files.failed_write(what, path, f"{path.suffix} cannot hold this frame", done)
    write_whole(path, data.tobytes(), done, what)


def write_whole(path: Path, data: bytes, done: str, what: str) -> None:
    """Write ``data`` aside and put it at ``path`` once all of it is on the disk; a failure is one line."""
    aside = files.WriteAside(path, what)
    with aside.finishing():
        try:
            with aside.open() as file:
                file.write(data)
            if not aside.in_place and aside.size() != len(data):
                raise OSError(errno.EIO, f"the file on disk is shorter than the {what}")
        except OSError as error:
            raise files.failed_write(what, path, files.reason(error), done) from None
        aside.commit(done)


def _image_type(path: str) -> bool:
    """Whether OpenCV writes images with ``path``'s extension (asked with a name it can take)."""
    extension = Path(path).suffix
    return files.opencv_takes(extension) and cv2.haveImageWriter("image" + extension)


class ResultsWriter(ClosesOnExit):
    """Writes one JSON line per frame: ``{"frame": i, "instances": [...]}``.

    Each instance is ``{"label", "name", "score", "box": [x1, y1, x2, y2], "mask"}`` where
    the mask is the full-frame COCO RLE ``{"size": [h, w], "counts": str}`` that
    ``pycocotools.mask.decode`` reads back.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._aside = files.WriteAside(path, "results")
        try:
            self._file: BinaryIO | None = self._aside.open()
        except OSError as error:
            self._aside.discard()
            raise files.failed_write("results", path, files.reason(error)) from None
        self._lines = 0

    def write(self, result: FrameResult) -> None:
        if self._file is None:
            raise ValueError(f"write to closed results '{shown(self.path)}'")
        record = {
            "frame": result.index,
            "instances": [_instance_record(i) for i in result.instances],
        }
        # The whole line in one call, then flush: an interrupted run leaves only whole lines.
        try:
            self._file.write((json.dumps(record) + "\n").encode("ascii"))
            self._file.flush()
        except OSError as error:
            self._fail(files.reason(error))
        self._lines += 1

    def _fail(self, cause: str) -> NoReturn:
        """Remove the unfinished file and raise: failed results never replace the target."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()  # its buffer may still hold what the disk refused
            self._file = None
        self._aside.discard()
        raise files.failed_write("results", self.path, cause, _count(self._lines, "line"))

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as error:
            self._fail(files.reason(error))
        self._file = None
        if not self._lines:
            self._aside.discard()  # nothing to show for the run: whatever was there stays
            return
        with self._aside.finishing():
            # More lines than counted are there when an interruption came between a write and its count.
            whole = self._lines if self._aside.in_place else _json_lines(self._aside.path)
            if whole is None or whole < self._lines:
                self._fail("the finished file does not read back as whole JSON lines")
            self._aside.commit(_count(self._lines, "line"))


def _json_lines(path: Path) -> int | None:
    """How many lines ``path`` holds when every one is a whole JSON value; None if one is not."""
    with path.open("rb") as file:
        lines = file.read().split(b"\n")
    if lines[-1]:
        return None  # a last line without its end
    try:
        for line in lines[:-1]:
            json.loads(line)
    except ValueError:
        return None
    return len(lines) - 1


def _instance_record(instance: Instance) -> dict[str, Any]:
    return {
        "label": int(instance.class_id),
        "name": instance.name,
        "score": float(instance.score),
        "box": [float(v) for v in instance.box.as_list()],
        "mask": instance.rle(),
        "id": instance.track_id,  # null when not tracked: an image, a folder, --no_track
    }


def _pad_to_even(image: np.ndarray) -> np.ndarray:
    """``image`` with a black column/row added if its width/height is odd; else unchanged."""
    height, width = image.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return image
    return cv2.copyMakeBorder(image, 0, height % 2, 0, width % 2, cv2.BORDER_CONSTANT, value=0)


def write_json(path: Path, content: object, what: str, indent: int | None = None) -> None:
    """Write ``content`` to ``path`` as JSON, put in place only once it reads back; a failure is
    one line naming ``what`` and why."""
    aside = files.WriteAside(path, what)
    with aside.finishing():
        try:
            with aside.open() as file:
                file.write((json.dumps(content, indent=indent) + "\n").encode("ascii"))
            if not aside.in_place:
                json.loads(aside.path.read_bytes())
        except (OSError, ValueError) as error:
            cause = files.reason(error) if isinstance(error, OSError) else "it does not read back as JSON"
            raise files.failed_write(what, path, cause) from None
        aside.commit()


def require_writable_folder(path: Path) -> None:
    """Fail before a long run, not after it, when ``path`` cannot be written."""
    folder = path.parent
    if not folder.is_dir():
        raise DemoError(f"cannot write '{shown(path)}': folder '{shown(folder)}' does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DemoError(f"cannot write '{shown(path)}': folder '{shown(folder)}' is not writable")

