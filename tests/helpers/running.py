"""Running ``python -m demo`` as a user does, and reading what it said: the project's paths, the command
run to its end or left running, waits with a deadline, and the one error line a failed run gives."""
from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # tests/helpers/ is two below the project root
SHARED = ROOT.parent / "shared"


@dataclass
class DemoRun:
    returncode: int
    stdout: str
    stderr: str


def run_demo(*args: str | Path, timeout: float = 300, env: dict | None = None) -> DemoRun:
    """``python -m demo ARGS`` from the project root, headless, with a throwaway model cache."""
    command = [sys.executable, "-m", "demo", *map(str, args)]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=full_env)
    return DemoRun(done.returncode, done.stdout, done.stderr)


def start_demo(*args: str | Path) -> subprocess.Popen:
    """``python -m demo ARGS`` left running, its output unbuffered, for a test that stops it or reads it live."""
    return subprocess.Popen([sys.executable, "-m", "demo", *map(str, args)], cwd=ROOT, text=True, bufsize=1,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})


def wait_until(done: Callable[[], bool], timeout: float = 120) -> bool:
    """Whether ``done()`` came true within ``timeout`` seconds, asked five times a second."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def one_error_line(stderr: str) -> str:
    """The one line a failed run says (besides [INFO] lines), checked to be an error line."""
    lines = [line for line in stderr.splitlines() if not line.startswith("[INFO]")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def lines_written(path: Path) -> int:
    """How many lines a run has written to ``path`` so far. Until the run ends they are in a hidden
    file beside it (.NAME.XXXXXXXX.EXT), which is put in place when the run ends."""
    for candidate in [path, *path.parent.glob(f".{path.name}.*{path.suffix}")]:
        with contextlib.suppress(FileNotFoundError):
            return len(candidate.read_text().splitlines())
    return 0


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@dataclass
class TerminalRun:
    returncode: int
    stdout: str  # "" when stdout was the terminal too: it is all in ``terminal``
    terminal: str  # every character the terminal received, "\r" and escapes included


def run_on_terminal(*args: str | Path, stdout_too: bool = False, interrupt_when: str = "",
                    columns: int = 100, timeout: float = 300) -> TerminalRun:
    """``python -m demo ARGS`` with stderr (and stdout, ``stdout_too``) on a pseudo-terminal ``columns`` wide, as
    in a user's terminal; with ``interrupt_when``, Ctrl-C's SIGINT once the terminal has received that text."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "demo", *map(str, args)], cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=terminal if stdout_too else subprocess.PIPE, stderr=terminal,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(terminal)
    stdout: list[bytes] = []
    reader = threading.Thread(target=lambda: stdout.append(process.stdout.read() if process.stdout else b""))
    reader.start()
    received, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the demo has closed its end
                    break
                if not chunk:
                    break
                received += chunk
            if interrupt_when and interrupt_when.encode() in received:
                process.send_signal(signal.SIGINT)
                interrupt_when = ""
        process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
        reader.join()
    # The terminal turns each newline into "\r\n"; back, so that a test sees the demo's own "\r".
    return TerminalRun(process.returncode, b"".join(stdout).decode(errors="replace"),
                       received.decode(errors="replace").replace("\r\n", "\n"))
