"""Recurrent video matting (robust-video-matting-mobilenetv3): the frame and the previous frame's states in;
alpha, foreground and the next states out.

The states are made OpenVINO variables (the MakeStateful transformation): each state output is fed back
into its input inside the infer request, frame after frame, and ``InferRequest.reset_state()`` starts
them again from zeros. The host never copies them, and the pipeline only has to keep one request in
flight and reset it where the video is cut.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import openvino as ov
from openvino._offline_transformations import apply_make_stateful_transformation

from demo.core.wording import counted
from demo.model.contracts.base import Contract, DecodeLimits, Detections, Misfit, Preprocessing
from demo.model.contracts.matting import alpha_detections, alpha_stride, onnx_or_converted
from demo.model.contracts.ports import dims_of, port_name, rank_of, shape_text

if TYPE_CHECKING:
    from demo.model.model_info import ModelInfo

# Open Model Zoo's model.yml gives the ONNX file, whose sizes are dynamic, this input (w, h); the
# states' sizes follow from it.
DEFAULT_INPUT_SIZE = (1280, 720)
ALPHA_CHANNELS, FOREGROUND_CHANNELS, IMAGE_CHANNELS = 1, 3, 3


def channels(port: ov.Output) -> int | None:
    """The channels of a rank-4 NCHW port, None for any other port or a dynamic count."""
    return dims_of(port)[1] if rank_of(port) == 4 else None


def named(port: ov.Output) -> str:
    return f"{port_name(port) or '<unnamed>'} {shape_text(port)}"


@dataclass(frozen=True)
class RecurrentMattingContract(Contract):
    """Robust video matting as Open Model Zoo lists it: image ``src [1,3,H,W]`` and states ``r1..r4
    [1,C,h,w]`` in; alpha ``pha [1,1,H,W]``, foreground ``fgr [1,3,H,W]`` and next states ``rr1..rr4``
    out, each state paired with the output of its channel count. A person's opacity for
    ``--mode background`` only; frames must come in order through one request (``stateful``)."""

    input_size: tuple[int, int]
    plane_stride: tuple[float, float]
    shapes: tuple[tuple[int, tuple[int, ...]], ...]  # (input, static shape) for every input
    states: tuple[tuple[int, int], ...]  # (input, output) of each state, in the model as read
    alpha: int  # the alpha's output once the states are variables
    preprocessing: Preprocessing
    image_input: int = 0  # once the states are variables the image is the only input
    kind: ClassVar[str] = "recurrent-matting"
    expected: ClassVar[str] = ("an image input [1,3,H,W] and recurrent states [1,C,h,w]; outputs an alpha matte "
                               "[1,1,H,W], a foreground [1,3,H,W] and one next state per state input")
    stateful: ClassVar[bool] = True
    soft_output: ClassVar[bool] = True

    @classmethod
    def match(cls, model: ov.Model, info: ModelInfo) -> RecurrentMattingContract | None:
        images = [i for i, port in enumerate(model.inputs) if channels(port) == IMAGE_CHANNELS]
        alphas = [j for j, port in enumerate(model.outputs) if channels(port) == ALPHA_CHANNELS]
        if len(model.inputs) < 2 or len(images) != 1 or not alphas:
            return None
        if len(alphas) != 1:
            raise Misfit(f"{len(alphas)} one-channel outputs where one alpha matte [1,1,H,W] is expected")
        image = images[0]
        foreground = [j for j, port in enumerate(model.outputs) if channels(port) == FOREGROUND_CHANNELS]
        if len(foreground) > 1:
            raise Misfit(f"{len(foreground)} three-channel outputs where at most one foreground is expected")
        states = cls._pair_states(model, image, set(alphas + foreground))
        sized = model.clone()  # recognition must leave the model as it was read
        shapes = cls._static_shapes(sized, image, states)
        input_size = (shapes[image][3], shapes[image][2])
        stays = [j for j in range(len(model.outputs)) if j not in states.values()]
        return cls(input_size, alpha_stride(sized.output(alphas[0]), input_size), tuple(shapes.items()),
                   tuple(states.items()), stays.index(alphas[0]), onnx_or_converted(model))

    @staticmethod
    def _pair_states(model: ov.Model, image: int, taken: set[int]) -> dict[int, int]:
        """Each state input's output: the one left with its channel count."""
        left = [j for j in range(len(model.outputs)) if j not in taken]
        states = {}
        for i, port in enumerate(model.inputs):
            if i == image:
                continue
            count = channels(port)
            if count is None:
                raise Misfit(f"input {named(port)} is neither the image [1,3,H,W] nor a recurrent state [1,C,h,w] "
                             "of static C")
            feeding = [j for j in left if channels(model.output(j)) == count]
            if len(feeding) != 1:
                raise Misfit(f"the state input {named(port)} needs one output of {counted(count, 'channel')} to be "
                             f"fed back from, found {len(feeding)}")
            states[i] = feeding[0]
            left.remove(feeding[0])
        if left:
            raise Misfit(f"the output {named(model.output(left[0]))} is neither the alpha, the foreground nor "
                         "a state's next value")
        return states

    @staticmethod
    def _static_shapes(model: ov.Model, image: int, states: dict[int, int]) -> dict[int, tuple[int, ...]]:
        """Every input's static shape: the image's own or Open Model Zoo's size, each state's own or
        what its output becomes on that image; ``model`` (a copy) is reshaped to them."""
        width, height = DEFAULT_INPUT_SIZE
        image_dims = dims_of(model.input(image))
        if None not in image_dims[2:]:
            height, width = image_dims[2:]
        model.reshape({model.input(image): [1, IMAGE_CHANNELS, height, width]})
        shapes = {image: (1, IMAGE_CHANNELS, height, width)}
        for state, output in states.items():
            own, fed = dims_of(model.input(state))[1:], dims_of(model.output(output))[1:]
            shape = tuple(a if a is not None else b for a, b in zip(own, fed))
            if None in shape:
                raise Misfit(f"the size of the state input {named(model.input(state))} cannot be told from "
                             f"its output {named(model.output(output))}")
            shapes[state] = (1, *shape)
        model.reshape({model.input(i): list(shape) for i, shape in shapes.items()})
        for state, output in states.items():
            if dims_of(model.output(output)) != list(shapes[state]):
                raise Misfit(f"the state output {named(model.output(output))} is not the shape of its input "
                             f"{named(model.input(state))}")
        return shapes

    def prepare(self, model: ov.Model) -> None:
        """Give ``model`` the static shapes and make its states variables of the infer request."""
        model.reshape({model.input(i): list(shape) for i, shape in self.shapes})
        pairs = [(model.input(i).get_node(), model.output(j).get_node()) for i, j in self.states]
        apply_make_stateful_transformation(model, pairs)

    def decode(self, outputs: list[np.ndarray], limits: DecodeLimits) -> Detections:
        return alpha_detections(outputs[self.alpha], self.input_size, self.plane_stride)
