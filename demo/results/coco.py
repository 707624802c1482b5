"""COCO's results format: a frame's instances as the entries of a COCO results file, the categories
matched by name (``eval``'s scores and ``--coco_results`` both write them)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from demo.results.instances import Instance


@dataclass(frozen=True)
class CategoryMap:
    """The annotation file's category ids by (normalised) name, for the categories the model knows."""

    ids_by_name: dict[str, int]
    unknown: list[str]  # annotation categories that no model class is called

    def category_id(self, name: str) -> int | None:
        return self.ids_by_name.get(name_key(name))


@dataclass(frozen=True)
class CocoDetection:
    """One entry of a COCO results file."""

    image_id: int
    category_id: int
    bbox: list[float]  # x, y, width, height
    score: float
    segmentation: dict[str, Any]  # compressed RLE, counts as str

    def as_coco(self, fields: tuple[str, ...] = ("bbox", "segmentation")) -> dict[str, Any]:
        record: dict[str, Any] = {"image_id": self.image_id, "category_id": self.category_id, "score": self.score}
        return record | {name: getattr(self, name) for name in fields}


def name_key(name: str) -> str:
    # Label files and model metadata sometimes write "traffic_light" for COCO's "traffic light".
    return " ".join(name.replace("_", " ").lower().split())


def to_coco(instances: list[Instance], image_id: int, categories: CategoryMap) -> list[CocoDetection]:
    """The image's detections of classes the annotations know, as COCO results."""
    mapped = [(i, categories.category_id(i.name)) for i in instances]
    return [CocoDetection(image_id, category, [i.box.x1, i.box.y1, i.box.width, i.box.height], i.score, i.rle())
            for i, category in mapped if category is not None]
