"""Reading a model's ports: ranks, dimensions and element types, and the checks every contract shares."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import openvino as ov

from demo.core.wording import counted
from demo.model.contracts.base import Misfit

if TYPE_CHECKING:
    from demo.model.model_info import ModelInfo


def rank_of(port: ov.Output) -> int:
    """The port's rank; -1 when even that is dynamic."""
    rank = port.get_partial_shape().rank
    return rank.get_length() if rank.is_static else -1


def dims_of(port: ov.Output) -> list[int | None]:
    """The port's dimensions, None where dynamic (an empty list for a dynamic rank)."""
    shape = port.get_partial_shape()
    return [d.get_length() if d.is_static else None for d in shape] if shape.rank.is_static else []


def is_integer(port: ov.Output) -> bool:
    return port.get_element_type().is_integral_number()


def last_dim(port: ov.Output) -> int | None:
    dims = dims_of(port)
    return dims[-1] if dims else None


def port_name(port: ov.Output) -> str:
    return port.get_any_name() if port.get_names() else ""


def only(ports: list[int]) -> int | None:
    return ports[0] if len(ports) == 1 else None


def static_dims(port: ov.Output) -> list[int] | None:
    shape = port.get_partial_shape()
    return None if shape.is_dynamic else list(shape.to_shape())


def image_layout(port: ov.Output) -> str | None:
    """The layout of a rank-4 image input whose 3 channels come first (NCHW) or last (NHWC), else None."""
    shape = port.get_partial_shape()
    if shape.rank.is_dynamic or shape.rank.get_length() != 4:
        return None
    if shape[1].is_static and shape[1].get_length() == 3:
        return "NCHW"
    if shape[3].is_static and shape[3].get_length() == 3:
        return "NHWC"
    return None


def image_size(port: ov.Output, layout: str) -> tuple[int, int] | None:
    """The (w, h) of a rank-4 image input laid out as ``layout`` (NCHW or NHWC); None unless static."""
    dims = static_dims(port)
    if dims is None:
        return None
    height, width = dims[1:3] if layout == "NHWC" else dims[2:4]
    return width, height


def shape_text(port: ov.Output) -> str:
    return str(port.get_partial_shape())


def expect_outputs(model: ov.Model, count: int, what: str) -> None:
    if len(model.outputs) != count:
        raise Misfit(f"{counted(len(model.outputs), 'output')} where {count} are expected ({what})")


def expect_image(port: ov.Output, layouts: tuple[str, ...] = ("NCHW",)) -> tuple[str, tuple[int, int]]:
    """The image input's layout and static (w, h); a Misfit unless it is [1,3,H,W] (or [1,H,W,3] if allowed)."""
    layout = image_layout(port)
    batch = dims_of(port)[0] if rank_of(port) == 4 else None
    expected = " or ".join({"NCHW": "[1,3,H,W]", "NHWC": "[1,H,W,3]"}[name] for name in layouts)
    if layout not in layouts or batch not in (1, None):
        raise Misfit(f"the image input is {shape_text(port)}, expected {expected}")
    size = image_size(port, layout)
    if size is None:
        raise Misfit(f"the image input {shape_text(port)} has no static size")
    return layout, size


def same_rows(model: ov.Model, indices: list[int], axis: int, what: str) -> None:
    """The outputs' static dimension ``axis`` (their row count) agrees."""
    counts = {dims_of(model.output(i))[axis] for i in indices} - {None}
    if len(counts) > 1:
        shapes = ", ".join(shape_text(model.output(i)) for i in indices)
        raise Misfit(f"the {what} outputs {shapes} do not agree on the number of rows")


def expect_class_count(count: int, info: ModelInfo, what: str) -> None:
    if count < 1:
        raise Misfit(f"{what} leaves {counted(count, 'class', 'classes')}")
    if info.labels and count != len(info.labels):
        raise Misfit(f"{what} gives {counted(count, 'class', 'classes')} but the model names {len(info.labels)}")


@dataclass(frozen=True)
class PrototypePlane:
    """Mask prototypes [1,P,h,w] or [1,h,w,P] spanning the whole model input."""

    output: int
    channels_last: bool
    coefficients: int  # P
    stride: tuple[float, float]  # input pixels per prototype cell, (x, y)

    @classmethod
    def of(cls, model: ov.Model, output: int, input_size: tuple[int, int],
           coefficients: int | None = None) -> PrototypePlane:
        """The plane of output ``output``; ``coefficients`` tells the layout when the input is square."""
        dims = dims_of(model.output(output))
        if None in dims or dims[0] != 1:
            raise Misfit(f"the prototypes {shape_text(model.output(output))} are not [1,P,h,w] or [1,h,w,P] of "
                         "static size")
        width, height = input_size
        _, first, second, third = dims
        readings = {False: (first, second, third), True: (third, first, second)}  # channels last: [1,h,w,P]
        fitting = [last for last, (count, rows, cols) in readings.items()
                   if rows * width == cols * height and coefficients in (None, count)]
        if not fitting:
            raise Misfit(f"the prototypes {shape_text(model.output(output))} have neither the {width}x{height} "
                         "input's aspect ratio as [1,P,h,w] nor as [1,h,w,P]"
                         + (f" with P = {coefficients}" if coefficients else ""))
        count, rows, cols = readings[fitting[0]]
        return cls(output, fitting[0], count, (width / cols, height / rows))


def pick(model: ov.Model, candidates: list[int], name: str) -> int | None:
    """The one candidate output, or else the one of them named ``name``."""
    return only(candidates) if len(candidates) == 1 else only(
        [i for i in candidates if port_name(model.output(i)) == name])
