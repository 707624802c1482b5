"""Progress on the terminal for a run nobody watches in a window: frames done of the total where it is known,
FPS and the time left, on the last line of stderr; nothing at all when stderr is not a terminal (a pipe, a
file, a test), so that what those read stays as it was.

While the bar shows, every line the demo writes to the terminal (its log, ``-r``'s detections, an error) is
written above it: the bar is cleared, the line written whole, the bar drawn again. The bar is cleared when the
run ends, however it ends, and the summary takes its place.
"""
from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import TextIO

from tqdm import tqdm

# "{postfix}" is ", 15.2 FPS" once there is a rate; tqdm's own rate would say "frame/s". The bar keeps a width of
# its own: a line as wide as the terminal would make the ^C the terminal echoes wrap onto a line of its own.
KNOWN_TOTAL = "frames: {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
UNKNOWN_TOTAL = "frames: {n_fmt} [{elapsed}{postfix}]"
ERASE_LINE = "\x1b[K"  # ECMA-48's erase to the end of the line


class Progress:
    """The bar: one line for the whole run, every source's frames together."""

    def __init__(self, total: int | None, stream: TextIO) -> None:
        self._bar = tqdm(total=total, file=stream, leave=False, dynamic_ncols=True,
                         bar_format=KNOWN_TOTAL if total else UNKNOWN_TOTAL)

    def advance(self, fps: float) -> None:
        """One more frame delivered; ``fps`` the run's rate now (0 until there is one)."""
        if fps > 0:
            self._bar.set_postfix_str(f"{fps:.1f} FPS", refresh=False)
        self._bar.update()

    def write_above(self, stream: TextIO, text: str) -> None:
        with self._bar.get_lock():
            self._bar.clear(nolock=True)
            stream.write(text)
            stream.flush()
            self._bar.refresh(nolock=True)

    def close(self) -> None:
        self._bar.close()


class AboveTheBar:
    """A terminal stream whose whole lines go above the bar; a line's start waits for its end (print writes the
    text and the newline apart, and the bar drawn between them would overwrite the text)."""

    def __init__(self, stream: TextIO, progress: Progress) -> None:
        self.stream = stream
        self._progress = progress
        self._pending = ""

    def write(self, text: str) -> int:
        lines, newline, self._pending = (self._pending + text).rpartition("\n")
        if newline:
            self._progress.write_above(self.stream, lines + newline)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def finish(self) -> None:
        """Once the bar is gone: the start of a line still waiting for its end."""
        self.stream.write(self._pending)
        self.stream.flush()

    def __getattr__(self, name: str) -> object:  # isatty, fileno, encoding...: the terminal's own
        return getattr(self.stream, name)


@contextlib.contextmanager
def shown(total: int | None, wanted: bool) -> Iterator[Progress | None]:
    """The bar, when ``wanted`` (no window) and stderr is a terminal; None otherwise. ``total``: the frames
    the run will deliver, None when unknown (a camera, a stream, --loop)."""
    if not (wanted and sys.stderr.isatty()):
        yield None
        return
    progress = Progress(total, sys.stderr)
    errors = AboveTheBar(sys.stderr, progress)
    output = AboveTheBar(sys.stdout, progress) if sys.stdout.isatty() else None  # -r's lines on the terminal
    with (contextlib.redirect_stderr(errors), _log_handlers_into(errors),
          contextlib.redirect_stdout(output or sys.stdout)):
        try:
            yield progress
        finally:
            progress.close()
            # Also what the terminal echoed after the bar (^C).
            errors.stream.write("\r" + ERASE_LINE)
            for stream in (errors, output):
                if stream:
                    stream.finish()


@contextlib.contextmanager
def _log_handlers_into(stream: AboveTheBar) -> Iterator[None]:
    """The log handlers that write to the terminal write to ``stream`` meanwhile."""
    handlers = [handler for handler in logging.getLogger().handlers
                if isinstance(handler, logging.StreamHandler) and handler.stream is stream.stream]
    for handler in handlers:
        handler.setStream(stream)
    try:
        yield
    finally:
        for handler in handlers:
            handler.setStream(stream.stream)
