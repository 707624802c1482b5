"""The mask-IoU tracker keeps identities (and so colours) across frames."""
from __future__ import annotations

import numpy as np

from demo.instances import Box, Instance
from demo.masks import BoxMask
from demo.tracker import MaskTracker


def square(x: int, y: int, size: int = 40, class_id: int = 0) -> Instance:
    return Instance(class_id, str(class_id), 0.9, Box(x, y, x + size, y + size),
                    BoxMask(np.ones((size, size), dtype=bool), x, y), (640, 480))


def test_mask_iou_of_shifted_squares():
    assert square(0, 0).mask.iou(square(0, 0).mask) == 1.0
    assert square(0, 0).mask.iou(square(20, 0).mask) == (20 * 40) / (60 * 40)
    assert square(0, 0).mask.iou(square(100, 100).mask) == 0.0


def test_moving_objects_keep_their_ids_even_when_listed_in_another_order():
    tracker = MaskTracker()
    first = tracker.update([square(0, 0), square(200, 0)])
    second = tracker.update([square(205, 2), square(4, 3)])
    assert [i.track_id for i in second] == [first[1].track_id, first[0].track_id]


def test_a_new_object_gets_a_new_id_and_classes_never_mix():
    tracker = MaskTracker()
    (person,) = tracker.update([square(0, 0, class_id=0)])
    car, newcomer = tracker.update([square(0, 0, class_id=2), square(300, 300)])
    assert len({person.track_id, car.track_id, newcomer.track_id}) == 3


def test_a_missed_frame_does_not_lose_the_id_but_old_tracks_are_forgotten():
    tracker = MaskTracker(max_age=3)
    (first,) = tracker.update([square(50, 50)])
    tracker.update([])
    (again,) = tracker.update([square(52, 50)])
    assert again.track_id == first.track_id
    for _ in range(3):
        tracker.update([])
    (later,) = tracker.update([square(52, 50)])
    assert later.track_id != first.track_id
    assert len(tracker._tracks) == 1  # memory stays flat: only live tracks are kept


def test_one_track_is_never_given_to_two_instances():
    tracker = MaskTracker()
    (only,) = tracker.update([square(0, 0)])
    left, right = tracker.update([square(2, 0), square(4, 0)])
    assert left.track_id == only.track_id and right.track_id != only.track_id
