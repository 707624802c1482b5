"""Keeps an object's identity (and so its colour) from frame to frame by mask overlap."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .instances import Instance


@dataclass
class _Track:
    instance: Instance
    last_seen: int


class MaskTracker:
    """Greedy matching of each frame's instances to live tracks of the same class by mask IoU.

    A track not seen for ``max_age`` frames is forgotten, so memory stays flat on long runs.
    """

    def __init__(self, iou_threshold: float = 0.5, max_age: int = 5):
        self.iou_threshold = iou_threshold
        self.max_age = max_age
        self._tracks: dict[int, _Track] = {}
        self._next_id = 0
        self._frame = 0

    def update(self, instances: list[Instance]) -> list[Instance]:
        self._frame += 1
        ids = self._match(instances)
        tracked = []
        for instance, track_id in zip(instances, ids):
            if track_id is None:
                track_id, self._next_id = self._next_id, self._next_id + 1
            instance = dataclasses.replace(instance, track_id=track_id)
            self._tracks[track_id] = _Track(instance, self._frame)
            tracked.append(instance)
        self._tracks = {i: t for i, t in self._tracks.items() if self._frame - t.last_seen < self.max_age}
        return tracked

    def _match(self, instances: list[Instance]) -> list[int | None]:
        candidates = sorted(
            ((instance.mask.iou(track.instance.mask), n, track_id)
             for n, instance in enumerate(instances)
             for track_id, track in self._tracks.items() if track.instance.class_id == instance.class_id),
            reverse=True)
        ids: list[int | None] = [None] * len(instances)
        taken: set[int] = set()
        for iou, n, track_id in candidates:
            if iou < self.iou_threshold:
                break
            if ids[n] is None and track_id not in taken:
                ids[n] = track_id
                taken.add(track_id)
        return ids
