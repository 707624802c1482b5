"""Reading a segmentation model, embedding its pre-processing, and compiling it for a device."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.properties as properties
import openvino.properties.hint as hints
from openvino.preprocess import PrePostProcessor

from .contracts import Contract, recognise
from .download import catalogue
from .errors import DemoError, UsageError, openvino_reason
from .geometry import Geometry, ResizePolicy, build_fit_graph, geometry_for

MODEL_SUFFIXES = (".xml", ".onnx", ".tflite")
AGGREGATE_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")
PERFORMANCE_MODES = {"latency": hints.PerformanceMode.LATENCY, "throughput": hints.PerformanceMode.THROUGHPUT}


@dataclass(frozen=True)
class DeviceConfig:
    device: str = "CPU"
    hint: str | None = None  # "latency" | "throughput"
    nstreams: str | None = None
    nthreads: int | None = None
    nireq: int = 0  # 0: as many as the device finds optimal
    cache_dir: Path | None = None


@dataclass(frozen=True)
class CompiledSegmenter:
    """A compiled model that takes a BGR u8 frame of any size and gives Detections."""

    compiled: ov.CompiledModel
    contract: Contract
    input_size: tuple[int, int]  # (width, height) the network sees
    policy: ResizePolicy
    name: str

    def geometry(self, frame: np.ndarray) -> Geometry:
        return geometry_for((frame.shape[1], frame.shape[0]), self.input_size, self.policy)

    def inputs(self, frame: np.ndarray) -> dict[int, np.ndarray]:
        return {self.contract.image_input: frame[np.newaxis], **self.contract.extra_inputs(self.input_size)}


def read_model(core: ov.Core, path: Path) -> ov.Model:
    if not path.is_file():
        raise DemoError(f"model file not found: {path}")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise DemoError(f"{path}: not a model file; expected one of {', '.join(MODEL_SUFFIXES)}")
    if path.suffix.lower() == ".xml" and not path.with_suffix(".bin").is_file():
        raise DemoError(f"{path}: its weights file {path.with_suffix('.bin').name} is missing beside it")
    try:
        return core.read_model(path)
    except RuntimeError as error:
        raise DemoError(f"{path}: cannot read the model ({openvino_reason(error)})") from None


def default_policy(model_name: str) -> ResizePolicy:
    """The resize a catalogue model's reference accuracy was measured with; stretch for any other model."""
    info = catalogue().models.get(model_name)
    return info.resize if info else ResizePolicy.STRETCH


def _image_size(port: ov.Output, path: Path) -> tuple[int, int]:
    shape = port.get_partial_shape()
    if shape.is_dynamic:
        raise DemoError(f"{path}: the image input {shape} must have a static size to fit frames to")
    _, _, height, width = shape.to_shape()
    return width, height


def embed_preprocessing(model: ov.Model, contract: Contract, policy: ResizePolicy, path: Path) -> tuple[int, int]:
    """Make the image input take u8 NHWC BGR frames of any size; return the network's (w, h)."""
    input_size = _image_size(model.input(contract.image_input), path)
    ppp = PrePostProcessor(model)
    image = ppp.input(contract.image_input)
    image.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_spatial_dynamic_shape()
    image.model().set_layout(ov.Layout("NCHW"))
    image.preprocess().convert_element_type(ov.Type.f32).custom(
        lambda node: build_fit_graph(node, input_size, policy, pad_value=0.0))
    ppp.build()
    return input_size


def check_device(core: ov.Core, device: str) -> None:
    available = core.available_devices
    head, _, tail = device.partition(":")
    wanted = [d for d in tail.split(",") if d] if head in AGGREGATE_DEVICES else [device]
    for name in wanted:
        if not any(d == name or d.split(".")[0] == name for d in available):
            raise UsageError(f"device {name!r} is not present; available devices: {', '.join(available)}")


def compile_properties(config: DeviceConfig) -> dict:
    props: dict = {}
    if config.hint:
        props[hints.performance_mode()] = PERFORMANCE_MODES[config.hint]
    if config.nstreams:
        props[properties.streams.num()] = config.nstreams
    if config.nthreads:
        props[properties.inference_num_threads()] = config.nthreads
    return props


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "openvino-segmentation-demo" / "compiled"


def load_segmenter(core: ov.Core, path: Path, config: DeviceConfig,
                   policy: ResizePolicy | None = None) -> CompiledSegmenter:
    check_device(core, config.device)
    model = read_model(core, path)
    contract = recognise(model, str(path))
    policy = policy or default_policy(path.stem)
    input_size = embed_preprocessing(model, contract, policy, path)
    if config.cache_dir:
        core.set_property({properties.cache_dir(): str(config.cache_dir)})
    try:
        compiled = core.compile_model(model, config.device, compile_properties(config))
    except RuntimeError as error:
        raise DemoError(f"{path}: cannot compile for {config.device}: {openvino_reason(error)}") from None
    return CompiledSegmenter(compiled, contract, input_size, policy, path.stem)
