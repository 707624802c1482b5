"""YOLACT as Open Model Zoo converts yolact-resnet50-fpn-pytorch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import openvino as ov

from demo.model.contracts.base import Contract, DecodeLimits, Detections, Misfit, Preprocessing
from demo.model.contracts.decoding import best_per_class, class_aware_nms, finite_rows, mask_heatmaps
from demo.model.contracts.ports import (
    PrototypePlane,
    dims_of,
    expect_class_count,
    expect_image,
    expect_outputs,
    last_dim,
    pick,
    rank_of,
    same_rows,
    shape_text,
)
from demo.model.geometry import ResizePolicy

if TYPE_CHECKING:
    from demo.model.model_info import ModelInfo

YOLACT_IOU_THRESHOLD = 0.5  # Open Model Zoo's YOLACT wrapper and accuracy check


@dataclass(frozen=True)
class YolactContract(Contract):
    """YOLACT as Open Model Zoo converts yolact-resnet50-fpn-pytorch: one BGR image in (mean and scale
    are in the graph); boxes [1,N,4], conf [1,N,1+C], mask [1,N,P] and proto [1,h,w,P] out.

    The conversion puts the prior-box decoding into the graph, so ``boxes`` are final corners
    x1, y1, x2, y2 normalised to 0..1 (Open Model Zoo's README calls them y_min, x_min, ...; its
    wrapper, its accuracy adapter and the conversion's own decode all read x first). ``conf`` is
    a softmax whose column 0 is the background; each (prior, class) pair above the threshold is
    a candidate, suppressed per class as Open Model Zoo's wrapper does.
    """

    boxes: int
    conf: int
    coefficients: int
    prototypes: int
    prototypes_channels_last: bool
    input_size: tuple[int, int]
    plane_stride: tuple[float, float]
    image_input: int = 0
    kind: ClassVar[str] = "yolact"
    expected: ClassVar[str] = ("one image input [1,3,H,W]; outputs boxes [1,N,4], conf [1,N,1+C], mask [1,N,P] "
                               "and proto [1,h,w,P]")
    preprocessing: ClassVar[Preprocessing] = Preprocessing(policy=ResizePolicy.STRETCH)
    # YOLACT's own detector keeps the best 200 candidates of each class for NMS.
    candidates_per_class: ClassVar[int] = 200

    @classmethod
    def match(cls, model: ov.Model, info: ModelInfo) -> YolactContract | None:
        outs = list(enumerate(model.outputs))
        tables = [i for i, p in outs if rank_of(p) == 3]
        planes = [i for i, p in outs if rank_of(p) == 4]
        if len(model.inputs) != 1 or rank_of(model.input(0)) != 4 or len(tables) < 2:
            return None
        _, input_size = expect_image(model.input(0))
        expect_outputs(model, 4, "boxes, conf, mask, proto")
        if len(tables) != 3 or len(planes) != 1:
            raise Misfit("it needs three [1,N,k] outputs (boxes, conf, mask) and one proto [1,h,w,P]")
        if any(dims_of(model.output(i))[0] != 1 or last_dim(model.output(i)) is None for i in tables):
            raise Misfit("boxes, conf and mask must be [1,N,k] with a static k")
        same_rows(model, tables, 1, "boxes, conf and mask")
        boxes = pick(model, [i for i in tables if last_dim(model.output(i)) == 4], "boxes")
        if boxes is None:
            raise Misfit("no boxes [1,N,4] output")
        others = [i for i in tables if i != boxes]
        plane_dims = dims_of(model.output(planes[0]))
        mask = pick(model, [i for i in others if last_dim(model.output(i)) in (plane_dims[1], plane_dims[3])],
                     "mask")
        if mask is None:
            raise Misfit("neither [1,N,k] output has one coefficient per prototype of "
                         f"{shape_text(model.output(planes[0]))}")
        conf = next(i for i in others if i != mask)
        plane = PrototypePlane.of(model, planes[0], input_size, last_dim(model.output(mask)))
        expect_class_count(last_dim(model.output(conf)) - 1, info, f"conf {shape_text(model.output(conf))} less the "
                            "background")
        return cls(boxes, conf, mask, plane.output, plane.channels_last, input_size, plane.stride)

    def decode(self, outputs: list[np.ndarray], limits: DecodeLimits) -> Detections:
        rows, classes, scores = best_per_class(outputs[self.conf][0][:, 1:], limits.threshold,
                                               self.candidates_per_class)
        finite = finite_rows(outputs[self.boxes][0][rows], outputs[self.coefficients][0][rows])
        rows, classes, scores = rows[finite], classes[finite], scores[finite]
        scores = scores.astype(np.float32)
        width, height = self.input_size
        boxes = outputs[self.boxes][0][rows].astype(np.float32) * np.float32([width, height, width, height])
        chosen = class_aware_nms(boxes, scores, classes, limits.iou(YOLACT_IOU_THRESHOLD),
                                      limits.max_det)
        heatmaps = mask_heatmaps(outputs[self.coefficients][0][rows[chosen]], outputs[self.prototypes][0],
                                      self.prototypes_channels_last)
        return Detections(classes[chosen].astype(np.int64), scores[chosen], boxes[chosen], heatmaps,
                          self.plane_stride).only(finite_rows(heatmaps))
