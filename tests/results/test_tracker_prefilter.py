"""The tracker's box-overlap prefilter: in a crowd of 100 it gives exactly the ids that scoring every pair
gives, and it scores a number of mask pairs that grows with the crowd, not with its square."""
from __future__ import annotations

import numpy as np
import pytest

import demo.results.tracker
from demo.results.instances import Box, Instance
from demo.results.masks import BoxMask
from demo.results.tracker import MaskTracker, overlapping

WIDTH, HEIGHT = 1920, 1080
FRAMES = 12
HIDDEN_FROM, HIDDEN_UNTIL = 4, 7  # every fifth object is unseen in these frames, and smaller after


def hides(k: int, t: int) -> bool:
    return k % 5 == 0 and t >= HIDDEN_FROM


def disc(cx: float, cy: float, radius: int, class_id: int) -> Instance:
    """A filled disc as the paste gives it: bits over its box, at whole pixels."""
    x, y = int(round(cx)) - radius, int(round(cy)) - radius
    rows, columns = np.ogrid[-radius:radius, -radius:radius]
    bits = (rows + 0.5) ** 2 + (columns + 0.5) ** 2 <= radius ** 2
    return Instance(class_id, str(class_id), 0.9, Box(x, y, x + 2 * radius, y + 2 * radius), BoxMask(bits, x, y),
                    (WIDTH, HEIGHT))


def crowd(count: int, seed: int = 0) -> list[list[tuple[int, Instance]]]:
    """``count`` discs of two classes on a jittered grid, each moving its own way, some of them
    touching and crossing their neighbours; every fifth one is unseen in frames 4 to 7 and comes back
    smaller (as if half hidden), so that only its predicted box finds it again; frame by frame they are
    listed in a shuffled order. Each frame: (object
    number, instance) pairs."""
    rng = np.random.default_rng(seed)
    columns = int(np.ceil(np.sqrt(count * WIDTH / HEIGHT)))
    step = WIDTH / columns
    start = np.array([((k % columns + 0.5) * step, (k // columns + 0.5) * step) for k in range(count)])
    start += rng.uniform(-0.2, 0.2, start.shape) * step
    velocity = rng.uniform(-0.15, 0.15, start.shape) * step
    radius = rng.integers(int(0.2 * step), int(0.45 * step), count)
    frames = []
    for t in range(FRAMES):
        shown = [(k, disc(*(start[k] + t * velocity[k]), int(radius[k] * (0.6 if hides(k, t) else 1)), k % 2))
                 for k in range(count) if not (hides(k, t) and t <= HIDDEN_UNTIL)]
        frames.append([shown[i] for i in rng.permutation(len(shown))])
    return frames


def ids_per_object(frames: list[list[tuple[int, Instance]]]) -> dict[int, list[int]]:
    tracker = MaskTracker()
    ids: dict[int, list[int]] = {}
    for frame in frames:
        for (k, _), tracked in zip(frame, tracker.update([instance for _, instance in frame])):
            ids.setdefault(k, []).append(tracked.track_id)
    return ids


def every_pair(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.ones((len(first), len(second)), dtype=bool)


def counting_iou(calls: list[int]):
    iou = BoxMask.iou

    def counted(self: BoxMask, other: BoxMask) -> float:
        calls[0] += 1
        return iou(self, other)

    return counted


def test_pairwise_overlaps_of_known_rectangles():
    first = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=float)
    second = np.array([[5, 5, 15, 15], [10, 0, 20, 10], [25, 0, 35, 25.5], [29.5, 29.5, 40, 40]], dtype=float)

    # Touching edges share no area; a half-pixel corner does.
    assert overlapping(first, second).tolist() == [[True, False, False, False], [False, False, True, True]]
    assert overlapping(first[:0], second).shape == (0, 4)


@pytest.mark.parametrize("count", [30, 100])
def test_a_crowd_gets_the_ids_that_scoring_every_pair_gives(count, monkeypatch):
    frames = crowd(count)

    filtered = ids_per_object(frames)
    monkeypatch.setattr(demo.results.tracker, "overlapping", every_pair)
    unfiltered = ids_per_object(frames)

    assert filtered == unfiltered
    # The known answer: every object keeps the id it was given at the first frame, through its
    # neighbours and the four frames unseen.
    assert all(len(set(ids)) == 1 for ids in filtered.values())
    assert len({ids[0] for ids in filtered.values()}) == count


def test_the_mask_pairs_scored_grow_with_the_crowd_not_its_square(monkeypatch):
    scored = {}
    for count in (25, 100):
        calls = [0]
        monkeypatch.setattr(BoxMask, "iou", counting_iou(calls))
        ids_per_object(crowd(count))
        scored[count] = calls[0] / (FRAMES - 1)  # the first frame has no tracks
    monkeypatch.undo()

    # Four times the objects: about four times the pairs (each has a few neighbours), where every
    # pair of one class would be sixteen times (100 objects: 5,000 pairs a frame).
    assert scored[100] / scored[25] < 6
    assert scored[100] < 5 * 100
