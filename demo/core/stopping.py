"""Stopping on a signal: the first Ctrl-C, SIGTERM or SIGHUP starts a clean stop, later ones are ignored.

Left to Python, a second signal made the exit status random: a second KeyboardInterrupt cut the
clean-up short (a sink half closed, the summary lost, a traceback), the pipeline's worker thread
was left inside OpenVINO and killed by the interpreter's shutdown ("FATAL: exception not
rethrown", SIGABRT), and a signal that arrived during the shutdown, when Python has put back the
default actions, killed the process (-2, -15). Here a stop raises KeyboardInterrupt once, never
inside the clean-up that follows it, and an interrupted process ends with ``os._exit`` once its
outputs are closed, so nothing runs after the stop that a signal or a dying thread could break.

Stdlib only: ``python -m demo`` installs the handlers before importing OpenVINO and OpenCV.
"""
from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
INTERRUPTED = 130  # 128 + SIGINT, whichever signal stopped the run, as a shell reports Ctrl-C
STDOUT_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for a tool whose reader went away (`| head`)
INTERRUPTED_LINE = "interrupted: output files were closed"


class Stop:
    """The process's stop request: which signal came first, if any."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._shielded = 0
        self._deferred = False

    def install(self) -> None:
        """Catch the three signals, except one the parent set to be ignored (`nohup`, `cmd &` in a
        script), as Python itself does for SIGINT."""
        for number in SIGNALS:
            if signal.getsignal(number) is not signal.SIG_IGN:
                signal.signal(number, self._on_signal)

    def _on_signal(self, number: int, frame: object) -> None:
        if self.signal is not None:
            return  # a stop is already under way: it finishes as it started
        self.signal = number
        if self._shielded:
            self._deferred = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        """A step that must run whole (a frame given to every output, the outputs closed): a first
        signal inside it stops the run once the step is done, unless the step fails."""
        self._shielded += 1
        try:
            yield
        finally:
            self._shielded -= 1
        if self._deferred and not self._shielded:
            self._deferred = False
            raise KeyboardInterrupt

    def exit(self, status: int, abandon_threads: bool = False) -> None:
        """End the process with ``status`` (130 if a signal came, whenever it came); with
        ``abandon_threads``, without the interpreter's shutdown, which would wait for them."""
        for number in SIGNALS:  # the run is over: a signal now must not kill the exit half-way
            signal.signal(number, signal.SIG_IGN)
        if self.signal is None and not abandon_threads:
            sys.exit(status)
        with contextlib.suppress(OSError, ValueError):  # a closed stdout has nothing more to take
            sys.stdout.flush()
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        # Whatever a worker thread still does (OpenVINO finishing a request, a camera read) is
        # of no use now, and the interpreter's shutdown would kill it mid-call.
        os._exit(INTERRUPTED if self.signal is not None and status in (0, INTERRUPTED) else status)


STOP = Stop()


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (`python -m demo -r | head -1`).

    If so, stdout is pointed at /dev/null, so that Python's last flush of it stays quiet.
    """
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):  # no stdout at all
        return False
    if gone:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return gone
