"""Portrait matting models with one alpha output (MODNet), for background mode; and what every matting
contract shares: the alpha output's checks, its Detections, and the pre-processing of Open Model Zoo's
ONNX files."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import openvino as ov

from demo.model.contracts.base import Contract, DecodeLimits, Detections, Misfit, Preprocessing
from demo.model.contracts.ports import dims_of, expect_image, rank_of, shape_text
from demo.model.geometry import ResizePolicy

PERSON = 0  # COCO's person, which --mode background keeps
# Open Model Zoo's recurrent and two-image matting models are ONNX files exported from PyTorch: RGB
# in 0..1. omz_converter puts the channel swap and the scale by 255 into the IR (its model.yml's
# --reverse_input_channels and --scale), and the Model Optimizer records them in the IR's rt_info.
EXPORTED = Preprocessing(reverse_channels=True, scale=(255.0,), policy=ResizePolicy.STRETCH)
CONVERTED = Preprocessing(policy=ResizePolicy.STRETCH)
CONVERSION = "conversion_parameters"
IN_GRAPH = ("reverse_input_channels", "scale", "scale_values")

if TYPE_CHECKING:
    from demo.model.model_info import ModelInfo

@dataclass(frozen=True)
class MattingContract(Contract):
    """A portrait matting model as Open Model Zoo converts MODNet: one BGR image in (mean and scale in
    the graph); one alpha matte [1,1,h,w] in 0..1 over the whole input out. It finds no instances:
    the matte is the person, for ``--mode background`` only."""

    input_size: tuple[int, int]
    plane_stride: tuple[float, float]
    image_input: int = 0
    kind: ClassVar[str] = "matting"
    soft_output: ClassVar[bool] = True
    expected: ClassVar[str] = "one image input [1,3,H,W]; one output, an alpha matte [1,1,h,w]"
    preprocessing: ClassVar[Preprocessing] = Preprocessing(policy=ResizePolicy.STRETCH)

    @classmethod
    def match(cls, model: ov.Model, info: ModelInfo) -> MattingContract | None:
        if len(model.inputs) != 1 or len(model.outputs) != 1 or rank_of(model.output(0)) != 4:
            return None
        _, input_size = expect_image(model.input(0))
        return cls(input_size, alpha_stride(model.output(0), input_size))

    def decode(self, outputs: list[np.ndarray], limits: DecodeLimits) -> Detections:
        return alpha_detections(outputs[0], self.input_size, self.plane_stride)


def alpha_stride(port: ov.Output, input_size: tuple[int, int]) -> tuple[float, float]:
    """Input pixels per cell of an alpha output [1,1,h,w] of the input's aspect ratio; else a Misfit."""
    dims = dims_of(port)
    width, height = input_size
    if None in dims or dims[:2] != [1, 1] or dims[2] * width != dims[3] * height:
        raise Misfit(f"the alpha output {shape_text(port)} should be [1,1,h,w] with the {width}x{height} "
                     "input's aspect ratio")
    return width / dims[3], height / dims[2]


def alpha_detections(alpha: np.ndarray, input_size: tuple[int, int], plane_stride: tuple[float, float]) -> Detections:
    """One person whose opacity is the [1,1,h,w] matte over the whole input."""
    width, height = input_size
    matte = np.clip(np.nan_to_num(alpha[0]), 0.0, 1.0)  # [1, h, w], a copy of the request's buffer
    return Detections(np.array([PERSON]), np.ones(1, np.float32), np.float32([[0, 0, width, height]]), matte,
                      plane_stride, alpha=True)


def onnx_or_converted(model: ov.Model) -> Preprocessing:
    """How an Open Model Zoo ONNX matting model takes its images: as exported (RGB, 0..1), or BGR 0..255
    when omz_converter's Model Optimizer put the swap and scale into the graph (and said so in rt_info)."""
    stated = [model.get_rt_info([CONVERSION, key]).astype(str) for key in IN_GRAPH if model.has_rt_info([CONVERSION, key])]
    return CONVERTED if any(value.strip() not in ("", "False", "()", "{}") for value in stated) else EXPORTED
