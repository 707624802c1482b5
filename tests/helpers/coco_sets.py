"""A generated COCO set (drawn shapes, annotations from their true masks) and ``python -m demo eval`` on it,
checked against what pycocotools alone makes of the results file."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.running import run_demo
from helpers.scenes import BLUE, GREEN, RED, YELLOW, scene_shapes
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

# COCO's own, non-contiguous ids: results must be mapped to them by name.
CATEGORIES = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 18, "name": "dog"}]
CATEGORY_BY_COLOUR = {RED: 1, GREEN: 3, BLUE: 18, YELLOW: 1}
# (width, height, shapes left out): frames of several sizes, one with nothing in it.
FRAMES = [(640, 480, ()), (480, 640, (1,)), (1280, 720, (0, 3)), (800, 600, (0, 1, 2, 3)), (960, 540, (2,))]
FIRST_IMAGE_ID = 1000
METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def annotation(mask: np.ndarray, image_id: int, category_id: int, annotation_id: int) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    x1, y1, x2, y2 = synthetic.truth_box(mask)
    return {"id": annotation_id, "image_id": image_id, "category_id": category_id, "iscrowd": 0,
            "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
            "area": int(np.count_nonzero(mask)), "bbox": [x1, y1, x2 - x1, y2 - y1]}


def write_coco_set(folder: Path) -> tuple[Path, Path]:
    """PNG frames of drawn shapes and an instances file written from the shapes' visible masks."""
    images_dir = folder / "images"
    images_dir.mkdir()
    images, annotations = [], []
    for number, (width, height, left_out) in enumerate(FRAMES):
        image_id = FIRST_IMAGE_ID + 7 * number
        shapes = [s for k, s in enumerate(scene_shapes(width, height, number)) if k not in left_out]
        frame, masks = synthetic.draw_scene(width, height, shapes)
        name = f"{image_id:012d}.png"
        cv2.imwrite(str(images_dir / name), frame)
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        for shape, mask in zip(shapes, masks):
            annotations.append(annotation(mask, image_id, CATEGORY_BY_COLOUR[shape.colour], len(annotations) + 1))
    path = folder / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": CATEGORIES}))
    return path, images_dir


def pycocotools_scores(annotations: Path, results: Path) -> dict[str, list[float]]:
    """The results file scored by pycocotools alone, masks sized by their own area."""
    detections = json.loads(results.read_text())
    scores = {}
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(annotations))
        for kind, iou_type in (("box", "bbox"), ("mask", "segm")):
            if iou_type == "segm":
                detections = [{k: v for k, v in d.items() if k != "bbox"} for d in detections]
            evaluation = COCOeval(truth, truth.loadRes(detections), iou_type)
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
            scores[kind] = [float(v) for v in evaluation.stats[:6]]
    return scores


def evaluate(model: Path, annotations: Path, images: Path, tmp_path: Path, *extra: str):
    results, metrics = tmp_path / "results.json", tmp_path / "metrics.json"
    run = run_demo("eval", "-m", model, "--annotations", annotations, "--images", images,
                   "--results", results, "--metrics", metrics, "--no_cache", *extra)
    assert run.returncode == 0, run.stderr
    return run, json.loads(results.read_text()), json.loads(metrics.read_text())


def printed_row(stdout: str, kind: str) -> list[str]:
    return next(line.split()[1:] for line in stdout.splitlines() if line.startswith(kind + " "))


def check_scores_are_pycocotools_own(run, metrics: dict, annotations: Path, results: Path) -> None:
    """What eval wrote and printed is what pycocotools alone makes of the results file."""
    independent = pycocotools_scores(annotations, results)
    for kind in ("box", "mask"):
        assert [metrics[kind][m] for m in METRICS] == pytest.approx(independent[kind], abs=1e-12)
        assert printed_row(run.stdout, kind)[0] == f"{100 * metrics[kind]['AP']:.2f}"
