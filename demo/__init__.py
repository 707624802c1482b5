"""OpenVINO instance segmentation: open a model, segment a frame, stream frames.

    import demo
    with demo.open("instance-segmentation-person-0007") as segmenter:  # or a model file's path
        result = segmenter(frame)                                      # a BGR frame of any size
    picture = demo.draw(result)

The ``with`` block (or ``segmenter.close()``) releases the compiled model, its requests and their threads.

See :mod:`demo.segmenter`. Importing the package changes nothing global: logging, signal handlers
and environment variables are the command line's (``python -m demo``).
"""
from __future__ import annotations

import importlib

# Where each public name lives. They load on first use, so that `import demo` loads neither NumPy
# nor OpenVINO: `python -m demo` sets up its signal handlers and OpenBLAS's threads first.
_EXPORTS = {
    "open": "segmenter", "Segmenter": "segmenter", "Settings": "segmenter",
    "Frame": "sources", "open_source": "sources",
    "FrameResult": "instances", "Instance": "instances", "Box": "instances",
    "BoxMask": "masks", "Region": "masks",
    "draw": "render", "BackgroundComposer": "background", "MaskTracker": "tracker",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'demo' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
