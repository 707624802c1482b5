"""Where frames come from: a camera, an image, a folder of images, an image sequence or a video."""
from __future__ import annotations

import contextlib
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

import cv2
import numpy as np

from demo import files
from demo.errors import DemoError
from demo.files import FRAME_NUMBER_FIELD, shown

logger = logging.getLogger(__name__)

# FFmpeg's chatter about a broken file would only repeat the one-line errors raised here.
# It is read when OpenCV first starts FFmpeg; users who want it can set the variable themselves.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

SourceKind = Literal["image", "folder", "sequence", "video", "camera"]


@dataclass
class Frame:
    """One input frame: ``image`` is contiguous HxWx3 uint8 BGR; ``name`` is its file name or ""."""

    index: int
    image: np.ndarray
    name: str


class ClosesOnExit(ABC):
    """Makes anything with ``close()`` a context manager that closes on exit."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FrameSource(ClosesOnExit):
    """The frames of one input, numbered 0, 1, 2, … across loops.

    ``fps`` is the input's own frame rate when it has one, ``frame_count`` the number of
    frames in one pass when known, and ``live`` is True for cameras (which never loop).
    """

    kind: SourceKind
    fps: float | None = None
    live: bool = False
    frame_count: int | None = None

    def __init__(self, loop: bool) -> None:
        self._loop = loop

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while True:
            pass_start = index
            for image, name in self._one_pass():
                yield Frame(index, image, name)
                index += 1
            # An empty pass (files gone, every image unreadable) would otherwise loop forever.
            if not self._loop or self.live or index == pass_start:
                return

    @abstractmethod
    def _one_pass(self) -> Iterator[tuple[np.ndarray, str]]:
        """Yields (image, name) for each frame of one pass over the input."""

    def close(self) -> None:
        pass


class _StillImage(FrameSource):
    kind = "image"
    frame_count = 1

    def __init__(self, image: np.ndarray, name: str, loop: bool) -> None:
        super().__init__(loop)
        self._image = image
        self._name = name

    def _one_pass(self) -> Iterator[tuple[np.ndarray, str]]:
        # When looping, each pass gets its own copy because the caller may draw on its frame.
        yield (self._image.copy() if self._loop else self._image), self._name


class _ImageFolder(FrameSource):
    kind = "folder"

    def __init__(self, paths: list[Path], loop: bool) -> None:
        super().__init__(loop)
        self._paths = paths
        self.frame_count = len(paths)

    def _one_pass(self) -> Iterator[tuple[np.ndarray, str]]:
        for path in self._paths:
            try:
                image = _read_image(path)
            except UnreadableImage as error:
                logger.warning("skipping '%s': %s", shown(path), error)
                continue
            yield image, path.name


class _Capture(FrameSource):
    """Frames decoded by cv2.VideoCapture: a video, an image sequence or a camera."""

    def __init__(
        self,
        kind: SourceKind,
        target: str | int,
        opened: tuple[cv2.VideoCapture, np.ndarray],
        loop: bool,
    ) -> None:
        super().__init__(loop)
        self.kind = kind
        self.live = kind == "camera"
        self._target = target
        self._capture, first_image = opened
        self._first_image: np.ndarray | None = first_image
        # FFmpeg reports a made-up 25 fps for image sequences, so only trust it for videos/cameras.
        if kind != "sequence":
            self.fps = _positive_or_none(self._capture.get(cv2.CAP_PROP_FPS))
        if not self.live:
            frame_count = _positive_or_none(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
            self.frame_count = None if frame_count is None else int(frame_count)

    @property
    def _label(self) -> str:
        return f"camera {self._target}" if self.live else f"{self.kind} '{self._target}'"

    def _one_pass(self) -> Iterator[tuple[np.ndarray, str]]:
        if self._first_image is None:
            self._reopen()
        image, self._first_image = self._first_image, None
        frames_read = 0
        while True:
            yield _to_bgr8(image), ""
            frames_read += 1
            ok, image = self._capture.read()
            if not ok:
                break
        if self.live:
            logger.warning("%s stopped delivering frames after %d frames", self._label, frames_read)
        elif self.frame_count is not None and frames_read < self.frame_count:
            logger.warning(
                "%s ended early: read %d of %d frames", self._label, frames_read, self.frame_count
            )

    def _reopen(self) -> None:
        # Reopening is more reliable than seeking to frame 0, which some containers get wrong.
        self._capture.release()
        opened = _open_capture(self._target)
        if opened is None:
            raise DemoError(f"{self._label} could not be reopened to loop it")
        self._capture, self._first_image = opened

    def close(self) -> None:
        self._capture.release()


def open_source(spec: str, loop: bool = False) -> FrameSource:
    """Opens a camera index ("0"), an image, a folder of images, a pattern like
    ``frames/img_%04d.png`` or a video; ``loop`` repeats it forever (cameras ignore it)."""
    if spec.isdigit():
        return _open_camera(int(spec))
    path = Path(spec)
    if path.is_dir():
        return _open_folder(path, loop)
    if path.exists():
        return _open_file(path, loop)
    if FRAME_NUMBER_FIELD.search(spec):
        return _open_sequence(spec, loop)
    raise DemoError(f"input '{shown(spec)}' does not exist")


def _open_camera(index: int) -> FrameSource:
    opened = _open_capture(index)
    if opened is None:
        raise DemoError(f"camera {index} could not be opened or gave no frame (is it connected and free?)")
    return _Capture("camera", index, opened, loop=False)


def _open_folder(folder: Path, loop: bool) -> FrameSource:
    images, skipped = folder_images(folder)
    for path, why in skipped:
        logger.warning("skipping '%s': %s", shown(path), why)
    if not images:
        raise DemoError(f"folder '{shown(folder)}' contains no images")
    return _ImageFolder(images, loop)


def folder_images(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The folder's images in name order, and every other file with why it is not read.

    Folders inside it are not read and not reported: the input is the folder's own files.
    """
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as error:
        raise DemoError(f"folder '{shown(folder)}' cannot be listed: {files.reason(error)}") from None
    images: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in entries:
        if path.is_dir():
            continue
        if not path.is_file():
            skipped.append((path, "not a regular file" if path.exists() else "a link to nothing"))
        elif _is_image(path):
            images.append(path)
        else:
            skipped.append((path, "not an image"))
    return images, skipped


def _is_image(path: Path) -> bool:
    # haveImageReader only checks the file signature, so this stays cheap for big folders.
    return cv2.haveImageReader(files.opencv_name(path))


def _open_file(path: Path, loop: bool) -> FrameSource:
    if not os.access(path, os.R_OK):
        raise DemoError(f"input '{shown(path)}' is not readable (permission denied)")
    # Try the image reader first: FFmpeg would also open a single image, as a one-frame video.
    if path.is_file() and _is_image(path):
        with contextlib.suppress(UnreadableImage):
            return _StillImage(_read_image(path), path.name, loop)
    name = files.opencv_name(path)
    opened = _open_capture(name)
    if opened is None:
        raise DemoError(f"input '{shown(path)}' is neither a readable image nor a readable video")
    return _Capture("video", name, opened, loop)


def _open_sequence(pattern: str, loop: bool) -> FrameSource:
    folder, name = os.path.split(pattern)
    if not files.opencv_takes(name):
        raise DemoError(f"input pattern '{shown(pattern)}': FFmpeg cannot take this file name; "
                        "give the folder of images instead")
    target = os.path.join(files.opencv_name(Path(folder)), name) if folder else pattern
    opened = _open_capture(target)
    if opened is None:
        raise DemoError(
            f"no images match '{shown(pattern)}' (FFmpeg expects the first number to be 0-4, with no gaps)"
        )
    source = _Capture("sequence", target, opened, loop)
    # FFmpeg reads only up to the first gap in the numbers, and its count is a guess: the files
    # are counted here, so that those after a gap are reported as not read.
    source.frame_count = len(files.pattern_files(pattern))
    return source


def _open_capture(target: str | int) -> tuple[cv2.VideoCapture, np.ndarray] | None:
    """A capture that has already delivered its first frame, with that frame; None if it cannot."""
    with _opencv_warnings_silenced():
        capture = cv2.VideoCapture(target)
        ok, first_image = capture.read() if _plays_pictures(capture) else (False, None)
    if not ok:
        capture.release()
        return None
    return capture, first_image


def _plays_pictures(capture: cv2.VideoCapture) -> bool:
    if not capture.isOpened():
        return False
    # FFmpeg's tty demuxer "plays" any text file as rendered ANSI art; that is not a video.
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little")
    return fourcc != b"ansi"


@contextlib.contextmanager
def _opencv_warnings_silenced() -> Iterator[None]:
    """While probing, OpenCV's backend-by-backend warnings would bury our one-line error."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


class UnreadableImage(Exception):
    """Why a file could not be read as an image."""


def _read_image(path: Path) -> np.ndarray:
    """The image at ``path`` as 8-bit BGR; UnreadableImage if it is not a readable 8- or 16-bit image.

    The bytes are read by Python and decoded from memory, so that any file name works and a
    read error says what it is.
    """
    try:
        data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    except OSError as error:
        raise UnreadableImage(files.reason(error)) from None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error:
        image = None
    if image is None:
        raise UnreadableImage("not a readable image")
    if image.dtype not in (np.uint8, np.uint16):
        raise UnreadableImage(f"{image.dtype} pixels; only 8- and 16-bit images are read")
    return _to_bgr8(image)


def _to_bgr8(image: np.ndarray) -> np.ndarray:
    """Converts grayscale, BGRA and 16-bit images to HxWx3 uint8 BGR; BGR uint8 passes uncopied."""
    if image.dtype == np.uint16:
        image = cv2.convertScaleAbs(image, alpha=1 / 257)
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


def _positive_or_none(value: float) -> float | None:
    # OpenCV reports unknown properties as 0, -1 or NaN; `value > 0` is False for all of them.
    return value if value > 0 else None


def files_read(spec: str) -> list[Path]:
    """The files that opening ``spec`` as in ``open_source`` reads, to check outputs against them."""
    path = Path(spec)
    if spec.isdigit():
        return []
    if path.is_dir():
        return folder_images(path)[0]
    if path.exists():
        return [path]
    return files.pattern_files(spec) if FRAME_NUMBER_FIELD.search(spec) else []
