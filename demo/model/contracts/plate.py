"""Two-image matting (background-matting-mobilenetv2): the frame and a clean plate of the same scene
without the person in; alpha and foreground out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import openvino as ov

from demo.core.wording import counted
from demo.model.contracts.base import Contract, DecodeLimits, Detections, Misfit, Preprocessing
from demo.model.contracts.matting import alpha_detections, alpha_stride, onnx_or_converted
from demo.model.contracts.ports import dims_of, expect_outputs, port_name
from demo.model.contracts.recurrent import (
    ALPHA_CHANNELS,
    DEFAULT_INPUT_SIZE,
    FOREGROUND_CHANNELS,
    IMAGE_CHANNELS,
    channels,
    named,
)

if TYPE_CHECKING:
    from demo.model.model_info import ModelInfo

PLATE_NAME = "bgr"  # BackgroundMattingV2's name for the plate, which Open Model Zoo's file keeps


@dataclass(frozen=True)
class PlateMattingContract(Contract):
    """Background matting as Open Model Zoo lists it: ``src [1,3,H,W]`` (the frame) and ``bgr [1,3,H,W]``
    (the plate) in; alpha ``pha [1,1,H,W]`` and foreground ``fgr [1,3,H,W]`` out (and maybe one more
    output, which is not read). The plate is the input named ``bgr``, else the second one, as
    BackgroundMattingV2 takes (src, bgr). A person's opacity for ``--mode background`` only."""

    input_size: tuple[int, int]
    plane_stride: tuple[float, float]
    image_input: int
    plate: int  # the plate's input
    alpha: int
    size_to_set: tuple[int, int] | None  # (w, h) for inputs of dynamic size, else None
    preprocessing: Preprocessing
    kind: ClassVar[str] = "plate-matting"
    soft_output: ClassVar[bool] = True
    expected: ClassVar[str] = ("two image inputs [1,3,H,W] (the frame, and the background plate 'bgr'); outputs "
                               "an alpha matte [1,1,H,W] and a foreground [1,3,H,W]")

    @classmethod
    def match(cls, model: ov.Model, info: ModelInfo) -> PlateMattingContract | None:
        images = [i for i, port in enumerate(model.inputs) if channels(port) == IMAGE_CHANNELS]
        alphas = [j for j, port in enumerate(model.outputs) if channels(port) == ALPHA_CHANNELS]
        if len(images) != 2 or not alphas:
            return None
        if len(model.inputs) != 2:
            raise Misfit(f"{counted(len(model.inputs), 'input')} where the frame and the background plate are "
                         "expected")
        if len(model.outputs) not in (2, 3):
            expect_outputs(model, 2, "the alpha matte and the foreground")
        if len(alphas) != 1 or not any(channels(port) == FOREGROUND_CHANNELS for port in model.outputs):
            raise Misfit("it needs one alpha matte [1,1,H,W] and a foreground [1,3,H,W] output")
        plate = next((i for i in images if port_name(model.input(i)) == PLATE_NAME), images[1])
        frame = images[0] if plate == images[1] else images[1]
        frame_dims, plate_dims = dims_of(model.input(frame)), dims_of(model.input(plate))
        if frame_dims != plate_dims:
            raise Misfit(f"the frame {named(model.input(frame))} and the plate {named(model.input(plate))} "
                         "must be of one shape")
        size_to_set = DEFAULT_INPUT_SIZE if None in frame_dims[2:] else None
        sized = model.clone()
        if size_to_set:
            cls._set_size(sized, size_to_set)
        height, width = dims_of(sized.input(frame))[2:]
        return cls((width, height), alpha_stride(sized.output(alphas[0]), (width, height)), frame, plate,
                   alphas[0], size_to_set, onnx_or_converted(model))

    @staticmethod
    def _set_size(model: ov.Model, size: tuple[int, int]) -> None:
        width, height = size
        model.reshape({port: [1, IMAGE_CHANNELS, height, width] for port in model.inputs})

    @property
    def plate_input(self) -> int:
        return self.plate

    def prepare(self, model: ov.Model) -> None:
        """Give inputs of dynamic size Open Model Zoo's size."""
        if self.size_to_set:
            self._set_size(model, self.size_to_set)

    def decode(self, outputs: list[np.ndarray], limits: DecodeLimits) -> Detections:
        return alpha_detections(outputs[self.alpha], self.input_size, self.plane_stride)

