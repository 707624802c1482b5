"""Open Model Zoo's older Mask R-CNN IRs: an image and its im_info in; boxes, scores, classes and per-class masks out."""
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
    port_name,
    rank_of,
    same_rows,
    shape_text,
)

if TYPE_CHECKING:
    from demo.model.model_info import ModelInfo

@dataclass(frozen=True)
class TwoInputContract(Contract):
    """Older IRs: im_data + im_info in; boxes [N,4], scores, classes (1-based), raw_masks [N,C,h,w] out."""

    image_input: int
    info_input: int
    boxes: int
    scores: int
    classes: int
    raw_masks: int
    kind: ClassVar[str] = "two-input"
    expected: ClassVar[str] = ("im_data [1,3,H,W] + im_info [1,3]; outputs boxes [N,4], scores [N], classes [N], "
                               "raw_masks [N,C,h,w]")
    preprocessing: ClassVar[Preprocessing] = Preprocessing()

    @classmethod
    def match(cls, model: ov.Model, info: ModelInfo) -> TwoInputContract | None:
        ins = list(enumerate(model.inputs))
        image = only([i for i, p in ins if rank_of(p) == 4])
        info_input = only([i for i, p in ins if rank_of(p) == 2 and last_dim(p) == 3])
        if len(ins) != 2 or None in (image, info_input):
            return None
        expect_image(model.input(image))
        expect_outputs(model, 4, "boxes, scores, classes, raw_masks")
        outs = list(enumerate(model.outputs))
        boxes = only([i for i, p in outs if rank_of(p) == 2 and last_dim(p) == 4])
        raw_masks = only([i for i, p in outs if rank_of(p) == 4 and None not in dims_of(p)[1:]])
        vectors = [(i, p) for i, p in outs if rank_of(p) == 1]
        # Older IRs give classes as floats; then only the tensor name tells them from scores.
        classes = only([i for i, p in vectors if is_integer(p)])
        if classes is None:
            classes = only([i for i, p in vectors if "class" in port_name(p).lower()])
        scores = only([i for i, _ in vectors if i != classes])
        if None in (boxes, raw_masks, classes, scores) or len(vectors) != 2:
            raise Misfit("it needs boxes [N,4], scores [N], classes [N] and raw_masks [N,C,h,w] of static C, h, w")
        if dims_of(model.output(raw_masks))[1] < 2:
            raise Misfit(f"raw_masks {shape_text(model.output(raw_masks))} has no class besides the background")
        same_rows(model, [boxes, scores, classes, raw_masks], 0, "boxes, scores, classes and raw_masks")
        return cls(image, info_input, boxes, scores, classes, raw_masks)

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        # Scale 1 keeps the boxes in model-input pixels: the demo maps them back itself.
        width, height = input_size
        return {self.info_input: np.array([[height, width, 1.0]], dtype=np.float32)}

    def decode(self, outputs: list[np.ndarray], limits: DecodeLimits) -> Detections:
        scores = outputs[self.scores]
        keep = keep_best(scores, limits.threshold, len(scores))
        keep = keep[finite_rows(outputs[self.classes][keep], outputs[self.boxes][keep])]
        keep = keep[outputs[self.classes][keep] > 0][:limits.max_det]  # class 0 is the background
        class_ids = outputs[self.classes][keep].astype(np.int64)
        heatmaps = outputs[self.raw_masks][keep, class_ids]
        return Detections(class_ids - 1, scores[keep].astype(np.float32), outputs[self.boxes][keep].astype(np.float32),
                          heatmaps.astype(np.float32)).only(finite_rows(heatmaps))
