"""Class-aware NMS over the best candidates first gives exactly what NMS over all of them gives."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from demo.model.contracts import decoding


def full_nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou: float) -> list[int]:
    """OpenCV's NMS over every box at once, best first: the reference."""
    corner_size = np.hstack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float64)
    kept = np.asarray(cv2.dnn.NMSBoxesBatched(corner_size, scores, class_ids, -np.inf, iou)).reshape(-1)
    return kept[np.argsort(-scores[kept], kind="stable")].tolist()


@pytest.mark.parametrize("max_det", [1, 5, 100, 3000])
def test_nms_over_the_best_first_equals_nms_over_all(max_det):
    rng = np.random.default_rng(max_det)
    corners = rng.uniform(0, 500, (5000, 2)).astype(np.float32)
    boxes = np.hstack([corners, corners + rng.uniform(5, 120, (5000, 2)).astype(np.float32)])
    scores = rng.uniform(0.001, 1, 5000).astype(np.float32)
    scores[:50] = 1.0  # the best 50 tie, across the ends of the first batches of the best
    class_ids = rng.integers(0, 3, 5000).astype(np.int32)

    kept = decoding.class_aware_nms(boxes, scores, class_ids, 0.5, max_det)

    assert kept.tolist() == full_nms(boxes, scores, class_ids, 0.5)[:max_det]
