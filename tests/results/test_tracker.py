"""The tracker keeps identities (ids, and so colours) across frames: through crossings, misses and
occlusions, forgetting only what stayed away longer than its memory."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import synthetic, tracking_scene
from helpers.drawn_labels import find_whole, label_alone

from demo.app.run import format_raw
from demo.picture.render import InstanceRenderer, frame_style, palette_colour
from demo.results.instances import Box, FrameResult, Instance
from demo.results.masks import BoxMask
from demo.results.tracker import MaskTracker, TrackerSettings


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
    tracker = MaskTracker(TrackerSettings(memory=2))
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


def test_ids_count_from_one_in_the_order_objects_appear():
    tracker = MaskTracker()
    assert [i.track_id for i in tracker.update([square(0, 0), square(200, 0)])] == [1, 2]
    assert [i.track_id for i in tracker.update([square(400, 0), square(1, 0), square(201, 0)])] == [3, 1, 2]


@pytest.mark.parametrize("missing", [1, 5, 30])
def test_an_object_unseen_for_memory_frames_keeps_its_id_and_one_frame_more_loses_it(missing):
    for memory, kept in ((missing, True), (missing - 1, False)):
        tracker = MaskTracker(TrackerSettings(memory=memory))
        (first,) = tracker.update([square(50, 50)])
        for _ in range(missing):
            tracker.update([])
        (back,) = tracker.update([square(50, 50)])
        assert (back.track_id == first.track_id) == kept, f"memory {memory}, {missing} frames missing"


def test_a_hidden_object_is_found_again_where_its_motion_took_it():
    # Moving 10 pixels a frame, unseen for 15 frames: it comes back 160 pixels on, far from
    # where its mask was last, and only the predicted box can tell it is the same.
    tracker = MaskTracker()
    ids = {tracker.update([square(10 * t, 100)])[0].track_id for t in range(5)}
    for _ in range(15):
        tracker.update([])
    ids |= {tracker.update([square(10 * t, 100)])[0].track_id for t in range(20, 25)}
    assert ids == {1}


def test_two_objects_of_one_class_crossing_head_on_keep_their_ids():
    # 12 pixels apart in height, 40 wide, 6 pixels a frame each: for several frames the front
    # one covers most of the other, whose last mask overlaps the front one's more than its own.
    tracker = MaskTracker()
    ids = {"right": set(), "left": set()}
    for t in range(40):
        right, left = square(6 * t, 100), square(234 - 6 * t, 112)
        front_mask = left.mask.full(left.frame_size)
        behind = right.mask.full(right.frame_size) & ~front_mask
        visible = [visible_part(right, behind)] if behind.any() else []
        for name, instance in zip(["right", "left"] if visible else ["left"],
                                  tracker.update(visible + [left])):
            ids[name].add(instance.track_id)
    assert ids == {"right": {1}, "left": {2}}


def visible_part(instance: Instance, mask: np.ndarray) -> Instance:
    x1, y1, x2, y2 = synthetic.truth_box(mask)
    return Instance(instance.class_id, instance.name, instance.score, Box(x1, y1, x2, y2),
                    BoxMask(mask[y1:y2, x1:x2].copy(), x1, y1), instance.frame_size)


def scene_ids(memory: int) -> dict[str, list[int]]:
    """The ids the tracker gives each person of the tracking scene, frame by frame (drawn masks, no model)."""
    tracker = MaskTracker(TrackerSettings(memory=memory))
    size = (tracking_scene.WIDTH, tracking_scene.HEIGHT)
    ids: dict[str, list[int]] = {"red": [], "yellow": []}
    for t in range(tracking_scene.FRAMES):
        visible = tracking_scene.frame(t)[1]
        people = [visible_part(Instance(0, "person", 0.9, Box(0, 0, 1, 1), BoxMask(mask, 0, 0), size), mask)
                  for mask in visible.values()]
        for name, instance in zip(visible, tracker.update(people)):
            ids[name].append(instance.track_id)
    return ids


def test_the_scene_keeps_both_ids_through_the_crossing_and_the_pillar():
    assert sum(tracking_scene.hidden(t) for t in range(tracking_scene.FRAMES)) == tracking_scene.HIDDEN_FRAMES
    ids = scene_ids(memory=30)
    assert set(ids["red"]) == {1} and set(ids["yellow"]) == {2}


def test_a_memory_shorter_than_the_pillar_forgets_the_hidden_one():
    ids = scene_ids(memory=5)
    came_back = ids["red"].index(3)
    assert set(ids["red"][:came_back]) == {1} and set(ids["red"][came_back:]) == {3}
    assert set(ids["yellow"]) == {2}


def test_a_box_cut_off_by_an_occluder_neither_slows_nor_shrinks_the_object():
    # Walking right at 5 pixels a frame into a pillar at x = 100: the right edge stops there.
    tracker = MaskTracker()
    for t in range(16):
        x = 5 * t
        tracker.update([visible_part(square(x, 0), square(x, 0).full_mask() & (np.arange(640) < 100))])
    (track,) = tracker._tracks
    assert track.motion.velocity == pytest.approx([5, 0], abs=0.01)
    assert track.motion.box == pytest.approx([75, 0, 115, 40], abs=0.01)


def test_the_label_and_the_printed_line_show_the_id():
    canvas = np.full((240, 320, 3), 128, np.uint8)
    tracked = Instance(0, "person", 0.91, Box(100, 100, 160, 200), BoxMask(np.ones((100, 60), bool), 100, 100),
                       (320, 240), track_id=3)
    picture = InstanceRenderer(status_rows=0)(FrameResult(0, canvas, [tracked]))
    style = frame_style((320, 240))
    # A tracked instance takes its id's colour; one untracked, its place's in the list.
    tracked_colour, first_colour = palette_colour(3), palette_colour(0)
    assert len(find_whole(picture, label_alone("person 3", style, tracked_colour))) == 1
    with_score = InstanceRenderer(show_scores=True, status_rows=0)(FrameResult(0, canvas.copy(), [tracked]))
    assert len(find_whole(with_score, label_alone("person 3 0.91", style, tracked_colour))) == 1
    untracked = InstanceRenderer(status_rows=0)(FrameResult(0, np.full_like(canvas, 128), [
        Instance(0, "person", 0.91, tracked.box, tracked.mask, tracked.frame_size)]))
    assert len(find_whole(untracked, label_alone("person", style, first_colour))) == 1
    assert not find_whole(untracked, label_alone("person 3", style, first_colour))
    lines = format_raw(FrameResult(7, canvas, [tracked, Instance(0, "person", 0.5, tracked.box, tracked.mask,
                                                                 tracked.frame_size)])).splitlines()
    assert lines[1].endswith("area 6000 id 3") and lines[2].endswith("area 6000")
