"""Synthetic models, scenes and videos whose segmentation answer is known exactly.

Every model here is built from "detectors" ``(bgr_colour, class_id, score)``: detector k
finds the pixels whose three channels are all within ``COLOUR_TOLERANCE`` of its colour
and reports exactly one instance for them (its box, its score, its mask). Scenes are drawn
with pure colours and no anti-aliasing, so a test knows every box and mask to the pixel
without any real network or data set.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import cv2
import numpy as np
import openvino as ov
import openvino.opset13 as ops

BGR = tuple[int, int, int]

COLOUR_TOLERANCE = 60.0
GRAY_BACKGROUND: BGR = (128, 128, 128)
TWO_INPUT_DETECTIONS = 100
YOLO_MASK_COEFFICIENTS = 32
YOLO_PROTO_STRIDE = 4
YOLO_EMPTY_ANCHORS = 8
YOLO_DUPLICATE_SHIFT_PX = 2.0
YOLO_DUPLICATE_SCORE_FACTOR = 0.8
# Steepness of the prototype logits: sigmoid(±8) is within 0.0004 of 1 or 0.
YOLO_PROTO_LOGIT_GAIN = 16.0


class Detector(NamedTuple):
    """One colour the model looks for, and what it reports when it finds it."""

    colour: BGR
    class_id: int  # 0-based COCO id
    score: float


# Every pair (and the gray background) differs by >= 127 in some channel, far beyond the
# tolerance of 60, so no pure pixel is ever claimed by two detectors.
DEFAULT_DETECTORS: list[Detector] = [
    Detector((0, 0, 255), 0, 0.95),  # red: person
    Detector((0, 255, 0), 2, 0.9),  # green: car
    Detector((255, 0, 0), 16, 0.85),  # blue: dog
    Detector((0, 255, 255), 0, 0.8),  # yellow: a second person
]

_COCO_NAMES = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light "
    "fire_hydrant stop_sign parking_meter bench bird cat dog horse sheep cow elephant "
    "bear zebra giraffe backpack umbrella handbag tie suitcase frisbee skis snowboard "
    "sports_ball kite baseball_bat baseball_glove skateboard surfboard tennis_racket "
    "bottle wine_glass cup fork knife spoon bowl banana apple sandwich orange broccoli "
    "carrot hot_dog pizza donut cake chair couch potted_plant bed dining_table toilet tv "
    "laptop mouse remote keyboard cell_phone microwave oven toaster sink refrigerator "
    "book clock vase scissors teddy_bear hair_drier toothbrush"
)


def coco_names() -> list[str]:
    """The 80 COCO class names in the standard (contiguous, 0-based) order."""
    return [name.replace("_", " ") for name in _COCO_NAMES.split()]


# ---------------------------------------------------------------------------
# Graph pieces shared by all builders
# ---------------------------------------------------------------------------


def _f32(values: object) -> ov.Node:
    return ops.constant(np.asarray(values, dtype=np.float32))


def _i64(values: object) -> ov.Node:
    return ops.constant(np.asarray(values, dtype=np.int64))


def _blob_maps(bgr_image: ov.Node, detectors: Sequence[Detector]) -> ov.Node:
    """[K,H,W] f32: 1 where all channels of the [1,3,H,W] BGR image match detector k."""
    colours = np.array([d.colour for d in detectors], dtype=np.float32)[:, :, None, None]
    distance = ops.reduce_max(ops.abs(ops.subtract(bgr_image, _f32(colours))), _i64(1))
    return ops.convert(ops.less(distance, _f32(COLOUR_TOLERANCE)), ov.Type.f32)


def _first_hit(hits: ov.Node, length: int) -> ov.Node:
    """[K,1]: smallest index with a hit, via the max of weights that fall with the index."""
    falling = _f32(np.arange(length, 0, -1))
    top = ops.reduce_max(ops.multiply(hits, falling), _i64(1), keep_dims=True)
    return ops.subtract(_f32(length), top)


def _past_last_hit(hits: ov.Node, length: int) -> ov.Node:
    """[K,1]: largest index with a hit, plus one (the continuous end coordinate)."""
    rising = _f32(np.arange(1, length + 1))
    return ops.reduce_max(ops.multiply(hits, rising), _i64(1), keep_dims=True)


def _blob_boxes(maps: ov.Node, height: int, width: int) -> tuple[ov.Node, ov.Node]:
    """[K,4] continuous boxes (x1,y1,x2,y2) and [K,1] presence (1 if any pixel matched).

    An absent blob gets an all-zero box rather than the inverted one the arithmetic gives.
    """
    columns_hit = ops.reduce_max(maps, _i64(1))
    rows_hit = ops.reduce_max(maps, _i64(2))
    present = ops.reduce_max(columns_hit, _i64(1), keep_dims=True)
    corners = [
        _first_hit(columns_hit, width),
        _first_hit(rows_hit, height),
        _past_last_hit(columns_hit, width),
        _past_last_hit(rows_hit, height),
    ]
    return ops.multiply(ops.concat(corners, 1), present), present


def _heatmaps(maps: ov.Node, boxes: ov.Node, count: int, mask_size: int) -> ov.Node:
    """[K,m,m]: each blob's map pooled over its own box, as a Mask R-CNN mask head would."""
    per_blob_images = ops.unsqueeze(maps, _i64(1))
    batch_indices = ops.constant(np.arange(count, dtype=np.int32))
    pooled = ops.roi_align(
        per_blob_images, boxes, batch_indices,
        pooled_h=mask_size, pooled_w=mask_size, sampling_ratio=2, spatial_scale=1.0,
        mode="avg", aligned_mode="half_pixel",
    )
    return ops.squeeze(pooled, _i64(1))


def _pad_rows(node: ov.Node, total_rows: int, real_rows: int) -> ov.Node:
    """Zero rows appended along axis 0 up to a fixed detection count."""
    if real_rows > total_rows:
        raise ValueError(f"{real_rows} detectors do not fit in {total_rows} rows")
    rank = node.get_output_partial_shape(0).rank.get_length()
    zero = np.zeros((), dtype=node.get_output_element_type(0).to_dtype())
    pads_end = [total_rows - real_rows] + [0] * (rank - 1)
    return ops.pad(node, _i64([0] * rank), _i64(pads_end), "constant", zero)


def _keep_found(scores: ov.Node, tensors: list[ov.Node]) -> list[ov.Node]:
    """Rows (axis 0) of each tensor whose detector found its colour: a dynamic count."""
    found = ops.greater(scores, _f32(0.0))
    found_rows = ops.squeeze(ops.non_zero(found), _i64(0))
    # NonZero's shape keeps the upper bound K (``[..K]``) while real models report a plain
    # ``[?]``; re-indexing through a Range of computed length drops the bound.
    found_count = ops.reduce_sum(ops.convert(found, ov.Type.i64), _i64(0))
    every_found = ops.range(_i64(0), found_count, _i64(1), ov.Type.i64)
    found_rows = ops.gather(found_rows, every_found, _i64(0))
    return [ops.gather(tensor, found_rows, _i64(0)) for tensor in tensors]


def _name(node: ov.Node, name: str) -> ov.Node:
    node.output(0).get_tensor().set_names({name})
    return node


def _image_input(shape: list[int], name: str) -> ov.Node:
    return _name(ops.parameter(shape, np.float32, name=name), name)


def _check_detectors(detectors: Sequence[Detector]) -> list[Detector]:
    if not detectors:
        raise ValueError("a synthetic model needs at least one detector")
    return [Detector(*detector) for detector in detectors]


def _save(model: ov.Model, path: Path) -> Path:
    path = Path(path)
    ov.save_model(model, path, compress_to_fp16=False)
    return path


# ---------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------


def build_maskrcnn_model(
    path: Path,
    detectors: Sequence[Detector],
    input_hw: tuple[int, int] = (800, 1344),
    max_detections: int | None = 100,
    mask_size: int = 28,
    label_type: ov.Type = ov.Type.i32,
) -> Path:
    """Modern OMZ Mask R-CNN contract: ``image`` in; ``labels``, ``boxes``, ``masks`` out.

    With an int ``max_detections`` the row count is fixed and padded with zero rows; with
    None it is dynamic and holds only the detectors that found their colour.
    """
    detectors = _check_detectors(detectors)
    height, width = input_hw
    count = len(detectors)
    image = _image_input([1, 3, height, width], "image")
    maps = _blob_maps(image, detectors)
    boxes, present = _blob_boxes(maps, height, width)
    scores = ops.multiply(present, _f32([[d.score] for d in detectors]))
    boxes_with_scores = ops.concat([boxes, scores], 1)
    masks = _heatmaps(maps, boxes, count, mask_size)
    labels = ops.constant(np.array([d.class_id for d in detectors], dtype=label_type.to_dtype()))
    outputs = [labels, boxes_with_scores, masks]
    if max_detections is None:
        outputs = _keep_found(ops.squeeze(scores, _i64(1)), outputs)
    else:
        outputs = [_pad_rows(output, max_detections, count) for output in outputs]
    for output, name in zip(outputs, ("labels", "boxes", "masks")):
        _name(output, name)
    return _save(ov.Model(outputs, [image], "synthetic_maskrcnn"), path)


def security_0091_like(path: Path, detectors: Sequence[Detector]) -> Path:
    """Shaped like instance-segmentation-security-0091: fixed 100 rows, 28x28 masks."""
    return build_maskrcnn_model(path, detectors, (800, 1344), 100, 28, ov.Type.i32)


def person_0007_like(path: Path, detectors: Sequence[Detector]) -> Path:
    """Shaped like instance-segmentation-person-0007: dynamic rows, 224x224 masks, i64."""
    return build_maskrcnn_model(path, detectors, (320, 544), None, 224, ov.Type.i64)


def _per_class_masks(heatmaps: ov.Node, detectors: list[Detector], num_classes: int) -> ov.Node:
    """[K,classes,m,m]: the heatmap in the 1-based class channel, 1 - heatmap elsewhere."""
    count = len(detectors)
    in_class = np.zeros((count, num_classes, 1, 1), dtype=np.float32)
    in_class[np.arange(count), [d.class_id + 1 for d in detectors]] = 1.0
    # heat * in_class + (1 - heat) * (1 - in_class), written as one multiply and one add.
    per_roi = ops.unsqueeze(heatmaps, _i64(1))
    return ops.add(ops.multiply(per_roi, _f32(2.0 * in_class - 1.0)), _f32(1.0 - in_class))


def build_two_input_model(
    path: Path,
    detectors: Sequence[Detector],
    input_hw: tuple[int, int] = (480, 640),
    num_classes: int = 81,
    mask_size: int = 14,
) -> Path:
    """Older OMZ contract: ``im_data`` + ``im_info`` in; 1-based classes, per-class masks.

    ``raw_masks`` holds the heatmap only in the channel of the detector's 1-based class and
    its complement everywhere else, so reading the wrong channel gives a visibly wrong mask.
    """
    detectors = _check_detectors(detectors)
    count = len(detectors)
    image = _image_input([1, 3, *input_hw], "im_data")
    image_info = _image_input([1, 3], "im_info")
    # The model does not need im_info, but a real input must feed the graph or it is pruned.
    unused_zero = ops.reduce_sum(ops.multiply(image_info, _f32(0.0)), _i64([0, 1]))
    maps = _blob_maps(image, detectors)
    boxes, present = _blob_boxes(maps, *input_hw)
    found_scores = ops.multiply(ops.squeeze(present, _i64(1)), _f32([d.score for d in detectors]))
    outputs = {
        "boxes": boxes,
        "scores": ops.add(found_scores, unused_zero),
        "classes": _f32([d.class_id + 1 for d in detectors]),
        "raw_masks": _per_class_masks(_heatmaps(maps, boxes, count, mask_size), detectors, num_classes),
    }
    padded = [_name(_pad_rows(node, TWO_INPUT_DETECTIONS, count), name) for name, node in outputs.items()]
    return _save(ov.Model(padded, [image, image_info], "synthetic_two_input"), path)


def _centre_size(boxes: ov.Node) -> ov.Node:
    """[K,4] (x1,y1,x2,y2) -> (cx,cy,w,h).

    Element-wise arithmetic on purpose: on some CPUs the plugin runs a MatMul in bf16 by
    default, which would move boxes by a pixel.
    """
    top_left, bottom_right = ops.split(boxes, _i64(1), 2).outputs()
    centre = ops.multiply(ops.add(top_left, bottom_right), _f32(0.5))
    return ops.concat([centre, ops.subtract(bottom_right, top_left)], 1)


def _yolo_anchors(
    boxes: ov.Node,
    present: ov.Node,
    detectors: list[Detector],
    input_hw: tuple[int, int],
    num_classes: int,
    normalized_boxes: bool,
    duplicates: bool,
) -> ov.Node:
    """[1, 4+classes+32, A]: per anchor (cx,cy,w,h), class scores, mask coefficients.

    Anchor order is duplicates, then exact boxes, then empty anchors: the weaker shifted
    copies come first so a consumer must rank by score, not by position, to pass.
    """
    height, width = input_hw
    count = len(detectors)
    pixel_scale = [1.0 / width, 1.0 / height] * 2 if normalized_boxes else [1.0] * 4
    centre_size = ops.multiply(_centre_size(boxes), _f32(pixel_scale))
    class_one_hot = np.zeros((count, num_classes), dtype=np.float32)
    class_one_hot[np.arange(count), [d.class_id for d in detectors]] = 1.0
    found_scores = ops.multiply(present, _f32([[d.score] for d in detectors]))
    class_scores = ops.multiply(found_scores, _f32(class_one_hot))
    # Detector k owns prototype k, so its coefficients are simply one-hot.
    coefficients = _f32(np.eye(YOLO_MASK_COEFFICIENTS, dtype=np.float32)[:count])
    rows = [ops.concat([centre_size, class_scores, coefficients], 1)]
    if duplicates:
        shift_right = _f32([YOLO_DUPLICATE_SHIFT_PX * pixel_scale[0], 0.0, 0.0, 0.0])
        shifted = ops.add(centre_size, ops.multiply(present, shift_right))
        weaker_scores = ops.multiply(class_scores, _f32(YOLO_DUPLICATE_SCORE_FACTOR))
        rows.insert(0, ops.concat([shifted, weaker_scores, coefficients], 1))
    rows.append(_f32(np.zeros((YOLO_EMPTY_ANCHORS, 4 + num_classes + YOLO_MASK_COEFFICIENTS))))
    return ops.unsqueeze(ops.transpose(ops.concat(rows, 0), _i64([1, 0])), _i64(0))


def _yolo_prototypes(maps: ov.Node, count: int, proto_layout: str) -> ov.Node:
    """32 prototype logits at 1/4 resolution: positive where a 4x4 cell is mostly blob."""
    stride = [YOLO_PROTO_STRIDE] * 2
    coverage = ops.avg_pool(ops.unsqueeze(maps, _i64(0)), stride, [0, 0], [0, 0], stride, True)
    logits = ops.multiply(ops.subtract(coverage, _f32(0.5)), _f32(YOLO_PROTO_LOGIT_GAIN))
    unused = YOLO_MASK_COEFFICIENTS - count
    protos = ops.pad(logits, _i64([0, 0, 0, 0]), _i64([0, unused, 0, 0]), "constant", np.float32(0))
    return protos if proto_layout == "NCHW" else ops.transpose(protos, _i64([0, 2, 3, 1]))


def _yolo_input(input_hw: tuple[int, int], layout: str) -> tuple[ov.Node, ov.Node]:
    """The RGB 0..1 ``images`` parameter, and the same image as NCHW BGR 0..255.

    Converting back to BGR 0..255 lets the detector colours keep their BGR meaning.
    """
    height, width = input_hw
    shape = [1, 3, height, width] if layout == "NCHW" else [1, height, width, 3]
    image = _image_input(shape, "images")
    planar = image if layout == "NCHW" else ops.transpose(image, _i64([0, 3, 1, 2]))
    return image, ops.multiply(ops.gather(planar, _i64([2, 1, 0]), _i64(1)), _f32(255.0))


def build_yolo_seg_model(
    path: Path,
    detectors: Sequence[Detector],
    input_hw: tuple[int, int] = (640, 640),
    num_classes: int = 80,
    layout: str = "NCHW",
    normalized_boxes: bool = False,
    proto_layout: str = "NCHW",
    duplicates: bool = True,
    rt_info: bool = True,
) -> Path:
    """Ultralytics YOLO-seg contract: RGB 0..1 in; anchors ``[1,4+C+32,A]`` and prototypes.

    Each found detector gives an exact anchor with its score and, with ``duplicates``, a
    copy shifted 2 input pixels right with 0.8 x the score, which NMS must suppress.
    """
    detectors = _check_detectors(detectors)
    if len(detectors) > YOLO_MASK_COEFFICIENTS:
        raise ValueError(f"at most {YOLO_MASK_COEFFICIENTS} detectors fit the 32 prototypes")
    if input_hw[0] % YOLO_PROTO_STRIDE or input_hw[1] % YOLO_PROTO_STRIDE:
        raise ValueError(f"input size {input_hw} is not a multiple of {YOLO_PROTO_STRIDE}")
    if layout not in ("NCHW", "NHWC") or proto_layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layouts must be NCHW or NHWC, got {layout} and {proto_layout}")
    image, bgr = _yolo_input(input_hw, layout)
    maps = _blob_maps(bgr, detectors)
    boxes, present = _blob_boxes(maps, *input_hw)
    anchors = _yolo_anchors(boxes, present, detectors, input_hw, num_classes, normalized_boxes, duplicates)
    protos = _name(_yolo_prototypes(maps, len(detectors), proto_layout), "protos")
    model = ov.Model([anchors, protos], [image], "synthetic_yolo_seg")
    # ov.Model invents a name for unnamed results; the real exports have none on output 0.
    model.outputs[0].get_tensor().set_names(set())
    if rt_info:
        _set_yolo_rt_info(model)
    return _save(model, path)


def _set_yolo_rt_info(model: ov.Model) -> None:
    """The metadata Ultralytics writes, which tells a consumer how to preprocess."""
    info = {
        "model_type": "YOLO",
        "resize_type": "fit_to_window_letterbox",
        "reverse_input_channels": "YES",
        "scale_values": "255",
        "pad_value": "114",
        "iou_threshold": "0.7",
        "labels": " ".join(name.replace(" ", "_") for name in coco_names()),
    }
    for key, value in info.items():
        model.set_rt_info(value, ["model_info", key])


def _end2end_rows(boxes: ov.Node, present: ov.Node, detectors: list[Detector], duplicates: bool) -> ov.Node:
    """[R, 6+32]: per detection x1, y1, x2, y2 (input pixels), score, class, one-hot coefficients.

    With ``duplicates`` the weaker copies (2 px right, 0.8 x the score) come first: an
    end-to-end head has suppressed already, so a decoder must keep them, and rank by score.
    """
    count = len(detectors)
    scores = ops.multiply(present, _f32([[d.score] for d in detectors]))
    classes = _f32([[d.class_id] for d in detectors])
    coefficients = _f32(np.eye(YOLO_MASK_COEFFICIENTS, dtype=np.float32)[:count])
    rows = [ops.concat([boxes, scores, classes, coefficients], 1)]
    if duplicates:
        shifted = ops.add(boxes, ops.multiply(present, _f32([YOLO_DUPLICATE_SHIFT_PX, 0, YOLO_DUPLICATE_SHIFT_PX, 0])))
        weaker = ops.multiply(scores, _f32(YOLO_DUPLICATE_SCORE_FACTOR))
        rows.insert(0, ops.concat([shifted, weaker, classes, coefficients], 1))
    return ops.concat(rows, 0)


def build_yolo_end2end_seg_model(
    path: Path,
    detectors: Sequence[Detector],
    input_hw: tuple[int, int] = (640, 640),
    max_det: int = 300,
    duplicates: bool = False,
    proto_layout: str = "NCHW",
    rt_info: bool = True,
) -> Path:
    """Ultralytics YOLO26-seg's one-to-one head: RGB 0..1 in; detections ``[1,max_det,6+32]``
    (x1, y1, x2, y2 in input pixels, score, class, coefficients; zero rows after the found
    ones) and prototypes ``[1,32,h/4,w/4]`` (or ``[1,h/4,w/4,32]``) out: the shapes that read
    as a 264-class anchor table when taken for the grid head.
    """
    detectors = _check_detectors(detectors)
    if len(detectors) * (2 if duplicates else 1) > max_det or len(detectors) > YOLO_MASK_COEFFICIENTS:
        raise ValueError(f"{len(detectors)} detectors do not fit {max_det} rows and 32 prototypes")
    image, bgr = _yolo_input(input_hw, "NCHW")
    maps = _blob_maps(bgr, detectors)
    boxes, present = _blob_boxes(maps, *input_hw)
    rows = _end2end_rows(boxes, present, detectors, duplicates)
    real_rows = len(detectors) * (2 if duplicates else 1)
    table = ops.unsqueeze(_pad_rows(rows, max_det, real_rows), _i64(0))
    protos = _name(_yolo_prototypes(maps, len(detectors), proto_layout), "protos")
    model = ov.Model([table, protos], [image], "synthetic_yolo26_seg")
    model.outputs[0].get_tensor().set_names(set())
    if rt_info:
        _set_yolo_rt_info(model)
    return _save(model, path)


def write_ultralytics_metadata(folder: Path, task: str = "segment", end2end: bool | None = None,
                               imgsz: tuple[int, int] = (640, 640), nms: bool = False,
                               names: Sequence[str] | None = None) -> Path:
    """A metadata.yaml as Ultralytics writes it beside an export (``end2end`` None: the key left out)."""
    names = coco_names() if names is None else names
    lines = ["description: synthetic", "author: Ultralytics", f"task: {task}", "batch: 1", "imgsz:",
             *(f"- {size}" for size in imgsz), "names:", *(f"  {i}: {name}" for i, name in enumerate(names)),
             "args:", "  batch: 1", "  half: false", f"  nms: {str(nms).lower()}", "channels: 3"]
    if end2end is not None:
        lines.append(f"end2end: {str(end2end).lower()}")
    path = Path(folder) / "metadata.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


# YOLACT as yolact_resnet50_config lays out its priors: five levels from stride 8, three
# aspect ratios per cell; the conversion decodes box offsets against them with these variances.
YOLACT_SCALES = (24, 48, 96, 192, 384)
YOLACT_ASPECT_RATIOS = (1.0, 0.5, 2.0)
YOLACT_VARIANCES = (0.1, 0.2)
YOLACT_PROTO_CHANNELS = 32
YOLACT_CLASSES = 81  # background + the 80 COCO classes


def yolact_priors(input_hw: tuple[int, int]) -> np.ndarray:
    """[N, 4] prior boxes (cx, cy, w, h), normalised: 19248 of them for a 550x550 input."""
    height, width = input_hw
    rows, columns = math.ceil(height / 8), math.ceil(width / 8)
    levels = []
    for scale in YOLACT_SCALES:
        cy, cx = np.meshgrid((np.arange(rows) + 0.5) / rows, (np.arange(columns) + 0.5) / columns, indexing="ij")
        ratios = np.sqrt(YOLACT_ASPECT_RATIOS)
        sizes = np.stack([scale * ratios / width, scale / ratios / height], axis=1)  # [3, 2]
        centres = np.stack([cx.ravel(), cy.ravel()], axis=1)  # [cells, 2]
        levels.append(np.concatenate([np.repeat(centres, len(ratios), 0), np.tile(sizes, (len(centres), 1))], 1))
        rows, columns = math.ceil(rows / 2), math.ceil(columns / 2)
    return np.concatenate(levels).astype(np.float32)


def _yolact_encode(corners: ov.Node, priors: np.ndarray) -> ov.Node:
    """[K,4] normalised corners as YOLACT's offsets from ``priors`` [K,4]: what its head would predict."""
    top_left, bottom_right = ops.split(corners, _i64(1), 2).outputs()
    centre = ops.multiply(ops.add(top_left, bottom_right), _f32(0.5))
    size = ops.maximum(ops.subtract(bottom_right, top_left), _f32(1e-6))  # an absent blob has no size
    offset = ops.divide(ops.subtract(centre, _f32(priors[:, :2])), _f32(YOLACT_VARIANCES[0] * priors[:, 2:]))
    log_scale = ops.divide(ops.log(ops.divide(size, _f32(priors[:, 2:]))), _f32(YOLACT_VARIANCES[1]))
    return ops.concat([offset, log_scale], 1)


def _yolact_decode(offsets: ov.Node, priors: np.ndarray) -> ov.Node:
    """[N,4] corners x1, y1, x2, y2 from offsets against every prior, as the conversion's own graph does."""
    shift, log_scale = ops.split(offsets, _i64(1), 2).outputs()
    centre = ops.add(_f32(priors[:, :2]), ops.multiply(shift, _f32(YOLACT_VARIANCES[0] * priors[:, 2:])))
    size = ops.multiply(_f32(priors[:, 2:]), ops.exp(ops.multiply(log_scale, _f32(YOLACT_VARIANCES[1]))))
    top_left = ops.subtract(centre, ops.multiply(size, _f32(0.5)))
    return ops.concat([top_left, ops.add(top_left, size)], 1)


def _yolact_prototypes(maps: ov.Node, count: int, plane_hw: tuple[int, int]) -> ov.Node:
    """[1,h,w,32] logits: positive where a prototype cell (the plane spans the input) is mostly blob."""
    coverage = ops.interpolate(ops.unsqueeze(maps, _i64(0)), _i64(plane_hw), "linear", "sizes", axes=_i64([2, 3]),
                               coordinate_transformation_mode="half_pixel", antialias=True)
    logits = ops.multiply(ops.subtract(coverage, _f32(0.5)), _f32(YOLO_PROTO_LOGIT_GAIN))
    padded = ops.pad(logits, _i64([0, 0, 0, 0]), _i64([0, YOLACT_PROTO_CHANNELS - count, 0, 0]), "constant",
                     np.float32(0))
    return ops.transpose(padded, _i64([0, 2, 3, 1]))


def yolact_rows(count: int, priors: int) -> tuple[np.ndarray, np.ndarray]:
    """Which prior rows hold detector k's detection, and its weaker copy: spread over the levels."""
    step = priors // (2 * count + 1)
    return np.arange(1, count + 1) * step, np.arange(count + 1, 2 * count + 1) * step


def build_yolact_model(path: Path, detectors: Sequence[Detector], input_hw: tuple[int, int] = (550, 550),
                       duplicates: bool = True) -> Path:
    """YOLACT as Open Model Zoo converts yolact-resnet50-fpn-pytorch: BGR ``input.1 [1,3,H,W]`` in;
    ``conf [1,N,81]``, ``mask [1,N,32]``, ``proto [1,h,w,32]`` and ``boxes [1,N,4]`` out.

    Detector k's blob is encoded as offsets from one prior and decoded in the graph, as the
    conversion does, to x1, y1, x2, y2 in 0..1; every other row is its prior, background
    only. With ``duplicates`` a copy 2 input pixels right with 0.8 x the score sits at
    another prior, which per-class NMS must suppress. Detector k owns prototype k.
    """
    detectors = _check_detectors(detectors)
    if len(detectors) > YOLACT_PROTO_CHANNELS:
        raise ValueError(f"at most {YOLACT_PROTO_CHANNELS} detectors fit the prototypes")
    height, width = input_hw
    priors = yolact_priors(input_hw)
    count = len(detectors)
    exact_rows, copy_rows = yolact_rows(count, len(priors))
    used = np.concatenate([exact_rows, copy_rows]) if duplicates else exact_rows
    image = _image_input([1, 3, height, width], "input.1")
    maps = _blob_maps(image, detectors)
    boxes, present = _blob_boxes(maps, height, width)
    corners = ops.multiply(boxes, _f32([1 / width, 1 / height] * 2))
    found_scores = ops.multiply(present, _f32([[d.score] for d in detectors]))
    offsets, scores = [_yolact_encode(corners, priors[exact_rows])], [found_scores]
    if duplicates:
        shift = ops.multiply(present, _f32([YOLO_DUPLICATE_SHIFT_PX / width, 0, YOLO_DUPLICATE_SHIFT_PX / width, 0]))
        offsets.append(_yolact_encode(ops.add(corners, shift), priors[copy_rows]))
        scores.append(ops.multiply(found_scores, _f32(YOLO_DUPLICATE_SCORE_FACTOR)))
    indices = _i64(used[:, None])
    all_offsets = ops.scatter_nd_update(_f32(np.zeros((len(priors), 4))), indices, ops.concat(offsets, 0))
    in_class = np.zeros((count, YOLACT_CLASSES), dtype=np.float32)
    in_class[np.arange(count), [d.class_id + 1 for d in detectors]] = 1.0
    in_class = np.tile(in_class, (len(used) // count, 1))
    background = np.zeros((len(priors), YOLACT_CLASSES), dtype=np.float32)
    background[:, 0] = 1.0
    score_rows = ops.concat(scores, 0)  # the class's probability, and the rest on the background
    used_background = background[: len(used)]
    conf_rows = ops.add(ops.multiply(score_rows, _f32(in_class - used_background)), _f32(used_background))
    coefficients = np.zeros((len(priors), YOLACT_PROTO_CHANNELS), dtype=np.float32)
    coefficients[used, np.tile(np.arange(count), len(used) // count)] = 1.0
    plane_hw = (2 * math.ceil(height / 8), 2 * math.ceil(width / 8))
    outputs = {
        "conf": ops.scatter_nd_update(_f32(background), indices, conf_rows),
        "mask": _f32(coefficients),
        "proto": _yolact_prototypes(maps, count, plane_hw),
        "boxes": _yolact_decode(all_offsets, priors),
    }
    named = [_name(ops.unsqueeze(node, _i64(0)) if name != "proto" else node, name) for name, node in outputs.items()]
    return _save(ov.Model(named, [image], "synthetic_yolact"), path)


def matting_ramp(plane_hw: tuple[int, int]) -> np.ndarray:
    """[h, w] opacity rising linearly left to right and top to bottom: half of (c+0.5)/w plus
    half of (r+0.5)/h, so bilinear sampling anywhere inside gives the same linear function."""
    rows, columns = plane_hw
    return ((np.arange(columns) + 0.5) / columns / 2 + ((np.arange(rows) + 0.5) / rows / 2)[:, None]).astype(
        np.float32)


def build_matting_model(path: Path, input_hw: tuple[int, int] = (512, 512),
                        plane_hw: tuple[int, int] | None = None) -> Path:
    """Shaped as Open Model Zoo converts MODNet: BGR ``input [1,3,H,W]`` in, ``output [1,1,h,w]`` out,
    an alpha matte that is :func:`matting_ramp` whatever the frame (a known soft answer)."""
    plane_hw = plane_hw or input_hw
    image = _image_input([1, 3, *input_hw], "input")
    # The matte must hang off the input, or the graph would be a constant without it.
    unused_zero = ops.multiply(ops.reduce_max(image, _i64([1, 2, 3]), keep_dims=True), _f32(0.0))
    matte = ops.add(_f32(matting_ramp(plane_hw)[None, None]), unused_zero)
    return _save(ov.Model([_name(matte, "output")], [image], "synthetic_matting"), path)


# robust-video-matting-mobilenetv3 as its ONNX file reads (Open Model Zoo's model.yml): the states'
# channels, and the strides from the 720x1280 input to their 144x256 ... 18x32 planes.
RVM_STATES = (("r1", "rr1", 16, 5), ("r2", "rr2", 20, 10), ("r3", "rr3", 40, 20), ("r4", "rr4", 64, 40))
RVM_COUNT_SCALE = 8.0  # alpha = frames counted / this


def build_recurrent_matting_model(path: Path, states: Sequence[tuple[str, str, int, int]] = RVM_STATES,
                                  static_hw: tuple[int, int] | None = None) -> Path:
    """Shaped as robust-video-matting-mobilenetv3's ONNX file: ``src [?,3,?,?]`` and states ``r1..r4
    [?,C,?,?]`` in (all f32, sizes dynamic unless ``static_hw``); ``fgr [?,3,?,?]`` (the frame), ``pha
    [?,1,?,?]`` and ``rr1..rr4`` out, in that order. Each next state is its state plus one, so it counts
    the frames since the states were zero, and the alpha is that count / RVM_COUNT_SCALE everywhere."""
    height, width = static_hw or (-1, -1)
    image = _image_input([1 if static_hw else -1, 3, height, width], "src")
    parameters, nexts = [image], []
    for name, next_name, channels, stride in states:
        state_hw = [height // stride, width // stride] if static_hw else [-1, -1]
        state = _image_input([1 if static_hw else -1, channels, *state_hw], name)
        # The state's size hangs off the image's, as in the real network, so OpenVINO can tell it.
        plane = ops.avg_pool(image, [stride, stride], [0, 0], [0, 0], [stride, stride], True)
        unused_zero = ops.multiply(ops.reduce_mean(plane, _i64([1]), keep_dims=True), _f32(0.0))
        parameters.append(state)
        nexts.append(_name(ops.add(ops.add(state, _f32(1.0)), unused_zero), next_name))
    count = ops.reduce_mean(nexts[0], _i64([1, 2, 3]), keep_dims=True)
    image_zero = ops.multiply(ops.reduce_mean(image, _i64([1]), keep_dims=True), _f32(0.0))
    alpha = ops.add(image_zero, ops.multiply(count, _f32(1.0 / RVM_COUNT_SCALE)))
    foreground = ops.multiply(image, _f32(1.0))
    model = ov.Model([_name(foreground, "fgr"), _name(alpha, "pha"), *nexts], parameters, "synthetic_rvm")
    return _save(model, path)


# alpha = clamp(|src - bgr| summed over channels * this, 0, 1). Taken as exported, the model gets
# RGB in 0..1, so this is one 64th of a difference in 0..255 units.
PLATE_MATTE_GAIN = 255 / 64.0


def build_plate_matting_model(path: Path, input_hw: tuple[int, int] = (720, 1280)) -> Path:
    """Shaped as background-matting-mobilenetv2's ONNX file (sizes static here): ``src`` and ``bgr
    [1,3,H,W]`` f32 in; ``pha [1,1,H,W]`` = clamp(sum over channels of |src - bgr| * PLATE_MATTE_GAIN)
    and ``fgr`` (the frame) out: opaque where the frame differs from the plate by 64 or more."""
    source, plate = _image_input([1, 3, *input_hw], "src"), _image_input([1, 3, *input_hw], "bgr")
    difference = ops.reduce_sum(ops.abs(ops.subtract(source, plate)), _i64([1]), keep_dims=True)
    alpha = ops.clamp(ops.multiply(difference, _f32(PLATE_MATTE_GAIN)), 0.0, 1.0)
    model = ov.Model([_name(alpha, "pha"), _name(ops.multiply(source, _f32(1.0)), "fgr")], [source, plate],
                     "synthetic_background_matting")
    return _save(model, path)


def build_shaped_model(path: Path, inputs: Sequence[tuple[str, Sequence[int]]],
                       outputs: Sequence[tuple[str, Sequence[int], ov.Type]], labels: Sequence[str] = ()) -> Path:
    """A model of exactly these input and output shapes (outputs all zeros, named as given; "" for
    none), for recognition to accept or refuse: it finds nothing. ``labels`` go into its rt_info."""
    parameters = [_image_input(list(shape), name) for name, shape in inputs]
    results = [ops.constant(np.zeros(shape, dtype=element.to_dtype())) for _, shape, element in outputs]
    model = ov.Model(results, parameters, "shaped")
    for port, (name, _, _) in zip(model.outputs, outputs):
        port.get_tensor().set_names({name} if name else set())
    if labels:
        model.set_rt_info(" ".join(name.replace(" ", "_") for name in labels), ["model_info", "labels"])
    return _save(model, path)


# ---------------------------------------------------------------------------
# Scenes and videos
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A filled shape of one pure colour; build it with ``rect``, ``ellipse`` or ``polygon``.

    ``points`` depends on ``kind``: rect ``((x1, y1), (x2, y2))`` in continuous coordinates
    (fills columns x1..x2-1, so its truth box is exactly x1,y1,x2,y2); ellipse
    ``((cx, cy), (half_width, half_height))`` rotated by ``angle`` degrees; polygon: vertices.
    """

    kind: str
    colour: BGR
    points: tuple[tuple[int, int], ...]
    angle: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("rect", "ellipse", "polygon"):
            raise ValueError(f"unknown shape kind {self.kind!r}")

    @classmethod
    def rect(cls, colour: BGR, x1: int, y1: int, x2: int, y2: int) -> Shape:
        return cls("rect", colour, ((x1, y1), (x2, y2)))

    @classmethod
    def ellipse(
        cls, colour: BGR, centre: tuple[int, int], half_axes: tuple[int, int], angle: float = 0.0,
    ) -> Shape:
        return cls("ellipse", colour, (centre, half_axes), angle)

    @classmethod
    def polygon(cls, colour: BGR, vertices: Sequence[tuple[int, int]]) -> Shape:
        return cls("polygon", colour, tuple(vertices))


def _fill(canvas: np.ndarray, shape: Shape, value: BGR | int) -> None:
    """Draws with LINE_8 (no anti-aliasing) so every edge pixel keeps the pure value."""
    if shape.kind == "rect":
        (x1, y1), (x2, y2) = shape.points
        cv2.rectangle(canvas, (x1, y1), (x2 - 1, y2 - 1), value, thickness=cv2.FILLED, lineType=cv2.LINE_8)
    elif shape.kind == "ellipse":
        centre, half_axes = shape.points
        cv2.ellipse(
            canvas, centre, half_axes, shape.angle, 0, 360, value, thickness=cv2.FILLED, lineType=cv2.LINE_8,
        )
    else:
        cv2.fillPoly(canvas, [np.array(shape.points, dtype=np.int32)], value, lineType=cv2.LINE_8)


def draw_scene(
    width: int, height: int, shapes: Sequence[Shape], background: BGR = GRAY_BACKGROUND,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A BGR uint8 frame with the shapes painted in order, and each shape's visible mask.

    Later shapes cover earlier ones, so a mask holds only the pixels that really show
    the shape's colour: exactly what a colour-blob model can see.
    """
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = background
    drawn = []
    for shape in shapes:
        _fill(frame, shape, tuple(int(channel) for channel in shape.colour))
        canvas = np.zeros((height, width), dtype=np.uint8)
        _fill(canvas, shape, 1)
        drawn.append(canvas.astype(bool))
    covered = np.zeros((height, width), dtype=bool)
    visible = []
    for mask in reversed(drawn):
        visible.append(mask & ~covered)
        covered |= mask
    return frame, visible[::-1]


def truth_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) of a non-empty mask in continuous coordinates (x2 = last column + 1)."""
    columns = np.flatnonzero(mask.any(axis=0))
    rows = np.flatnonzero(mask.any(axis=1))
    if columns.size == 0:
        raise ValueError("an empty mask has no box")
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def write_ffv1_video(path: Path, frames: Sequence[np.ndarray], fps: float = 10) -> Path:
    """Writes BGR uint8 frames losslessly (FFV1 in .avi or .mkv) so decoded pixels are exact."""
    if not frames:
        raise ValueError("a video needs at least one frame")
    height, width = frames[0].shape[:2]
    if any(frame.shape != (height, width, 3) or frame.dtype != np.uint8 for frame in frames):
        # VideoWriter silently drops frames of another size, so refuse them up front.
        raise ValueError(f"all frames must be {height}x{width}x3 uint8")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot open an FFV1 video writer for {path}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return Path(path)


def read_video(path: Path) -> list[np.ndarray]:
    """Every frame of a video file, decoded to BGR uint8."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return frames
            frames.append(frame)
    finally:
        capture.release()


if __name__ == "__main__":
    # `python tests/helpers/synthetic.py blobs.xml`: a person-0007-like model (assets/make_sample_model.py ships one).
    import sys

    print(person_0007_like(Path(sys.argv[1]), DEFAULT_DETECTORS))
