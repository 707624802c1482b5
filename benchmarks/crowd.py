"""Crowded scenes with an exact number of instances: a 1080p picture of ``count`` discs, their
detections as a Mask R-CNN head gives them, and a model that gives just those detections.

The discs are one size at every count (a crowd seen from afar: 70 pixels across), on a jittered
grid, so that the cost per instance can be compared between counts. The model is shaped like
Open Model Zoo's security Mask R-CNNs (``image`` [1,3,H,W] BGR in; ``labels`` [N], ``boxes``
[N,5] with the score, ``masks`` [N,28,28] out) with the ``model_info`` both this demo and
model_api read; its outputs are constants, so every frame has exactly ``count`` instances, and
with ``gflops`` it is given a convolution stack of that cost whose result is added x0 to the
boxes (tests/helpers/heavy_model.py), so that it costs what a real model costs.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import openvino.opset13 as ops
from testkit import heavy_model

FRAME_SIZE = (1920, 1080)
MODEL_INPUT_HW = (320, 544)  # person-0007's
RADIUS_PX = 35  # in the frame
HEATMAP_SIZE = 28
SCORE = 0.9
COUNTS = (1, 10, 30, 100)
BACKGROUND = (114, 114, 114)


def centres(count: int, seed: int = 0) -> np.ndarray:
    """[count, 2] disc centres in frame pixels: a jittered grid over the frame, at least a disc apart."""
    width, height = FRAME_SIZE
    columns = max(int(np.ceil(np.sqrt(count * width / height))), 1)
    rows = int(np.ceil(count / columns))
    cell = np.array([width / columns, height / rows])
    grid = np.array([(k % columns + 0.5, k // columns + 0.5) for k in range(count)]) * cell
    slack = np.maximum(cell / 2 - RADIUS_PX - 2, 0)
    return grid + np.random.default_rng(seed).uniform(-1, 1, (count, 2)) * slack


def colours(count: int) -> list[tuple[int, int, int]]:
    hues = (np.arange(count) * 180 / max(count, 1)).astype(np.uint8)
    hsv = np.stack([hues, np.full(count, 200, np.uint8), np.full(count, 230, np.uint8)], axis=1)[None]
    return [tuple(int(c) for c in bgr) for bgr in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0]]


def picture(count: int, step: int = 0, velocity_px: float = 0.0) -> np.ndarray:
    """The 1080p frame: ``count`` filled discs, moved ``step`` x ``velocity_px`` to the right."""
    width, height = FRAME_SIZE
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = BACKGROUND
    for (x, y), colour in zip(centres(count) + [step * velocity_px, 0], colours(count)):
        cv2.circle(frame, (int(round(x)), int(round(y))), RADIUS_PX, colour, -1)
    return frame


def disc_heatmap(size: int = HEATMAP_SIZE) -> np.ndarray:
    """A disc filling its box, as a mask head's sigmoid gives it: 1 inside, falling to 0 at the rim."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    distance = np.sqrt(axis[:, None] ** 2 + axis[None, :] ** 2)
    return 1 / (1 + np.exp((distance - 1) * 12))


def boxes_in_input(count: int, step: int = 0, velocity_px: float = 0.0) -> np.ndarray:
    """[count, 4] the discs' boxes in model-input pixels (x1, y1, x2, y2), as the model is stretched."""
    scale = np.array([MODEL_INPUT_HW[1] / FRAME_SIZE[0], MODEL_INPUT_HW[0] / FRAME_SIZE[1]] * 2)
    middle = centres(count) + [step * velocity_px, 0]
    return (np.hstack([middle - RADIUS_PX, middle + RADIUS_PX]) * scale).astype(np.float32)


def constant_maskrcnn(path: Path, count: int, gflops: float = 0.0) -> Path:
    """The Mask R-CNN-shaped model that finds the ``count`` discs of :func:`picture` in every frame."""
    height, width = MODEL_INPUT_HW
    image = ops.parameter([1, 3, height, width], ov.Type.f32, name="image")
    image.output(0).get_tensor().set_names({"image"})
    boxes = np.hstack([boxes_in_input(count), np.full((count, 1), SCORE, np.float32)])
    # 0 x the image's mean, so that the outputs hang on the input and nothing is folded away.
    zero = ops.multiply(ops.reduce_mean(image, ops.constant(np.array([0, 1, 2, 3])), keep_dims=False),
                        ops.constant(np.float32(0.0)))
    outputs = [ops.constant(np.zeros(count, np.int32)), ops.add(ops.constant(boxes), zero),
               ops.constant(np.repeat(disc_heatmap()[None], count, axis=0))]
    for output, name in zip(outputs, ("labels", "boxes", "masks")):
        output.output(0).get_tensor().set_names({name})
    model = ov.Model(outputs, [image], f"crowd_{count}")
    if gflops:
        heavy_model.add_conv_stack(model, gflops)
    for key, value in {"model_type": "MaskRCNN", "labels": "person", "confidence_threshold": "0.5",
                       "resize_type": "standard", "reverse_input_channels": "NO"}.items():
        model.set_rt_info(value, ["model_info", key])
    ov.save_model(model, path, compress_to_fp16=False)
    return path


def write_clip(path: Path, count: int, frames: int, fps: float = 30) -> Path:
    """An MJPG clip of the static crowd, as a camera gives it."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, FRAME_SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"cannot open an MJPG video writer for {path}")
    scene = picture(count)
    try:
        for _ in range(frames):
            writer.write(scene)
    finally:
        writer.release()
    return path
