"""Where frames come from: an image, a folder of images, an image sequence, a video, a camera or a stream."""
from __future__ import annotations

import logging
import os
import stat
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from demo.core import files
from demo.core.errors import DemoError, native_stderr_captured
from demo.core.files import FRAME_NUMBER_FIELD, shown
from demo.core.wording import counted
from demo.frames.live import STREAM_SCHEMES, Capture, LiveReader, LiveSettings, is_stream_url
from demo.frames.motion_jpeg import MotionJpeg, is_motion_jpeg, packets_of

logger = logging.getLogger(__name__)

MAX_CAMERA_INDEX = 2**31 - 1  # what OpenCV takes as a camera index (a C int)
# Pixels an image may have, checked from its header before decoding: 8K frames (33 million) and
# the largest usual photos (108 million) pass, while a 16000x16000 picture, a few MB as a PNG,
# would take gigabytes. --max_image_pixels changes it, up to OpenCV's own limit of 2^30.
DEFAULT_MAX_IMAGE_PIXELS = 2**27
_max_image_pixels = DEFAULT_MAX_IMAGE_PIXELS

SourceKind = Literal["image", "folder", "sequence", "video", "camera", "stream"]


@dataclass
class Frame:
    """One input frame: ``image`` is contiguous HxWx3 uint8 BGR; ``name`` is its file name or "".

    ``captured`` is the perf_counter() time the frame was read from a live source, or when
    its decoding began for a file: the age of what is shown counts from it.
    ``dropped_before`` counts the frames a live source dropped since the previous frame.
    ``cut`` says it does not follow on from the frame before (the first of a pass, or an image
    of a folder): a recurrent model starts its states again there.
    ``source`` names the input it came from in a run of several (see :mod:`demo.frames.merge`); "" for one.
    """

    index: int
    image: np.ndarray
    name: str
    captured: float = 0.0
    dropped_before: int = 0
    cut: bool = False
    source: str = ""


class ClosesOnExit(ABC):
    """Makes anything with ``close()`` a context manager that closes on exit."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FrameSource(ClosesOnExit):
    """The frames of one input, numbered 0, 1, 2, … without gaps, across loops and reconnections.

    ``fps`` is the input's own frame rate when it has one, ``frame_count`` the number of
    frames in one pass when known, and ``live`` is True for cameras and streams, which
    deliver at their own pace, never loop, and drop the frames nobody took in time.
    """

    kind: SourceKind
    fps: float | None = None
    live: bool = False
    frame_count: int | None = None

    @abstractmethod
    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None:
        pass


class _FileSource(FrameSource):
    """Files, read on demand, pass after pass when looping."""

    def __init__(self, loop: bool) -> None:
        self._loop = loop

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while True:
            pass_start = index
            frames = self._one_pass()
            while True:
                captured = time.perf_counter()  # before decoding: a file frame's age includes it
                item = next(frames, None)
                if item is None:
                    break
                yield Frame(index, *item, captured, cut=index == pass_start or self.kind == "folder")
                index += 1
            # An empty pass (files gone, every image unreadable) would otherwise loop forever.
            if not self._loop or index == pass_start:
                return

    @abstractmethod
    def _one_pass(self) -> Iterator[tuple[np.ndarray, str]]:
        """Yields (image, name) for each frame of one pass over the input."""


class _StillImage(_FileSource):
    """One image, decoded when first taken rather than when opened: many images opened at once
    (``-i @list``) then hold one decoded picture each only while it is in use."""

    kind = "image"
    frame_count = 1

    def __init__(self, path: Path, loop: bool) -> None:
        super().__init__(loop)
        self._path = path
        self._image: np.ndarray | None = None  # kept between passes when looping

    def _one_pass(self) -> Iterator[tuple[np.ndarray, str]]:
        image = self._image
        if image is None:
            try:
                image = _read_image(self._path)
            except UnreadableImage as error:
                raise DemoError(f"input '{shown(self._path)}': {error}") from None
        if self._loop:
            self._image = image
            image = image.copy()  # each pass its own copy, as the caller may draw on its frame
        yield image, self._path.name


class _ImageFiles(_FileSource):
    """Images decoded one at a time as they are taken, so that memory holds one whatever their number:
    a folder's (each a frame of its own), or an image pattern's (frames of one sequence)."""

    def __init__(self, kind: SourceKind, paths: list[Path], loop: bool) -> None:
        super().__init__(loop)
        self.kind = kind
        self._paths = paths
        self.frame_count = len(paths)

    def _one_pass(self) -> Iterator[tuple[np.ndarray, str]]:
        for path in self._paths:
            try:
                image = _read_image(path)
            except UnreadableImage as error:
                logger.warning("skipping '%s': %s", shown(path), error)
                continue
            yield image, path.name if self.kind == "folder" else ""


class _ImageSequence(_ImageFiles):
    """An image pattern's files that follow on from the first, read with the image reader (upright, within the
    pixel limit); those after a gap in the numbers are counted, and reported as not read."""

    def __init__(self, pattern: str, run: list[Path], named: int, loop: bool) -> None:
        super().__init__("sequence", run, loop)
        self.frame_count = named
        self._pattern = pattern

    def _one_pass(self) -> Iterator[tuple[np.ndarray, str]]:
        frames_read = 0
        for frame in super()._one_pass():
            frames_read += 1
            yield frame
        if frames_read < self.frame_count:
            logger.warning("sequence '%s' ended early: read %d of %s", shown(self._pattern), frames_read,
                           counted(self.frame_count, "frame"))


class _Capture(_FileSource):
    """Frames decoded by cv2.VideoCapture from a file: a video or an image sequence."""

    def __init__(
        self,
        kind: SourceKind,
        target: str,
        opened: tuple[cv2.VideoCapture | MotionJpeg, np.ndarray],
        loop: bool,
    ) -> None:
        super().__init__(loop)
        self.kind = kind
        self._target = target
        self._capture, first_image = opened
        self._first_image: np.ndarray | None = first_image
        # FFmpeg reports a made-up 25 fps for image sequences, so only trust it for videos.
        if kind != "sequence":
            self.fps = _positive_or_none(self._capture.get(cv2.CAP_PROP_FPS))
        frame_count = _positive_or_none(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = None if frame_count is None else int(frame_count)

    @property
    def _label(self) -> str:
        return f"{self.kind} '{shown(self._target)}'"

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
        if self.frame_count is not None and frames_read < self.frame_count:
            logger.warning(
                "%s ended early: read %d of %s", self._label, frames_read, counted(self.frame_count, "frame")
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


class _LiveSource(FrameSource):
    """A camera, stream or named pipe, read by a LiveReader: the newest frame each time one is taken."""

    live = True

    def __init__(self, kind: SourceKind, label: str, connect: Callable[[], tuple[Capture, np.ndarray] | None],
                 settings: LiveSettings) -> None:
        self.kind = kind
        self.label = label
        self.description = ""  # what the source delivers, as its first connection found it
        self._connect = connect
        self._reader = LiveReader(label, self._connect_and_describe, settings)

    def _connect_and_describe(self) -> tuple[Capture, np.ndarray] | None:
        opened = self._connect()
        if opened is not None and not self.description:
            capture, image = opened
            self.fps = _positive_or_none(capture.get(cv2.CAP_PROP_FPS))
            self.description = describe_capture(capture, image)
        return opened

    def wait_opened(self) -> bool | None:
        return self._reader.wait_opened()

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while (taken := self._reader.take()) is not None:
            # Frames that came while the demo was starting up were never the pipeline's to take.
            dropped = taken.dropped_before if index else 0
            yield Frame(index, _to_bgr8(taken.image), "", taken.captured, dropped)
            index += 1

    def close(self) -> None:
        self._reader.close()


def describe_capture(capture: cv2.VideoCapture, image: np.ndarray) -> str:
    """What a capture actually delivers: size, frame rate and, for a camera, its pixel format."""
    height, width = image.shape[:2]
    fps = _positive_or_none(capture.get(cv2.CAP_PROP_FPS))
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("ascii", "replace").strip("\0 ")
    rate = f" at {fps:g} fps" if fps else ""
    return f"{width}x{height}{rate}" + (f", {fourcc}" if fourcc.isprintable() and fourcc else "")


def open_source(spec: str, loop: bool = False, live: LiveSettings | None = None) -> FrameSource:
    """Opens a camera index ("0"), a stream URL, an image, a folder of images, a pattern like
    ``frames/img_%04d.png``, a video or a named pipe; ``loop`` repeats a file forever."""
    live = live or LiveSettings()
    if spec.isdigit():
        if int(spec) > MAX_CAMERA_INDEX:
            raise DemoError(f"camera index {spec} is out of range (0 to {MAX_CAMERA_INDEX})")
        return _open_camera(int(spec), live)
    if is_stream_url(spec):
        return _open_stream(spec, live)
    path = Path(spec)
    if path.is_dir():
        return _open_folder(path, loop)
    if path.exists() and not path.is_file():
        return _open_special(path, live)
    if path.exists():
        return _open_file(path, loop)
    if FRAME_NUMBER_FIELD.search(spec):
        return _open_sequence(spec, loop)
    if "://" in spec:
        raise DemoError(f"input '{shown(spec)}': unknown URL scheme (the demo reads "
                        f"{', '.join(scheme + '://' for scheme in STREAM_SCHEMES)})")
    raise DemoError(f"input '{shown(spec)}' does not exist")


def _open_live(source: _LiveSource, failure: str, asked: str = "", silent: str = "") -> _LiveSource:
    """Waits, interruptibly, for the source's first frame; one line if none comes: ``failure``
    when opening failed, ``silent`` when it is still waiting after the time-outs."""
    # Backends print their own diagnosis of a failed open; the one line below says it for them.
    with native_stderr_captured():
        opened = source.wait_opened()
    if not opened:
        source.close()
        raise DemoError(failure if opened is False else silent or f"{source.label} gave no frame in time")
    logger.info("%s: %s%s", source.label, source.description, f" (asked for {asked})" if asked else "")
    return source


def _open_camera(index: int | str, settings: LiveSettings) -> FrameSource:
    def connect() -> tuple[cv2.VideoCapture, np.ndarray] | None:
        return _open_capture(index, properties=_camera_properties(settings))

    label = f"camera {shown(str(index))}"  # a device's path is a name like any other
    source = _LiveSource("camera", label, connect, settings)
    failure = f"{label} could not be opened or gave no frame (is it connected and free?)"
    return _open_live(source, failure, _camera_request(settings))


def _camera_properties(settings: LiveSettings) -> list[tuple[int, float]]:
    """Set in this order: the pixel format decides which sizes and rates the driver offers."""
    # MJPG is how most USB cameras give high resolutions at full rate; one that lacks it keeps its own.
    properties = [(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))]
    if settings.camera_resolution:
        width, height = settings.camera_resolution
        properties += [(cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height)]
    if settings.camera_fps:
        properties.append((cv2.CAP_PROP_FPS, settings.camera_fps))
    # One buffer: what is shown is what the camera sees now, not what it saw a few frames ago.
    properties.append((cv2.CAP_PROP_BUFFERSIZE, 1))
    return properties


def _camera_request(settings: LiveSettings) -> str:
    size = "x".join(map(str, settings.camera_resolution)) if settings.camera_resolution else ""
    rate = f"{settings.camera_fps:g} fps" if settings.camera_fps else ""
    return " at ".join(part for part in (size, rate) if part)


def _open_stream(url: str, settings: LiveSettings) -> FrameSource:
    _set_ffmpeg_option("rtsp_transport", settings.rtsp_transport)
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, round(1000 * settings.open_timeout),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, round(1000 * settings.read_timeout)]

    def connect() -> tuple[cv2.VideoCapture, np.ndarray] | None:
        return _open_capture(url, cv2.CAP_FFMPEG, timeouts)

    label = f"stream '{shown(url)}'"
    failure = f"{label} could not be opened within {settings.open_timeout:g} s or gave no frame"
    return _open_live(_LiveSource("stream", label, connect, settings), failure)


def _open_special(path: Path, settings: LiveSettings) -> FrameSource:
    """A named pipe is read as a stream; a device as a camera (V4L2 takes /dev/video0); nothing else."""
    mode = path.stat().st_mode
    if stat.S_ISCHR(mode):
        return _open_camera(str(path), settings)
    if not stat.S_ISFIFO(mode):
        raise DemoError(f"input '{shown(path)}' is neither a file, a folder, a named pipe nor a camera device")

    def connect() -> tuple[cv2.VideoCapture, np.ndarray] | None:
        # Opening a pipe blocks until a writer opens it: on the reader thread, which nobody joins.
        return _open_capture(files.opencv_name(path), cv2.CAP_FFMPEG)

    label = f"named pipe '{shown(path)}'"
    waited = settings.open_timeout + settings.read_timeout + 1
    return _open_live(_LiveSource("stream", label, connect, settings), f"{label} is not a readable video stream",
                      silent=f"no writer opened {label} within {waited:g} s")


def _set_ffmpeg_option(name: str, value: str) -> None:
    """Adds an FFmpeg option to those OpenCV passes to every capture, unless the user set it already."""
    variable = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
    options = [option for option in os.environ.get(variable, "").split("|") if option]
    if not any(option.partition(";")[0] == name for option in options):
        os.environ[variable] = "|".join([*options, f"{name};{value}"])


def _open_folder(folder: Path, loop: bool) -> FrameSource:
    images, skipped = folder_images(folder)
    for path, why in skipped:
        logger.warning("skipping '%s': %s", shown(path), why)
    if not images:
        raise DemoError(f"folder '{shown(folder)}' contains no images")
    return _ImageFiles("folder", images, loop)


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
    if path.is_file() and _is_image(path) and _reads_as_image(path):
        return _StillImage(path, loop)
    name = files.opencv_name(path)
    opened = _open_capture(name)
    if opened is None:
        raise DemoError(f"input '{shown(path)}' is neither a readable image nor a readable video")
    return _Capture("video", name, opened, loop)


def _reads_as_image(path: Path) -> bool:
    """Whether ``path`` starts as an image of at most the pixel limit (a DemoError if larger), read from its
    header alone; one of a format Pillow does not know (OpenEXR, Radiance HDR) is decoded to tell."""
    try:
        return _check_pixels(path) or _decodes(path)
    except UnreadableImage as error:
        raise DemoError(f"input '{shown(path)}': {error}") from None


def _decodes(path: Path) -> bool:
    try:
        _read_image(path)
    except UnreadableImage:
        return False
    return True


def _open_sequence(pattern: str, loop: bool) -> FrameSource:
    run = _sequence_run(pattern)
    if not run:
        raise DemoError(
            f"no images match '{shown(pattern)}' (the first number must be 0-4, and the numbers follow with no gaps)"
        )
    return _ImageSequence(pattern, run, len(files.pattern_files(pattern)), loop)


def _sequence_run(pattern: str) -> list[Path]:
    """The files an image pattern reads, as FFmpeg's image2 reader and so every OpenCV program takes them:
    from the first number of 0 to 4 that exists, on while the next number exists."""
    folder, name = os.path.split(pattern)
    first = next((number for number in range(5) if Path(folder, name % number).is_file()), None)
    if first is None:
        return []
    run: list[Path] = []
    while (path := Path(folder, name % (first + len(run)))).is_file():
        run.append(path)
    return run


def _open_capture(target: str | int, api: int = cv2.CAP_ANY, parameters: Sequence[int] = (),
                  properties: Sequence[tuple[int, float]] = ()
                  ) -> tuple[cv2.VideoCapture | MotionJpeg, np.ndarray] | None:
    """A capture that has already delivered its first frame, with that frame; None if it cannot. Motion JPEG's
    frames are decoded here (:mod:`demo.frames.motion_jpeg`), the rest by OpenCV's backend.

    ``parameters`` are given at opening (OpenCV's time-outs), ``properties`` set once open
    (a camera's format, size and rate).
    """
    capture = _new_capture(target, api, parameters, properties)
    if _plays_pictures(capture) and is_motion_jpeg(capture):
        jpeg = packets_of(capture, f"input '{shown(str(target))}'")
        first_image = jpeg.first() if jpeg else None
        if jpeg and first_image is not None:
            return jpeg, first_image
        capture.release()  # its frames left to FFmpeg after all, read from the start again
        capture = _new_capture(target, api, parameters, properties)
    ok, first_image = capture.read() if _plays_pictures(capture) else (False, None)
    if not ok:
        capture.release()
        return None
    return capture, first_image


def _new_capture(target: str | int, api: int, parameters: Sequence[int],
                 properties: Sequence[tuple[int, float]]) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(target, api, list(parameters))
    for name, value in properties:
        capture.set(name, value)
    return capture


def _plays_pictures(capture: cv2.VideoCapture) -> bool:
    if not capture.isOpened():
        return False
    # FFmpeg's tty demuxer "plays" any text file as rendered ANSI art; that is not a video.
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little")
    return fourcc != b"ansi"


class UnreadableImage(Exception):
    """Why a file could not be read as an image."""


def limit_image_pixels(pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
    """The most pixels an image may have (--max_image_pixels): the command line's, for the whole process.
    Pillow, which reads the headers, keeps its own lower limit unless it is told the demo's replaces it."""
    global _max_image_pixels
    _max_image_pixels = pixels
    Image.MAX_IMAGE_PIXELS = None


def _check_pixels(path: Path) -> bool:
    """Whether Pillow knows the image's format; UnreadableImage if its header gives more pixels than allowed
    (read without decoding them, so the check costs nothing whatever the size)."""
    try:
        # The demo's limit replaces Pillow's warning, which a library user would otherwise see as well.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except UnidentifiedImageError:
        return False
    except Image.DecompressionBombError:  # from Python: Pillow's own limit holds (PIL.Image.MAX_IMAGE_PIXELS)
        raise UnreadableImage(f"more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels, Pillow's limit") from None
    except OSError as error:
        raise UnreadableImage(files.reason(error)) from None
    if width * height > _max_image_pixels:
        raise UnreadableImage(f"{width}x{height} is {width * height:,} pixels, more than the {_max_image_pixels:,} "
                              "allowed (--max_image_pixels raises the limit)")
    return True


def _read_image(path: Path) -> np.ndarray:
    """The image at ``path`` as 8-bit BGR, upright as its EXIF orientation says; UnreadableImage if it has more
    pixels than allowed or is not a readable 8- or 16-bit image.

    The bytes are read by Python and decoded from memory, so that any file name works and a
    read error says what it is.
    """
    _check_pixels(path)
    try:
        data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    except OSError as error:
        raise UnreadableImage(files.reason(error)) from None
    # Any flags but IMREAD_UNCHANGED turn the picture upright; ANYDEPTH keeps 16 bits, COLOR makes it BGR.
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH) if data.size else None
    except cv2.error:
        image = None
    if image is None:
        image = _partly_decoded(path)
    if image is None:
        raise UnreadableImage("not a readable image")
    if image.dtype not in (np.uint8, np.uint16):
        raise UnreadableImage(f"{image.dtype} pixels; only 8- and 16-bit images are read")
    return _to_bgr8(image)


def _partly_decoded(path: Path) -> np.ndarray | None:
    """What FFmpeg decodes of an image that OpenCV's image reader refuses whole (a truncated JPEG: the top
    part, the rest gray), with a warning naming the file; None if FFmpeg cannot read it either."""
    opened = _open_capture(files.opencv_name(path))
    if opened is None:
        return None
    capture, image = opened
    capture.release()
    logger.warning("image '%s' is damaged or truncated: only what could be decoded of it is used", shown(path))
    return image


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """A caller's frame as contiguous HxWx3 uint8 BGR (gray, BGRA and 16-bit converted); a ValueError
    naming what is wrong with one that is no picture."""
    if not isinstance(frame, np.ndarray) or frame.dtype not in (np.uint8, np.uint16) or frame.ndim not in (2, 3) \
            or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)) or 0 in frame.shape:
        shape = getattr(frame, "shape", None)
        raise ValueError(f"a frame must be an HxW or HxWxC (C = 1, 3 or 4) uint8 or uint16 array, BGR; got "
                         f"{type(frame).__name__} {shape if shape is not None else ''} {getattr(frame, 'dtype', '')}")
    return _to_bgr8(frame)


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
