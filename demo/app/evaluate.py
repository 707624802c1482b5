"""Accuracy on COCO-format data: the demo's own pipeline over an instances file, scored by COCOeval.

``python -m demo eval -m MODEL --annotations instances.json --images DIR`` reads every
listed image, runs it through the same in-graph pre-processing, asynchronous inference
and mask paste as the demo, and scores the result with pycocotools: the figures are
then those of the pipeline a user actually runs, not of a separate accuracy script.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from tqdm import tqdm

from demo.core.errors import DemoError
from demo.core.files import Named, Output, refuse_overlaps
from demo.core.textfile import ANNOTATIONS_LIMIT, read_text
from demo.core.wording import counted
from demo.frames.sources import Frame, open_source
from demo.model.loading import input_files
from demo.model.segmenter import Segmenter, Settings, resolve
from demo.outputs.sinks import require_writable_folder, write_json
from demo.results.coco import CategoryMap, CocoDetection, name_key, to_coco

log = logging.getLogger(__name__)

# COCO's own conventions, eval's defaults: scores as low as this still count towards AP, and at most
# this many detections per image are scored (the model's decode keeps the best ones; --max_det sets it).
DEFAULT_THRESHOLD = 0.001
MAX_PER_IMAGE = 100
METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl")  # the first six of COCOeval.stats
IOU_TYPES = {"box": "bbox", "mask": "segm"}
NAMES_SHOWN = 5


@dataclass(frozen=True)
class EvalImage:
    image_id: int
    path: Path


Scores = dict[str, dict[str, float]]  # {"box" | "mask": {"AP": ..., ...}}, fractions; -1: no such objects


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """pycocotools prints progress chatter on stdout, where only the table belongs."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def load_annotations(path: Path) -> COCO:
    try:
        dataset = json.loads(read_text(path, "annotations", ANNOTATIONS_LIMIT))
    except json.JSONDecodeError as error:
        raise DemoError(f"annotations {path}: not a JSON file ({error})") from None
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(dataset, dict)
               or not isinstance(dataset.get(key), list)]
    if missing:
        raise DemoError(f"annotations {path}: not a COCO instances file (no {', '.join(missing)} list)")
    coco = COCO()
    coco.dataset = dataset
    with quiet():
        coco.createIndex()
    return coco


def first_names(names: list[str]) -> str:
    more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
    return ", ".join(names[:NAMES_SHOWN]) + more


def select_images(coco: COCO, folder: Path, limit: int) -> list[EvalImage]:
    """The first ``limit`` images of the annotation file (all for 0), in its order; all must exist."""
    listed = coco.dataset["images"][:limit or None]
    try:
        images = [EvalImage(int(entry["id"]), folder / entry["file_name"]) for entry in listed]
    except (KeyError, TypeError, ValueError):
        raise DemoError("the annotation file has an image entry without a whole-number id or a file_name") from None
    missing = [image.path.name for image in images if not image.path.is_file()]
    if missing:
        raise DemoError(f"{len(missing)} of the {counted(len(images), 'image')} to evaluate are missing from "
                        f"{folder}: {first_names(missing)}")
    if not images:
        raise DemoError("the annotation file lists no images")
    return images


def map_categories(coco: COCO, labels: list[str]) -> CategoryMap:
    known = {name_key(label) for label in labels}
    categories = coco.dataset["categories"]
    ids_by_name = {name_key(c["name"]): int(c["id"]) for c in categories if name_key(c["name"]) in known}
    if not ids_by_name:
        raise DemoError("none of the annotation file's categories is among the model's class names "
                        "(see --labels)")
    return CategoryMap(ids_by_name, [c["name"] for c in categories if name_key(c["name"]) not in known])


def read_frames(images: list[EvalImage]) -> Iterator[Frame]:
    for index, image in enumerate(images):
        with open_source(str(image.path)) as source:
            yield Frame(index, next(iter(source)).image, image.path.name)


def load_results(coco: COCO, records: list[dict[str, Any]]) -> COCO:
    if records:
        return coco.loadRes(records)
    # loadRes cannot take an empty list; a model that finds nothing simply scores 0.
    empty = COCO()
    empty.dataset = {"images": coco.dataset["images"], "categories": coco.dataset["categories"], "annotations": []}
    empty.createIndex()
    return empty


def score(coco: COCO, detections: list[CocoDetection], image_ids: list[int], category_ids: list[int]) -> Scores:
    scores: Scores = {}
    for kind, iou_type in IOU_TYPES.items():
        # Only the field being scored: given a bbox too, loadRes would size masks by their box
        # for APs/m/l; given a segmentation too, it would check masks the box score never uses.
        field = "bbox" if iou_type == "bbox" else "segmentation"
        with quiet():
            evaluation = COCOeval(coco, load_results(coco, [d.as_coco((field,)) for d in detections]), iou_type)
            evaluation.params.imgIds = image_ids
            evaluation.params.catIds = category_ids
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        scores[kind] = {name: float(value) for name, value in zip(METRICS, evaluation.stats)}
    return scores


def format_table(scores: Scores) -> str:
    """Percentages as Open Model Zoo quotes them; "-" where the images hold no objects of that size."""
    lines = ["      " + "".join(f"{name:>8}" for name in METRICS)]
    for kind, row in scores.items():
        lines.append(f"{kind:<6}" + "".join(f"{100 * v:8.2f}" if v >= 0 else f"{'-':>8}" for v in row.values()))
    return "\n".join(lines)


@dataclass(frozen=True)
class EvalSettings:
    """What ``python -m demo eval`` was asked for; the model's own settings are :class:`Settings`'s."""

    model: str | Path | None
    device: str
    annotations: Path
    images: Path
    model_settings: Settings
    limit: int = 0  # the first N images; 0: all
    results: Path | None = None  # a COCO results file to write
    metrics: Path | None = None  # the AP figures as JSON


def run(settings: EvalSettings) -> Scores:
    coco = load_annotations(settings.annotations)
    images = select_images(coco, settings.images, settings.limit)
    resolved = resolve(settings.model, settings.model_settings)
    inputs = [Named("--annotations", settings.annotations), *(Named("--images", i.path) for i in images),
              *input_files(resolved.path, settings.model_settings.labels)]
    outputs = [Output(flag, path) for flag, path in (("--results", settings.results), ("--metrics", settings.metrics))
               if path is not None]
    refuse_overlaps(inputs, outputs)
    for output in outputs:
        require_writable_folder(output.path)
    with Segmenter.load(resolved, settings.device, settings.model_settings) as segmenter:
        categories = map_categories(coco, segmenter.labels)
        if categories.unknown:
            log.warning("%s left out of the scores, not among the model's classes: %s",
                        counted(len(categories.unknown), "annotation category", "annotation categories"),
                        first_names(categories.unknown))
        log.info("model %s on %s, resize %s, %s, %s", segmenter.name, settings.device, segmenter.model.policy.value,
                 counted(segmenter.requests, "infer request"), counted(len(images), "image"))
        detections: list[CocoDetection] = []
        results = segmenter.stream(read_frames(images))
        for result in tqdm(results, total=len(images), unit="image", desc="evaluating"):
            detections += to_coco(result.instances, images[result.index].image_id, categories)
    if settings.results:
        write_json(settings.results, [d.as_coco() for d in detections], "results")
    scores = score(coco, detections, [image.image_id for image in images], sorted(categories.ids_by_name.values()))
    if settings.metrics:
        write_json(settings.metrics, scores, "metrics")
    print(f"COCO AP (%) of {segmenter.name} on {counted(len(images), 'image')} of {settings.annotations.name}, "
          f"{counted(len(detections), 'detection')}:")
    print(format_table(scores))
    return scores
