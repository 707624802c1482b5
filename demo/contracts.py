"""Which kind of segmentation model this is, recognised from its inputs and outputs.

A contract knows where each output of its kind is, how its images were prepared in
training, and how to turn one inference's outputs into :class:`Detections` in
model-input pixels. Recognition goes by rank, shape and element type, never by fixed
names or sizes, so re-exported, quantised and converted (TFLite) models work.

Each contract first asks whether a model has its kind's signature at all (no: ``None``),
then checks every dimension it relies on, and what the model says about itself (its
class names, Ultralytics' task, ``end2end`` and image size); a model that has the
signature but fails a check is refused with the reason (:class:`Misfit`) rather than
decoded into rubbish.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np
import openvino as ov

from . import yolo
from .errors import DemoError
from .geometry import ResizePolicy

if TYPE_CHECKING:
    from .model_info import ModelInfo


@dataclass
class Detections:
    """One frame's detections that passed the score threshold, in model-input pixels.

    ``heatmaps[i]`` is a sigmoid heatmap. With ``plane_stride`` None it spans ``boxes[i]``
    exactly (Mask R-CNN style); otherwise it covers the whole model input, cell (r, c)
    spanning input pixels [c*sx, (c+1)*sx) x [r*sy, (r+1)*sy) for ``plane_stride`` (sx, sy),
    and only its part inside the box belongs to the instance (YOLO prototypes). With ``alpha``
    the plane is a matting model's 0..1 opacity of the person, kept soft.
    """

    class_ids: np.ndarray  # [N] int
    scores: np.ndarray  # [N] float32
    boxes: np.ndarray  # [N, 4] float32, x1, y1, x2, y2
    heatmaps: np.ndarray  # [N, h, w] float32
    plane_stride: tuple[float, float] | None = None
    alpha: bool = False  # the heatmaps are alpha mattes over the whole input: soft, never thresholded

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


YOLO_IOU_THRESHOLD = 0.7  # Ultralytics' default
YOLACT_IOU_THRESHOLD = 0.5  # Open Model Zoo's YOLACT wrapper and accuracy check


@dataclass(frozen=True)
class DecodeLimits:
    """What the user (or the model's metadata) allows per frame."""

    iou_threshold: float | None = None  # class-aware NMS, for models whose outputs are not suppressed yet
    max_det: int = 100

    def iou(self, default: float) -> float:
        """The NMS threshold asked for, else the contract's own ``default``."""
        return default if self.iou_threshold is None else self.iou_threshold


class Misfit(Exception):
    """The model has a contract's signature but one of its dimensions, or its own metadata, disagrees."""


class Contract(Protocol):
    kind: ClassVar[str]  # the --model_type that forces it
    image_input: int
    preprocessing: ClassVar[Preprocessing]

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]: ...

    def decode(self, outputs: list[np.ndarray], threshold: float) -> Detections: ...


def _rank(port: ov.Output) -> int:
    """The port's rank; -1 when even that is dynamic."""
    rank = port.get_partial_shape().rank
    return rank.get_length() if rank.is_static else -1


def _dims(port: ov.Output) -> list[int | None]:
    """The port's dimensions, None where dynamic (an empty list for a dynamic rank)."""
    shape = port.get_partial_shape()
    return [d.get_length() if d.is_static else None for d in shape] if shape.rank.is_static else []


def _is_integer(port: ov.Output) -> bool:
    return port.get_element_type().is_integral_number()


def _last_dim(port: ov.Output) -> int | None:
    dims = _dims(port)
    return dims[-1] if dims else None


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


def _shape(port: ov.Output) -> str:
    return str(port.get_partial_shape())


def _expect_outputs(model: ov.Model, count: int, what: str) -> None:
    if len(model.outputs) != count:
        raise Misfit(f"{len(model.outputs)} outputs where {count} are expected ({what})")


def _expect_image(port: ov.Output, layouts: tuple[str, ...] = ("NCHW",)) -> tuple[str, tuple[int, int]]:
    """The image input's layout and static (w, h); a Misfit unless it is [1,3,H,W] (or [1,H,W,3] if allowed)."""
    layout = image_layout(port)
    batch = _dims(port)[0] if _rank(port) == 4 else None
    expected = " or ".join({"NCHW": "[1,3,H,W]", "NHWC": "[1,H,W,3]"}[name] for name in layouts)
    if layout not in layouts or batch not in (1, None):
        raise Misfit(f"the image input is {_shape(port)}, expected {expected}")
    size = image_size(port, layout)
    if size is None:
        raise Misfit(f"the image input {_shape(port)} has no static size")
    return layout, size


def _same_rows(model: ov.Model, indices: list[int], axis: int, what: str) -> None:
    """The outputs' static dimension ``axis`` (their row count) agrees."""
    counts = {_dims(model.output(i))[axis] for i in indices} - {None}
    if len(counts) > 1:
        shapes = ", ".join(_shape(model.output(i)) for i in indices)
        raise Misfit(f"the {what} outputs {shapes} do not agree on the number of rows")


def _expect_class_count(count: int, info: ModelInfo, what: str) -> None:
    if count < 1:
        raise Misfit(f"{what} leaves {count} classes")
    if info.labels and count != len(info.labels):
        raise Misfit(f"{what} gives {count} classes but the model names {len(info.labels)}")


@dataclass(frozen=True)
class PrototypePlane:
    """Mask prototypes [1,P,h,w] or [1,h,w,P] spanning the whole model input."""

    output: int
    channels_last: bool
    coefficients: int  # P
    stride: tuple[float, float]  # input pixels per prototype cell, (x, y)

    @classmethod
    def of(cls, model: ov.Model, output: int, input_size: tuple[int, int],
           coefficients: int | None = None) -> PrototypePlane:
        """The plane of output ``output``; ``coefficients`` tells the layout when the input is square."""
        dims = _dims(model.output(output))
        if None in dims or dims[0] != 1:
            raise Misfit(f"the prototypes {_shape(model.output(output))} are not [1,P,h,w] or [1,h,w,P] of "
                         "static size")
        width, height = input_size
        _, first, second, third = dims
        readings = {False: (first, second, third), True: (third, first, second)}  # channels last: [1,h,w,P]
        fitting = [last for last, (count, rows, cols) in readings.items()
                   if rows * width == cols * height and coefficients in (None, count)]
        if not fitting:
            raise Misfit(f"the prototypes {_shape(model.output(output))} have neither the {width}x{height} "
                         "input's aspect ratio as [1,P,h,w] nor as [1,h,w,P]"
                         + (f" with P = {coefficients}" if coefficients else ""))
        count, rows, cols = readings[fitting[0]]
        return cls(output, fitting[0], count, (width / cols, height / rows))


@dataclass(frozen=True)
class MaskRCNNContract:
    """Today's Open Model Zoo IRs: labels [N] (0-based), boxes [N,5] with score, masks [N,h,w]."""

    labels: int
    boxes: int
    masks: int
    max_det: int
    image_input: int = 0
    kind: ClassVar[str] = "maskrcnn"
    expected: ClassVar[str] = ("one image input [1,3,H,W]; outputs labels [N] integer, boxes [N,5], "
                               "masks [N,h,w]")
    preprocessing: ClassVar[Preprocessing] = Preprocessing()

    @classmethod
    def match(cls, model: ov.Model, limits: DecodeLimits, info: ModelInfo) -> MaskRCNNContract | None:
        outs = list(enumerate(model.outputs))
        boxes = _only([i for i, p in outs if _rank(p) == 2 and _last_dim(p) == 5])
        if len(model.inputs) != 1 or _rank(model.input(0)) != 4 or boxes is None:
            return None
        _expect_image(model.input(0))
        _expect_outputs(model, 3, "labels, boxes, masks")
        labels = _only([i for i, p in outs if _rank(p) == 1 and _is_integer(p)])
        masks = _only([i for i, p in outs if _rank(p) == 3 and None not in _dims(p)[1:]])
        if labels is None or masks is None:
            raise Misfit("besides boxes [N,5] it needs labels [N] of an integer type and masks [N,h,w] of "
                         "static h, w")
        _same_rows(model, [labels, boxes, masks], 0, "labels, boxes and masks")
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
    kind: ClassVar[str] = "two-input"
    expected: ClassVar[str] = ("im_data [1,3,H,W] + im_info [1,3]; outputs boxes [N,4], scores [N], classes [N], "
                               "raw_masks [N,C,h,w]")
    preprocessing: ClassVar[Preprocessing] = Preprocessing()

    @classmethod
    def match(cls, model: ov.Model, limits: DecodeLimits, info: ModelInfo) -> TwoInputContract | None:
        ins = list(enumerate(model.inputs))
        image = _only([i for i, p in ins if _rank(p) == 4])
        info_input = _only([i for i, p in ins if _rank(p) == 2 and _last_dim(p) == 3])
        if len(ins) != 2 or None in (image, info_input):
            return None
        _expect_image(model.input(image))
        _expect_outputs(model, 4, "boxes, scores, classes, raw_masks")
        outs = list(enumerate(model.outputs))
        boxes = _only([i for i, p in outs if _rank(p) == 2 and _last_dim(p) == 4])
        raw_masks = _only([i for i, p in outs if _rank(p) == 4 and None not in _dims(p)[1:]])
        vectors = [(i, p) for i, p in outs if _rank(p) == 1]
        # Older IRs give classes as floats; then only the tensor name tells them from scores.
        classes = _only([i for i, p in vectors if _is_integer(p)])
        if classes is None:
            classes = _only([i for i, p in vectors if "class" in _name(p).lower()])
        scores = _only([i for i, _ in vectors if i != classes])
        if None in (boxes, raw_masks, classes, scores) or len(vectors) != 2:
            raise Misfit("it needs boxes [N,4], scores [N], classes [N] and raw_masks [N,C,h,w] of static C, h, w")
        if _dims(model.output(raw_masks))[1] < 2:
            raise Misfit(f"raw_masks {_shape(model.output(raw_masks))} has no class besides the background")
        _same_rows(model, [boxes, scores, classes, raw_masks], 0, "boxes, scores, classes and raw_masks")
        return cls(image, info_input, boxes, scores, classes, raw_masks, limits.max_det)

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


# Ultralytics heads predict on these strides (P3-P5; P6 models add 64, P2 models add 4).
YOLO_STRIDE_SETS = ((8, 16, 32), (8, 16, 32, 64), (4, 8, 16, 32))
END2END_FIELDS = 6  # x1, y1, x2, y2, score, class, then the mask coefficients


def yolo_grid_anchors(input_size: tuple[int, int]) -> set[int]:
    """How many anchors an Ultralytics head has on an input of this (w, h), for each stride set."""
    width, height = input_size
    return {sum(math.ceil(width / s) * math.ceil(height / s) for s in strides) for strides in YOLO_STRIDE_SETS}


@dataclass(frozen=True)
class _YoloPorts:
    """What both Ultralytics YOLO-seg contracts read: one image in; a [1,a,b] table and prototypes out."""

    table: int
    input_size: tuple[int, int]
    prototypes: PrototypePlane

    @classmethod
    def find(cls, model: ov.Model, info: ModelInfo) -> _YoloPorts | None:
        outs = list(enumerate(model.outputs))
        table = _only([i for i, p in outs if _rank(p) == 3])
        planes = [i for i, p in outs if _rank(p) == 4]
        if len(model.inputs) != 1 or _rank(model.input(0)) != 4 or table is None or not planes:
            return None
        _, input_size = _expect_image(model.input(0), ("NCHW", "NHWC"))
        _expect_outputs(model, 2, "a [1,a,b] table and the mask prototypes")
        if info.image_size is not None and info.image_size != input_size:
            raise Misfit("metadata.yaml gives imgsz {}x{} but the input is {}x{}".format(*info.image_size, *input_size))
        dims = _dims(model.output(table))
        if dims[0] != 1 or None in dims[1:]:
            raise Misfit(f"the table output {_shape(model.output(table))} is not [1,a,b] of static a, b")
        return cls(table, input_size, PrototypePlane.of(model, planes[0], input_size))

    def table_dims(self, model: ov.Model) -> tuple[int, int]:
        _, first, second = _dims(model.output(self.table))
        return first, second


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
    kind: ClassVar[str] = "yolo"
    expected: ClassVar[str] = ("one image input [1,3,H,W] or [1,H,W,3] of static size; outputs anchors "
                               "[1,4+C+P,A] and prototypes [1,P,h,w] or [1,h,w,P]")
    # As Ultralytics trains: RGB, 0..1, letterboxed with gray 114.
    preprocessing: ClassVar[Preprocessing] = Preprocessing(
        reverse_channels=True, scale=(255.0,), pad_value=114.0, policy=ResizePolicy.LETTERBOX)

    @classmethod
    def match(cls, model: ov.Model, limits: DecodeLimits, info: ModelInfo) -> YoloSegContract | None:
        ports = _YoloPorts.find(model, info)
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
        _expect_class_count(features - 4 - plane.coefficients, info,
                            f"[1,{features},{anchors}] less 4 box values and {plane.coefficients} coefficients")
        return cls(ports.table, plane.output, features - 4 - plane.coefficients, plane.channels_last,
                   ports.input_size, plane.stride, limits)

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
        chosen = yolo.class_aware_nms(boxes, scores, class_ids, self.limits.iou(YOLO_IOU_THRESHOLD),
                                      self.limits.max_det)
        heatmaps = yolo.mask_heatmaps(kept[coefficients_from:, chosen].T, outputs[self.prototypes][0],
                                      self.prototypes_channels_last)
        return Detections(class_ids[chosen].astype(np.int64), scores[chosen], boxes[chosen], heatmaps,
                          self.plane_stride)


@dataclass(frozen=True)
class YoloEnd2EndContract:
    """Ultralytics YOLO-seg with the one-to-one (NMS-free) head, as YOLO26 exports by default, or any
    export made with ``nms=True``: rows [1,D,6+P] of x1, y1, x2, y2 (input pixels or 0..1), score,
    class, P mask coefficients; prototypes as for :class:`YoloSegContract`. Boxes are final: no NMS.
    """

    detections: int
    prototypes: int
    prototypes_channels_last: bool
    input_size: tuple[int, int]  # (width, height)
    plane_stride: tuple[float, float]
    max_det: int
    image_input: int = 0
    kind: ClassVar[str] = "yolo-end2end"
    expected: ClassVar[str] = ("one image input [1,3,H,W] or [1,H,W,3] of static size; outputs detections "
                               "[1,D,6+P] and prototypes [1,P,h,w] or [1,h,w,P]")
    preprocessing: ClassVar[Preprocessing] = YoloSegContract.preprocessing

    @classmethod
    def match(cls, model: ov.Model, limits: DecodeLimits, info: ModelInfo) -> YoloEnd2EndContract | None:
        ports = _YoloPorts.find(model, info)
        if ports is None:
            return None
        if info.end2end is False:
            raise Misfit("its metadata says it is not end2end, so its table holds anchors, not detections")
        rows, fields = ports.table_dims(model)
        plane = ports.prototypes
        if fields != END2END_FIELDS + plane.coefficients:
            raise Misfit(f"detections [1,{rows},{fields}] should have 6 + {plane.coefficients} values per row "
                         "(box corners, score, class, one coefficient per prototype)")
        return cls(ports.table, plane.output, plane.channels_last, ports.input_size, plane.stride, limits.max_det)

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        return {}

    def decode(self, outputs: list[np.ndarray], threshold: float) -> Detections:
        rows = outputs[self.detections][0]  # [D, 6+P]
        kept = rows[_keep(rows[:, 4], threshold, self.max_det)]
        boxes = kept[:, :4].astype(np.float32) * yolo.box_scale(rows[:, 2:4].T, self.input_size)
        heatmaps = yolo.mask_heatmaps(kept[:, END2END_FIELDS:], outputs[self.prototypes][0],
                                      self.prototypes_channels_last)
        return Detections(kept[:, 5].astype(np.int64), kept[:, 4].astype(np.float32), boxes, heatmaps,
                          self.plane_stride)


def _pick(model: ov.Model, candidates: list[int], name: str) -> int | None:
    """The one candidate output, or else the one of them named ``name``."""
    return _only(candidates) if len(candidates) == 1 else _only(
        [i for i in candidates if _name(model.output(i)) == name])


def best_per_class(scores: np.ndarray, threshold: float, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (row, class, score) of every entry of [N, C] ``scores`` at or above the threshold, at most
    the ``limit`` best rows of each class. A row with a NaN score is dropped whole."""
    live = np.flatnonzero(scores.max(axis=1) >= threshold)
    candidates = scores[live]
    if len(live) > limit:
        rows = np.argpartition(-candidates, limit - 1, axis=0)[:limit]  # [limit, C]: each class's best rows
    else:
        rows = np.broadcast_to(np.arange(len(live))[:, None], candidates.shape)
    picked = np.take_along_axis(candidates, rows, axis=0)
    keep = picked >= threshold
    return live[rows[keep]], np.nonzero(keep)[1], picked[keep]


@dataclass(frozen=True)
class YolactContract:
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
    limits: DecodeLimits
    image_input: int = 0
    kind: ClassVar[str] = "yolact"
    expected: ClassVar[str] = ("one image input [1,3,H,W]; outputs boxes [1,N,4], conf [1,N,1+C], mask [1,N,P] "
                               "and proto [1,h,w,P]")
    preprocessing: ClassVar[Preprocessing] = Preprocessing(policy=ResizePolicy.STRETCH)
    # YOLACT's own detector keeps the best 200 candidates of each class for NMS.
    candidates_per_class: ClassVar[int] = 200

    @classmethod
    def match(cls, model: ov.Model, limits: DecodeLimits, info: ModelInfo) -> YolactContract | None:
        outs = list(enumerate(model.outputs))
        tables = [i for i, p in outs if _rank(p) == 3]
        planes = [i for i, p in outs if _rank(p) == 4]
        if len(model.inputs) != 1 or _rank(model.input(0)) != 4 or len(tables) < 2:
            return None
        _, input_size = _expect_image(model.input(0))
        _expect_outputs(model, 4, "boxes, conf, mask, proto")
        if len(tables) != 3 or len(planes) != 1:
            raise Misfit("it needs three [1,N,k] outputs (boxes, conf, mask) and one proto [1,h,w,P]")
        if any(_dims(model.output(i))[0] != 1 or _last_dim(model.output(i)) is None for i in tables):
            raise Misfit("boxes, conf and mask must be [1,N,k] with a static k")
        _same_rows(model, tables, 1, "boxes, conf and mask")
        boxes = _pick(model, [i for i in tables if _last_dim(model.output(i)) == 4], "boxes")
        if boxes is None:
            raise Misfit("no boxes [1,N,4] output")
        others = [i for i in tables if i != boxes]
        plane_dims = _dims(model.output(planes[0]))
        mask = _pick(model, [i for i in others if _last_dim(model.output(i)) in (plane_dims[1], plane_dims[3])],
                     "mask")
        if mask is None:
            raise Misfit("neither [1,N,k] output has one coefficient per prototype of "
                         f"{_shape(model.output(planes[0]))}")
        conf = next(i for i in others if i != mask)
        plane = PrototypePlane.of(model, planes[0], input_size, _last_dim(model.output(mask)))
        _expect_class_count(_last_dim(model.output(conf)) - 1, info, f"conf {_shape(model.output(conf))} less the "
                            "background")
        return cls(boxes, conf, mask, plane.output, plane.channels_last, input_size, plane.stride, limits)

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        return {}

    def decode(self, outputs: list[np.ndarray], threshold: float) -> Detections:
        rows, classes, scores = best_per_class(outputs[self.conf][0][:, 1:], threshold, self.candidates_per_class)
        scores = scores.astype(np.float32)
        width, height = self.input_size
        boxes = outputs[self.boxes][0][rows].astype(np.float32) * np.float32([width, height, width, height])
        chosen = yolo.class_aware_nms(boxes, scores, classes, self.limits.iou(YOLACT_IOU_THRESHOLD),
                                      self.limits.max_det)
        heatmaps = yolo.mask_heatmaps(outputs[self.coefficients][0][rows[chosen]], outputs[self.prototypes][0],
                                      self.prototypes_channels_last)
        return Detections(classes[chosen].astype(np.int64), scores[chosen], boxes[chosen], heatmaps,
                          self.plane_stride)


@dataclass(frozen=True)
class MattingContract:
    """A portrait matting model as Open Model Zoo converts MODNet: one BGR image in (mean and scale in
    the graph); one alpha matte [1,1,h,w] in 0..1 over the whole input out. It finds no instances:
    the matte is the person, for ``--mode background`` only."""

    input_size: tuple[int, int]
    plane_stride: tuple[float, float]
    image_input: int = 0
    kind: ClassVar[str] = "matting"
    expected: ClassVar[str] = "one image input [1,3,H,W]; one output, an alpha matte [1,1,h,w]"
    preprocessing: ClassVar[Preprocessing] = Preprocessing(policy=ResizePolicy.STRETCH)
    person: ClassVar[int] = 0  # COCO's person, which --mode background keeps

    @classmethod
    def match(cls, model: ov.Model, limits: DecodeLimits, info: ModelInfo) -> MattingContract | None:
        if len(model.inputs) != 1 or len(model.outputs) != 1 or _rank(model.output(0)) != 4:
            return None
        _, input_size = _expect_image(model.input(0))
        dims = _dims(model.output(0))
        width, height = input_size
        if None in dims or dims[:2] != [1, 1] or dims[2] * width != dims[3] * height:
            raise Misfit(f"the alpha output {_shape(model.output(0))} should be [1,1,h,w] with the {width}x{height} "
                         "input's aspect ratio")
        return cls(input_size, (width / dims[3], height / dims[2]))

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        return {}

    def decode(self, outputs: list[np.ndarray], threshold: float) -> Detections:
        width, height = self.input_size
        matte = np.clip(np.nan_to_num(outputs[0][0]), 0.0, 1.0)  # [1, h, w], a copy of the request's buffer
        return Detections(np.array([self.person]), np.ones(1, np.float32), np.float32([[0, 0, width, height]]),
                          matte, self.plane_stride, alpha=True)


CONTRACTS: dict[str, type] = {contract.kind: contract for contract in (
    MaskRCNNContract, TwoInputContract, YoloSegContract, YoloEnd2EndContract, YolactContract, MattingContract)}
MODEL_TYPES = tuple(CONTRACTS)


def describe_ports(ports: list[ov.Output]) -> str:
    return ", ".join(f"{_name(p) or '<unnamed>'} {p.get_partial_shape()} "
                     f"{p.get_element_type().get_type_name()}" for p in ports)


def _found(model: ov.Model) -> str:
    return f"inputs [{describe_ports(model.inputs)}], outputs [{describe_ports(model.outputs)}]"


def _refuse_other_tasks(model: ov.Model, path: str, info: ModelInfo) -> None:
    """Models that say, or show, they are of a kind the demo does not run: one line instead of a
    search for a contract."""
    if info.task == "detect":
        raise DemoError(f"{path}: this model has no masks: its metadata.yaml says task detect; use a segmentation "
                        "(-seg) model")
    if len(model.inputs) == 1 and len(model.outputs) == 1 and _rank(model.output(0)) == 3 \
            and _dims(model.output(0))[0] == 1:
        raise DemoError(f"{path}: this model has no masks: its one output {_shape(model.output(0))} is a detection "
                        "head's (boxes and class scores, no mask prototypes); use a segmentation (-seg) model")
    channels = {_dims(port)[1] for port in model.outputs if _rank(port) == 4}
    if len(model.inputs) > 1 and {1, 3} <= channels:
        raise DemoError(f"{path}: a matting model with {len(model.inputs)} inputs and a foreground output "
                        "(robust-video-matting's recurrent states, or background-matting's background plate): not "
                        "supported yet; single-output matting models (MODNet) are, in --mode background")
    if info.task not in (None, "segment"):
        raise DemoError(f"{path}: its metadata.yaml says task {info.task}, not segment: not a segmentation model")


def recognise(model: ov.Model, path: str, limits: DecodeLimits = DecodeLimits(),
              info: ModelInfo | None = None, model_type: str | None = None) -> Contract:
    """The one contract the model fits, or the one ``model_type`` names; else one line saying why not."""
    from .model_info import ModelInfo  # here: model_info imports this module

    info = info or ModelInfo()
    if model_type is None:
        _refuse_other_tasks(model, path, info)
    fits, misfits = [], {}
    for kind, contract in CONTRACTS.items():
        if model_type not in (None, kind):
            continue
        try:
            found = contract.match(model, limits, info)
        except Misfit as misfit:
            misfits[kind] = str(misfit)
            continue
        if found is not None:
            fits.append(found)
    if len(fits) == 1:
        return fits[0]
    if fits:
        kinds = [found.kind for found in fits]
        raise DemoError(f"{path}: ambiguous: the model fits the {' and the '.join(kinds)} contracts alike; "
                        f"choose one with --model_type {'|'.join(kinds)} ({_found(model)})")
    if model_type is not None:
        reason = misfits.get(model_type, f"expected {CONTRACTS[model_type].expected}")
        raise DemoError(f"{path}: not a {model_type} model: {reason}; {_found(model)}")
    if misfits:
        kinds_by_reason: dict[str, list[str]] = {}
        for kind, reason in misfits.items():
            kinds_by_reason.setdefault(reason, []).append(kind)
        reasons = "; ".join(f"as {' or '.join(kinds)}, {reason}" for reason, kinds in kinds_by_reason.items())
        raise DemoError(f"{path}: not a supported segmentation model: {reasons}; {_found(model)}")
    expected = "; or ".join(f"{kind}: {contract.expected}" for kind, contract in CONTRACTS.items())
    raise DemoError(f"{path}: not a supported segmentation model: {_found(model)}; expected {expected}")
