"""Keeps an object's identity (its id, and so its colour) from frame to frame.

ByteTrack's way of associating, with masks: each track's motion is predicted at constant
velocity; first every detection is matched to the track whose last mask, moved by that
motion, it overlaps most (mask IoU), then the detections left over to the tracks left over
(lost or occluded ones above all) whose predicted box they lie in. Greedy in a fixed order,
so the same frames always give the same ids.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .instances import Instance
from .masks import BoxMask

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

    memory: int = DEFAULT_MEMORY  # frames a track may go unseen and still get its detection back
    mask_iou: float = 0.3  # first stage: with the track's last mask, moved by its predicted motion
    box_share: float = 0.5  # second stage: share of the detection's box inside the predicted box


class _Motion:
    """Where a track's whole object is: its box at the last sighting and its velocity per frame.

    A box cut off by an occluder or the frame's edge keeps the side that moved as predicted and
    the object's known size, so what is hidden neither slows the motion nor shrinks the object.
    """

    def __init__(self, box: np.ndarray):
        self.box = box  # x1, y1, x2, y2 of the whole object
        self.size = box[2:] - box[:2]
        self.velocity = np.zeros(2)

    def predicted(self, frames: int) -> np.ndarray:
        """The box ``frames`` after the last sighting."""
        return self.box + np.tile(self.velocity * frames, 2)

    def seen(self, box: np.ndarray, frames: int) -> None:
        """Take a sighting ``frames`` after the last one."""
        whole = self._uncut(box, self.predicted(frames))
        centre_shift = (whole[:2] + whole[2:] - self.box[:2] - self.box[2:]) / 2
        self.velocity += VELOCITY_WEIGHT * (centre_shift / frames - self.velocity)
        self.box = whole

    def _uncut(self, box: np.ndarray, expected: np.ndarray) -> np.ndarray:
        whole = box.astype(float)
        for axis in (0, 1):
            low, high = axis, axis + 2
            if box[high] - box[low] >= (1 - CUT_SHARE) * self.size[axis]:
                self.size[axis] = max(box[high] - box[low], (1 - SHRINK_PER_FRAME) * self.size[axis])
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

    def shift(self, frame: int) -> tuple[int, int]:
        """Whole pixels the object has moved by ``frame`` since it was last seen, as predicted."""
        dx, dy = np.rint(self.motion.velocity * (frame - self.last_seen)).astype(int)
        return int(dx), int(dy)


def _box(instance: Instance) -> np.ndarray:
    return np.array(instance.box.as_list(), dtype=float)


def _box_share(box: np.ndarray, expected: np.ndarray) -> float:
    """The share of ``box``'s area that lies inside ``expected``."""
    width, height = np.minimum(box[2:], expected[2:]) - np.maximum(box[:2], expected[:2])
    area = (box[2] - box[0]) * (box[3] - box[1])
    return float(max(width, 0) * max(height, 0) / area) if area > 0 else 0.0


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

    def update(self, instances: list[Instance]) -> list[Instance]:
        """The same instances, in the same order, each with its ``track_id``."""
        self._frame += 1
        tracks = self._match(instances)
        tracked = []
        for instance, track in zip(instances, tracks):
            if track is None:
                track = _Track(self._next_id, instance, self._frame, _Motion(_box(instance)))
                self._next_id += 1
                self._tracks.append(track)
            else:
                track.motion.seen(_box(instance), self._frame - track.last_seen)
                track.instance, track.last_seen = instance, self._frame
            tracked.append(dataclasses.replace(instance, track_id=track.id))
        self._tracks = [t for t in self._tracks if self._frame - t.last_seen <= self.settings.memory]
        return tracked

    def _match(self, instances: list[Instance]) -> list[_Track | None]:
        matched: list[_Track | None] = [None] * len(instances)
        self._assign(instances, matched, self._moved_mask_iou, self.settings.mask_iou)
        self._assign(instances, matched, self._predicted_box_share, self.settings.box_share)
        return matched

    def _assign(self, instances: list[Instance], matched: list[_Track | None], score: Callable[[Instance, _Track], float],
                threshold: float) -> None:
        """Greedy, best score first, over the detections and tracks of one class not matched yet."""
        free = [t for t in self._tracks if not any(t is m for m in matched)]
        candidates = sorted(
            ((-score(instance, track), n, order, track)
             for n, instance in enumerate(instances) if matched[n] is None
             for order, track in enumerate(free) if track.instance.class_id == instance.class_id),
            key=lambda c: c[:3])
        taken: set[int] = set()
        for negative, n, _, track in candidates:
            if -negative < threshold:
                break
            if matched[n] is None and track.id not in taken:
                matched[n] = track
                taken.add(track.id)

    def _moved_mask_iou(self, instance: Instance, track: _Track) -> float:
        dx, dy = track.shift(self._frame)
        last = track.instance.mask
        return instance.mask.iou(BoxMask(last.bits, last.x + dx, last.y + dy))

    def _predicted_box_share(self, instance: Instance, track: _Track) -> float:
        return _box_share(_box(instance), track.motion.predicted(self._frame - track.last_seen))
