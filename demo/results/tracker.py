"""Keeps an object's identity (its id, and so its colour) from frame to frame.

ByteTrack's way of associating, with masks: each track's motion is predicted at constant
velocity; first every detection is matched to the track whose last mask, moved by that
motion, it overlaps most (mask IoU), then the detections left over to the tracks left over
(lost or occluded ones above all) whose predicted box they lie in. Greedy in a fixed order,
so the same frames always give the same ids.

Only pairs whose rectangles overlap are scored: a mask IoU or a box share is 0 for any other
pair, below every threshold above 0, so leaving them out changes no id. NumPy finds those pairs
for all detections and tracks at once; the costly mask IoUs, then, grow with the objects'
neighbours rather than with the square of their number.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from demo.core import values
from demo.core.flag import Flag, setting
from demo.results.instances import Box, Instance
from demo.results.masks import BoxMask

# Ultralytics' track_buffer and supervision's lost_track_buffer: about a second of video.
DEFAULT_MEMORY = 30
# How far a box's extent may fall short of the object's known size before it is taken as cut
# off (by an occluder or the frame's edge) rather than as the object getting smaller ...
CUT_SHARE = 0.1
# ... and how fast the known size may shrink a frame: an object walking away shrinks slower.
SHRINK_PER_FRAME = 0.02
# Each new displacement's weight in the smoothed velocity.
VELOCITY_WEIGHT = 0.5


@dataclass(frozen=True)
class TrackerSettings:
    """How long a lost track is kept, and how much overlap each matching stage asks for."""

    # frames a track may go unseen and still get its detection back
    memory: int = setting(Flag(("--track_memory",), "frames an object may go unseen (hidden, missed) and keep its id "
                               "(default: %(default)s)", values.non_negative, metavar="N"), DEFAULT_MEMORY)
    mask_iou: float = 0.3  # first stage: with the track's last mask, moved by its predicted motion
    box_share: float = 0.5  # second stage: share of the detection's box inside the predicted box


class _Motion:
    """Where a track's whole object is: its box at the last sighting and its velocity per frame.

    A box cut off by an occluder or the frame's edge keeps the side that moved as predicted and
    the object's known size, so what is hidden neither slows the motion nor shrinks the object.
    Plain floats, not NumPy: on four numbers NumPy's calls cost ten times the arithmetic.
    """

    def __init__(self, box: Box):
        self.box = box.as_list()  # x1, y1, x2, y2 of the whole object
        self.size = [box.width, box.height]
        self.velocity = [0.0, 0.0]

    def predicted(self, frames: int) -> list[float]:
        """The box ``frames`` after the last sighting."""
        dx, dy = self.velocity[0] * frames, self.velocity[1] * frames
        x1, y1, x2, y2 = self.box
        return [x1 + dx, y1 + dy, x2 + dx, y2 + dy]

    def seen(self, box: Box, frames: int) -> None:
        """Take a sighting ``frames`` after the last one."""
        whole = self._uncut(box.as_list(), self.predicted(frames))
        for axis in (0, 1):
            shift = (whole[axis] + whole[axis + 2] - self.box[axis] - self.box[axis + 2]) / 2
            self.velocity[axis] += VELOCITY_WEIGHT * (shift / frames - self.velocity[axis])
        self.box = whole

    def _uncut(self, box: list[float], expected: list[float]) -> list[float]:
        whole = list(box)
        for axis in (0, 1):
            low, high = axis, axis + 2
            extent = box[high] - box[low]
            if extent >= (1 - CUT_SHARE) * self.size[axis]:
                self.size[axis] = max(extent, (1 - SHRINK_PER_FRAME) * self.size[axis])
            elif abs(box[low] - expected[low]) <= abs(box[high] - expected[high]):
                whole[high] = box[low] + self.size[axis]
            else:
                whole[low] = box[high] - self.size[axis]
        return whole


@dataclass
class _Track:
    id: int
    instance: Instance  # as last seen
    last_seen: int
    motion: _Motion

    def moved_mask(self, frame: int) -> BoxMask:
        """The last mask, moved by the whole pixels the object is predicted to have moved by ``frame``."""
        frames = frame - self.last_seen
        last = self.instance.mask
        return BoxMask(last.bits, last.x + round(self.motion.velocity[0] * frames),
                       last.y + round(self.motion.velocity[1] * frames))


def _box_share(box: Box, expected: list[float]) -> float:
    """The share of ``box``'s area that lies inside ``expected`` (x1, y1, x2, y2)."""
    width = min(box.x2, expected[2]) - max(box.x1, expected[0])
    height = min(box.y2, expected[3]) - max(box.y1, expected[1])
    area = box.width * box.height
    return max(width, 0) * max(height, 0) / area if area > 0 else 0.0


def overlapping(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Which rectangles of ``first`` [N, 4] share an area with which of ``second`` [M, 4] (x1, y1, x2, y2
    each): bool [N, M]."""
    a, b = first[:, np.newaxis, :], second[np.newaxis, :, :]
    return (a[..., 0] < b[..., 2]) & (b[..., 0] < a[..., 2]) & (a[..., 1] < b[..., 3]) & (b[..., 1] < a[..., 3])


def _rectangles(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def _mask_rectangle(mask: BoxMask) -> list[float]:
    region = mask.region
    return [region.x0, region.y0, region.x1, region.y1]


class MaskTracker:
    """Gives each instance of a video the id of the object it shows; ids count from 1.

    A track unseen for more than ``settings.memory`` frames is forgotten, so memory stays flat
    on long runs and an object gone for longer comes back with a new id.
    """

    def __init__(self, settings: TrackerSettings = TrackerSettings()):
        self.settings = settings
        self._tracks: list[_Track] = []  # oldest first
        self._next_id = 1
        self._frame = 0
        self._moved: dict[int, BoxMask] = {}  # this frame's moved mask of each track, by id

    def update(self, instances: list[Instance]) -> list[Instance]:
        """The same instances, in the same order, each with its ``track_id``."""
        self._frame += 1
        tracks = self._match(instances)
        tracked = []
        for instance, track in zip(instances, tracks):
            if track is None:
                track = _Track(self._next_id, instance, self._frame, _Motion(instance.box))
                self._next_id += 1
                self._tracks.append(track)
            else:
                track.motion.seen(instance.box, self._frame - track.last_seen)
                track.instance, track.last_seen = instance, self._frame
            tracked.append(dataclasses.replace(instance, track_id=track.id))
        self._tracks = [t for t in self._tracks if self._frame - t.last_seen <= self.settings.memory]
        return tracked

    def _match(self, instances: list[Instance]) -> list[_Track | None]:
        matched: list[_Track | None] = [None] * len(instances)
        # Made once a frame, so each moved mask counts its area once, not once per detection.
        self._moved = {track.id: track.moved_mask(self._frame) for track in self._tracks}
        same_class = (np.array([i.class_id for i in instances], dtype=np.int64)[:, np.newaxis]
                      == np.array([t.instance.class_id for t in self._tracks], dtype=np.int64)[np.newaxis, :])
        masks = (_rectangles([_mask_rectangle(i.mask) for i in instances]),
                 _rectangles([_mask_rectangle(self._moved[t.id]) for t in self._tracks]))
        self._assign(instances, matched, self._moved_mask_iou, self.settings.mask_iou, same_class, masks)
        boxes = (_rectangles([i.box.as_list() for i in instances]),
                 _rectangles([t.motion.predicted(self._frame - t.last_seen) for t in self._tracks]))
        self._assign(instances, matched, self._predicted_box_share, self.settings.box_share, same_class, boxes)
        return matched

    def _assign(self, instances: list[Instance], matched: list[_Track | None],
                score: Callable[[Instance, _Track], float], threshold: float, same_class: np.ndarray,
                rectangles: tuple[np.ndarray, np.ndarray]) -> None:
        """Greedy, best score first (then by detection, then the oldest track), over the detections and
        tracks of one class not matched yet; where a score above 0 is needed, only pairs whose
        ``rectangles`` (the detections', the tracks') overlap are scored."""
        taken = {track.id for track in matched if track is not None}
        pairs = same_class & overlapping(*rectangles) if threshold > 0 else same_class
        candidates = sorted(
            (-score(instances[n], self._tracks[t]), n, t) for n, t in zip(*map(np.ndarray.tolist, np.nonzero(pairs)))
            if matched[n] is None and self._tracks[t].id not in taken)
        for negative, n, t in candidates:
            track = self._tracks[t]
            if -negative < threshold:
                break
            if matched[n] is None and track.id not in taken:
                matched[n] = track
                taken.add(track.id)

    def _moved_mask_iou(self, instance: Instance, track: _Track) -> float:
        return instance.mask.iou(self._moved[track.id])

    def _predicted_box_share(self, instance: Instance, track: _Track) -> float:
        return _box_share(instance.box, track.motion.predicted(self._frame - track.last_seen))
