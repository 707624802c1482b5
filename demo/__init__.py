"""OpenVINO instance segmentation: open a model, segment a frame, stream frames.

    import demo
    with demo.open("instance-segmentation-person-0007") as segmenter:  # or a model file's path
        result = segmenter(frame)                                      # a BGR frame of any size
    picture = demo.draw(result)

The ``with`` block (or ``segmenter.close()``) releases the compiled model, its requests and their threads.

See :mod:`demo.api` and :mod:`demo.model.segmenter`. Importing the package changes nothing global: logging, signal handlers
and environment variables are the command line's (``python -m demo``).
"""
from __future__ import annotations

import importlib

# The public names are :mod:`demo.api`'s. They load on first use, so that `import demo` loads neither
# NumPy nor OpenVINO: `python -m demo` sets up its signal handlers and OpenBLAS's threads first.
_PUBLIC = ("BackgroundComposer", "Box", "BoxMask", "Frame", "FrameResult", "Instance", "MaskTracker", "Region",
           "Segmenter", "Settings", "draw", "open", "open_source")
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'demo' has no attribute {name!r}")
    return getattr(importlib.import_module("demo.api"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
