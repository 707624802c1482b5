"""Which kind of segmentation model this is, recognised from its inputs and outputs.

A contract knows where each output of its kind is and how to turn one inference's
outputs into :class:`Detections` in model-input pixels. Recognition goes by rank and
element type, never by fixed names or sizes, so re-exported and quantised IRs work.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import openvino as ov

from .errors import DemoError


@dataclass
class Detections:
    """One frame's detections that passed the score threshold, in model-input pixels.

    ``heatmaps[i]`` is a sigmoid heatmap spanning ``boxes[i]`` exactly (Mask R-CNN style).
    """

    class_ids: np.ndarray  # [N] int
    scores: np.ndarray  # [N] float32
    boxes: np.ndarray  # [N, 4] float32, x1, y1, x2, y2
    heatmaps: np.ndarray  # [N, h, w] float32

    def __len__(self) -> int:
        return len(self.scores)


class Contract(Protocol):
    image_input: int

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]: ...

    def decode(self, outputs: list[np.ndarray], threshold: float) -> Detections: ...


def _rank(port: ov.Output) -> int:
    return port.get_partial_shape().rank.get_length()


def _is_integer(port: ov.Output) -> bool:
    return port.get_element_type().is_integral_number()


def _last_dim(port: ov.Output) -> int | None:
    dim = port.get_partial_shape()[_rank(port) - 1]
    return dim.get_length() if dim.is_static else None


def _name(port: ov.Output) -> str:
    return port.get_any_name() if port.get_names() else ""


def _only(ports: list[int]) -> int | None:
    return ports[0] if len(ports) == 1 else None


def _keep(scores: np.ndarray, threshold: float) -> np.ndarray:
    # NaN scores compare False, so they are dropped here with everything below threshold.
    return np.flatnonzero(scores >= threshold)


@dataclass(frozen=True)
class MaskRCNNContract:
    """Today's Open Model Zoo IRs: labels [N] (0-based), boxes [N,5] with score, masks [N,h,w]."""

    labels: int
    boxes: int
    masks: int
    image_input: int = 0

    @classmethod
    def match(cls, model: ov.Model) -> MaskRCNNContract | None:
        if len(model.inputs) != 1 or _rank(model.input(0)) != 4 or len(model.outputs) != 3:
            return None
        outs = list(enumerate(model.outputs))
        labels = _only([i for i, p in outs if _rank(p) == 1 and _is_integer(p)])
        boxes = _only([i for i, p in outs if _rank(p) == 2 and _last_dim(p) == 5])
        masks = _only([i for i, p in outs if _rank(p) == 3])
        if None in (labels, boxes, masks):
            return None
        return cls(labels, boxes, masks)

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        return {}

    def decode(self, outputs: list[np.ndarray], threshold: float) -> Detections:
        boxes = outputs[self.boxes]
        keep = _keep(boxes[:, 4], threshold)
        return Detections(outputs[self.labels][keep].astype(np.int64), boxes[keep, 4].astype(np.float32),
                          boxes[keep, :4].astype(np.float32), outputs[self.masks][keep].astype(np.float32))


@dataclass(frozen=True)
class TwoInputContract:
    """Older IRs: im_data + im_info in; boxes [N,4], scores, classes (1-based), raw_masks [N,C,h,w] out."""

    image_input: int
    info_input: int
    boxes: int
    scores: int
    classes: int
    raw_masks: int

    @classmethod
    def match(cls, model: ov.Model) -> TwoInputContract | None:
        ins = list(enumerate(model.inputs))
        image = _only([i for i, p in ins if _rank(p) == 4])
        info = _only([i for i, p in ins if _rank(p) == 2 and _last_dim(p) == 3])
        if len(ins) != 2 or None in (image, info) or len(model.outputs) != 4:
            return None
        outs = list(enumerate(model.outputs))
        boxes = _only([i for i, p in outs if _rank(p) == 2 and _last_dim(p) == 4])
        raw_masks = _only([i for i, p in outs if _rank(p) == 4])
        vectors = [(i, p) for i, p in outs if _rank(p) == 1]
        # Older IRs give classes as floats; then only the tensor name tells them from scores.
        classes = _only([i for i, p in vectors if _is_integer(p)])
        if classes is None:
            classes = _only([i for i, p in vectors if "class" in _name(p).lower()])
        scores = _only([i for i, _ in vectors if i != classes])
        if None in (boxes, raw_masks, classes, scores) or len(vectors) != 2:
            return None
        return cls(image, info, boxes, scores, classes, raw_masks)

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        # Scale 1 keeps the boxes in model-input pixels: the demo maps them back itself.
        width, height = input_size
        return {self.info_input: np.array([[height, width, 1.0]], dtype=np.float32)}

    def decode(self, outputs: list[np.ndarray], threshold: float) -> Detections:
        scores = outputs[self.scores]
        keep = _keep(scores, threshold)
        class_ids = outputs[self.classes][keep].astype(np.int64)
        keep, class_ids = keep[class_ids > 0], class_ids[class_ids > 0]  # 0 is the background
        heatmaps = outputs[self.raw_masks][keep, class_ids]
        return Detections(class_ids - 1, scores[keep].astype(np.float32),
                          outputs[self.boxes][keep].astype(np.float32), heatmaps.astype(np.float32))


CONTRACTS = (MaskRCNNContract, TwoInputContract)

EXPECTED = ("Mask R-CNN (one image input [1,3,H,W]; outputs labels [N] integer, boxes [N,5], masks [N,h,w]) "
            "or two-input (im_data [1,3,H,W] + im_info [1,3]; outputs boxes [N,4], scores [N], classes [N], "
            "raw_masks [N,C,h,w])")


def describe_ports(ports: list[ov.Output]) -> str:
    return ", ".join(f"{_name(p) or '<unnamed>'} {p.get_partial_shape()} "
                     f"{p.get_element_type().get_type_name()}" for p in ports)


def recognise(model: ov.Model, path: str) -> Contract:
    for contract in CONTRACTS:
        found = contract.match(model)
        if found is not None:
            return found
    raise DemoError(f"{path}: not a supported segmentation model: inputs [{describe_ports(model.inputs)}], "
                    f"outputs [{describe_ports(model.outputs)}]; expected {EXPECTED}")
