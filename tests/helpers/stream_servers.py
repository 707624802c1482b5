"""Real stream servers on 127.0.0.1 for the tests, and frames that say which one they are.

Each served frame n carries its number in three colour blobs the synthetic models find:
red, green and blue squares whose columns are the base-20 digits of n. A test reads back,
from the demo's ``-r`` lines, which served frame each processed frame was.
"""
from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
DIGIT_COLOURS = ((0, 0, 255), (0, 255, 0), (255, 0, 0))  # red, green, blue: labels 0, 2, 16
DIGIT_LABELS = (0, 2, 16)
BASE, SLOT, SIZE = 20, 32, 24  # base-20 digits; a 24-pixel square per 32-pixel column
WIDTH, HEIGHT = BASE * SLOT, 3 * SLOT + 16
LOOP = 300  # frames served before the servers start again from frame 0 (BASE ** 3 at most)
RAW_LINE = re.compile(r"^\s+(\d+) .*?\[([\d.]+), ([\d.]+), ([\d.]+), ([\d.]+)\]")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def numbered_frame(number: int) -> np.ndarray:
    frame = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    for place, colour in enumerate(DIGIT_COLOURS):
        digit = number // BASE ** place % BASE
        x, y = digit * SLOT + 4, place * SLOT + 8
        frame[y:y + SIZE, x:x + SIZE] = colour
    return frame


def write_numbered_jpegs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(LOOP):
        path = folder / f"{number:05d}.jpg"
        cv2.imwrite(str(path), numbered_frame(number), [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths


def served_number(boxes: dict[int, float], scale: float) -> int | None:
    """The served frame's number from each digit blob's x1 (label -> x1 in frame pixels)."""
    if set(boxes) != set(DIGIT_LABELS):
        return None
    return sum(round((boxes[label] / scale - 4) / SLOT) * BASE ** place for place, label in enumerate(DIGIT_LABELS))


@dataclass
class RawReader:
    """Reads the demo's ``-r`` lines as they come: per processed frame, its served number and arrival time."""

    process: subprocess.Popen
    scale: float = 1.0
    frames: list[tuple[int, int | None, float]] = field(default_factory=list)  # (index, served, arrival)
    stderr: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        index, boxes, arrival = None, {}, 0.0
        for line in self.process.stdout:
            if line.startswith("frame "):
                if index is not None:
                    self.frames.append((index, served_number(boxes, self.scale), arrival))
                index, boxes, arrival = int(line.split()[1].rstrip(":")), {}, time.monotonic()
            elif match := RAW_LINE.match(line):
                boxes[int(match[1])] = float(match[2])
        if index is not None:
            self.frames.append((index, served_number(boxes, self.scale), arrival))

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line.rstrip("\n"))

    def wait_for(self, condition, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{what} did not happen: {self.stderr}")
            time.sleep(0.05)

    def wait_frames(self, count: int, timeout: float = 60) -> None:
        self.wait_for(lambda: len(self.frames) >= count, f"{count} frames", timeout)

    def wait_stderr(self, fragment: str, timeout: float = 60) -> None:
        self.wait_for(lambda: any(fragment in line for line in self.stderr), f"'{fragment}' on stderr", timeout)

    def finish(self, timeout: float = 10) -> int:
        code = self.process.wait(timeout)
        time.sleep(0.1)  # the reader threads drain the pipes
        return code


class Server:
    """A server process; stopped, and thawed if frozen, when the test ends."""

    def __init__(self, command: list[str], url: str, ready_line: str | None) -> None:
        self.command, self.url, self.ready_line = command, url, ready_line
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        """Start the server, unless it runs already (http_server starts its own, to see it listen)."""
        if self.process is not None and self.process.poll() is None:
            return self
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self.ready_line is not None:
            line = self.process.stdout.readline()
            if line.strip() != self.ready_line:
                self.stop()
                pytest.skip(f"{self.command[0]} could not start a server: {line}{self.process.stderr.read()}")
        return self

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def rtsp_server(frames: list[Path], fps: int, port: int | None = None) -> Server:
    """GStreamer's RTSP server, run by the system Python; skips the test where it cannot run."""
    if not Path(SYSTEM_PYTHON).exists():
        pytest.skip(f"{SYSTEM_PYTHON} (with python3-gi and gir1.2-gst-rtsp-server-1.0) is not installed")
    check = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
                            "from gi.repository import GstRtspServer"], capture_output=True, text=True)
    if check.returncode:
        pytest.skip(f"GStreamer's RTSP server is not usable: {check.stderr.strip().splitlines()[-1:]}")
    port = port or free_port()
    command = [SYSTEM_PYTHON, str(Path(__file__).with_name("rtsp_server.py")), str(port), str(fps), *map(str, frames)]
    return Server(command, f"rtsp://127.0.0.1:{port}/stream", "ready")


def http_server(folder: Path, fps: int) -> Server:
    """ffmpeg serving the numbered JPEGs as a multipart MJPEG stream in real time, to one client."""
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-framerate", str(fps),
               "-i", str(folder / "%05d.jpg"), "-c:v", "copy", "-f", "mpjpeg", "-listen", "1", url]
    server = Server(command, url, None)
    server.start()
    deadline = time.monotonic() + 10
    while not _listening(port):
        if server.process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            pytest.skip(f"ffmpeg could not serve HTTP: {server.process.stderr.read()}")
        time.sleep(0.05)
    return server


def _listening(port: int) -> bool:
    # A connection would be the one client ffmpeg serves; /proc tells without connecting.
    hex_port = f":{port:04X} "
    return any(hex_port in line and line.split()[3] == "0A" for line in Path("/proc/net/tcp").read_text().splitlines())


def served(reader: RawReader) -> list[int]:
    """The served numbers of the processed frames, counted on past the end of the served loop."""
    numbers, offset = [], 0
    for _, number, _ in reader.frames:
        assert number is not None, "a processed frame lost its number blobs"
        if numbers and number + offset < numbers[-1] - LOOP // 2:
            offset += LOOP
        numbers.append(number + offset)
    return numbers
