"""Reading a segmentation model, embedding its pre-processing, and compiling it for a device.

Frames are fitted to the network (resized and padded) either here, with OpenCV, before they are
submitted, or inside the model's graph; :func:`fits_on_host` is the rule that chooses. The rest of
the preparation (layout, element type, colour order, mean and scale) is always in the graph.
"""
from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
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
from demo.model.geometry import FitPlace, Geometry, ResizePolicy, build_fit_graph, fit_to, geometry_for
from demo.model.inference import Engine, Inputs, LocalEngine
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
    contract that decodes its outputs. With ``fit_here`` each frame is fitted to the input before it is
    submitted; otherwise the model's graph fits it."""

    engine: Engine
    contract: Contract
    input_size: tuple[int, int]  # (width, height) the network sees
    policy: ResizePolicy
    name: str
    labels: tuple[str, ...] = ()  # the class names the model carries, if any
    stated_iou: float | None = None  # the NMS threshold the model's metadata gives
    plate: np.ndarray | None = None  # a two-image matting model's clean background, BGR u8 as read
    fit_here: bool = False  # frames are fitted to the input on the host (OpenCV), not in the graph
    pad_value: float = 0.0  # what the network's input is padded with: a whole u8 level where the host fits frames
    # The network alone, without pre-processing, compiled anew (the benchmark's reference); None: not known.
    network: Callable[[], Network] | None = field(default=None, compare=False, repr=False)
    _plates: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @property
    def recurrent(self) -> bool:
        """Its states carry from frame to frame: one request, frames in order, reset at a cut."""
        return self.contract.stateful

    def geometry(self, frame: np.ndarray) -> Geometry:
        return geometry_for((frame.shape[1], frame.shape[0]), self.input_size, self.policy)

    def inputs(self, frame: np.ndarray) -> Inputs:
        inputs = {self.contract.image_input: self.image(frame), **self.contract.extra_inputs(self.input_size)}
        if self.plate is not None:
            inputs[self.contract.plate_input] = self._plate_for(frame)
        return inputs

    def image(self, picture: np.ndarray) -> np.ndarray:
        """A BGR u8 picture as the model takes it, [1, h, w, 3]: fitted here, or whole for the graph to fit."""
        if self.fit_here:
            return self.geometry(picture).fit(picture, int(self.pad_value))
        return picture[np.newaxis]

    def _plate_for(self, frame: np.ndarray) -> np.ndarray:
        """The plate stretched to the frame, then fitted as the frame is; once per size."""
        size = (frame.shape[1], frame.shape[0])
        if size not in self._plates:
            self._plates.clear()
            self._plates[size] = np.ascontiguousarray(self.image(fit_to(self.plate, size)))
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
                        path: Path | str, extra_images: tuple[int, ...] = (), fit_in_graph: bool = True,
                        ) -> tuple[int, int]:
    """Make the image input (and ``extra_images``, such as a plate) take u8 NHWC BGR frames, prepared as
    the network was trained; return the network's (w, h). With ``fit_in_graph`` the frames may be of any
    size and the graph fits them; without, they come fitted, at the network's own size."""
    port = model.input(contract.image_input)
    layout = image_layout(port) or "NCHW"
    input_size = _image_size(port, layout, path)
    ppp = PrePostProcessor(model)
    for index in [contract.image_input, *extra_images]:
        image = ppp.input(index)
        tensor = image.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
        image.model().set_layout(ov.Layout(layout))
        steps = image.preprocess().convert_element_type(ov.Type.f32)
        if fit_in_graph:
            tensor.set_spatial_dynamic_shape()
            steps.custom(lambda node: build_fit_graph(node, input_size, preprocessing.policy,
                                                      preprocessing.pad_value))
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
    fit: FitPlace = FitPlace.AUTO  # where frames are fitted to the network


def fits_on_host(place: FitPlace, device: str, available: Sequence[str], pad_value: float, label: Path | str) -> bool:
    """Whether frames are fitted to the network here rather than in its graph: ``place`` (--preprocess)
    if it says, else the rule, which goes by ``device``:

    - The CPU alone (``CPU``, or ``AUTO``, ``MULTI``, ``HETERO`` over the CPU only; ``AUTO`` alone over
      the ``available`` devices): here. OpenCV resizes the u8 frame (1080p to 544x320 in about 0.5 ms),
      where the graph's f32 Interpolate of the whole frame cost a fifth of the network's own time on the
      same cores (person-0007's cost: 47-50 ms against 38 ms), and the network takes a tensor of its own
      size, not the frame.
    - Any other device (GPU, NPU, or one that AUTO may pick): in the graph, where the frame is uploaded
      once and resized by the device, off the host's cores.

    A pad value that a u8 frame cannot hold is padded in the graph; asked for here, it is an error.
    """
    if place is FitPlace.HOST and not padded_in_u8(pad_value):
        raise UsageError(f"{label}: its pad value {pad_value:g} does not fit in the u8 frame the host fits: "
                         "use --preprocess model")
    if place is not FitPlace.AUTO:
        return place is FitPlace.HOST
    return padded_in_u8(pad_value) and all(name.split(".")[0] == "CPU" for name in devices_of(device, available))


def padded_in_u8(pad_value: float) -> bool:
    """Whether the host can pad a u8 frame with ``pad_value`` exactly as the graph pads it in f32."""
    return float(pad_value).is_integer() and 0 <= pad_value <= 255


def devices_of(device: str, available: Sequence[str]) -> list[str]:
    """The devices a model compiled for ``device`` may run on: an aggregate's list (AUTO alone: every
    device present), else the device itself."""
    head, _, tail = device.partition(":")
    if head not in AGGREGATE_DEVICES:
        return [device]
    return [name for name in tail.split(",") if name] or list(available)


def first_stated(*choices: T | None) -> T | None:
    """The first choice that is not None: every setting is resolved in the same order, the user's
    (a flag, a keyword), then what the model says about itself (rt_info, metadata.yaml), then the
    catalogue's facts for a named model, then the contract's default."""
    return next((choice for choice in choices if choice is not None), None)


def preprocessing_of(contract: Contract, info: ModelInfo, resize: ResizePolicy | None,
                     catalogue_resize: ResizePolicy | None = None) -> Preprocessing:
    """How frames are prepared for the network, its resize policy resolved in :func:`first_stated`'s order."""
    policy = first_stated(resize, info.policy, catalogue_resize, contract.preprocessing.policy, ResizePolicy.STRETCH)
    return replace(info.preprocessing(contract.preprocessing), policy=policy)


def prepare(model: ov.Model, contract: Contract, preprocessing: Preprocessing, label: Path | str,
            fit_in_graph: bool = True) -> tuple[int, int]:
    """Shape ``model`` as ``contract`` runs it and embed ``preprocessing`` (from :func:`preprocessing_of`) into it,
    the fit too with ``fit_in_graph``; return the network's (w, h). The one preparation of a model run here, one
    exported for a model server, and the model that prepares frames here for a served network."""
    contract.prepare(model)
    return embed_preprocessing(model, contract, preprocessing, label, contract.extra_image_inputs, fit_in_graph)


def read_local(core: ov.Core, path: Path) -> tuple[ov.Model, ModelInfo]:
    """A model file as the demo runs it, and what it says about itself; one already exported is refused."""
    model = read_model(core, path)
    info = read_model_info(model, path)
    refuse_exported(model, path)
    fold_weight_decompression(model)
    return model, info


def load_model(core: ov.Core, resolved: ResolvedModel, config: DeviceConfig,
               options: LoadOptions = LoadOptions()) -> LoadedModel:
    """Read, recognise, embed the pre-processing (the fit too, unless the host fits frames) and compile."""
    path = resolved.path
    check_device(core, config.device)
    model, info = read_local(core, path)
    contract, plate = recognised(model, str(path), info, options)
    preprocessing = preprocessing_of(contract, info, options.resize, resolved.facts.resize)
    fit_here = fits_on_host(options.fit, config.device, core.available_devices, preprocessing.pad_value, path)
    input_size = prepare(model, contract, preprocessing, path, fit_in_graph=not fit_here)
    compiled = compile_for(core, model, config, path)
    return LoadedModel(LocalEngine(compiled), contract, input_size, preprocessing.policy, path.stem,
                       info.labels or resolved.facts.labels, info.iou_threshold, plate, fit_here,
                       preprocessing.pad_value,
                       partial(load_network, resolved, config, options))


def compile_for(core: ov.Core, model: ov.Model, config: DeviceConfig, path: Path) -> ov.CompiledModel:
    cache_dir = usable_cache(config.cache_dir) if config.cache_dir else None
    if cache_dir:
        core.set_property({properties.cache_dir(): str(cache_dir)})
    try:
        return core.compile_model(model, config.device, compile_properties(config))
    except RuntimeError as error:
        raise DemoError(f"{path}: cannot compile for {config.device}: {openvino_reason(error)}") from None


@dataclass(frozen=True)
class Network:
    """The network alone, as benchmark_app runs it: its own input size, element type and layout, nothing
    of the frame's preparation in its graph; and how a frame becomes its inputs, to be done beforehand."""

    engine: Engine
    # Takes a frame as a model does (its inputs()); its engine's outputs are the network's inputs,
    # or with ``converts`` False, those inputs are already.
    preparation: LoadedModel
    converts: bool = True

    def inputs(self, frame: np.ndarray) -> Inputs:
        inputs = self.preparation.inputs(frame)
        if not self.converts:
            return inputs
        return {index: np.array(output) for index, output in enumerate(self.preparation.engine.infer(inputs))}

    def close(self) -> None:
        self.engine.close()
        if self.converts:
            self.preparation.engine.close()


def identity_of(signature: ov.Model) -> ov.Model:
    """A model that gives back its inputs, with the signature's input ports: the pre-processing is
    embedded into it to prepare frames on the host exactly as the graph of the model itself would."""
    parameters = []
    for port in signature.inputs:
        parameter = ops.parameter(port.get_partial_shape(), port.get_element_type(), name=port.get_any_name())
        parameter.output(0).set_names(set(port.get_names()))
        parameters.append(parameter)
    return ov.Model([ops.result(p) for p in parameters], parameters, "preparation")


def load_network(resolved: ResolvedModel, config: DeviceConfig, options: LoadOptions) -> Network:
    """The network of :func:`load_model` alone, compiled as it is, and its frames' preparation. On a Core of its
    own: a loaded model that kept one would keep the plugin's threads after it is closed."""
    core, path = ov.Core(), resolved.path
    model, info = read_local(core, path)
    contract, plate = recognised(model, str(path), info, options)
    contract.prepare(model)
    preparation = identity_of(model)
    preprocessing = preprocessing_of(contract, info, options.resize, resolved.facts.resize)
    exact = padded_in_u8(preprocessing.pad_value)
    input_size = embed_preprocessing(preparation, contract, preprocessing, path, contract.extra_image_inputs,
                                     fit_in_graph=not exact)
    preparing = LoadedModel(LocalEngine(core.compile_model(preparation, "CPU")), contract, input_size,
                            preprocessing.policy, path.stem, plate=plate, fit_here=exact,
                            pad_value=preprocessing.pad_value)
    return Network(LocalEngine(compile_for(core, model, config, path)), preparing)


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
