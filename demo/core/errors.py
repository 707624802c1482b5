"""Errors the user can act on: printed as one line, never as a traceback."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator


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
    handler = logging.StreamHandler(sys.stderr)
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


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Collect what C++ libraries (OpenVINO's frontends, OpenCV, FFmpeg, Qt) print to file descriptor 2.

    Their warnings would bury the one line the demo prints for a failure. The lines are handed
    back in the yielded list once the block ends, for a caller that wants to name the cause.
    The descriptor is process-wide, so use this only around start-up calls, not while other
    threads may report.
    """
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines += capture.read().decode(errors="replace").splitlines()
