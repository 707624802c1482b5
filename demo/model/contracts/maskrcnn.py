"""Open Model Zoo's Mask R-CNN IRs of today: one image in; labels, boxes with scores and box-spanning masks out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import openvino as ov

from demo.model.contracts.base import Contract, DecodeLimits, Detections, Misfit, Preprocessing
from demo.model.contracts.decoding import finite_rows, keep_best
from demo.model.contracts.ports import (
    dims_of,
    expect_image,
    expect_outputs,
    is_integer,
    last_dim,
    only,
    rank_of,
    same_rows,
)

if TYPE_CHECKING:
    from demo.model.model_info import ModelInfo

@dataclass(frozen=True)
class MaskRCNNContract(Contract):
    """Today's Open Model Zoo IRs: labels [N] (0-based), boxes [N,5] with score, masks [N,h,w]."""

    labels: int
    boxes: int
    masks: int
    image_input: int = 0
    kind: ClassVar[str] = "maskrcnn"
    expected: ClassVar[str] = ("one image input [1,3,H,W]; outputs labels [N] integer, boxes [N,5], "
                               "masks [N,h,w]")
    preprocessing: ClassVar[Preprocessing] = Preprocessing()

    @classmethod
    def match(cls, model: ov.Model, info: ModelInfo) -> MaskRCNNContract | None:
        outs = list(enumerate(model.outputs))
        boxes = only([i for i, p in outs if rank_of(p) == 2 and last_dim(p) == 5])
        if len(model.inputs) != 1 or rank_of(model.input(0)) != 4 or boxes is None:
            return None
        expect_image(model.input(0))
        expect_outputs(model, 3, "labels, boxes, masks")
        labels = only([i for i, p in outs if rank_of(p) == 1 and is_integer(p)])
        masks = only([i for i, p in outs if rank_of(p) == 3 and None not in dims_of(p)[1:]])
        if labels is None or masks is None:
            raise Misfit("besides boxes [N,5] it needs labels [N] of an integer type and masks [N,h,w] of "
                         "static h, w")
        same_rows(model, [labels, boxes, masks], 0, "labels, boxes and masks")
        return cls(labels, boxes, masks)

    def decode(self, outputs: list[np.ndarray], limits: DecodeLimits) -> Detections:
        boxes = outputs[self.boxes]
        keep = keep_best(boxes[:, 4], limits.threshold, len(boxes))
        keep = keep[finite_rows(boxes[keep], outputs[self.labels][keep], outputs[self.masks][keep])][:limits.max_det]
        return Detections(outputs[self.labels][keep].astype(np.int64), boxes[keep, 4].astype(np.float32),
                          boxes[keep, :4].astype(np.float32), outputs[self.masks][keep].astype(np.float32))
