"""Types for numeric flags: each takes exactly the range the library behind the flag accepts.

A value that passes here never fails later on an OpenCV or OpenVINO assertion; one outside the
range is one line naming the flag and the range (argparse adds the flag), exit code 2.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole_number(low: int, high: int | None = None, odd: bool = False) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (None: no bound), odd if asked."""
    what = f"{'an odd' if odd else 'a'} whole number >= {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (odd and value % 2 == 0) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}{_most(high)}")
        return value

    parse.__name__ = what  # argparse names the type in its own messages
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
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}{hint}")
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
        raise argparse.ArgumentTypeError(f"expected B,G,R with each 0-255, like 0,255,0, got {text!r}")
    blue, green, red = (int(part) for part in parts)
    return blue, green, red


def name_list(text: str) -> tuple[str, ...]:
    """Comma-separated names, as the labels file spells them (case aside): ``person,car``."""
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected class names separated by commas, like person,car, got {text!r}")
    return names
