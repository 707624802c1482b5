"""Ultralytics YOLO-seg, with the anchor-grid head (NMS on the host) or the end-to-end head (final rows)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import openvino as ov

from demo.core.wording import counted
from demo.model.contracts.base import Contract, DecodeLimits, Detections, Misfit, Preprocessing
from demo.model.contracts.decoding import (
    box_scale,
    class_aware_nms,
    corner_boxes,
    finite_rows,
    keep_best,
    mask_heatmaps,
)
from demo.model.contracts.ports import (
    PrototypePlane,
    dims_of,
    expect_class_count,
    expect_image,
    expect_outputs,
    only,
    rank_of,
    shape_text,
)
from demo.model.geometry import ResizePolicy

if TYPE_CHECKING:
    from demo.model.model_info import ModelInfo

YOLO_IOU_THRESHOLD = 0.7  # Ultralytics' default
# Ultralytics heads predict on these strides (P3-P5; P6 models add 64, P2 models add 4).
YOLO_STRIDE_SETS = ((8, 16, 32), (8, 16, 32, 64), (4, 8, 16, 32))
END2END_FIELDS = 6  # x1, y1, x2, y2, score, class, then the mask coefficients


def yolo_grid_anchors(input_size: tuple[int, int]) -> set[int]:
    """How many anchors an Ultralytics head has on an input of this (w, h), for each stride set."""
    width, height = input_size
    return {sum(math.ceil(width / s) * math.ceil(height / s) for s in strides) for strides in YOLO_STRIDE_SETS}


@dataclass(frozen=True)
class YoloPorts:
    """What both Ultralytics YOLO-seg contracts read: one image in; a [1,a,b] table and prototypes out."""

    table: int
    input_size: tuple[int, int]
    prototypes: PrototypePlane

    @classmethod
    def find(cls, model: ov.Model, info: ModelInfo) -> YoloPorts | None:
        outs = list(enumerate(model.outputs))
        table = only([i for i, p in outs if rank_of(p) == 3])
        planes = [i for i, p in outs if rank_of(p) == 4]
        if len(model.inputs) != 1 or rank_of(model.input(0)) != 4 or table is None or not planes:
            return None
        _, input_size = expect_image(model.input(0), ("NCHW", "NHWC"))
        expect_outputs(model, 2, "a [1,a,b] table and the mask prototypes")
        if info.image_size is not None and info.image_size != input_size:
            raise Misfit("metadata.yaml gives imgsz {}x{} but the input is {}x{}".format(*info.image_size, *input_size))
        dims = dims_of(model.output(table))
        if dims[0] != 1 or None in dims[1:]:
            raise Misfit(f"the table output {shape_text(model.output(table))} is not [1,a,b] of static a, b")
        return cls(table, input_size, PrototypePlane.of(model, planes[0], input_size))

    def table_dims(self, model: ov.Model) -> tuple[int, int]:
        _, first, second = dims_of(model.output(self.table))
        return first, second


@dataclass(frozen=True)
class YoloSegContract(Contract):
    """Ultralytics YOLO-seg: one image in; anchors [1,4+C+P,A] and prototypes [1,P,h,w] or [1,h,w,P] out.

    Per anchor: box centre x, y, width, height (input pixels or normalised to 0..1), C class
    scores, P mask coefficients. Nothing is suppressed yet: decoding runs class-aware NMS.
    """

    anchors: int
    prototypes: int
    num_classes: int
    prototypes_channels_last: bool
    input_size: tuple[int, int]  # (width, height)
    plane_stride: tuple[float, float]  # input pixels per prototype cell, (x, y)
    image_input: int = 0
    kind: ClassVar[str] = "yolo"
    expected: ClassVar[str] = ("one image input [1,3,H,W] or [1,H,W,3] of static size; outputs anchors "
                               "[1,4+C+P,A] and prototypes [1,P,h,w] or [1,h,w,P]")
    # As Ultralytics trains: RGB, 0..1, letterboxed with gray 114.
    preprocessing: ClassVar[Preprocessing] = Preprocessing(
        reverse_channels=True, scale=(255.0,), pad_value=114.0, policy=ResizePolicy.LETTERBOX)

    @classmethod
    def match(cls, model: ov.Model, info: ModelInfo) -> YoloSegContract | None:
        ports = YoloPorts.find(model, info)
        if ports is None:
            return None
        if info.end2end:
            raise Misfit("its metadata says end2end (one row per detection), not one column per anchor")
        features, anchors = ports.table_dims(model)
        plane = ports.prototypes
        # [1,300,38] read as anchors would be 38 anchors of 264 classes: an end-to-end head's rows.
        if anchors == END2END_FIELDS + plane.coefficients and anchors not in yolo_grid_anchors(ports.input_size):
            raise Misfit(f"[1,{features},{anchors}] has rows of 6 + {plane.coefficients} values, not a YOLO "
                         f"grid's anchors ({', '.join(map(str, sorted(yolo_grid_anchors(ports.input_size))))})")
        expect_class_count(features - 4 - plane.coefficients, info,
                            f"[1,{features},{anchors}] less 4 box values and "
                            f"{counted(plane.coefficients, 'coefficient')}")
        return cls(ports.table, plane.output, features - 4 - plane.coefficients, plane.channels_last,
                   ports.input_size, plane.stride)

    def decode(self, outputs: list[np.ndarray], limits: DecodeLimits) -> Detections:
        table = outputs[self.anchors][0]  # [4+C+P, A]: a view of the request's own buffer
        coefficients_from = 4 + self.num_classes
        best = table[4:coefficients_from].max(axis=0)
        keep = keep_best(best, limits.threshold, len(best))
        kept = table[:, keep]  # only these anchors are copied out
        finite = finite_rows(kept.T)
        keep, kept = keep[finite], kept[:, finite]
        scores, class_ids = best[keep].astype(np.float32), kept[4:coefficients_from].argmax(axis=0)
        boxes = corner_boxes(kept[:4].T, box_scale(table[:2], self.input_size))
        chosen = class_aware_nms(boxes, scores, class_ids, limits.iou(YOLO_IOU_THRESHOLD),
                                      limits.max_det)
        heatmaps = mask_heatmaps(kept[coefficients_from:, chosen].T, outputs[self.prototypes][0],
                                      self.prototypes_channels_last)
        return Detections(class_ids[chosen].astype(np.int64), scores[chosen], boxes[chosen], heatmaps,
                          self.plane_stride).only(finite_rows(heatmaps))


@dataclass(frozen=True)
class YoloEnd2EndContract(Contract):
    """Ultralytics YOLO-seg with the one-to-one (NMS-free) head, as YOLO26 exports by default, or any
    export made with ``nms=True``: rows [1,D,6+P] of x1, y1, x2, y2 (input pixels or 0..1), score,
    class, P mask coefficients; prototypes as for :class:`YoloSegContract`. Boxes are final: no NMS.
    """

    detections: int
    prototypes: int
    prototypes_channels_last: bool
    input_size: tuple[int, int]  # (width, height)
    plane_stride: tuple[float, float]
    image_input: int = 0
    kind: ClassVar[str] = "yolo-end2end"
    expected: ClassVar[str] = ("one image input [1,3,H,W] or [1,H,W,3] of static size; outputs detections "
                               "[1,D,6+P] and prototypes [1,P,h,w] or [1,h,w,P]")
    preprocessing: ClassVar[Preprocessing] = YoloSegContract.preprocessing

    @classmethod
    def match(cls, model: ov.Model, info: ModelInfo) -> YoloEnd2EndContract | None:
        ports = YoloPorts.find(model, info)
        if ports is None:
            return None
        if info.end2end is False:
            raise Misfit("its metadata says it is not end2end, so its table holds anchors, not detections")
        rows, fields = ports.table_dims(model)
        plane = ports.prototypes
        if fields != END2END_FIELDS + plane.coefficients:
            raise Misfit(f"detections [1,{rows},{fields}] should have 6 + {plane.coefficients} values per row "
                         "(box corners, score, class, one coefficient per prototype)")
        return cls(ports.table, plane.output, plane.channels_last, ports.input_size, plane.stride)

    def decode(self, outputs: list[np.ndarray], limits: DecodeLimits) -> Detections:
        rows = outputs[self.detections][0]  # [D, 6+P]
        keep = keep_best(rows[:, 4], limits.threshold, len(rows))
        kept = rows[keep[finite_rows(rows[keep])][:limits.max_det]]
        boxes = kept[:, :4].astype(np.float32) * box_scale(rows[:, 2:4].T, self.input_size)
        heatmaps = mask_heatmaps(kept[:, END2END_FIELDS:], outputs[self.prototypes][0],
                                      self.prototypes_channels_last)
        return Detections(kept[:, 5].astype(np.int64), kept[:, 4].astype(np.float32), boxes, heatmaps,
                          self.plane_stride).only(finite_rows(heatmaps))
