"""The flags that write every per-frame export, and the check that each frame's mask PNG and label file
agree with its ``--results`` line."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from helpers.results import decode_mask, iou, read_results


def export_args(model: Path, source: Path, out: Path, *more) -> list:
    return ["-m", model, "-i", source, "--no_show", "--no_cache", "--results", out / "results.jsonl",
            "--coco_results", out / "coco.json", "--save_masks", out / "masks", "--yolo_labels", out / "labels",
            *more]


def expected_label_image(instances: list[dict]) -> np.ndarray:
    """What the PNG must hold: k + 1 on instance k's mask, the higher score where two overlap."""
    masks = [decode_mask(i) for i in instances]
    labels = np.zeros(masks[0].shape, np.uint16)
    for k in sorted(range(len(instances)), key=lambda k: instances[k]["score"]):
        labels[masks[k]] = k + 1
    return labels


def rasterised(line: str, size: tuple[int, int]) -> tuple[int, np.ndarray]:
    """An Ultralytics label line drawn back onto a frame of ``size`` (h, w)."""
    values = line.split()
    points = np.array(values[1:], float).reshape(-1, 2) * (size[1], size[0]) - 0.5  # to pixel centres
    canvas = np.zeros(size, np.uint8)
    cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
    return int(values[0]), canvas.astype(bool)


def check_files_match_results(out: Path, names: list[str], every_polygon: bool = True) -> list[dict]:
    """Every frame's PNG and label file (``names`` in frame order) against its --results line; the
    records, for more checks, each instance with its ``polygon_iou``: the IoU of its label line drawn
    back with its mask, at least 0.95 for every one unless not ``every_polygon``."""
    records = read_results(out / "results.jsonl")
    assert len(records) == len(names)
    assert sorted(p.name for p in (out / "masks").iterdir()) == sorted(f"{n}.png" for n in names)
    assert sorted(p.name for p in (out / "labels").iterdir()) == sorted(f"{n}.txt" for n in names)
    for name, record in zip(names, records):
        instances = record["instances"]
        png = cv2.imread(str(out / "masks" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        lines = (out / "labels" / f"{name}.txt").read_text().splitlines()
        if not instances:
            assert not png.any() and lines == []
            continue
        assert png.dtype == np.uint8
        np.testing.assert_array_equal(png, expected_label_image(instances))
        assert len(lines) == len(instances)
        for line, instance in zip(lines, instances):
            mask = decode_mask(instance)
            label, drawn = rasterised(line, mask.shape)
            assert label == instance["label"]
            instance["polygon_iou"] = iou(drawn, mask)
            assert instance["polygon_iou"] >= 0.95 or not every_polygon, (name, instance)
    return records
