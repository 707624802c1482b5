"""A virtual camera that video-call programs can pick: the output pictures through pyvirtualcam.

pyvirtualcam writes to a v4l2loopback device on Linux and to OBS's virtual camera on Windows
and macOS. A camera has one size: it is opened before the model loads (at the output's size
when known then, else at a stand-in size), so that a missing device is one line before a long
start-up, and opened again at the first picture's size when that differs. Later pictures of
another size (a folder of mixed images) are scaled to it.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from demo.core.errors import DemoError, UsageError
from demo.core.extras import require_extra
from demo.frames.sources import ClosesOnExit
from demo.outputs.sinks import _pad_to_even

log = logging.getLogger(__name__)

STAND_IN_SIZE = (640, 480)
LINUX_SETUP = ("a virtual camera needs the v4l2loopback kernel module: sudo apt install v4l2loopback-dkms "
               "(Fedora: akmod-v4l2loopback), then sudo modprobe v4l2loopback exclusive_caps=1 "
               "card_label=\"Virtual Camera\"")
OBS_SETUP = "a virtual camera needs OBS Studio 26 or newer: install it and start its virtual camera once"


@dataclass(frozen=True)
class VirtualCameraSettings:
    device: str | None  # None: the first one the library finds
    fps: float  # the input's frame rate: a hint to the camera's readers
    size: tuple[int, int] | None = None  # (w, h) of the pictures, when known before the first one


class VirtualCamera(ClosesOnExit):
    """Sends each picture (BGR, as OpenCV gives them) to the virtual camera."""

    def __init__(self, settings: VirtualCameraSettings) -> None:
        self._settings = settings
        self._flag = "--virtual_camera" + (f" {settings.device}" if settings.device else "")
        # Here: only this flag needs it, and its import loads the native backends.
        self._library = require_extra("pyvirtualcam", self._flag, "camera")
        try:
            self._camera = self._open(settings.device, settings.size or STAND_IN_SIZE)
        except (RuntimeError, ValueError, OSError) as failure:
            reason = one_line(failure)
            raise UsageError(f"{self._flag}: no virtual camera to send to ({reason}){_setup(reason)}") from None
        self._sized = settings.size is not None
        log.info("virtual camera: %s (%s)", self._camera.device, self._camera.backend)

    @property
    def size(self) -> tuple[int, int]:
        return self._camera.width, self._camera.height

    def write(self, picture: np.ndarray) -> None:
        # Odd sides padded as for -o: the camera's native format (I420) halves the colour planes.
        picture = _pad_to_even(picture)
        size = (picture.shape[1], picture.shape[0])
        if not self._sized:
            self._sized = True
            if size != self.size:
                self._resize(size)
        if size != self.size:
            picture = cv2.resize(picture, self.size, interpolation=cv2.INTER_AREA)
        self._camera.send(np.ascontiguousarray(picture))

    def _resize(self, size: tuple[int, int]) -> None:
        device = self._camera.device  # the same one again, not the next free one
        self._camera.close()
        try:
            self._camera = self._open(device, size)
        except (RuntimeError, ValueError, OSError) as failure:
            raise DemoError(f"{self._flag}: the virtual camera {device} cannot take {size[0]}x{size[1]} "
                            f"pictures ({one_line(failure)})") from None

    def _open(self, device: str | None, size: tuple[int, int]) -> Any:
        return self._library.Camera(*size, self._settings.fps, fmt=self._library.PixelFormat.BGR, device=device)

    def close(self) -> None:
        self._camera.close()


def one_line(failure: Exception) -> str:
    """The library's message, which lists each backend's failure on a line of its own."""
    return "; ".join(line.strip() for line in str(failure).splitlines() if line.strip())


def _setup(reason: str) -> str:
    """What to install; nothing when the device is there but the user may not write to it (the reason says how)."""
    if "permission" in reason.lower():
        return ""
    return f"; {LINUX_SETUP}" if sys.platform.startswith("linux") else f"; {OBS_SETUP}"
