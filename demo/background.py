"""Background subtraction: keep the people of each frame and replace everything else.

The composer is a ``FrameResult -> picture`` callable, plugged into :func:`demo.app.run`
like :class:`demo.render.InstanceRenderer`. The union of the person masks is smoothed
with a median filter and faded over a narrow alpha edge; both work only on the people's
boxes grown by the filters' reach, and everywhere else the replacement is copied as is.
"""
from __future__ import annotations

import argparse
import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .argtypes import whole_number
from .errors import DemoError
from .instances import FrameResult, Instance
from .masks import Region
from .sources import Frame, FrameSource, open_source

PERSON = "person"
DEFAULT_COLOUR = (0, 255, 0)  # BGR green: the classic green screen
EMPTY_CHOICES = ("original", "background")


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``--mode background``."""
    group = parser.add_argument_group("background mode (--mode background)")
    replacement = group.add_mutually_exclusive_group()
    replacement.add_argument("--target_color", type=bgr_colour, default=DEFAULT_COLOUR, metavar="B,G,R",
                             help="replace the background with this B,G,R colour (default: 0,255,0, green)")
    replacement.add_argument("--target_bgr", metavar="PATH",
                             help="replace the background with an image, or a video (looped, frame n with "
                                  "frame n), stretched to the frame")
    replacement.add_argument("--blur_bgr", type=box_size, metavar="K",
                             help="replace the background with the frame itself blurred by a KxK box filter")
    group.add_argument("--median", type=median_size, default=5, metavar="K",
                       help="median filter size that smooths the person mask; 1 = none (default: %(default)s)")
    group.add_argument("--alpha_edge", type=box_size, default=3, metavar="W",
                       help="width in pixels over which the person fades into the background; 1 = hard edge "
                            "(default: %(default)s)")
    group.add_argument("--empty", choices=EMPTY_CHOICES, default="original",
                       help="what a frame with no person shows (default: %(default)s)")
    group.add_argument("--show_with_original_frame", action="store_true",
                       help="show the original frame and the result side by side")


def fit_to(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``picture`` stretched to ``size`` (w, h): area averaging to shrink, bilinear to enlarge."""
    height, width = picture.shape[:2]
    if (width, height) == size:
        return picture
    shrinking = width * height > size[0] * size[1]
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def frame_size(result: FrameResult) -> tuple[int, int]:
    return result.frame.shape[1], result.frame.shape[0]


class Replacement(ABC):
    """What shows where there is no person."""

    @abstractmethod
    def picture_for(self, result: FrameResult) -> np.ndarray:
        """A picture of the frame's size; it may be shared, so callers must not draw on it."""

    def close(self) -> None:
        """Only a video replacement holds a file open."""


class StillReplacement(Replacement):
    """A colour or an image, stretched to the frame once and reused while the frame size stays."""

    def __init__(self, picture: np.ndarray) -> None:
        self._picture = picture
        self._fitted = picture

    @classmethod
    def colour(cls, bgr: tuple[int, int, int]) -> StillReplacement:
        return cls(np.full((1, 1, 3), bgr, dtype=np.uint8))  # one pixel stretches to a uniform field

    def picture_for(self, result: FrameResult) -> np.ndarray:
        if self._fitted.shape != result.frame.shape:
            self._fitted = fit_to(self._picture, frame_size(result))
        return self._fitted


class VideoReplacement(Replacement):
    """Frame n of the output gets frame n of the video, which loops when it is shorter.

    Results reach the composer in frame order, so reading the video sequentially keeps it
    in step however many requests are in flight; each video frame is decoded and resized
    once, for the one output frame that uses it.
    """

    def __init__(self, source: FrameSource, name: str) -> None:
        self._source = source
        self._name = name
        self._frames: Iterator[Frame] = iter(source)
        self._current: Frame | None = None

    def picture_for(self, result: FrameResult) -> np.ndarray:
        while self._current is None or self._current.index < result.index:
            self._current = next(self._frames, None)
            if self._current is None:
                raise DemoError(f"--target_bgr '{self._name}' stopped giving frames")
        return fit_to(self._current.image, frame_size(result))

    def close(self) -> None:
        self._source.close()


@dataclass(frozen=True)
class BlurReplacement(Replacement):
    """The frame's own picture blurred with a KxK box filter (cv2.blur, reflected border)."""

    kernel: int

    def picture_for(self, result: FrameResult) -> np.ndarray:
        return cv2.blur(result.frame, (self.kernel, self.kernel))


def open_replacement(args: argparse.Namespace) -> Replacement:
    if args.blur_bgr:
        return BlurReplacement(args.blur_bgr)
    if not args.target_bgr:
        return StillReplacement.colour(args.target_color)
    try:
        source = open_source(args.target_bgr, loop=True)
    except DemoError as error:
        raise DemoError(f"--target_bgr: {error}") from None
    if source.kind != "image":
        return VideoReplacement(source, args.target_bgr)
    with source:
        return StillReplacement(next(iter(source)).image)


def merge_overlapping(regions: list[Region]) -> list[Region]:
    """Bounding rectangles of overlapping groups, repeated until none overlap: people far apart
    are composed separately, so the empty space between them is never computed."""
    for first, second in itertools.combinations(range(len(regions)), 2):
        if regions[first].overlaps(regions[second]):
            rest = [region for index, region in enumerate(regions) if index not in (first, second)]
            return merge_overlapping([regions[first].union(regions[second]), *rest])
    return regions


@dataclass(frozen=True)
class EdgeStyle:
    median: int = 5
    alpha_edge: int = 3

    @property
    def reach(self) -> int:
        """How far outside (or inside) the mask, at most, the output can differ from a hard cut."""
        return self.median // 2 + self.alpha_edge // 2

    def alpha(self, mask: np.ndarray) -> np.ndarray:
        """0-255 opacity of the person over the background, from a 0/255 uint8 mask."""
        smoothed = cv2.medianBlur(mask, self.median)
        # A box filter on 0/255 gives exactly 255 and 0 away from the edge, so pixels there
        # are copied unchanged by the blend.
        return cv2.blur(smoothed, (self.alpha_edge, self.alpha_edge))


def blend(person: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Integer alpha blend, rounded: alpha 255 gives ``person`` and 0 gives ``background`` exactly."""
    weight = alpha[..., None].astype(np.uint16)
    mixed = person.astype(np.uint16) * weight + background.astype(np.uint16) * (255 - weight) + 127
    return (mixed // 255).astype(np.uint8)


class BackgroundComposer:
    """Frames with their people kept and everything else replaced (see the module's doc)."""

    def __init__(self, replacement: Replacement, person_ids: frozenset[int], edges: EdgeStyle,
                 empty_shows_background: bool = False, side_by_side: bool = False) -> None:
        self.replacement = replacement
        self.person_ids = person_ids
        self.edges = edges
        self.empty_shows_background = empty_shows_background
        self.side_by_side = side_by_side

    def __call__(self, result: FrameResult) -> np.ndarray:
        composed = self.compose(result)
        return np.hstack([result.frame, composed]) if self.side_by_side else composed

    def compose(self, result: FrameResult) -> np.ndarray:
        people = [instance for instance in result.instances if instance.class_id in self.person_ids]
        if not people and not self.empty_shows_background:
            return result.frame.copy()
        canvas = self.replacement.picture_for(result).copy()
        for region, members in self._groups(people, frame_size(result)):
            self._compose_region(canvas, result.frame, region, members)
        return canvas

    def _groups(self, people: list[Instance], size: tuple[int, int]) -> list[tuple[Region, list[Instance]]]:
        # One pixel beyond the reach keeps each region's border (where the filters replicate
        # or reflect) at 0, so a region gives the same pixels as the whole frame would.
        around = [person.mask.region.grown(self.edges.reach + 1, size) for person in people]
        return [(region, [p for p, own in zip(people, around) if region.contains(own)])
                for region in merge_overlapping(around)]

    def _compose_region(self, canvas: np.ndarray, frame: np.ndarray, region: Region, members: list[Instance]) -> None:
        union = np.zeros((region.height, region.width), dtype=np.uint8)
        for person in members:
            under = union[person.mask.region.relative_to(region).slices]
            if person.alpha is None:
                under[person.mask.bits] = 255
            else:
                np.maximum(under, person.alpha, out=under)
        # A matting model's opacity is soft already: no median, no edge, no threshold.
        soft = any(person.alpha is not None for person in members)
        window = region.slices
        canvas[window] = blend(frame[window], canvas[window], union if soft else self.edges.alpha(union))

    def close(self) -> None:
        self.replacement.close()


def person_class_ids(labels: list[str], labels_name: str) -> frozenset[int]:
    ids = frozenset(index for index, name in enumerate(labels) if name.strip().lower() == PERSON)
    if not ids:
        raise DemoError(f"labels {labels_name} have no '{PERSON}' class: background mode keeps people")
    return ids


def composer_from_args(args: argparse.Namespace, labels: list[str]) -> BackgroundComposer:
    person_ids = person_class_ids(labels, str(args.labels))
    return BackgroundComposer(open_replacement(args), person_ids, EdgeStyle(args.median, args.alpha_edge),
                              args.empty == "background", args.show_with_original_frame)
