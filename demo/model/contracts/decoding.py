"""The decoding steps contracts share: the best scores, box scales, class-aware NMS, prototype masks.

Plain vectorised NumPy/OpenCV over the candidates that passed the score threshold.
"""
from __future__ import annotations

import functools
import logging

import cv2
import numpy as np

log = logging.getLogger(__name__)

# Anchors cover the whole input, so a model with boxes in input pixels has centres far
# beyond 1; normalised centres stay near the unit square, even for boxes over its edge.
# An end-to-end head's rows are its best detections, whose far corners behave alike.
NORMALISED_CENTRE_LIMIT = 2.0


def box_scale(positions: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """What takes boxes to input pixels: the input size (w, h, w, h) when the model gives
    normalised boxes, else ones. ``positions`` is every row's [2, A] (x, y): the anchors'
    centres, or the far corners of an end-to-end head's detections."""
    width, height = input_size
    # NaN or infinity in a few rows (dropped later) must not decide it for all.
    largest = np.max(positions, where=np.isfinite(positions), initial=-np.inf)
    normalised = positions.size > 0 and float(largest) <= NORMALISED_CENTRE_LIMIT
    return np.array([width, height, width, height] if normalised else [1, 1, 1, 1], dtype=np.float32)


def corner_boxes(centre_size: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """[N, 4] (cx, cy, w, h) times ``scale`` to [N, 4] float32 (x1, y1, x2, y2)."""
    scaled = centre_size.astype(np.float32) * scale
    half = scaled[:, 2:] / 2
    return np.hstack([scaled[:, :2] - half, scaled[:, :2] + half])


def class_aware_nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float,
                    max_det: int) -> np.ndarray:
    """Indices of the boxes that survive NMS within their own class, best score first, at most ``max_det``.

    Greedy NMS decides each box by the better ones alone, so NMS over the best few gives the
    same survivors among them as over all: the candidates grow fourfold until ``max_det``
    survive, and thousands of low scores (``eval``'s threshold of 0.001) cost little.
    """
    order = np.argsort(-scores, kind="stable")
    best = 4 * max_det
    while True:
        head = order[:best]
        corner_size = np.hstack([boxes[head, :2], boxes[head, 2:] - boxes[head, :2]]).astype(np.float64)
        # The scores were filtered by the caller already, so OpenCV's own threshold lets all through.
        kept = head[np.asarray(cv2.dnn.NMSBoxesBatched(corner_size, scores[head].astype(np.float32),
                                                       class_ids[head].astype(np.int32), -np.inf, iou_threshold),
                               dtype=np.int64).reshape(-1)]
        if len(kept) >= max_det or best >= len(order):
            return kept[np.argsort(-scores[kept], kind="stable")][:max_det]
        best *= 4


def mask_heatmaps(coefficients: np.ndarray, prototypes: np.ndarray, channels_last: bool) -> np.ndarray:
    """[N, h, w] sigmoid(coefficients . prototypes) for [N, P] coefficients and [P, h, w]
    (or [h, w, P]) prototypes: each instance's mask over the whole prototype plane."""
    if channels_last:
        height, width, count = prototypes.shape
        logits = (prototypes.reshape(-1, count) @ coefficients.T).T
    else:
        count, height, width = prototypes.shape
        logits = coefficients @ prototypes.reshape(count, -1)
    # tanh form of the sigmoid: no overflow for large negative logits.
    heatmaps = 0.5 * np.tanh(0.5 * logits.astype(np.float32)) + 0.5
    return np.ascontiguousarray(heatmaps.reshape(len(coefficients), height, width), dtype=np.float32)


def finite_rows(*columns: np.ndarray) -> np.ndarray:
    """Whether each candidate's values are all finite in every one of ``columns`` (arrays of one row per
    candidate). A model that gives NaN or infinity has gone wrong there: such a row would become a class
    id of -2^63, a box nowhere or an empty mask, so it is dropped, and the run warned once."""
    finite = np.ones(len(columns[0]), dtype=bool)
    for column in columns:
        finite &= np.isfinite(column).all(axis=tuple(range(1, column.ndim)))
    if not finite.all():
        _warn_non_finite()
    return finite


@functools.cache
def _warn_non_finite() -> None:
    log.warning("the model gave NaN or infinite values: the detections holding them are dropped "
                "(said once per run)")


def keep_best(scores: np.ndarray, threshold: float, max_det: int) -> np.ndarray:
    """Indices of the best ``max_det`` scores at or above the threshold, best first; NaN and infinite
    scores are dropped (see :func:`finite_rows`)."""
    keep = np.flatnonzero(finite_rows(scores) & (scores >= threshold))
    return keep[np.argsort(-scores[keep], kind="stable")[:max_det]]


def best_per_class(scores: np.ndarray, threshold: float, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (row, class, score) of every entry of [N, C] ``scores`` at or above the threshold, at most
    the ``limit`` best rows of each class. A row with a NaN or infinite score is dropped whole."""
    row_best = scores.max(axis=1)  # NaN if any is
    live = np.flatnonzero(finite_rows(row_best) & (row_best >= threshold))
    candidates = scores[live]
    if len(live) > limit:
        rows = np.argpartition(-candidates, limit - 1, axis=0)[:limit]  # [limit, C]: each class's best rows
    else:
        rows = np.broadcast_to(np.arange(len(live))[:, None], candidates.shape)
    picked = np.take_along_axis(candidates, rows, axis=0)
    keep = picked >= threshold
    return live[rows[keep]], np.nonzero(keep)[1], picked[keep]
