"""Background subtraction and privacy: the people of each frame kept over a new background,
or hidden (blurred, pixelated) in a scene kept as it is.

The composer is a ``FrameResult -> picture`` callable, plugged into :func:`demo.app.run`
like :class:`demo.picture.render.InstanceRenderer`. The union of the chosen classes' masks is
smoothed with a median filter and faded over a narrow alpha edge, giving an opacity; a
:class:`Look` says what opacity 255 shows (its ``front``) and what 0 shows (its
``backdrop``). All of it works only on the people's boxes grown by the filters' reach, and
everywhere else the backdrop is copied as is.

Over a video the opacity is also smoothed in time (:class:`AlphaHistory`). Results reach
the composer in frame order (the pipeline delivers them so however many requests are in
flight), so the history is simply the last frame's running opacity. It starts afresh when
the frame size changes, when a result's index is not the previous one's plus one (another
run, a benchmark round that skipped a frame), and at the first frame of each pass over a
looped file, whose first frame does not follow its last.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from demo.core import values
from demo.core.errors import DemoError
from demo.core.flag import Flag, nested, setting
from demo.core.names import shown
from demo.frames.sources import Frame, FrameSource, open_source
from demo.model.geometry import fit_to
from demo.picture.modes import RENDER_MODES
from demo.results.instances import FrameResult, Instance
from demo.results.masks import Region

PERSON = "person"
DEFAULT_COLOUR = (0, 255, 0)  # BGR green: the classic green screen
EMPTY_CHOICES = ("original", "background")
# A running opacity that keeps 0.7 of the last frame's where the new mask agrees with it: the
# change from frame to frame along a jittering edge drops about threefold (measured: 3.2x for a
# mask jittering by up to 2 px), while a moving edge still follows (see MOTION_WINDOW and TRAIL).
DEFAULT_SMOOTH = 0.7
# 5 frames (a sixth of a second at 30 fps) bridge the one- to three-frame misses of a detector
# on a person who is still there, and release a person who really left before it shows.
DEFAULT_HOLD = 5
DEFAULT_BLUR_PEOPLE = 51  # a face 100 px high (1080p, 2 m away) can no longer be told apart
# The smoothing gives way where the new mask disagrees with the running one over a good part of
# a neighbourhood this wide: a jitter of a pixel or two fills little of it and is averaged out, an
# edge that moved half of it or more is followed at once.
MOTION_WINDOW = 15
FULL_DISAGREEMENT = 0.5
# However it was smoothed, the opacity is never more than this many pixels off the new mask's own:
# wider than a 1-2 pixel jitter, so that it does not undo the smoothing, and the most a trail can be.
TRAIL = 3
INVISIBLE = 0.5 / 255  # an opacity that rounds to 0

BGR = tuple[int, int, int]
Mode = Literal["background", "privacy"]
Empty = Literal["original", "background"]
RegionAlpha = tuple[Region, np.ndarray]  # a region of the frame and the u8 opacity over it


@dataclass(frozen=True)
class EdgeStyle:
    median: int = setting(Flag(("--median",), "median filter size that smooths the person mask; 1 = none "
                               "(default: %(default)s)", values.median_size, metavar="K"), 5)
    alpha_edge: int = setting(Flag(("--alpha_edge",), "width in pixels over which the person fades into the "
                                   "background; 1 = hard edge (default: %(default)s)", values.box_size,
                                   metavar="W"), 3)

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


@dataclass(frozen=True)
class BackgroundSettings:
    """What ``--mode background`` and ``--mode privacy`` were asked for.

    The look: in background mode ``blur_background``, else ``target`` (an image or video
    path), else ``colour``; in privacy mode ``pixelate``, else ``blur_people``.
    ``classes`` are the ids of the classes kept or hidden (as ``--classes`` chose them for the
    segmenter); None means people, by the class name ``person``. ``empty`` None: what protects
    privacy, which is the background whenever a history is kept, else the frame as it is.
    """

    mode: Mode = "background"
    classes: frozenset[int] | None = None
    colour: BGR = setting(Flag(("--target_color",), "replace the background with this B,G,R colour (default: "
                               "0,255,0, green)", values.bgr_colour, metavar="B,G,R", exclusive="replacement",
                               given_only=True), DEFAULT_COLOUR)
    target: str | None = setting(Flag(("--target_bgr",), "replace the background with an image, or a video "
                                      "(looped, frame n with frame n), stretched to the frame", metavar="PATH",
                                      exclusive="replacement"), None)
    blur_background: int | None = setting(Flag(("--blur_bgr",), "replace the background with the frame itself "
                                               "blurred by a KxK box filter, the people left out of the blur",
                                               values.box_size, metavar="K", exclusive="replacement"), None)
    blur_people: int = setting(Flag(("--blur_people",), "privacy: blur the people with a KxK box filter (default: "
                                    f"{DEFAULT_BLUR_PEOPLE})", values.box_size, metavar="K", exclusive="hiding",
                                    given_only=True), DEFAULT_BLUR_PEOPLE)
    pixelate: int | None = setting(Flag(("--pixelate",), "privacy: show the people as blocks of NxN pixels instead "
                                        "of blurring them", values.whole_number(2, 8191), metavar="N", exclusive="hiding"), None)
    edges: EdgeStyle = nested(EdgeStyle)
    smooth: float = setting(Flag(("--smooth",), "over a video, the share of the last frame's opacity kept where the "
                                 "new mask agrees with it, 0 to 0.99; 0 = off (default: %(default)s)",
                                 values.real_number(0, 0.99), metavar="S"), DEFAULT_SMOOTH)
    hold: int = setting(Flag(("--hold",), "over a video, frames a missed person keeps the last opacity before it "
                             "fades (default: %(default)s)", values.whole_number(0, 100_000), metavar="N"),
                        DEFAULT_HOLD)
    empty: Empty | None = setting(Flag(("--empty",), "what a frame with no person shows (default: background over a "
                                       "video with --smooth or --hold on, else original)", choices=EMPTY_CHOICES),
                                  None)
    side_by_side: bool = setting(Flag(("--show_with_original_frame",), "show the original frame and the result side "
                                      "by side", action="store_true"), False)


@dataclass(frozen=True)
class Footage:
    """What the composer must know of its input: whether its frames follow one another in time
    (a video, an image sequence, a camera, a stream: not a single image or a folder of photos),
    and the frames of one pass when it loops, so that each pass starts afresh."""

    continuous: bool = True
    pass_length: int | None = None


def frame_size(result: FrameResult) -> tuple[int, int]:
    return result.frame.shape[1], result.frame.shape[0]


class Look:
    """What the composite shows: ``front`` where the people are, ``backdrop`` elsewhere;
    by default both are the frame itself."""

    def backdrop(self, result: FrameResult, alphas: list[RegionAlpha]) -> np.ndarray:
        """A picture of the frame's size; it may be shared, so callers must not draw on it."""
        return result.frame

    def front(self, result: FrameResult, region: Region) -> np.ndarray:
        return result.frame[region.slices]

    def close(self) -> None:
        """Only a video replacement holds a file open."""


class StillReplacement(Look):
    """A colour or an image, stretched to the frame once and reused while the frame size stays."""

    def __init__(self, picture: np.ndarray) -> None:
        self._picture = picture
        self._fitted = picture

    @classmethod
    def colour(cls, bgr: BGR) -> StillReplacement:
        return cls(np.full((1, 1, 3), bgr, dtype=np.uint8))  # one pixel stretches to a uniform field

    def backdrop(self, result: FrameResult, alphas: list[RegionAlpha]) -> np.ndarray:
        if self._fitted.shape != result.frame.shape:
            self._fitted = fit_to(self._picture, frame_size(result))
        return self._fitted


class VideoReplacement(Look):
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

    def backdrop(self, result: FrameResult, alphas: list[RegionAlpha]) -> np.ndarray:
        while self._current is None or self._current.index < result.index:
            self._current = next(self._frames, None)
            if self._current is None:
                raise DemoError(f"--target_bgr '{shown(self._name)}' stopped giving frames")
        return fit_to(self._current.image, frame_size(result))

    def close(self) -> None:
        self._source.close()


@dataclass(frozen=True)
class BlurReplacement(Look):
    """The frame's own picture blurred with a KxK box filter (reflected border), the people left out.

    Where a window holds people (any opacity above 0) its mean is taken over its background
    pixels alone, so no person's colour bleeds into the blur around them; a window of people
    only keeps the plain mean, which the person covers anyway. Only the people's regions,
    grown by the kernel's reach, differ from the plain blur, so only they are recomputed.
    """

    kernel: int

    @property
    def _depth(self) -> int:
        """Window sums in float32 while they are whole numbers it holds exactly (K up to 255), else float64."""
        return cv2.CV_32F if 255 * self.kernel * self.kernel < 2**24 else cv2.CV_64F

    def backdrop(self, result: FrameResult, alphas: list[RegionAlpha]) -> np.ndarray:
        frame, window = result.frame, (self.kernel, self.kernel)
        picture = cv2.blur(frame, window)
        size, reach = frame_size(result), self.kernel // 2
        people = np.zeros(frame.shape[:2], dtype=np.uint8)
        for region, alpha in alphas:
            people[region.slices] |= alpha > 0
        for around in merge_overlapping([region.grown(reach, size) for region, _ in alphas]):
            # One more reach of context, so the filter's border never reaches ``around``.
            context = around.grown(reach, size)
            inner = around.relative_to(context).slices
            in_people = cv2.boxFilter(people[context.slices], self._depth, window, normalize=False)[inner]
            kept = frame[context.slices] * (1 - people[context.slices])[..., None]
            sums = cv2.boxFilter(kept, self._depth, window, normalize=False)[inner]
            counted = self.kernel * self.kernel - in_people
            mixed = (in_people > 0) & (counted > 0)
            counts = counted[mixed][:, None].astype(np.float64)
            mean = (2 * sums[mixed] + counts) // (2 * counts)  # rounded half up, exact in float64
            picture[around.slices][mixed] = mean
        return picture


@dataclass(frozen=True)
class BlurPeople(Look):
    """The people blurred with a KxK box filter; the same values as blurring the whole frame."""

    kernel: int

    def front(self, result: FrameResult, region: Region) -> np.ndarray:
        context = region.grown(self.kernel // 2, frame_size(result))
        blurred = cv2.blur(result.frame[context.slices], (self.kernel, self.kernel))
        return blurred[region.relative_to(context).slices]


@dataclass(frozen=True)
class PixelatePeople(Look):
    """The people as blocks of NxN frame pixels, each the rounded mean of its pixels.

    Blocks lie on a grid fixed to the frame's top-left corner (the last row and column of
    blocks may be narrower), so they stay put while a person moves.
    """

    block: int

    def front(self, result: FrameResult, region: Region) -> np.ndarray:
        width, height = frame_size(result)
        b = self.block
        grid = Region(region.x0 // b * b, region.y0 // b * b, min(-(-region.x1 // b) * b, width),
                      min(-(-region.y1 // b) * b, height))
        tile = result.frame[grid.slices].astype(np.uint32)
        rows, columns = np.arange(0, grid.height, b), np.arange(0, grid.width, b)
        sums = np.add.reduceat(np.add.reduceat(tile, rows, axis=0), columns, axis=1)
        heights, widths = np.diff(rows, append=grid.height), np.diff(columns, append=grid.width)
        counts = (heights[:, None] * widths[None, :])[..., None]
        means = ((sums + counts // 2) // counts).astype(np.uint8)
        blocks = np.repeat(np.repeat(means, heights, axis=0), widths, axis=1)
        return blocks[region.relative_to(grid).slices]


def open_look(settings: BackgroundSettings) -> Look:
    if settings.mode == "privacy":
        return PixelatePeople(settings.pixelate) if settings.pixelate else BlurPeople(settings.blur_people)
    if settings.blur_background:
        return BlurReplacement(settings.blur_background)
    if not settings.target:
        return StillReplacement.colour(settings.colour)
    try:
        source = open_source(settings.target, loop=True)
    except DemoError as error:
        raise DemoError(f"--target_bgr: {error}") from None
    if source.kind != "image":
        return VideoReplacement(source, settings.target)
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


def blend(person: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Integer alpha blend, rounded: alpha 255 gives ``person`` and 0 gives ``background`` exactly."""
    weight = alpha[..., None].astype(np.uint16)
    mixed = person.astype(np.uint16) * weight + background.astype(np.uint16) * (255 - weight) + 127
    return (mixed // 255).astype(np.uint8)


def nonzero_bounds(values: np.ndarray, region: Region) -> Region | None:
    """The smallest region, in frame coordinates, holding every nonzero value of ``values`` (laid over ``region``)."""
    rows, columns = np.flatnonzero(values.any(axis=1)), np.flatnonzero(values.any(axis=0))
    if not rows.size:
        return None
    return Region(region.x0 + int(columns[0]), region.y0 + int(rows[0]),
                  region.x0 + int(columns[-1]) + 1, region.y0 + int(rows[-1]) + 1)


@dataclass(frozen=True)
class Track:
    """Where the running opacity is nonzero around one group of people, and how many frames
    in a row no person was found there."""

    region: Region
    missed: int = 0


class AlphaHistory:
    """The running opacity over frames (see the module's doc for when it starts afresh).

    In each area where people are, the opacity moves towards the new one by a weight that is
    ``1 - smooth`` where the two agree and grows to 1 where they disagree over much of a
    :data:`MOTION_WINDOW`-wide neighbourhood: jitter is averaged out, a moving edge is followed,
    and nothing is ever more than :data:`TRAIL` pixels off the new opacity (no ghost trail).
    An area where people were and no person is found keeps its opacity for ``hold`` frames, then
    fades by ``smooth`` a frame. Only areas where people are or were are ever computed.
    """

    def __init__(self, smooth: float, hold: int, pass_length: int | None = None) -> None:
        self.smooth = smooth
        self.hold = hold
        self.pass_length = pass_length
        self._running = np.zeros((0, 0), dtype=np.float32)
        self._tracks: list[Track] = []
        self._last_index: int | None = None

    def update(self, index: int, size: tuple[int, int], alphas: list[RegionAlpha]) -> list[RegionAlpha]:
        """The opacities to compose with, given this frame's; frames must come in order."""
        if self._starts_afresh(index, size):
            self._running = np.zeros((size[1], size[0]), dtype=np.float32)
            self._tracks = []
        self._last_index = index
        areas = merge_overlapping([region for region, _ in alphas] + [track.region for track in self._tracks])
        tracks: list[Track] = []
        for area in areas:
            present = [(region, alpha) for region, alpha in alphas if area.contains(region)]
            running = self._running[area.slices]
            if present:
                self._follow(running, area, present, any(area.contains(track.region) for track in self._tracks))
                missed = 0
            else:
                missed = min(track.missed for track in self._tracks if area.contains(track.region)) + 1
                if missed > self.hold:
                    running *= self.smooth
            running[running < INVISIBLE] = 0
            bounds = nonzero_bounds(running, area)
            if bounds is not None:
                tracks.append(Track(bounds, missed))
        self._tracks = tracks
        return [(track.region, self._opacity(track.region)) for track in tracks]

    def _starts_afresh(self, index: int, size: tuple[int, int]) -> bool:
        if self._last_index is None or self._running.shape != (size[1], size[0]):
            return True
        new_pass = bool(self.pass_length) and index % self.pass_length == 0
        return index != self._last_index + 1 or new_pass

    def _follow(self, running: np.ndarray, area: Region, present: list[RegionAlpha], seen_before: bool) -> None:
        target = np.zeros_like(running)
        for region, alpha in present:
            target[region.relative_to(area).slices] = alpha / np.float32(255)
        if not seen_before:  # nobody was here: nothing to smooth with, so no edge creeping in
            running[:] = target
            return
        change = target - running
        disagreement = cv2.blur(np.abs(change), (MOTION_WINDOW, MOTION_WINDOW))
        motion = np.minimum(disagreement / FULL_DISAGREEMENT, 1) ** 2  # near 0 for jitter: it is smoothed
        running += (1 - self.smooth * (1 - motion)) * change
        # Whatever the speed, the running opacity stays within TRAIL pixels of the new one's.
        square = np.ones((2 * TRAIL + 1, 2 * TRAIL + 1), dtype=np.uint8)
        np.clip(running, cv2.erode(target, square), cv2.dilate(target, square), out=running)

    def _opacity(self, region: Region) -> np.ndarray:
        return np.rint(self._running[region.slices] * 255).astype(np.uint8)


class BackgroundComposer:
    """Frames with their people kept and everything else replaced, or the other way round
    (see the module's doc)."""

    def __init__(self, look: Look, person_ids: frozenset[int], edges: EdgeStyle,
                 empty_shows_background: bool = False, side_by_side: bool = False,
                 history: AlphaHistory | None = None) -> None:
        self.look = look
        self.person_ids = person_ids
        self.edges = edges
        self.empty_shows_background = empty_shows_background
        self.side_by_side = side_by_side
        self.history = history

    @classmethod
    def from_settings(cls, settings: BackgroundSettings, labels: list[str], labels_name: str,
                      footage: Footage) -> BackgroundComposer:
        ids = class_ids(labels, labels_name, settings.classes, settings.mode)
        temporal = footage.continuous and (settings.smooth > 0 or settings.hold > 0)
        history = AlphaHistory(settings.smooth, settings.hold, footage.pass_length) if temporal else None
        empty = settings.empty or ("background" if history else "original")
        return cls(open_look(settings), ids, settings.edges, empty == "background", settings.side_by_side, history)

    def __call__(self, result: FrameResult) -> np.ndarray:
        composed = self.compose(result)
        return np.hstack([result.frame, composed]) if self.side_by_side else composed

    def compose(self, result: FrameResult) -> np.ndarray:
        size = frame_size(result)
        people = [instance for instance in result.instances if instance.class_id in self.person_ids]
        alphas = [(region, self._alpha(region, members)) for region, members in self._groups(people, size)]
        if self.history:
            alphas = self.history.update(result.index, size, alphas)
        if not alphas and not self.empty_shows_background:
            return result.frame.copy()
        canvas = self.look.backdrop(result, alphas).copy()
        for region, alpha in alphas:
            window = region.slices
            canvas[window] = blend(self.look.front(result, region), canvas[window], alpha)
        return canvas

    def _groups(self, people: list[Instance], size: tuple[int, int]) -> list[tuple[Region, list[Instance]]]:
        # One pixel beyond the reach keeps each region's border (where the filters replicate
        # or reflect) at 0, so a region gives the same pixels as the whole frame would.
        around = [person.mask.region.grown(self.edges.reach + 1, size) for person in people]
        return [(region, [p for p, own in zip(people, around) if region.contains(own)])
                for region in merge_overlapping(around)]

    def _alpha(self, region: Region, members: list[Instance]) -> np.ndarray:
        union = np.zeros((region.height, region.width), dtype=np.uint8)
        for person in members:
            under = union[person.mask.region.relative_to(region).slices]
            if person.alpha is None:
                under[person.mask.bits] = 255
            else:
                np.maximum(under, person.alpha, out=under)
        # A matting model's opacity is soft already: no median, no edge, no threshold.
        soft = any(person.alpha is not None for person in members)
        return union if soft else self.edges.alpha(union)

    def close(self) -> None:
        self.look.close()


def class_ids(labels: list[str], labels_name: str, classes: frozenset[int] | None, mode: Mode) -> frozenset[int]:
    """The classes chosen, else the labels' ``person`` classes, whatever the case."""
    if classes is not None:
        return classes
    people = frozenset(index for index, label in enumerate(labels) if label.strip().lower() == PERSON)
    if not people:
        raise DemoError(f"labels {labels_name} have no '{PERSON}' class: {mode} mode {RENDER_MODES[mode].verb} people")
    return people
