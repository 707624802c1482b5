"""A colour-blob Mask R-CNN that costs what a real one does, for throughput measurements.

The synthetic models of :mod:`synthetic` give known answers but cost almost nothing to
run, so a pipeline around them looks slower than it is. :func:`person_0007_cost_model`
keeps their answers and adds a convolution stack of about person-0007's cost (5 GFLOPs
at 320x544) whose result is added, times zero, to the boxes: the plugin cannot prune it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from helpers import synthetic
from helpers.synthetic import Detector, Shape

PERSON_0007_INPUT_HW = (320, 544)
# The colour-blob RoIAlign at person-0007's 224x224 costs more than the whole convolution
# stack (the blob search is an artefact, not part of person-0007's cost), so the heavy model
# pools 28x28 heatmaps, as Mask R-CNN heads do.
HEATMAP_SIZE = 28
PERSON_0007_GFLOPS = 5.0
STEM_CHANNELS = 32
BODY_CHANNELS = 64

# Ten colours from {0, 128, 255}^3: any two differ by >= 127 in some channel, and so does the
# gray background, so each pixel of a pure shape belongs to one detector only.
TEN_DETECTORS: list[Detector] = [
    Detector((0, 0, 255), 0, 0.95),
    Detector((0, 255, 0), 2, 0.93),
    Detector((255, 0, 0), 16, 0.91),
    Detector((0, 255, 255), 0, 0.89),
    Detector((255, 0, 255), 17, 0.87),
    Detector((255, 255, 0), 3, 0.85),
    Detector((0, 0, 0), 0, 0.83),
    Detector((255, 255, 255), 15, 0.81),
    Detector((0, 128, 255), 0, 0.79),
    Detector((255, 128, 0), 5, 0.77),
]


def _conv(node: ov.Node, in_channels: int, out_channels: int, stride: int, rng: np.random.Generator) -> ov.Node:
    # He-initialised weights keep the activations' scale steady through the ReLUs, so the
    # stack never overflows to inf (inf x 0 would be NaN in the boxes).
    weights = rng.normal(0.0, np.sqrt(2.0 / (9 * in_channels)), (out_channels, in_channels, 3, 3))
    conv = ops.convolution(node, ops.constant(weights.astype(np.float32)), [stride, stride], [1, 1], [1, 1],
                           [1, 1])
    return ops.relu(conv)


def conv_stack_gflops(input_hw: tuple[int, int], body_layers: int) -> float:
    """Multiply-adds x 2 of the stack: a stride-2 stem, a stride-2 widening, then the body."""
    height, width = input_hw
    stem = (height // 2) * (width // 2) * STEM_CHANNELS * 3 * 9
    body_pixels = (height // 4) * (width // 4)
    widen = body_pixels * BODY_CHANNELS * STEM_CHANNELS * 9
    body = body_layers * body_pixels * BODY_CHANNELS * BODY_CHANNELS * 9
    return 2 * (stem + widen + body) / 1e9


def body_layers_for(input_hw: tuple[int, int], gflops: float) -> int:
    """The number of body layers that brings the stack nearest to ``gflops``."""
    fixed = conv_stack_gflops(input_hw, 0)
    per_layer = conv_stack_gflops(input_hw, 1) - fixed
    return max(round((gflops - fixed) / per_layer), 0)


def add_conv_stack(model: ov.Model, gflops: float, seed: int = 0) -> float:
    """Feed the model's image through convolutions worth ``gflops`` and add 0 x their mean
    to the ``boxes`` output; returns the stack's real cost in GFLOPs."""
    image = model.get_parameters()[0]
    input_hw = tuple(image.get_partial_shape().to_shape()[2:])
    layers = body_layers_for(input_hw, gflops)
    rng = np.random.default_rng(seed)
    node = _conv(image, 3, STEM_CHANNELS, 2, rng)
    node = _conv(node, STEM_CHANNELS, BODY_CHANNELS, 2, rng)
    for _ in range(layers):
        node = _conv(node, BODY_CHANNELS, BODY_CHANNELS, 1, rng)
    zero = ops.multiply(ops.reduce_mean(node, ops.constant(np.array([0, 1, 2, 3])), keep_dims=False),
                        ops.constant(np.float32(0.0)))
    boxes = next(result for result in model.get_results() if "boxes" in result.output(0).get_names())
    source = boxes.input_value(0)
    boxes.input(0).replace_source_output(ops.add(source, zero).output(0))
    # The result keeps the tensor name of what it reads; move the name to the new producer.
    boxes.input_value(0).get_tensor().set_names(source.get_names())
    source.get_tensor().set_names(set())
    model.validate_nodes_and_infer_types()
    return conv_stack_gflops(input_hw, layers)


def person_0007_cost_model(path: Path, detectors: Sequence[Detector] = TEN_DETECTORS,
                           gflops: float = PERSON_0007_GFLOPS) -> Path:
    """person-0007's contract and input size (dynamic rows, i64 labels) and about its cost."""
    path = Path(path)
    # A separate file: the read model maps its weights, so it must not be overwritten in place.
    light = synthetic.build_maskrcnn_model(path.with_name(f"{path.stem}_light.xml"), detectors,
                                           PERSON_0007_INPUT_HW, None, HEATMAP_SIZE, ov.Type.i64)
    model = ov.Core().read_model(light)
    add_conv_stack(model, gflops)
    ov.save_model(model, path, compress_to_fp16=False)
    return path


def ten_shapes(width: int, height: int, step: int = 0) -> list[Shape]:
    """One shape per detector of TEN_DETECTORS, in two rows of five, drifting right with ``step``."""
    cell_w, cell_h = width // 5, height // 2
    size_w, size_h = cell_w * 5 // 8, cell_h * 5 // 8
    shapes = []
    for number, detector in enumerate(TEN_DETECTORS):
        column, row = number % 5, number // 5
        x = column * cell_w + cell_w // 8 + (step * width // 500) % (cell_w // 4)
        y = row * cell_h + cell_h // 8
        if number % 2:
            shapes.append(Shape.ellipse(detector.colour, (x + size_w // 2, y + size_h // 2),
                                        (size_w // 2, size_h // 2), angle=10 * number))
        else:
            shapes.append(Shape.rect(detector.colour, x, y, x + size_w, y + size_h))
    return shapes
