"""Reading a segmentation model, embedding its pre-processing, and compiling it for a device."""
from __future__ import annotations

import logging
import os
import stat
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import openvino.properties as properties
import openvino.properties.hint as hints
from openvino.preprocess import PrePostProcessor

from demo.core import files
from demo.core.errors import DemoError, UsageError, native_stderr_captured, openvino_reason
from demo.core.textfile import special_kind
from demo.model.catalogue import ResolvedModel
from demo.model.contracts import Contract, Preprocessing, image_layout, image_size, recognise
from demo.model.download import cache_root
from demo.model.geometry import Geometry, ResizePolicy, build_fit_graph, fit_to, geometry_for
from demo.model.inference import Engine, LocalEngine
from demo.model.model_info import METADATA_FILE, SECTION, ModelInfo, read_model_info
from demo.results.labels import COCO_LABELS

MODEL_FORMATS = {".xml": "OpenVINO IR", ".onnx": "ONNX", ".tflite": "TFLite"}
MODEL_SUFFIXES = tuple(MODEL_FORMATS)
AGGREGATE_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")
CACHE_PROBE_BYTES = 4096  # one block: enough to meet a full disk
log = logging.getLogger("demo")
T = TypeVar("T")
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
class LoadedModel:
    """A model ready to infer (compiled here, or served) that takes a BGR u8 frame of any size, and the
    contract that decodes its outputs."""

    engine: Engine
    contract: Contract
    input_size: tuple[int, int]  # (width, height) the network sees
    policy: ResizePolicy
    name: str
    labels: tuple[str, ...] = ()  # the class names the model carries, if any
    stated_iou: float | None = None  # the NMS threshold the model's metadata gives
    plate: np.ndarray | None = None  # a two-image matting model's clean background, BGR u8 as read
    _plates: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @property
    def recurrent(self) -> bool:
        """Its states carry from frame to frame: one request, frames in order, reset at a cut."""
        return self.contract.stateful

    def geometry(self, frame: np.ndarray) -> Geometry:
        return geometry_for((frame.shape[1], frame.shape[0]), self.input_size, self.policy)

    def inputs(self, frame: np.ndarray) -> dict[int, np.ndarray]:
        inputs = {self.contract.image_input: frame[np.newaxis], **self.contract.extra_inputs(self.input_size)}
        if self.plate is not None:
            inputs[self.contract.plate_input] = self._plate_for(frame)
        return inputs

    def _plate_for(self, frame: np.ndarray) -> np.ndarray:
        """The plate stretched to the frame, so that the graph fits both to the input alike; once per size."""
        size = (frame.shape[1], frame.shape[0])
        if size not in self._plates:
            self._plates.clear()
            self._plates[size] = np.ascontiguousarray(fit_to(self.plate, size)[np.newaxis])
        return self._plates[size]


def input_files(path: Path | None, labels: object = None) -> list[files.Named]:
    """The files a model (None: a served one) and its class names may be read from (``labels`` if it is
    a file, COCO's names if None), which no output may replace, named by the flags that give them."""
    model = [] if path is None else [path, path.with_suffix(".bin")] if path.suffix.lower() == ".xml" else [path]
    beside = [] if path is None else [path.parent / METADATA_FILE]
    named = [files.Named("-m", p) for p in [*model, *beside] if p.exists()]
    labels_file = COCO_LABELS if labels is None else Path(labels) if isinstance(labels, (str, Path)) else None
    return named + ([files.Named("--labels", labels_file)] if labels_file else [])


def read_model(core: ov.Core, path: Path) -> ov.Model:
    if kind := special_kind(path):  # OpenVINO would wait for ever on a named pipe or a device
        raise DemoError(f"model {path} is {kind}, not a model file")
    if not path.is_file():
        raise DemoError(f"model file not found: {path}")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise DemoError(f"{path}: not a model file; expected one of {', '.join(MODEL_SUFFIXES)}")
    weights = path.with_suffix(".bin")
    if path.suffix.lower() == ".xml" and (kind := special_kind(weights)):
        raise DemoError(f"{path}: its weights file {weights.name} is {kind}, not a file of weights")
    if path.suffix.lower() == ".xml" and not weights.is_file():
        raise DemoError(f"{path}: its weights file {weights.name} is missing beside it")
    # The frontends that try a file in turn print their parse errors (TensorFlow's absl log) to
    # file descriptor 2; the reason worth one line is in the exception.
    try:
        with native_stderr_captured():
            return core.read_model(path)
    except RuntimeError as error:
        raise DemoError(f"{path}: cannot read the model ({_read_failure(error, path)})") from None


def _read_failure(error: RuntimeError, path: Path) -> str:
    reason = openvino_reason(error)
    if reason.startswith("Unable to read the model"):  # no frontend took it: OpenVINO names only the suffix
        return f"not a valid {MODEL_FORMATS[path.suffix.lower()]} file: damaged, truncated or another format"
    return reason


def fold_weight_decompression(model: ov.Model) -> None:
    """Turn integer weights that the graph converts to float into float weights.

    Only for weight-only quantisation (integer weights, no FakeQuantize: TFLite INT8 exports
    with float activations). Left to the plugin, OpenVINO 2026.4's CPU plugin compiled such a
    model wrong about one time in three with two or more streams (scores all 1.0, masks
    garbled); folded here, every compile was right. The weights take 4x the memory: a few MB.
    """
    if any(op.get_type_name() == "FakeQuantize" for op in model.get_ops()):
        return
    for op in model.get_ops():
        source = op.input_value(0).get_node() if op.get_type_name() == "Convert" else None
        if source is None or source.get_type_name() != "Constant" or not source.get_element_type().is_integral():
            continue
        weights = source.get_data().astype(op.get_output_element_type(0).to_dtype())
        op.output(0).replace(ops.constant(weights).output(0))


def _image_size(port: ov.Output, layout: str, path: Path | str) -> tuple[int, int]:
    size = image_size(port, layout)
    if size is None:
        raise DemoError(f"{path}: the image input {port.get_partial_shape()} must have a static size to fit "
                        "frames to")
    return size


def embed_preprocessing(model: ov.Model, contract: Contract, preprocessing: Preprocessing,
                        path: Path | str, extra_images: tuple[int, ...] = ()) -> tuple[int, int]:
    """Make the image input (and ``extra_images``, such as a plate) take u8 NHWC BGR frames of any
    size, prepared as the network was trained; return the network's (w, h)."""
    port = model.input(contract.image_input)
    layout = image_layout(port) or "NCHW"
    input_size = _image_size(port, layout, path)
    ppp = PrePostProcessor(model)
    for index in [contract.image_input, *extra_images]:
        image = ppp.input(index)
        image.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_spatial_dynamic_shape()
        image.model().set_layout(ov.Layout(layout))
        steps = image.preprocess().convert_element_type(ov.Type.f32).custom(
            lambda node: build_fit_graph(node, input_size, preprocessing.policy, preprocessing.pad_value))
        if preprocessing.reverse_channels:
            steps.reverse_channels()
        if any(preprocessing.mean):
            steps.mean(list(preprocessing.mean))
        if any(value != 1.0 for value in preprocessing.scale):
            steps.scale(list(preprocessing.scale))
    ppp.build()
    return input_size


def refuse_exported(model: ov.Model, path: Path) -> None:
    """A model whose pre-processing is already in its graph cannot take it again."""
    if model.has_rt_info([SECTION, "embedded_processing"]):
        raise DemoError(f"{path}: made for a model server by `python -m demo export` (its pre-processing is "
                        "in the graph): serve it, or run the model it was exported from")


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
    return cache_root() / "compiled"


def usable_cache(folder: Path) -> Path | None:
    """``folder`` if a compiled model can be cached there, else None after one warning.

    The cache only makes the next start faster, so a read-only or full disk, or a file where the
    folder should be, must not stop the run. A probe write finds all three before OpenVINO does
    (it fails on an unwritable folder and silently drops a blob it cannot finish).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(bytes(CACHE_PROBE_BYTES))
            probe.flush()
        unusable = _others_write_in(folder)
    except OSError as error:
        unusable = error.strerror or str(error)
    if unusable:
        log.warning("compiled-model cache %s is unusable (%s): running without it", files.shown(folder), unusable)
        return None
    return folder


def _others_write_in(folder: Path) -> str | None:
    """Why other users can put files in ``folder``, if they can. OpenVINO writes its blobs by name,
    following a link: one planted at a blob's predictable name would overwrite a file of this user."""
    info = folder.stat()
    if info.st_uid != os.geteuid():
        return f"it belongs to uid {info.st_uid}"
    if info.st_mode & stat.S_IWOTH:
        return "every user can write in it"
    return None


@dataclass(frozen=True)
class LoadOptions:
    """How to read a model where its file cannot tell (None: what the model says, else the defaults)."""

    resize: ResizePolicy | None = None
    model_type: str | None = None  # force this contract
    matting: bool = False  # accept a matting model (background mode)
    plate: np.ndarray | None = field(default=None, compare=False)  # a two-image matting model's clean background


def first_stated(*choices: T | None) -> T | None:
    """The first choice that is not None: every setting is resolved in the same order, the user's
    (a flag, a keyword), then what the model says about itself (rt_info, metadata.yaml), then the
    catalogue's facts for a named model, then the contract's default."""
    return next((choice for choice in choices if choice is not None), None)


@dataclass(frozen=True)
class Prepared:
    """How frames are prepared for a model, as :func:`prepare` embedded it."""

    preprocessing: Preprocessing  # its policy resolved
    input_size: tuple[int, int]  # (width, height) the network sees


def prepare(model: ov.Model, contract: Contract, info: ModelInfo, label: Path | str, resize: ResizePolicy | None,
            catalogue_resize: ResizePolicy | None = None) -> Prepared:
    """Shape ``model`` as ``contract`` runs it, resolve how frames are prepared (in :func:`first_stated`'s
    order) and embed that into it. The one preparation of a model run here, one exported for a model
    server, and the model that prepares frames here for a served network."""
    contract.prepare(model)
    policy = first_stated(resize, info.policy, catalogue_resize, contract.preprocessing.policy, ResizePolicy.STRETCH)
    preprocessing = replace(info.preprocessing(contract.preprocessing), policy=policy)
    return Prepared(preprocessing, embed_preprocessing(model, contract, preprocessing, label,
                                                       contract.extra_image_inputs))


def read_local(core: ov.Core, path: Path) -> tuple[ov.Model, ModelInfo]:
    """A model file as the demo runs it, and what it says about itself; one already exported is refused."""
    model = read_model(core, path)
    info = read_model_info(model, path)
    refuse_exported(model, path)
    fold_weight_decompression(model)
    return model, info


def load_model(core: ov.Core, resolved: ResolvedModel, config: DeviceConfig,
               options: LoadOptions = LoadOptions()) -> LoadedModel:
    """Read, recognise, embed the pre-processing and compile."""
    path = resolved.path
    check_device(core, config.device)
    model, info = read_local(core, path)
    contract, plate = recognised(model, str(path), info, options)
    prepared = prepare(model, contract, info, path, options.resize, resolved.facts.resize)
    cache_dir = usable_cache(config.cache_dir) if config.cache_dir else None
    if cache_dir:
        core.set_property({properties.cache_dir(): str(cache_dir)})
    try:
        compiled = core.compile_model(model, config.device, compile_properties(config))
    except RuntimeError as error:
        raise DemoError(f"{path}: cannot compile for {config.device}: {openvino_reason(error)}") from None
    return LoadedModel(LocalEngine(compiled), contract, prepared.input_size, prepared.preprocessing.policy, path.stem,
                       info.labels or resolved.facts.labels, info.iou_threshold, plate)


def recognised(model: ov.Model, label: str, info: ModelInfo, options: LoadOptions) -> tuple[Contract, np.ndarray | None]:
    """The model's contract, checked against what the caller asked for, and the plate it takes if any."""
    contract = recognise(model, label, info, options.model_type)
    if contract.soft_output and not options.matting:
        raise UsageError(f"{label}: a matting model: use --mode background")
    return contract, check_plate(contract, options.plate, label)


def check_plate(contract: Contract, plate: np.ndarray | None, path: Path | str) -> np.ndarray | None:
    """The plate a two-image matting model needs; one that another model would not use is left out."""
    if contract.plate_input is not None:
        if plate is None:
            raise UsageError(f"{path}: a two-image matting model: give --background IMAGE, a picture of the "
                             "scene without the person, taken from the same place")
        return plate
    if plate is not None:
        log.warning("--background is for two-image matting models (background-matting); this model does "
                    "not take it")
    return None
