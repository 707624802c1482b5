"""The preview window: whether one can open here, each picture fitted to the screen, and the keys.

OpenCV's Linux wheel draws its window with Qt5 over X11, and Qt aborts the whole process (leaving
a video without its index) when it cannot reach the X display. So before the first window the
demo connects to the display itself, through the libX11 that Qt's X11 plugin loads too, which also
gives the screen's size; where no window can open it says why, once, and carries on without one.
Connecting in-process takes a millisecond and opens nothing on screen, where a probe subprocess
would import OpenCV again (half a second) and flash a window.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from demo.core.errors import native_stderr_captured
from demo.core.metrics import KEY_WAITS
from demo.frames.sources import ClosesOnExit

logger = logging.getLogger(__name__)

QUIT_KEYS = frozenset({27, ord("q"), ord("Q")})  # Esc, q, Q
PAUSE_KEY = ord(" ")
# A paused or held window looks at its keys this often; between looks Python runs its signal
# handlers, so Ctrl-C and SIGTERM stop a paused run at once.
POLL_MS = 50
# The share of the screen a picture may take: the rest is for the title bar and the panels.
SCREEN_SHARE = 0.9


@dataclass(frozen=True)
class DisplayCheck:
    problem: str | None  # why no window can open here, in the user's terms; None when one can
    screen: tuple[int, int] | None = None  # (w, h) in pixels, where the display tells it


def check_display(framework: str, environment: Mapping[str, str]) -> DisplayCheck:
    """Whether an OpenCV window with GUI ``framework`` (cv2.currentUIFramework()) can open."""
    if framework in ("", "NONE"):
        return DisplayCheck("this OpenCV has no GUI (opencv-python-headless?): pip install opencv-python")
    if not sys.platform.startswith("linux"):
        return DisplayCheck(None)
    x_display, wayland = environment.get("DISPLAY"), environment.get("WAYLAND_DISPLAY")
    if wayland and framework != "QT":
        return DisplayCheck(None)  # GTK speaks Wayland itself
    if not x_display:
        if wayland:
            return DisplayCheck(f"only Wayland is running (WAYLAND_DISPLAY={wayland}) and this OpenCV's window "
                                "needs X11: start XWayland and set DISPLAY (e.g. DISPLAY=:0)")
        return DisplayCheck("no display (DISPLAY is not set)")
    return x_screen(x_display)


def x_screen(display: str) -> DisplayCheck:
    """Connect to X display ``display`` as Qt would, for its default screen's size."""
    try:
        xlib = ctypes.CDLL("libX11.so.6")
    except OSError:
        return DisplayCheck("this OpenCV's window needs the X11 client library libX11.so.6 (apt install libx11-6)")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    for name in ("XDefaultScreen", "XCloseDisplay"):
        getattr(xlib, name).argtypes = [ctypes.c_void_p]
    for name in ("XDisplayWidth", "XDisplayHeight"):
        getattr(xlib, name).argtypes = [ctypes.c_void_p, ctypes.c_int]
    # Xlib prints why it was refused (e.g. "Authorization required ...") to the process's stderr.
    with native_stderr_captured() as chatter:
        connection = xlib.XOpenDisplay(display.encode())
    if not connection:
        said = "; ".join(line.strip() for line in chatter if line.strip())
        return DisplayCheck(f"the display '{display}' cannot be reached" + (f" ({said})" if said else ""))
    try:
        screen = xlib.XDefaultScreen(connection)
        return DisplayCheck(None, (xlib.XDisplayWidth(connection, screen), xlib.XDisplayHeight(connection, screen)))
    finally:
        xlib.XCloseDisplay(connection)


def open_window(title: str) -> Window | None:
    """A window titled ``title``, or None after one warning saying why none can open here."""
    check = check_display(getattr(cv2, "currentUIFramework", lambda: "")(), os.environ)
    if check.problem:
        logger.warning("cannot open a window: %s; running without one", check.problem)
        return None
    return Window(title, check.screen)


def fitted_size(size: tuple[int, int], screen: tuple[int, int] | None) -> tuple[int, int]:
    """``size`` (w, h), scaled down with its aspect ratio to fit SCREEN_SHARE of ``screen``."""
    if screen is None:
        return size
    scale = min(1.0, SCREEN_SHARE * screen[0] / size[0], SCREEN_SHARE * screen[1] / size[1])
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale))) if scale < 1 else size


def key_code(key: int) -> int:
    """The character of a key from ``cv2.waitKey``, or -1 for none."""
    return -1 if key == -1 else key & 0xFF


class Window(ClosesOnExit):
    """Shows each picture, scaled down to fit the screen (what is written keeps its size).

    q, Q, Esc or the window's close button stop the run; space pauses it until space again.
    The window is made at the first picture, so no empty window shows while the model compiles.
    """

    def __init__(self, title: str, screen: tuple[int, int] | None) -> None:
        self.title = title
        self.screen = screen
        self.stopped = False  # the user asked to stop
        self._opened = False

    def show(self, image: np.ndarray) -> bool:
        """Show ``image``; False once the user has asked to stop, True to go on."""
        if self.stopped:
            return False  # showing again would bring back a window closed by its button
        picture = self._fitted(image)
        if not self._opened:
            self._open(picture.shape[1], picture.shape[0])
        cv2.imshow(self.title, picture)
        key = cv2.waitKey(1)
        if key_code(key) == PAUSE_KEY:
            self._pause()
        else:
            self._stop_if_asked(key)
        return not self.stopped

    def hold(self) -> None:
        """Keep the last picture on screen until a key is pressed or the window is closed."""
        # Not a wait KEY_WAITS needs to know: it comes after the last frame, where no figure reaches.
        while self._opened and not self.stopped and self._visible():
            if cv2.waitKey(POLL_MS) != -1:
                return

    def _open(self, width: int, height: int) -> None:
        cv2.namedWindow(self.title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        self._opened = True
        if self.screen:
            # Centred for the picture's size: placed by the window manager while it still has Qt's
            # first, small size, it would hang off the screen's edge once grown to the picture's.
            cv2.moveWindow(self.title, max((self.screen[0] - width) // 2, 0), max((self.screen[1] - height) // 2, 0))

    def _fitted(self, image: np.ndarray) -> np.ndarray:
        size = (image.shape[1], image.shape[0])
        fitted = fitted_size(size, self.screen)
        # INTER_AREA averages the pixels a scaled-down pixel covers: no aliasing on thin outlines and text.
        return image if fitted == size else cv2.resize(image, fitted, interpolation=cv2.INTER_AREA)

    def _pause(self) -> None:
        self._set_title(f"{self.title} - paused (space resumes)")
        with KEY_WAITS.waiting():
            while not self.stopped:
                key = cv2.waitKey(POLL_MS)
                if key_code(key) == PAUSE_KEY:
                    break
                self._stop_if_asked(key)
        self._set_title(self.title)

    def _stop_if_asked(self, key: int) -> None:
        if key_code(key) in QUIT_KEYS or not self._visible():
            self.stopped = True

    def _visible(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False  # Qt drops its GUI thread with its last window, and then raises here

    def _set_title(self, text: str) -> None:
        if not self.stopped:
            with contextlib.suppress(cv2.error):
                cv2.setWindowTitle(self.title, text)

    def close(self) -> None:
        if self._opened:
            # Closed by its button already, the window makes destroyWindow raise.
            with contextlib.suppress(cv2.error):
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)  # let the GUI take the window off the screen now
            self._opened = False
