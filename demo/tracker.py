"""Keeps an object's identity (and so its colour) from frame to frame by mask overlap."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .instances import Instance


def mask_iou(a: Instance, b: Instance) -> float:
    """IoU of two box-local masks, computed only where their regions overlap."""
    (ax, ay), (bx, by) = a.origin, b.origin
    x0, y0 = max(ax, bx), max(ay, by)
    x1 = min(ax + a.mask.shape[1], bx + b.mask.shape[1])
    y1 = min(ay + a.mask.shape[0], by + b.mask.shape[0])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    overlap = np.count_nonzero(a.mask[y0 - ay:y1 - ay, x0 - ax:x1 - ax] & b.mask[y0 - by:y1 - by, x0 - bx:x1 - bx])
    union = a.area + b.area - overlap
    return overlap / union if union else 0.0


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
            ((mask_iou(instance, track.instance), n, track_id)
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
