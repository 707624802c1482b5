"""Parsers of settings typed as text (flags): each takes exactly the range the library behind the setting accepts.

A value that passes here never fails later on an OpenCV or OpenVINO assertion; one outside the
range is a :class:`BadValue` of one line naming the range, which the command line turns into one line
naming the flag too, exit code 2.
"""
from __future__ import annotations

import math
from collections.abc import Callable


class BadValue(ValueError):
    """A value outside what its setting takes; the message is one line: what was expected, and what was given."""


def whole_number(low: int, high: int | None = None, odd: bool = False) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (None: no bound), odd if asked."""
    what = f"{'an odd' if odd else 'a'} whole number >= {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (odd and value % 2 == 0) or (high is not None and value > high):
            raise BadValue(f"expected {what}, got {text}{_most(high)}")
        return value

    parse.__name__ = what  # the command line names the type in its own messages
    return parse


def real_number(low: float, high: float | None = None, above: bool = False, unit: str = "") -> Callable[[str], float]:
    """A finite number from ``low`` (excluded if ``above``) to ``high``; never NaN or infinity."""
    what = f"a number{unit} {'>' if above else '>='} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (value > low if above else value >= low) and (high is None or value <= high)):
            hint = _most(high) if math.isfinite(value) else " (finite numbers only)"
            raise BadValue(f"expected {what}, got {text}{hint}")
        return value

    parse.__name__ = what
    return parse


def _most(high: float | None) -> str:
    return "" if high is None else f" (at most {high})"


# OpenCV's median filter refuses apertures above about 320 (the bound moves with the frame's width).
median_size = whole_number(1, 255, odd=True)
# A box filter takes any size, but pads the picture by half of it: wider than twice a 4K frame
# changes nothing but the memory and the time.
box_size = whole_number(1, 8191, odd=True)


def bgr_colour(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(part.strip().isdigit() and int(part) <= 255 for part in parts):
        raise BadValue(f"expected B,G,R with each 0-255, like 0,255,0, got {text!r}")
    blue, green, red = (int(part) for part in parts)
    return blue, green, red


def class_list(text: str) -> tuple[str, ...]:
    """Comma-separated class names or ids: ``person,car`` or ``0,2``; also in brackets, ``[0,2]``, as Ultralytics'
    ``classes=[0,2]`` writes them."""
    inside = text.strip()
    if inside.startswith("[") and inside.endswith("]"):
        inside = inside[1:-1]
    names = tuple(name.strip() for name in inside.split(","))
    if not all(names):
        raise BadValue(f"expected class names or ids separated by commas, got {text!r}")
    return names


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise BadValue(f"expected a probability between 0 and 1, got {text}")
    return value


non_negative = whole_number(0)
positive = whole_number(1)
# OpenVINO's INFERENCE_NUM_THREADS and NUM_STREAMS are 32-bit; it uses no more than the device has.
threads = whole_number(1, 2**31 - 1)


def streams(text: str) -> str:
    if text.strip().upper() == "AUTO":
        return "AUTO"
    try:
        return str(threads(text))
    except BadValue:
        raise BadValue(f"expected AUTO or a whole number from 1 to {2**31 - 1}, got {text}") from None


MAX_SIDE = 65500
MAX_PIXELS = 2**30


def resolution(text: str) -> tuple[int, int]:
    """WxH within OpenCV's image limits: the JPEG/MJPEG codec's 65500 a side, CV_IO_MAX_IMAGE_PIXELS in all
    (2^30; a larger frame fails to allocate or to encode)."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or int(width) < 1 or int(height) < 1:
        raise BadValue(f"expected WIDTHxHEIGHT with both at least 1, got {text!r}")
    if max(int(width), int(height)) > MAX_SIDE or int(width) * int(height) > MAX_PIXELS:
        raise BadValue(f"expected WIDTHxHEIGHT with both at most {MAX_SIDE} and at most "
                                         f"{MAX_PIXELS} pixels in all, got {text!r}")
    return int(width), int(height)


positive_seconds = real_number(0, 3600, above=True, unit=" of seconds")
frame_rate = real_number(0, 1000, above=True, unit=" of frames per second")
