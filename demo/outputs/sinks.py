"""Where results go: a video file, numbered images and JSON Lines."""
from __future__ import annotations

import contextlib
import errno
import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, Protocol, Self, TypeVar

import av
import cv2
import numpy as np

from demo.core import files, values
from demo.core.errors import DemoError, UsageError, native_stderr_captured
from demo.core.files import FRAME_NUMBER_FIELD, shown
from demo.core.flag import Flag, setting
from demo.core.wording import counted
from demo.frames.sources import ClosesOnExit
from demo.results.instances import FrameResult, Instance

# What encodes each container. MJPG and FFV1 are OpenCV's writers; H.264 (which opencv-python's
# FFmpeg lacks, and the only video codec every browser plays in MP4) is FFmpeg's libx264 through PyAV.
CODEC_BY_EXTENSION = {".avi": "MJPG", ".mp4": "H.264", ".mkv": "FFV1"}
# OpenCV opens FFmpeg inputs one at a time: a stream reconnecting to a server that accepts but does
# not answer holds that lock for its whole open time-out. MJPG AVIs (which OpenCV writes itself)
# are checked by OpenCV's own reader, so finishing one never waits on a camera.
READER_BY_CODEC = {"MJPG": cv2.CAP_OPENCV_MJPEG}
SUPPORTED_OUTPUTS = ".avi, .mp4, .mkv, or an image pattern like out_%03d.png with .png/.jpg/.bmp"
DEFAULT_CRF = 23  # libx264's and FFmpeg's own default: visually clean at a small size


@dataclass(frozen=True)
class VideoSettings:
    """How a video is encoded: ``crf`` is H.264's constant rate factor for .mp4 (0 lossless, 51 worst);
    with ``real_time`` an .mp4 stamps each frame with the time it was captured (a live source that
    drops frames) instead of n / fps."""

    crf: int = setting(Flag(("--crf",), "quality of an .mp4 output (H.264's constant rate factor): 18 looks "
                            "lossless, 51 is smallest, each +6 about halves the file; 0 is lossless but needs the "
                            "High 4:4:4 profile, which many players and hardware decoders lack (default: "
                            f"{DEFAULT_CRF})", values.whole_number(0, 51), metavar="N", given_only=True),
                       DEFAULT_CRF)  # x264's range for 8-bit video
    real_time: bool = False


Item = TypeVar("Item", contravariant=True)


class Sink(Protocol[Item]):
    """What every output offers: write items one by one, then close (also on context exit).

    ``captured`` is when the item's frame was read from a live source (perf_counter seconds),
    for an output that can keep real time; the others ignore it.
    """

    def write(self, item: Item, captured: float | None = None) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...


def open_output(path: str, fps: float, single_frame: bool = False,
                video: VideoSettings = VideoSettings()) -> Sink[np.ndarray]:
    """An image sequence when ``path`` has a frame-number field like %03d, one image when it
    is an image file and the input is a single frame, else a video.

    Everything that can be checked without a frame is checked here, so a bad path fails
    before inference starts.
    """
    if FRAME_NUMBER_FIELD.search(path):
        return ImageSequenceSink(path)
    if Path(path).suffix.lower() not in CODEC_BY_EXTENSION and _image_type(path):
        if not single_frame:
            raise UsageError(f"output '{shown(path)}' is one image but the input has several frames; "
                             f"use {SUPPORTED_OUTPUTS}")
        return ImageSequenceSink(path)
    return VideoSink(Path(path), fps, video)


class VideoSink(ClosesOnExit):
    """Writes frames to a video whose codec follows the extension (.avi MJPG, .mp4 H.264, .mkv FFV1).

    The encoder opens at the first frame and takes its size from it. H.264's yuv420p halves
    the colour resolution, so it takes only even sizes, and OpenCV's writers silently drop the
    last column/row of odd-sized frames: an odd width or height is padded with one black
    column/row at the right/bottom in every container alike. The video is then 1 px larger,
    never smaller, and every original pixel keeps its place.

    The video is written to a hidden file beside the target and put in place at ``close``
    only once it plays every frame written. OpenCV's writer reports no write errors, so
    every ``CHECK_EVERY`` frames a file that stopped growing on a full disk ends the run.
    """

    CHECK_EVERY = 16

    def __init__(self, path: Path, fps: float, settings: VideoSettings = VideoSettings()) -> None:
        codec = CODEC_BY_EXTENSION.get(path.suffix.lower())
        if codec is None:
            raise UsageError(f"output '{shown(path)}': unsupported type; use {SUPPORTED_OUTPUTS}")
        if not fps > 0:
            raise UsageError(f"output '{shown(path)}': fps must be positive, got {fps}")
        require_writable_folder(path)
        self.path = path
        self._codec = codec
        self._fps = fps
        self._settings = settings
        self._encoder: _Encoder | None = None
        self._size: tuple[int, int] = (0, 0)
        self._written = 0
        self._bytes_at_check = 0
        self._aside = files.WriteAside(path, "video")
        self._closed = False

    def write(self, image: np.ndarray, captured: float | None = None) -> None:
        if self._closed:
            # Reopening would silently overwrite the finished video.
            raise ValueError(f"write to closed video '{shown(self.path)}'")
        image = _pad_to_even(image)
        size = (image.shape[1], image.shape[0])
        try:
            if self._encoder is None:
                self._encoder = self._open_encoder(size)
                self._size = size
            elif size != self._size:
                self._fail(f"a frame is {size[0]}x{size[1]} but the video is {self._size[0]}x{self._size[1]}; "
                           "write mixed sizes to an image pattern instead")
            self._encoder.write(image, captured)
        except EncoderFailed as error:
            self._fail(str(error))
        self._written += 1
        if self._written % self.CHECK_EVERY == 0 and not self._encoder.reports_errors:
            self._check_growth()

    def _open_encoder(self, size: tuple[int, int]) -> _Encoder:
        name = files.opencv_name(self._aside.path)  # a name FFmpeg, too, can take
        if self._codec == "H.264":
            return H264Encoder(name, self._fps, size, self._settings.crf, self._settings.real_time,
                               seekable=not self._aside.in_place)
        return OpenCVEncoder(name, self._codec, self._fps, size)

    def _check_growth(self) -> None:
        try:
            grown = self._aside.size()
            full = grown == self._bytes_at_check and self._aside.free_bytes() < files.FULL_DISK_BYTES
        except OSError as error:
            self._fail(error)
        if full:
            self._fail(os.strerror(errno.ENOSPC))
        self._bytes_at_check = grown

    def _fail(self, cause: OSError | str) -> NoReturn:
        """Stop writing, remove the unfinished file and raise: a failed video never replaces the target."""
        if self._encoder is not None:
            self._encoder.abandon()
            self._encoder = None
        self._aside.discard()
        self._closed = True
        raise files.failed_write("video", self.path, self._aside.cause(cause), counted(self._written, "frame"))

    def close(self) -> None:
        if self._closed:
            return
        if self._encoder is not None:
            try:
                self._encoder.finish()  # writes the container's index; without it the file does not play
            except EncoderFailed as error:
                self._fail(str(error))
            self._encoder = None
        self._closed = True
        if not self._written:
            self._aside.discard()  # nothing to show for the run: whatever was there stays
            return
        with self._aside.finishing():
            # More frames than counted play when an interruption came between a write and its count.
            played = self._written if self._aside.in_place else frames_that_play(
                files.opencv_name(self._aside.path), self._written, READER_BY_CODEC.get(self._codec, cv2.CAP_FFMPEG))
            if played < self._written:
                self._fail(self._shortfall(played))
            self._aside.commit(counted(self._written, "frame"))

    def _shortfall(self, played: int) -> OSError | str:
        """Why the finished file plays fewer frames than were written."""
        try:
            full = self._aside.free_bytes() < files.FULL_DISK_BYTES
        except OSError as error:
            return error
        return os.strerror(errno.ENOSPC) if full else f"the finished file plays only {counted(played, 'frame')}"


class EncoderFailed(Exception):
    """An encoder refused a frame size or could not write: the cause, for the one-line error."""


class _Encoder(Protocol):
    """Frames of one size into one file: ``finish`` completes the file, ``abandon`` only lets go of it."""

    reports_errors: bool  # False: a failed write goes unnoticed until the file is checked

    def write(self, image: np.ndarray, captured: float | None) -> None: ...

    def finish(self) -> None: ...

    def abandon(self) -> None: ...


class OpenCVEncoder:
    """MJPG and FFV1 through OpenCV's writer, which reports no write errors."""

    reports_errors = False

    def __init__(self, name: str, fourcc: str, fps: float, size: tuple[int, int]) -> None:
        with native_stderr_captured():  # FFmpeg's and OpenCV's warnings would bury our line
            try:
                writer = cv2.VideoWriter(name, cv2.VideoWriter_fourcc(*fourcc), fps, size)
            except cv2.error:
                writer = None
        if writer is None or not writer.isOpened():
            raise EncoderFailed(f"the {fourcc} encoder cannot take {size[0]}x{size[1]} frames")
        self._writer = writer

    def write(self, image: np.ndarray, captured: float | None) -> None:
        self._writer.write(image)  # at n / fps: OpenCV's writer takes no timestamps

    def finish(self) -> None:
        self._writer.release()

    abandon = finish


class H264Encoder:
    """H.264 in MP4 through PyAV, as every browser plays it: High profile, yuv420p, and the index
    (moov) before the frames (mdat), so that playback starts before the whole file has arrived.
    Where the output cannot seek (a pipe), the MP4 is fragmented instead: the moov first, then
    the frames in fragments from one key frame to the next, as browsers stream it too.

    Frame n is stamped n / fps exactly, or, in ``real_time``, with the time since the first
    frame's capture (in 1/90000 s, MPEG's clock), so that a recording of a live source that
    dropped frames plays at the pace it was seen rather than too fast.

    OpenCV converts the BGR frames to yuv420p with BT.601 limited-range coefficients (within 1
    level of the original after decoding, where FFmpeg's swscale is 5 levels off and 9 times
    slower), and the stream is tagged so, so that players convert the colours back with the
    same ones. Unlike OpenCV's writer, FFmpeg reports a failed write.
    """

    reports_errors = True
    # x264's "veryfast": at 1080p about 36 ms of CPU a frame on this project's 2-core VM, twice
    # mp4v's, for files 2.5 times smaller; its default "medium" takes about twice as long again.
    PRESET = "veryfast"
    REAL_TIME_BASE = Fraction(1, 90_000)

    def __init__(self, name: str, fps: float, size: tuple[int, int], crf: int, real_time: bool = False,
                 seekable: bool = True) -> None:
        # In a file FFmpeg moves the moov to the front at the end, rereading the file by its name.
        layout = "+faststart" if seekable else "+frag_keyframe+empty_moov+default_base_moof"
        try:
            self._container = av.open(name, "w", format="mp4", options={"movflags": layout})
        except av.FFmpegError as error:
            raise EncoderFailed(_av_reason(error)) from None
        self._stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(100_000))
        self._configure(self._stream.codec_context, size, crf, real_time, seekable)
        try:
            self._stream.codec_context.open()  # now: a size x264 refuses fails before the first frame
        except av.FFmpegError:
            self.abandon()
            raise EncoderFailed(f"the H.264 encoder cannot take {size[0]}x{size[1]} frames") from None
        self._real_time = real_time
        self._next_pts = 0
        self._first_captured: float | None = None

    def _configure(self, codec: av.VideoCodecContext, size: tuple[int, int], crf: int, real_time: bool,
                   seekable: bool) -> None:
        codec.width, codec.height = size
        codec.pix_fmt = "yuv420p"
        if real_time:
            codec.time_base = self.REAL_TIME_BASE
        # A fragmented MP4 has no edit list to start at the first frame shown when B-frames delay
        # it, so there frames are coded in display order, at a slightly larger size.
        codec.options = {"crf": str(crf), "preset": self.PRESET, **({} if seekable else {"bf": "0"})}
        codec.colorspace = codec.color_primaries = codec.color_trc = SMPTE_170M
        codec.color_range = LIMITED_RANGE

    def write(self, image: np.ndarray, captured: float | None) -> None:
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        frame.pts = self._pts(captured)
        self._encode(frame)
        self._next_pts = frame.pts + 1

    def _pts(self, captured: float | None) -> int:
        """n, or in real time the time since the first capture; never earlier than the frame before."""
        if not self._real_time or captured is None:
            return self._next_pts
        if self._first_captured is None:
            self._first_captured = captured
        return max(self._next_pts, round((captured - self._first_captured) / self.REAL_TIME_BASE))

    def finish(self) -> None:
        self._encode(None)  # the frames x264 still holds for its look-ahead
        try:
            self._container.close()
        except av.FFmpegError as error:
            raise EncoderFailed(_av_reason(error)) from None

    def abandon(self) -> None:
        with contextlib.suppress(av.FFmpegError):
            self._container.close()

    def _encode(self, frame: av.VideoFrame | None) -> None:
        try:
            self._container.mux(self._stream.encode(frame))
        except av.FFmpegError as error:
            raise EncoderFailed(_av_reason(error)) from None


# FFmpeg's AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic and AVColorRange values.
SMPTE_170M = 6  # BT.601 for 525-line video: the coefficients of OpenCV's COLOR_BGR2YUV_I420
LIMITED_RANGE = 1  # Y in 16..235, as COLOR_BGR2YUV_I420 gives it and players assume for H.264


def _av_reason(error: av.FFmpegError) -> str:
    """The cause in a PyAV error (``strerror``), without the file name and the FFmpeg call it adds."""
    return error.strerror or type(error).__name__


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
                f"output pattern '{shown(pattern)}' must take one frame number, like out_%03d.png"
            ) from None
        if not _image_type(first_path):
            raise UsageError(f"output '{shown(pattern)}': unsupported image type; use {SUPPORTED_OUTPUTS}")
        require_writable_folder(Path(first_path))
        self._extension = Path(first_path).suffix
        self._next_number = 0

    def _path(self, number: int) -> Path:
        return Path(self.pattern % number if self._numbered else self.pattern)

    def write(self, image: np.ndarray, captured: float | None = None) -> None:
        write_image(self._path(self._next_number), image, counted(self._next_number, "image"))
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
            raise files.failed_write(what, path, aside.cause(error), done) from None
        aside.commit(done)


def _image_type(path: str) -> bool:
    """Whether OpenCV writes images with ``path``'s extension (asked with a name it can take)."""
    extension = Path(path).suffix
    return files.opencv_takes(extension) and cv2.haveImageWriter("image" + extension)


class ResultsWriter(ClosesOnExit):
    """Writes one JSON line per frame: ``{"frame": i, "instances": [...]}``, with ``"source": NAME`` first in
    a run of several sources.

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
            **({"source": result.source} if result.source else {}),  # only in a run of several sources
            "frame": result.index,
            "instances": [_instance_record(i) for i in result.instances],
        }
        # The whole line in one call, then flush: an interrupted run leaves only whole lines.
        try:
            self._file.write((json.dumps(record) + "\n").encode("ascii"))
            self._file.flush()
        except OSError as error:
            self._fail(error)
        self._lines += 1

    def _fail(self, cause: OSError | str) -> NoReturn:
        """Remove the unfinished file and raise: failed results never replace the target."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()  # its buffer may still hold what the disk refused
            self._file = None
        self._aside.discard()
        raise files.failed_write("results", self.path, self._aside.cause(cause), counted(self._lines, "line"))

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as error:
            self._fail(error)
        self._file = None
        if not self._lines:
            self._aside.discard()  # nothing to show for the run: whatever was there stays
            return
        with self._aside.finishing():
            # More lines than counted are there when an interruption came between a write and its count.
            try:
                whole = self._lines if self._aside.in_place else _json_lines(self._aside.path)
            except OSError as error:
                self._fail(error)
            if whole is None or whole < self._lines:
                self._fail("the finished file does not read back as whole JSON lines")
            self._aside.commit(counted(self._lines, "line"))


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
            cause = aside.cause(error) if isinstance(error, OSError) else "it does not read back as JSON"
            raise files.failed_write(what, path, cause) from None
        aside.commit()


def require_writable_folder(path: Path) -> None:
    """Fail before a long run, not after it, when ``path`` cannot be written."""
    folder = path.parent
    if not folder.is_dir():
        raise DemoError(f"cannot write '{shown(path)}': folder '{shown(folder)}' does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DemoError(f"cannot write '{shown(path)}': folder '{shown(folder)}' is not writable")

