"""The invariant every box and mask rests on: the host's geometry is what the compiled graph did, and the
host's own fit (OpenCV) puts the frame where the graph's fit does.

An identity network (its output is its input) with the demo's pre-processing embedded shows where
a white frame landed in the model input: its pixels are 255 there and the pad value elsewhere.
For random frame sizes, every resize policy and landscape, portrait and square inputs, that
rectangle must be exactly the one :func:`demo.model.geometry.geometry_for` computes, in the
graph's fit and in the host's; and the host's pixels are the graph's to within one level of 255.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demo.model.contracts import Preprocessing
from demo.model.geometry import ResizePolicy, geometry_for
from demo.model.loading import embed_preprocessing

INPUT_SIZES = [(544, 320), (320, 544), (640, 640)]  # (w, h)
FRAMES_PER_CASE = 12
PAD = 7.0  # neither 0 nor 255, so padding is told from the frame and from black


class IdentityContract:
    image_input = 0


@cache
def compiled_identity(input_size: tuple[int, int], policy: ResizePolicy) -> ov.CompiledModel:
    width, height = input_size
    image = ops.parameter([1, 3, height, width], ov.Type.f32, name="image")
    model = ov.Model([ops.result(ops.multiply(image, ops.constant(np.float32(1))))], [image], "identity")
    embed_preprocessing(model, IdentityContract(), Preprocessing(pad_value=PAD, policy=policy), Path("identity"))
    return ov.Core().compile_model(model, "CPU")


def graph_fit(compiled: ov.CompiledModel, frame: np.ndarray) -> np.ndarray:
    """The frame as the graph fits it: one channel of the model input, H x W f32."""
    return compiled({0: frame[np.newaxis]})[0][0, 0]


def host_fit(frame: np.ndarray, input_size: tuple[int, int], policy: ResizePolicy) -> np.ndarray:
    """The frame as the host fits it, the same channel."""
    geometry = geometry_for((frame.shape[1], frame.shape[0]), input_size, policy)
    return geometry.fit(frame, int(PAD))[0, :, :, 0].astype(np.float32)


def covered(plane: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the model-input pixels a white frame covers in a fitted plane."""
    assert set(np.unique(plane).tolist()) <= {PAD, 255.0}
    columns, rows = np.flatnonzero((plane == 255).any(axis=0)), np.flatnonzero((plane == 255).any(axis=1))
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def white(frame_size: tuple[int, int]) -> np.ndarray:
    width, height = frame_size
    return np.full((height, width, 3), 255, np.uint8)


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
        assert covered(graph_fit(compiled, white(frame_size))) == pytest.approx(expected, abs=1e-9), geometry
        assert covered(host_fit(white(frame_size), input_size, policy)) == pytest.approx(expected, abs=1e-9)
        # And the map back: the model-input rectangle the frame covers is the whole frame.
        back = geometry.boxes_to_frame(np.array([expected], dtype=np.float64))[0]
        assert back == pytest.approx([0, 0, *frame_size], abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(policy=st.sampled_from(list(ResizePolicy)), input_size=st.sampled_from(INPUT_SIZES),
       width=st.integers(1, 2000), height=st.integers(1, 2000), seed=st.integers(0, 2**32 - 1))
def test_the_host_fits_the_pixels_the_graph_fits(policy, input_size, width, height, seed):
    """Random content: bilinear with half-pixel centres both ways, OpenCV in u8 fixed point, the graph in
    f32, so they differ by rounding alone; the padding is the same pixels."""
    frame = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)

    graph, host = graph_fit(compiled_identity(input_size, policy), frame), host_fit(frame, input_size, policy)

    assert host.shape == graph.shape == (input_size[1], input_size[0])
    assert np.abs(host - graph).max() <= 1.0
    # OpenCV rounds to the nearest level: on average its error is a quarter of a level.
    assert np.abs(host - graph).mean() <= 0.3
