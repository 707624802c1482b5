"""Live sources (cameras, network streams, named pipes): read on a thread of their own.

A live source delivers frames at its own pace whether the demo is ready or not. A reader
thread takes each frame as it comes and keeps only the newest (the ones nobody took are
dropped and counted), or, with ``no_drop``, a short queue that blocks the reader when full.
When the source stops delivering, the reader says so once and reconnects with a bounded
back-off. Every wait here is in short slices or on a condition that ``close`` signals, so
that quitting never waits on a read blocked inside OpenCV: such a read ends at the read
time-out, on the reader thread, and nobody joins it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from demo.core import values
from demo.core.errors import DemoError
from demo.core.flag import Flag, setting
from demo.core.wording import counted

logger = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp")
# Frames a --no_drop reader may hold before it stops reading: about a second of a camera.
NO_DROP_QUEUE = 30
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 5.0
# A healthy source's read returns within a frame; a stalled one's only at the read time-out.
CLOSE_GRACE_S = 0.5
_readers: set[threading.Thread] = set()  # reader threads not finished yet


def reading_threads_left() -> bool:
    """Whether a reader may still be inside a read in OpenCV.

    Such a thread aborts the interpreter's shutdown ("FATAL: exception not rethrown") when
    its read returns, so the process must then end without one, once its files are closed.
    """
    return any(thread.is_alive() for thread in _readers)


def is_stream_url(spec: str) -> bool:
    scheme, separator, _ = spec.partition("://")
    return bool(separator) and scheme.lower() in STREAM_SCHEMES


@dataclass(frozen=True)
class LiveSettings:
    """How live sources are opened and read; times in seconds. Each field's flag is declared beside it."""

    rtsp_transport: str = setting(Flag(("--rtsp_transport",), "how RTSP streams carry their packets "
                                       "(default: %(default)s)", choices=["tcp", "udp"]), "tcp")
    open_timeout: float = setting(Flag(("--open_timeout",), "give up opening a stream after this long "
                                       "(default: %(default)g)", values.positive_seconds, metavar="SECONDS"), 10.0)
    read_timeout: float = setting(Flag(("--read_timeout",), "a stream that delivers nothing for this long is lost "
                                       "and reconnected (default: %(default)g)", values.positive_seconds,
                                       metavar="SECONDS"), 5.0)
    reconnect: int | None = setting(Flag(("--reconnect",), "attempts to reconnect a lost camera or stream, 0 to end "
                                         "the run instead (default: keep trying)", values.non_negative,
                                         metavar="N"), None)  # attempts after each loss; None: keep trying
    no_drop: bool = setting(Flag(("--no_drop",), "process every frame of a camera or stream instead of always the "
                                 "newest: what is shown falls behind when the model is slower than the source",
                                 action="store_true"), False)
    camera_resolution: tuple[int, int] | None = setting(Flag(("--camera_resolution",), "ask the camera for this size",
                                                             values.resolution, metavar="WxH"), None)  # (w, h)
    camera_fps: float | None = setting(Flag(("--camera_fps",), "ask the camera for this frame rate",
                                            values.frame_rate, metavar="N"), None)


class Capture(Protocol):
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def release(self) -> None: ...


@dataclass(frozen=True)
class Captured:
    image: np.ndarray
    captured: float  # perf_counter() when the reader got it
    dropped_before: int  # frames dropped between the previous frame taken and this one


class SourceLost(DemoError):
    """The live source went away and did not come back within the allowed attempts."""


class LiveReader:
    """Reads a live source on a daemon thread; ``take`` gives the next frame to process.

    ``connect`` opens the source and returns a capture that has delivered its first frame,
    with that frame, or None; it runs on the reader thread, bounded by the open time-out.
    """

    def __init__(self, label: str, connect: Callable[[], tuple[Capture, np.ndarray] | None],
                 settings: LiveSettings) -> None:
        self.label = label
        self._connect = connect
        self._settings = settings
        self._ready = threading.Condition()
        self._frames: deque[Captured] = deque()
        self._dropped = 0  # since the last frame taken
        self._opened: bool | None = None  # None until the first connection succeeds or fails
        self._ended: BaseException | None = None  # why no more frames will come
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"read {label}", daemon=True)
        _readers.add(self._thread)
        self._thread.start()

    def wait_opened(self) -> bool | None:
        """Whether the first connection gave a frame; None if it is still trying after the time-outs."""
        with self._ready:
            self._ready.wait_for(lambda: self._opened is not None,
                                 timeout=self._settings.open_timeout + self._settings.read_timeout + 1)
            return self._opened

    def take(self) -> Captured | None:
        """The newest frame not taken yet, waiting for one; None once the reader has stopped."""
        with self._ready:
            self._ready.wait_for(lambda: self._frames or self._ended is not None or self._stop.is_set())
            if self._frames:
                self._dropped = 0
                self._ready.notify_all()  # a --no_drop reader may be waiting for room
                return self._frames.popleft()
            if self._ended is not None and not isinstance(self._ended, StopIteration):
                raise self._ended
            return None

    def close(self) -> None:
        """Stop reading; the thread releases the capture itself once its current read returns.

        It is given a moment to, but never waited for longer: the read may be stalled.
        """
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        self._thread.join(CLOSE_GRACE_S)

    def _read(self) -> None:
        try:
            opened = self._connect()
            with self._ready:
                self._opened = opened is not None
                self._ready.notify_all()
            while opened is not None and not self._stop.is_set():
                frames = self._deliver(*opened)
                opened = None if self._stop.is_set() else self._reconnect(frames)
        except BaseException as error:  # noqa: BLE001 - handed to whoever takes the next frame
            self._end(error)
        else:
            self._end(StopIteration())
        finally:
            _readers.discard(threading.current_thread())

    def _deliver(self, capture: Capture, image: np.ndarray | None) -> int:
        """Publishes frames until the source stops delivering or the reader is closed; returns how many."""
        count = 0
        try:
            while image is not None and not self._stop.is_set():
                self._publish(image, time.perf_counter())
                count += 1
                ok, image = capture.read()
                image = image if ok else None
        finally:
            capture.release()
        return count

    def _publish(self, image: np.ndarray, captured: float) -> None:
        with self._ready:
            if self._settings.no_drop:
                # Blocks the reader, and so the source, while the queue is full.
                self._ready.wait_for(lambda: len(self._frames) < NO_DROP_QUEUE or self._stop.is_set())
            elif self._frames:
                self._frames.clear()
                self._dropped += 1
            self._frames.append(Captured(image, captured, self._dropped))
            self._ready.notify_all()

    def _reconnect(self, frames_read: int) -> tuple[Capture, np.ndarray] | None:
        """A new connection after a loss, trying with doubling waits; SourceLost when out of attempts."""
        attempts = self._settings.reconnect
        lost = f"{self.label} stopped delivering frames after {counted(frames_read, 'frame')}"
        if attempts == 0:
            raise SourceLost(f"{lost} (--reconnect 0)")
        logger.warning("%s; reconnecting", lost)
        started, delay, attempt = time.perf_counter(), BACKOFF_FIRST_S, 0
        while attempts is None or attempt < attempts:
            if self._stop.wait(delay):
                return None
            attempt += 1
            opened = self._connect()
            if opened is not None:
                logger.info("%s is back after %.1f s", self.label, time.perf_counter() - started)
                return opened
            delay = min(2 * delay, BACKOFF_MAX_S)
        raise SourceLost(f"{lost} and did not come back after {counted(attempt, 'reconnection attempt')}")

    def _end(self, reason: BaseException) -> None:
        with self._ready:
            self._ended = reason
            if self._opened is None:
                self._opened = False
            self._ready.notify_all()
