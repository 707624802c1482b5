"""A real X server for the window tests: Xvfb on a free display, openbox as its window manager,
and the demo's real window found and driven with xdotool, measured with xwininfo/xprop and
photographed with ImageMagick's ``import``."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import cv2
import numpy as np
import pytest
from helpers.running import ROOT

TOOLS = {"Xvfb": "xvfb", "openbox": "openbox", "xdotool": "xdotool", "xwininfo": "x11-utils", "xprop": "x11-utils",
         "import": "imagemagick"}
WAIT_S = 60  # for anything to happen at all on a loaded machine: a failure, not a measurement


def require_tools() -> None:
    missing = sorted({package for tool, package in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        pytest.skip(f"the window tests need a real X server and its tools: apt install {' '.join(missing)}")


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT_S) -> object:
    """Poll ``condition`` until it is true-ish and return it; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


@dataclass(frozen=True)
class Geometry:
    x: int  # the client area's top-left on the screen, inside the window manager's frame
    y: int
    width: int
    height: int


@dataclass
class XServer:
    display: str
    screen: tuple[int, int]

    def tool(self, *command: str, check: bool = True) -> str:
        done = subprocess.run(command, capture_output=True, text=True, timeout=WAIT_S, check=False,
                              env={**os.environ, "DISPLAY": self.display})
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def find_window(self, title: str) -> str:
        """The id of the visible window whose name contains ``title``, once there is one."""
        def found() -> str:
            ids = self.tool("xdotool", "search", "--onlyvisible", "--name", re.escape(title), check=False).split()
            return ids[0] if ids else ""

        return str(wait_for(found, f"a window named {title!r}"))

    def window_name(self, window: str) -> str:
        return self.tool("xdotool", "getwindowname", window, check=False).strip()

    def key(self, window: str, key: str) -> None:
        """Type ``key`` into ``window`` as the keyboard does, through XTEST, once the window has the focus.

        ``xdotool key --window`` would send a synthetic event instead, which carries no modifiers:
        its ``Q`` arrives as a plain ``q``.
        """
        self.tool("xdotool", "windowactivate", "--sync", window, "key", key)

    def geometry(self, window: str) -> Geometry:
        info = self.tool("xwininfo", "-id", window)
        value = {name: int(re.search(rf"{name}:\s+(-?\d+)", info).group(1))
                 for name in ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height")}
        return Geometry(*value.values())

    def click_close_button(self, window: str) -> None:
        """Click the close button on openbox's title bar, as a user does.

        openbox's default theme puts it last at the right end of the title bar, about 10 pixels
        in; the title bar's height is the top of the frame extents the window manager sets.
        """
        extents = self.tool("xprop", "-id", window, "_NET_FRAME_EXTENTS")
        _, _, top, _ = (int(v) for v in re.findall(r"\d+", extents.split("=", 1)[1]))
        where = self.geometry(window)
        x, y = where.x + where.width - 10, where.y - top // 2
        self.tool("xdotool", "mousemove", str(x), str(y), "click", "1")

    def screenshot(self, window: str) -> np.ndarray:
        """The window's client area as the X server holds it, BGR."""
        done = subprocess.run(["import", "-window", window, "png:-"], capture_output=True, timeout=WAIT_S,
                              check=True, env={**os.environ, "DISPLAY": self.display})
        return cv2.imdecode(np.frombuffer(done.stdout, np.uint8), cv2.IMREAD_COLOR)


def window_manager_ready(server: XServer, manager: subprocess.Popen, said: IO[str]) -> bool:
    """openbox announces itself on the root window once it manages windows; fail if it gave up."""
    if manager.poll() is not None:
        said.seek(0)
        pytest.fail(f"openbox on {server.display} exited ({manager.returncode}): {said.read().strip()}")
    return "window id" in server.tool("xprop", "-root", "_NET_SUPPORTING_WM_CHECK", check=False)


@contextlib.contextmanager
def x_server(screen: tuple[int, int] = (1024, 768)) -> Iterator[XServer]:
    """Xvfb on a display number it picks itself (-displayfd), with openbox managing its windows."""
    require_tools()
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{screen[0]}x{screen[1]}x24",
                             "-nolisten", "tcp"], pass_fds=(write_end,), stderr=subprocess.DEVNULL)
    os.close(write_end)
    managers: list[subprocess.Popen] = []
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        if not number:
            pytest.skip("Xvfb did not start")
        server = XServer(f":{number}", screen)
        with tempfile.TemporaryFile("w+") as said:
            managers.append(subprocess.Popen(["openbox"], env={**os.environ, "DISPLAY": server.display},
                                             stdout=said, stderr=said))
            wait_for(lambda: window_manager_ready(server, managers[0], said), "openbox to manage the display")
        yield server
    finally:
        for process in [*managers, xvfb]:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            if process.poll() is None:
                process.kill()
                process.wait()


TITLE = "Instance segmentation"


class Demo:
    """``python -m demo`` running in the background on an X display, as a user starts it."""

    def __init__(self, display: XServer, folder: Path, *args: str | Path) -> None:
        environment = {**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": display.display}
        environment.pop("WAYLAND_DISPLAY", None)
        self.stderr_path = folder / "stderr.txt"
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen([sys.executable, "-m", "demo", *map(str, args)], cwd=ROOT,
                                            env=environment, stdout=subprocess.DEVNULL, stderr=stderr)

    def finish(self) -> int:
        return self.process.wait(timeout=WAIT_S)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
