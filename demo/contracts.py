"""Which kind of segmentation model this is, recognised from its inputs and outputs.

A contract knows where each output of its kind is, how its images were prepared in
training, and how to turn one inference's outputs into :class:`Detections` in
model-input pixels. Recognition goes by rank, shape and element type, never by fixed
names or sizes, so re-exported, quantised and converted (TFLite) models work.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
import openvino as ov

from . import yolo
from .errors import DemoError
from .geometry import ResizePolicy


@dataclass
class Detections:
    """One frame's detections that passed the score threshold, in model-input pixels.

    ``heatmaps[i]`` is a sigmoid heatmap. With ``plane_stride`` None it spans ``boxes[i]``
    exactly (Mask R-CNN style); otherwise it covers the whole model input, cell (r, c)
    spanning input pixels [c*sx, (c+1)*sx) x [r*sy, (r+1)*sy) for ``plane_stride`` (sx, sy),
    and only its part inside the box belongs to the instance (YOLO prototypes).
    """

    class_ids: np.ndarray  # [N] int
    scores: np.ndarray  # [N] float32
    boxes: np.ndarray  # [N, 4] float32, x1, y1, x2, y2
    heatmaps: np.ndarray  # [N, h, w] float32
    plane_stride: tuple[float, float] | None = None

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class Preprocessing:
    """How the network's training images were prepared; the graph does the same to BGR u8 frames.

    Steps run in this order: resize (and pad with ``pad_value``), reverse channels, subtract
    ``mean``, divide by ``scale`` (one value, or one per channel in the network's order).
    """

    reverse_channels: bool = False  # True: the network takes RGB
    mean: tuple[float, ...] = (0.0,)
    scale: tuple[float, ...] = (1.0,)
    pad_value: float = 0.0
    policy: ResizePolicy | None = None  # None: the Open Model Zoo model's own, else stretch


@dataclass(frozen=True)
class DecodeLimits:
    """What the user (or the model's metadata) allows per frame."""

    iou_threshold: float = 0.7  # class-aware NMS, for models whose outputs are not suppressed yet
    max_det: int = 100


class Contract(Protocol):
    image_input: int
    preprocessing: ClassVar[Preprocessing]

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


def _static_dims(port: ov.Output) -> list[int] | None:
    shape = port.get_partial_shape()
    return None if shape.is_dynamic else list(shape.to_shape())


def image_layout(port: ov.Output) -> str | None:
    """The layout of a rank-4 image input whose 3 channels come first (NCHW) or last (NHWC), else None."""
    shape = port.get_partial_shape()
    if shape.rank.is_dynamic or shape.rank.get_length() != 4:
        return None
    if shape[1].is_static and shape[1].get_length() == 3:
        return "NCHW"
    if shape[3].is_static and shape[3].get_length() == 3:
        return "NHWC"
    return None


def image_size(port: ov.Output, layout: str) -> tuple[int, int] | None:
    """The (w, h) of a rank-4 image input laid out as ``layout`` (NCHW or NHWC); None unless static."""
    dims = _static_dims(port)
    if dims is None:
        return None
    height, width = dims[1:3] if layout == "NHWC" else dims[2:4]
    return width, height


def _keep(scores: np.ndarray, threshold: float, max_det: int) -> np.ndarray:
    """Indices of the best ``max_det`` scores at or above the threshold, best first."""
    # NaN scores compare False, so they are dropped here with everything below threshold.
    keep = np.flatnonzero(scores >= threshold)
    return keep[np.argsort(-scores[keep], kind="stable")[:max_det]]


@dataclass(frozen=True)
class MaskRCNNContract:
    """Today's Open Model Zoo IRs: labels [N] (0-based), boxes [N,5] with score, masks [N,h,w]."""

    labels: int
    boxes: int
    masks: int
    max_det: int
    image_input: int = 0
    preprocessing: ClassVar[Preprocessing] = Preprocessing()

    @classmethod
    def match(cls, model: ov.Model, limits: DecodeLimits) -> MaskRCNNContract | None:
        if len(model.inputs) != 1 or _rank(model.input(0)) != 4 or len(model.outputs) != 3:
            return None
        outs = list(enumerate(model.outputs))
        labels = _only([i for i, p in outs if _rank(p) == 1 and _is_integer(p)])
        boxes = _only([i for i, p in outs if _rank(p) == 2 and _last_dim(p) == 5])
        masks = _only([i for i, p in outs if _rank(p) == 3])
        if None in (labels, boxes, masks):
            return None
        return cls(labels, boxes, masks, limits.max_det)

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        return {}

    def decode(self, outputs: list[np.ndarray], threshold: float) -> Detections:
        boxes = outputs[self.boxes]
        keep = _keep(boxes[:, 4], threshold, self.max_det)
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
    max_det: int
    preprocessing: ClassVar[Preprocessing] = Preprocessing()

    @classmethod
    def match(cls, model: ov.Model, limits: DecodeLimits) -> TwoInputContract | None:
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
        return cls(image, info, boxes, scores, classes, raw_masks, limits.max_det)

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        # Scale 1 keeps the boxes in model-input pixels: the demo maps them back itself.
        width, height = input_size
        return {self.info_input: np.array([[height, width, 1.0]], dtype=np.float32)}

    def decode(self, outputs: list[np.ndarray], threshold: float) -> Detections:
        scores = outputs[self.scores]
        keep = _keep(scores, threshold, len(scores))
        keep = keep[outputs[self.classes][keep] > 0][:self.max_det]  # class 0 is the background
        class_ids = outputs[self.classes][keep].astype(np.int64)
        heatmaps = outputs[self.raw_masks][keep, class_ids]
        return Detections(class_ids - 1, scores[keep].astype(np.float32),
                          outputs[self.boxes][keep].astype(np.float32), heatmaps.astype(np.float32))


def _prototypes_channels_last(dims: list[int], input_size: tuple[int, int]) -> bool | None:
    """Whether [1,a,b,c] prototypes are [1,h,w,P] rather than [1,P,h,w]: the plane has the
    input's aspect ratio. None when neither reading does."""
    width, height = input_size
    _, first, second, third = dims
    if second * width == third * height:
        return False
    if first * width == second * height:
        return True
    return None


@dataclass(frozen=True)
class YoloSegContract:
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
    limits: DecodeLimits
    image_input: int = 0
    # As Ultralytics trains: RGB, 0..1, letterboxed with gray 114.
    preprocessing: ClassVar[Preprocessing] = Preprocessing(
        reverse_channels=True, scale=(255.0,), pad_value=114.0, policy=ResizePolicy.LETTERBOX)

    @classmethod
    def match(cls, model: ov.Model, limits: DecodeLimits) -> YoloSegContract | None:
        if len(model.inputs) != 1 or len(model.outputs) != 2:
            return None
        layout = image_layout(model.input(0))
        input_size = None if layout is None else image_size(model.input(0), layout)
        if input_size is None:
            return None
        width, height = input_size
        outs = list(enumerate(model.outputs))
        anchors = _only([i for i, p in outs if _rank(p) == 3])
        prototypes = _only([i for i, p in outs if _rank(p) == 4])
        if anchors is None or prototypes is None:
            return None
        features = model.output(anchors).get_partial_shape()[1]
        proto_dims = _static_dims(model.output(prototypes))
        if features.is_dynamic or proto_dims is None:
            return None
        channels_last = _prototypes_channels_last(proto_dims, input_size)
        if channels_last is None:
            return None
        if channels_last:
            _, plane_height, plane_width, coefficients = proto_dims
        else:
            _, coefficients, plane_height, plane_width = proto_dims
        num_classes = features.get_length() - 4 - coefficients
        if num_classes < 1:
            return None
        return cls(anchors, prototypes, num_classes, channels_last, input_size,
                   (width / plane_width, height / plane_height), limits)

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        return {}

    def decode(self, outputs: list[np.ndarray], threshold: float) -> Detections:
        table = outputs[self.anchors][0]  # [4+C+P, A]: a view of the request's own buffer
        coefficients_from = 4 + self.num_classes
        best = table[4:coefficients_from].max(axis=0)
        keep = _keep(best, threshold, len(best))
        kept = table[:, keep]  # only these anchors are copied out
        scores, class_ids = best[keep].astype(np.float32), kept[4:coefficients_from].argmax(axis=0)
        boxes = yolo.corner_boxes(kept[:4].T, yolo.box_scale(table[:2], self.input_size))
        chosen = yolo.class_aware_nms(boxes, scores, class_ids, self.limits.iou_threshold, self.limits.max_det)
        heatmaps = yolo.mask_heatmaps(kept[coefficients_from:, chosen].T, outputs[self.prototypes][0],
                                      self.prototypes_channels_last)
        return Detections(class_ids[chosen].astype(np.int64), scores[chosen], boxes[chosen], heatmaps,
                          self.plane_stride)


CONTRACTS = (MaskRCNNContract, TwoInputContract, YoloSegContract)

EXPECTED = ("Mask R-CNN (one image input [1,3,H,W]; outputs labels [N] integer, boxes [N,5], masks [N,h,w]), "
            "two-input (im_data [1,3,H,W] + im_info [1,3]; outputs boxes [N,4], scores [N], classes [N], "
            "raw_masks [N,C,h,w]) or YOLO-seg (one image input [1,3,H,W] or [1,H,W,3] of static size; outputs "
            "[1,4+C+P,A] and prototypes [1,P,h,w] or [1,h,w,P])")


def describe_ports(ports: list[ov.Output]) -> str:
    return ", ".join(f"{_name(p) or '<unnamed>'} {p.get_partial_shape()} "
                     f"{p.get_element_type().get_type_name()}" for p in ports)


def recognise(model: ov.Model, path: str, limits: DecodeLimits = DecodeLimits()) -> Contract:
    for contract in CONTRACTS:
        found = contract.match(model, limits)
        if found is not None:
            return found
    raise DemoError(f"{path}: not a supported segmentation model: inputs [{describe_ports(model.inputs)}], "
                    f"outputs [{describe_ports(model.outputs)}]; expected {EXPECTED}")
