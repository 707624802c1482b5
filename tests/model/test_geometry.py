"""The invariant every box and mask rests on: the host's geometry is what the compiled graph did.

An identity network (its output is its input) with the demo's pre-processing embedded shows where
a white frame landed in the model input: its pixels are 255 there and the pad value elsewhere.
For random frame sizes, every resize policy and landscape, portrait and square inputs, that
rectangle must be exactly the one :func:`demo.model.geometry.geometry_for` computes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from demo.model.contracts import Preprocessing
from demo.model.geometry import ResizePolicy, geometry_for
from demo.model.loading import embed_preprocessing

INPUT_SIZES = [(544, 320), (320, 544), (640, 640)]  # (w, h)
FRAMES_PER_CASE = 12
PAD = 7.0  # neither 0 nor 255, so padding is told from the frame and from black


class IdentityContract:
    image_input = 0


def compiled_identity(input_size: tuple[int, int], policy: ResizePolicy) -> ov.CompiledModel:
    width, height = input_size
    image = ops.parameter([1, 3, height, width], ov.Type.f32, name="image")
    model = ov.Model([ops.result(ops.multiply(image, ops.constant(np.float32(1))))], [image], "identity")
    embed_preprocessing(model, IdentityContract(), Preprocessing(pad_value=PAD, policy=policy), Path("identity"))
    return ov.Core().compile_model(model, "CPU")


def landed(compiled: ov.CompiledModel, frame_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the model-input pixels the white frame covers."""
    width, height = frame_size
    output = compiled({0: np.full((1, height, width, 3), 255, np.uint8)})[0][0, 0]
    assert set(np.unique(output).tolist()) <= {PAD, 255.0}
    columns, rows = np.flatnonzero((output == 255).any(axis=0)), np.flatnonzero((output == 255).any(axis=1))
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


@pytest.mark.parametrize("policy", list(ResizePolicy))
@pytest.mark.parametrize("input_size", INPUT_SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_the_host_knows_where_the_graph_put_the_frame(policy, input_size):
    compiled = compiled_identity(input_size, policy)
    rng = np.random.default_rng(hash((policy.value, input_size)) % 2**32)
    sizes = [(1, 1), (1, 999), (999, 1), input_size] + [tuple(rng.integers(2, 2000, 2).tolist())
                                                       for _ in range(FRAMES_PER_CASE)]
    for frame_size in sizes:
        geometry = geometry_for(frame_size, input_size, policy)
        ox, oy = geometry.offset
        expected = (ox, oy, ox + frame_size[0] * geometry.scale[0], oy + frame_size[1] * geometry.scale[1])
        assert landed(compiled, frame_size) == pytest.approx(expected, abs=1e-9), (frame_size, geometry)
        # And the map back: the model-input rectangle the frame covers is the whole frame.
        back = geometry.boxes_to_frame(np.array([expected], dtype=np.float64))[0]
        assert back == pytest.approx([0, 0, *frame_size], abs=1e-6)
