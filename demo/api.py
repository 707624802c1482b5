"""The library's public face: what ``import demo`` offers, each name from the stage it belongs to.

The names are declared once, in the package (``demo.__all__``), which loads this module on first use.
"""
from demo import __all__  # noqa: F401
from demo.frames.sources import Frame, open_source  # noqa: F401
from demo.model.segmenter import Segmenter, Settings, open  # noqa: F401
from demo.picture.background import BackgroundComposer  # noqa: F401
from demo.picture.render import draw  # noqa: F401
from demo.results.instances import Box, FrameResult, Instance  # noqa: F401
from demo.results.masks import BoxMask, Region  # noqa: F401
from demo.results.tracker import MaskTracker  # noqa: F401
