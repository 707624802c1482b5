"""Motion JPEG (what most cameras give: MJPG in AVI or MOV, or over HTTP) decoded by libjpeg-turbo.

OpenCV's FFmpeg reader decodes each frame with FFmpeg's JPEG decoder, then converts it to BGR with
swscale: 4.0 ms of CPU a 1080p frame on this project's machine. ``cv2.imdecode`` on the same frame's
packet decodes it with libjpeg-turbo straight into BGR in 2.9 ms, and on a 2-core machine what the
decoder does not take goes to inference. The pictures are the ones ``cv2.imread`` gives for the same
JPEG: libjpeg's smooth chroma upsampling, a few levels from swscale's at sharp colour edges.

A packet is decoded only if its header gives the stream's own size (read without decoding it), so that
a hostile packet cannot make the decoder allocate more than a frame; others are skipped. A stream whose
first packet does not decode here at that size (interlaced fields, an unusual JPEG) is left to FFmpeg.
"""
from __future__ import annotations

import io
import logging

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

MOTION_JPEG_TAGS = {b"MJPG", b"mjpg", b"jpeg", b"JPEG"}  # AVI's and QuickTime's tags for baseline JPEG frames
# cv2.imread applies a photo's EXIF orientation; FFmpeg never turns a video's frames, nor does this.
DECODE_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION


class MotionJpeg:
    """An FFmpeg capture of Motion JPEG that hands over each frame's packet, read as the capture itself is
    (``read``, ``get``, ``release``), each packet decoded here."""

    def __init__(self, capture: cv2.VideoCapture, label: str) -> None:
        self._capture = capture
        self._label = label
        self._size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def first(self) -> np.ndarray | None:
        """The first frame, decoded here; None if it does not decode here at the stream's size."""
        ok, packet = self._capture.read()
        return decoded(packet, self._size) if ok else None

    def read(self) -> tuple[bool, np.ndarray | None]:
        while True:
            ok, packet = self._capture.read()
            if not ok:
                return False, None
            image = decoded(packet, self._size)
            if image is not None:
                return True, image
            # As FFmpeg's reader passes over a packet it cannot decode; a video's count of frames read says so.
            logger.debug("%s: a frame that is not a JPEG of %dx%d was skipped", self._label, *self._size)

    def get(self, name: int) -> float:
        return self._capture.get(name)

    def isOpened(self) -> bool:  # noqa: N802 - the name cv2.VideoCapture gives it
        return self._capture.isOpened()

    def release(self) -> None:
        self._capture.release()


def is_motion_jpeg(capture: cv2.VideoCapture) -> bool:
    """Whether FFmpeg reads this capture and its frames are JPEG pictures."""
    tag = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little")
    return capture.getBackendName() == "FFMPEG" and tag in MOTION_JPEG_TAGS


def packets_of(capture: cv2.VideoCapture, label: str) -> MotionJpeg | None:
    """The capture switched to handing over its packets, before it has read any; None if it cannot be."""
    return MotionJpeg(capture, label) if capture.set(cv2.CAP_PROP_FORMAT, -1) else None


def decoded(packet: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """The packet's picture, BGR; None unless its header gives ``size`` (w, h) and it decodes."""
    try:
        with Image.open(io.BytesIO(packet.tobytes())) as header:
            if header.format != "JPEG" or header.size != size:
                return None
    except (UnidentifiedImageError, OSError, SyntaxError):
        return None
    image = cv2.imdecode(packet, DECODE_FLAGS)
    return image if image is not None and image.shape[1::-1] == size else None
