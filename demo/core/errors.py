"""Errors the user can act on: printed as one line, never as a traceback."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import IO

from demo.core.stopping import STOP


class DemoError(Exception):
    """A runtime problem with the user's files, devices or data (exit code 1)."""

    exit_code = 1


class UsageError(DemoError):
    """Contradictory or out-of-range command-line arguments (exit code 2)."""

    exit_code = 2


def configure_logging() -> None:
    """``[LEVEL] message`` on stderr. Called before OpenVINO loads as well: its telemetry checks its
    consent folder on import and, with a read-only HOME, warns three times on the root logger about
    a feature the demo does not use, which also fixed Python's default format for every later line."""
    # Under LC_ALL=C without UTF-8 mode the streams are ASCII: a name with é must print as \xe9, not fail.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    handler = _LogHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    handler.addFilter(lambda record: "openvino_telemetry" not in record.pathname)
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def quiet_opencv() -> None:
    """Keep OpenCV's own warnings off stderr for the rest of the process: they repeat, backend by
    backend or frame by frame ("Failed to write frame", "Stream timeout triggered"), what the demo
    says in one line. The level is process-wide: lowered around a call and restored after it, it
    was restored under another thread's feet and let warnings through. FFmpeg's chatter about a
    broken file would only repeat the demo's one-line errors too; OpenCV reads its level when it
    first starts FFmpeg. Users who want either can set the variables themselves."""
    import cv2  # here: python -m demo calls configure_logging before OpenCV may load

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def openvino_reason(error: Exception) -> str:
    """The reason in an OpenVINO exception: its message starts with source locations, not reasons."""
    lines = [line.strip() for line in str(error).splitlines()
             if line.strip() and not line.startswith(("Exception from", "Check '"))]
    return lines[-1] if lines else type(error).__name__


class _StderrCapture:
    """One capture of file descriptor 2 shared by every thread that asks for it (several sources open at
    once): the first in redirects, the last out restores. Two captures of their own nested the saved
    descriptors, and the second to end left fd 2 pointing at the first's deleted file, so every later
    line, errors included, vanished. The demo's own log lines written meanwhile are held and written
    once fd 2 is back, rather than captured with the libraries' chatter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = -1
        self._file: IO[bytes] | None = None
        self._held: list[tuple[logging.Handler, logging.LogRecord]] = []

    def holds(self, handler: logging.Handler, record: logging.LogRecord) -> bool:
        with self._lock:
            if self._users:
                self._held.append((handler, record))
            return bool(self._users)

    def begin(self) -> None:
        with self._lock:
            if not self._users:
                sys.stderr.flush()
                self._saved = os.dup(2)
                self._file = tempfile.TemporaryFile()
                os.dup2(self._file.fileno(), 2)
            self._users += 1

    def end(self) -> list[str]:
        """The lines captured so far; the last user out also puts fd 2 back and writes the held log lines."""
        with self._lock:
            assert self._file is not None
            sys.stderr.flush()
            self._users -= 1
            self._file.seek(0)
            lines = self._file.read().decode(errors="replace").splitlines()
            if self._users:
                self._file.seek(0, os.SEEK_END)
                return lines
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._file.close()
            self._file, held, self._held = None, self._held, []
        for handler, record in held:
            handler.handle(record)
        return lines


_CAPTURE = _StderrCapture()


class _LogHandler(logging.StreamHandler):
    """stderr, except that a line logged while the libraries' output is captured waits until it is not."""

    def emit(self, record: logging.LogRecord) -> None:
        if not _CAPTURE.holds(self, record):
            super().emit(record)


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Collect what C++ libraries (OpenVINO's frontends, OpenCV, FFmpeg, Qt) print to file descriptor 2.

    Their warnings would bury the one line the demo prints for a failure. The lines are handed
    back in the yielded list once the block ends, for a caller that wants to name the cause.
    The descriptor is process-wide: threads that capture at the same time share one capture (each
    gets what was captured until it left), and the demo's own log lines wait until it ends.
    """
    lines: list[str] = []
    began = False
    try:
        # A stop raised inside begin() or end(), between moving fd 2 and counting its user, would leave fd 2 on
        # the capture for good, and the run's last line ("interrupted") with it: each runs whole, the stop after.
        with STOP.shielded():
            _CAPTURE.begin()
            began = True
        yield lines
    finally:
        if began:
            with STOP.shielded():
                lines += _CAPTURE.end()
