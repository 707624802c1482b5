"""Portrait matting models with one alpha output (MODNet), for background mode."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import openvino as ov

from ..geometry import ResizePolicy
from .base import DecodeLimits, Detections, Misfit, Preprocessing
from .ports import dims_of, expect_image, rank_of, shape_text

if TYPE_CHECKING:
    from ..model_info import ModelInfo

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
    def match(cls, model: ov.Model, info: ModelInfo) -> MattingContract | None:
        if len(model.inputs) != 1 or len(model.outputs) != 1 or rank_of(model.output(0)) != 4:
            return None
        _, input_size = expect_image(model.input(0))
        dims = dims_of(model.output(0))
        width, height = input_size
        if None in dims or dims[:2] != [1, 1] or dims[2] * width != dims[3] * height:
            raise Misfit(f"the alpha output {shape_text(model.output(0))} should be [1,1,h,w] with the {width}x{height} "
                         "input's aspect ratio")
        return cls(input_size, (width / dims[3], height / dims[2]))

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        return {}

    def decode(self, outputs: list[np.ndarray], limits: DecodeLimits) -> Detections:
        width, height = self.input_size
        matte = np.clip(np.nan_to_num(outputs[0][0]), 0.0, 1.0)  # [1, h, w], a copy of the request's buffer
        return Detections(np.array([self.person]), np.ones(1, np.float32), np.float32([[0, 0, width, height]]),
                          matte, self.plane_stride, alpha=True)
