"""Reading what the demo wrote: ``--results`` records, their masks, a video's frame count, and IoU."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils


def read_results(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def decode_mask(instance: dict) -> np.ndarray:
    rle = {"size": instance["mask"]["size"], "counts": instance["mask"]["counts"].encode()}
    return mask_utils.decode(rle).astype(bool)


def count_frames(path: Path) -> int:
    """How many frames a player decodes from a video file."""
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0
