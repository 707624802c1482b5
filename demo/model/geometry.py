"""How a frame is fitted into the model input, and back again on the host.

One :class:`Geometry` decides where a frame lands: the host resizes and pads it there with OpenCV
(:meth:`Geometry.fit`), or the compiled model does the same inside its graph (:func:`build_fit_graph`,
for a model exported for a server, or a device that resizes faster than the host). Either way the
host maps boxes and masks back with the same integers.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np
import openvino as ov
import openvino.opset13 as ops


class ResizePolicy(str, Enum):
    STRETCH = "stretch"  # plain resize to the input size
    FIT = "fit"  # keep aspect ratio, pad right and bottom
    LETTERBOX = "letterbox"  # keep aspect ratio, pad evenly around (Ultralytics)


class FitPlace(str, Enum):
    """Where a frame is fitted (resized and padded) to the network input."""

    AUTO = "auto"  # as the device's rule says (demo.model.loading.fits_on_host)
    HOST = "host"  # here, with OpenCV, on the thread that submits the frame
    MODEL = "model"  # in the model's graph, from the whole frame


@dataclass(frozen=True)
class Geometry:
    """Where a frame of ``frame_size`` landed in a model input: scaled, then offset."""

    frame_size: tuple[int, int]  # (width, height)
    scale: tuple[float, float]  # model pixels per frame pixel, (x, y)
    offset: tuple[float, float]  # padding before the image in model pixels, (x, y)
    resized: tuple[int, int]  # (width, height) the frame is resized to
    input_size: tuple[int, int]  # (width, height) of the model input it is padded to

    def fit(self, frame: np.ndarray, pad_value: int) -> np.ndarray:
        """``frame`` (u8, H x W x C) resized and padded into the model input here, as [1, h, w, C]: the pixels
        the graph's fit gives, to rounding (bilinear with half-pixel centres and no antialiasing, as its
        Interpolate), written straight into place."""
        width, height = self.input_size
        (x, y), (w, h) = (int(self.offset[0]), int(self.offset[1])), self.resized
        fitted = np.empty((1, height, width, frame.shape[2]), np.uint8)
        cv2.resize(frame, (w, h), dst=fitted[0, y:y + h, x:x + w], interpolation=cv2.INTER_LINEAR)
        for band in (fitted[0, :y], fitted[0, y + h:], fitted[0, y:y + h, :x], fitted[0, y:y + h, x + w:]):
            band[...] = pad_value
        return fitted

    def boxes_to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """Map [N, 4] boxes (x1, y1, x2, y2) from model-input to frame pixels."""
        sx, sy = self.scale
        ox, oy = self.offset
        return (boxes - (ox, oy, ox, oy)) / (sx, sy, sx, sy)

    def frame_to_model(self) -> np.ndarray:
        """The 2x3 affine map from frame pixel coordinates to model-input coordinates."""
        sx, sy = self.scale
        ox, oy = self.offset
        return np.array([[sx, 0.0, ox], [0.0, sy, oy]])

    def frame_to_plane(self, stride: tuple[float, float]) -> np.ndarray:
        """The 2x3 affine map from frame coordinates to the cells of a plane over the whole
        model input whose cells are ``stride`` (x, y) input pixels wide (YOLO prototypes)."""
        return self.frame_to_model() / np.array(stride, dtype=np.float64)[:, None]


def _resized_size(frame_wh: np.ndarray, input_wh: np.ndarray, policy: ResizePolicy) -> np.ndarray:
    """The (w, h) the frame is resized to, rounded half up, in integers: the graph runs the
    same integer ops, because CPUs may run float shape arithmetic in bf16 and round it."""
    if policy is ResizePolicy.STRETCH:
        return input_wh
    limit = 0 if input_wh[0] * frame_wh[1] <= input_wh[1] * frame_wh[0] else 1
    return np.maximum((frame_wh * input_wh[limit] * 2 + frame_wh[limit]) // (frame_wh[limit] * 2), 1)


def geometry_for(frame_size: tuple[int, int], input_size: tuple[int, int], policy: ResizePolicy) -> Geometry:
    """The geometry the compiled graph applies to a frame of ``frame_size`` (w, h)."""
    frame_wh = np.array(frame_size, dtype=np.int64)
    input_wh = np.array(input_size, dtype=np.int64)
    resized = _resized_size(frame_wh, input_wh, policy)
    offset = (input_wh - resized) // 2 if policy is ResizePolicy.LETTERBOX else np.zeros(2, dtype=np.int64)
    scale = resized / frame_wh
    return Geometry(frame_size, (float(scale[0]), float(scale[1])), (float(offset[0]), float(offset[1])),
                    (int(resized[0]), int(resized[1])), (int(input_wh[0]), int(input_wh[1])))


def build_fit_graph(image: ov.Output, input_size: tuple[int, int], policy: ResizePolicy,
                    pad_value: float) -> ov.Output:
    """Resize (and pad) an NHWC f32 image of any size to ``input_size`` (w, h) in the graph.

    Mirrors :func:`geometry_for` op by op, so the host maps boxes back exactly.
    """
    input_hw = np.array(input_size[::-1], dtype=np.int64)
    frame_hw = ops.gather(ops.shape_of(image), ops.constant([1, 2]), ops.constant(0))
    if policy is ResizePolicy.STRETCH:
        resized_hw = ops.constant(input_hw)
    else:
        limited_by_width = ops.less_equal(ops.multiply(ops.gather(frame_hw, 0, 0), int(input_hw[1])),
                                          ops.multiply(ops.gather(frame_hw, 1, 0), int(input_hw[0])))
        target = ops.select(limited_by_width, ops.constant(input_hw[1]), ops.constant(input_hw[0]))
        limit = ops.select(limited_by_width, ops.gather(frame_hw, 1, 0), ops.gather(frame_hw, 0, 0))
        doubled = ops.add(ops.multiply(ops.multiply(frame_hw, target), 2), limit)
        resized_hw = ops.maximum(ops.divide(doubled, ops.multiply(limit, 2)), ops.constant(np.int64(1)))
    resized = ops.interpolate(image, resized_hw, mode="linear_onnx", shape_calculation_mode="sizes",
                              coordinate_transformation_mode="half_pixel", axes=ops.constant([1, 2]))
    if policy is ResizePolicy.STRETCH:
        return resized.output(0)
    padding_hw = ops.subtract(ops.constant(input_hw), resized_hw)
    before_hw = (ops.divide(padding_hw, ops.constant(np.int64(2))) if policy is ResizePolicy.LETTERBOX
                 else ops.constant(np.zeros(2, dtype=np.int64)))
    zero = ops.constant(np.array([0], dtype=np.int64))
    pads_begin = ops.concat([zero, before_hw, zero], 0)
    pads_end = ops.concat([zero, ops.subtract(padding_hw, before_hw), zero], 0)
    padded = ops.pad(resized, pads_begin, pads_end, "constant", ops.constant(np.float32(pad_value)))
    # The pads depend on the frame, so OpenVINO cannot see that the result is always the input
    # size: say so, or the whole network is compiled for dynamic shapes (which gave all-NaN
    # outputs for the YOLOv8 TFLite graph with two streams).
    batch, _, _, channels = image.get_partial_shape()
    static_shape = np.array([batch.get_length(), *input_hw, channels.get_length()], dtype=np.int64)
    return ops.reshape(padded, ops.constant(static_shape), special_zero=False).output(0)


def fit_to(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``picture`` stretched to ``size`` (w, h): area averaging to shrink, bilinear to enlarge."""
    height, width = picture.shape[:2]
    if (width, height) == size:
        return picture
    shrinking = width * height > size[0] * size[1]
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
