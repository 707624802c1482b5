"""The Python API: open a model, segment a frame, stream frames.

    import demo
    with demo.open("yolo11n-seg.xml") as segmenter:    # or a name from models.lst
        result = segmenter(frame)                      # one BGR frame of any size
        for instance in result.instances:
            print(instance.name, instance.score, instance.box, instance.mask.area)
        for result in segmenter.stream(frames):        # the asynchronous, ordered pipeline
            ...
                                                       # here the model, its requests and threads are freed

The command line, ``eval`` and ``--benchmark`` are loops over :meth:`Segmenter.stream`.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import openvino as ov

from demo.core import values
from demo.core.blas import OneBlasThread
from demo.core.errors import DemoError, UsageError
from demo.core.flag import Flag, setting
from demo.core.metrics import StageClock
from demo.frames.merge import Feed, SourceMerger, merged
from demo.frames.sources import Frame, as_bgr
from demo.model.catalogue import DEFAULT_PRECISION, PRECISIONS, ResolvedModel
from demo.model.contracts import MODEL_TYPES, YOLACT_IOU_THRESHOLD, YOLO_IOU_THRESHOLD, DecodeLimits, Detections
from demo.model.download import Fetcher, default_models_dir, resolve_model
from demo.model.geometry import FitPlace, Geometry, ResizePolicy
from demo.model.inference import Engine
from demo.model.loading import (
    DeviceConfig,
    LoadedModel,
    LoadOptions,
    Network,
    default_cache_dir,
    first_stated,
    load_model,
)
from demo.model.pipeline import AsyncPipeline, InferredFrame
from demo.model.postprocess import to_instances
from demo.model.remote import DEFAULT_REQUESTS as DEFAULT_REMOTE_REQUESTS
from demo.model.remote import is_remote, load_served
from demo.results.instances import FrameResult
from demo.results.labels import COCO_LABELS, load_labels

ClassChoice = str | int  # a class name or id


# Each request holds its own tensors and the pipeline decodes two frames per request ahead.
MAX_REQUESTS = 64


@dataclass(frozen=True)
class Settings:
    """Every setting of :func:`open`, with the command line's defaults; a field's flag is declared beside it
    (demo.core.flag), and the command line and docs/cli.md are built from those declarations."""

    threshold: float = setting(Flag(("-t", "--prob_threshold"), "minimum score to keep (default: %(default)s)",
                                    values.probability, aliases=("--conf", "--conf_thres")), 0.5)
    iou_threshold: float | None = setting(Flag(
        ("--iou_threshold",), "YOLO-seg and YOLACT models: overlap above which NMS drops the weaker of two same-class "
        f"instances (default: the model's own, else {YOLO_IOU_THRESHOLD} for YOLO, {YOLACT_IOU_THRESHOLD} for "
        "YOLACT)", values.probability, aliases=("--iou",)), None)
    max_det: int = setting(Flag(("--max_det",), "most instances kept per frame (default: %(default)s)", values.positive),
                           100)
    classes: Sequence[ClassChoice] | None = setting(Flag(
        ("--classes",), "keep only these classes, by name or id, comma-separated or apart: person,car or 0 2 "
        "(or [0,2], as Ultralytics writes them)",
        values.class_list, metavar="NAMES", nargs="+", action="joined"), None)
    resize: ResizePolicy | str | None = setting(Flag(
        ("--resize_type",), "how frames fit the model input (default: the one the model was measured with)",
        choices=[policy.value for policy in ResizePolicy]), None)
    preprocess: FitPlace | str = setting(Flag(
        ("--preprocess",), "where frames are fitted (resized and padded) to the network: host (OpenCV, before "
        "they are submitted; the network gets an input of its own size), model (in the model's graph, from the "
        "whole frame) or auto: host for the CPU, the graph for other devices; a served model: host, so that the "
        "network's input is sent, not the frame (default: %(default)s)",
        choices=[place.value for place in FitPlace]), FitPlace.AUTO.value)
    labels: Path | str | Sequence[str] | None = setting(Flag(
        ("--labels",), "class names, one per line (default: the names the model carries, else COCO's, "
        f"{COCO_LABELS.relative_to(COCO_LABELS.parent.parent)})", Path), None)
    model_type: str | None = setting(Flag(
        ("--model_type",), "decode the model as this kind where its shapes cannot tell (default: recognised)",
        choices=MODEL_TYPES), None)
    matting: bool = False  # accept a matting model, whose only use is background compositing (--mode background)
    plate: np.ndarray | None = None  # a two-image matting model's clean background (--background IMAGE)
    hint: str | None = setting(Flag(
        ("--hint",), "OpenVINO performance hint (default: latency for a camera, throughput otherwise)",
        choices=["latency", "throughput"]), None)  # None: throughput
    streams: str | None = setting(Flag(("-nstreams", "--num_streams"), "CPU/GPU streams, a number >= 1 or AUTO",
                                       values.streams), None)
    threads: int | None = setting(Flag(("-nthreads", "--num_threads"), "CPU inference threads", values.threads), None)
    requests: int = setting(Flag(
        ("-nireq", "--num_infer_requests"), f"infer requests in flight, up to {MAX_REQUESTS} (0: the device's "
        f"optimal number; {DEFAULT_REMOTE_REQUESTS} for a served model)", values.whole_number(0, MAX_REQUESTS)), 0)
    cache_dir: Path | None = setting(Flag(
        ("--cache_dir",), "compiled-model cache, so the next start is fast (default: %(default)s)", Path,
        shown_default="~/.cache/openvino-segmentation-demo/compiled"),
        default_factory=default_cache_dir)  # None: no cache (--no_cache)
    precision: str = setting(Flag(("--precision",), "which files of a named model (default: %(default)s)",
                                  choices=PRECISIONS), DEFAULT_PRECISION)
    models_dir: Path | None = setting(Flag(
        ("--models_dir",), "where named models are kept ($DEMO_MODELS_DIR; default: %(default)s)", Path,
        default_from=default_models_dir, shown_default="~/.cache/openvino-segmentation-demo/models"),
        None)  # None: $DEMO_MODELS_DIR or the cache
    fetcher: Fetcher | None = None  # mirrors for named models (--mirror, --media_mirror); None: from the environment
    # Attempts to reach a served model's lost server again before the run ends (--reconnect, for a live
    # source, where the command line chooses by the source); 0: end at once; None: keep trying.
    reconnect: int | None = 0

    def device_config(self, device: str) -> DeviceConfig:
        # OpenVINO spells every device in capitals; Ultralytics' users type cpu
        return DeviceConfig(device.upper(), self.hint or "throughput", self.streams, self.threads, self.requests,
                            self.cache_dir)

    def load_options(self) -> LoadOptions:
        return LoadOptions(ResizePolicy(self.resize) if self.resize else None, self.model_type, self.matting,
                           self.plate, FitPlace(self.preprocess))


def resolve(model: str | Path | None, settings: Settings = Settings()) -> ResolvedModel:
    """The model file ``model`` names (fetched and verified on first use for a catalogue name; the one .xml of a
    folder), with its facts; or a served model's address
    (http|https|grpc|grpcs://HOST:PORT/v2/models/NAME[/versions/N])."""
    if is_remote(model):
        return ResolvedModel(None, url=str(model))
    return resolve_model(model, settings.precision, settings.models_dir or default_models_dir(),
                         settings.fetcher or Fetcher.from_environment())


def open(model: str | Path | None = None, device: str = "CPU", **settings: object) -> Segmenter:  # noqa: A001
    """Load ``model`` (a name from models.lst, None for the default, an .xml/.onnx/.tflite path, a folder
    holding one .xml such as Ultralytics' OpenVINO export, or a served model's address, see :func:`resolve`)
    on ``device``.

    ``settings`` are the fields of :class:`Settings`; an unknown one is a TypeError.
    """
    chosen = Settings(**settings)  # type: ignore[arg-type]
    return Segmenter.load(resolve(model, chosen), device, chosen)


class Segmenter:
    """A loaded model that turns BGR frames into :class:`~demo.results.instances.FrameResult` objects.

    It holds the compiled model, its infer requests and the device's threads for them (a served model: its
    connections) until :meth:`close`, or the end of a ``with`` block; meanwhile NumPy's BLAS runs on one
    thread (:mod:`demo.core.blas`).
    """

    def __init__(self, model: LoadedModel, labels: list[str], limits: DecodeLimits, requests: int = 0,
                 classes: frozenset[int] | None = None):
        self.model = model
        self.labels = labels
        self.limits = limits
        self.classes = classes
        self._pipeline: AsyncPipeline | None = AsyncPipeline(model, requests)  # None once closed
        self._request_lock = threading.Lock()
        # One dropped without close() is closed when it is collected: a served model's worker threads hold their
        # queue, and would outlive it. Not at the interpreter's exit, which ends them anyway.
        self._closer = weakref.finalize(self, _let_go, model.engine, OneBlasThread())
        self._closer.atexit = False

    @classmethod
    def load(cls, resolved: ResolvedModel, device: str = "CPU", settings: Settings = Settings()) -> Segmenter:
        model = load_served(ov.Core(), resolved.url, settings.load_options(), settings.reconnect) if resolved.url \
            else load_model(ov.Core(), resolved, settings.device_config(device), settings.load_options())
        labels = class_names(settings.labels, model.labels)
        limits = DecodeLimits(settings.threshold, first_stated(settings.iou_threshold, model.stated_iou),
                              settings.max_det)
        classes = class_ids(settings.classes, labels) if settings.classes else None
        return cls(model, labels, limits, settings.requests, classes)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def requests(self) -> int:
        """Infer requests the stream keeps in flight."""
        return self._running_pipeline().nireq

    def read_ahead(self, live: bool = False) -> int:
        """Frames a stream takes from its input before the first result comes out."""
        return self._running_pipeline().capacity(live)

    def close(self) -> None:
        """Release the model and everything it runs on. A stream already running keeps what it uses until it
        ends; any other use afterwards is a DemoError. Closing again does nothing."""
        with self._request_lock:  # not in the middle of a call from another thread
            if self._pipeline is not None:
                self._pipeline = None
                self._closer()

    def __enter__(self) -> Segmenter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __call__(self, frame: np.ndarray, **limits: float | None) -> FrameResult:
        """One frame, synchronously: its instances in frame pixels. ``limits`` override threshold,
        iou_threshold or max_det for this call."""
        image = as_bgr(frame)
        chosen = self._limits(limits)
        with self._request_lock:  # one request of its own, so calls from several threads take turns
            self._running_pipeline()  # a closed segmenter has no model left to infer with
            detections = self.model.contract.decode(self.model.engine.infer(self.model.inputs(image)), chosen)
        return FrameResult(0, image, self._instances(detections, image))

    def stream(self, frames: Iterable[Frame | np.ndarray], live: bool = False,
               idle: Callable[[], bool] | None = None, **limits: float | None) -> Iterator[FrameResult]:
        """Every frame's result, in order, with inference running ahead on all requests.

        ``frames`` are arrays or :class:`~demo.frames.sources.Frame` objects. For a ``live`` source a frame
        is taken only when a request is free, so that it is as new as can be. ``idle`` is called
        while no result has come for a moment; when it returns True the stream ends. Closing the
        iterator stops the pipeline cleanly.
        """
        inferred = self._running_pipeline().run(as_frames(frames), self._limits(limits), live, idle)
        try:
            for item in inferred:
                clock = StageClock(item.timings_ms, item.cpu_ms)
                instances = self._instances(item.detections, item.frame.image)
                clock.lap("postprocess")
                yield result_of(item, instances)
        finally:
            inferred.close()

    def stream_many(self, sources: Mapping[str, Iterable[Frame | np.ndarray]],
                    newest_only: Mapping[str, bool] | None = None, on_end: Callable[[Feed], None] | None = None,
                    idle: Callable[[], bool] | None = None, **limits: float | None) -> Iterator[FrameResult]:
        """Several sources, by name, through this one model: each is read on a thread of its own and taken in
        turn (a fast file never crowds out a camera); each result's ``source`` is its source's name, and each
        source's results come in its own frame order. A source whose ``live`` is true (a camera, a stream)
        keeps only its newest frame unless ``newest_only`` says otherwise; ``on_end`` is told when a source
        ends or fails, while the others go on. A recurrent model, whose states follow one video, takes one.
        """
        self._running_pipeline()  # before any source's reader starts
        if self.model.recurrent:
            raise UsageError(f"{self.name} is a recurrent model, whose states follow one video: give it one "
                             "source, not several")
        frames = merged({name: as_frames(frames) for name, frames in sources.items()},
                        {name: bool(getattr(frames, "live", False)) for name, frames in sources.items()}
                        | dict(newest_only or {}), on_end)
        return self._stream_merged(frames, idle, limits)

    def _stream_merged(self, frames: SourceMerger, idle: Callable[[], bool] | None,
                       limits: dict[str, float | None]) -> Iterator[FrameResult]:
        results = self.stream(frames, frames.live, idle, **limits)
        try:
            for result in results:
                yield result
        finally:
            # The merger first, which frees a producer waiting for a frame; its readers are then out of
            # the sources, which their owner closes next.
            frames.close()
            results.close()

    def geometry(self, frame: np.ndarray) -> Geometry:
        """Where a frame of this size lands in the model input."""
        return self.model.geometry(frame)

    def network(self) -> Network:
        """This model's network alone, compiled (or reached) anew as this one was, without the frames'
        pre-processing, as benchmark_app runs it; ``--benchmark`` measures the pipeline against it.
        The caller closes it."""
        self._running_pipeline()
        if self.model.network is None:
            raise DemoError(f"{self.name}: this segmenter was not loaded from a model file or address")
        return self.model.network()

    def _running_pipeline(self) -> AsyncPipeline:
        if self._pipeline is None:
            raise DemoError(f"{self.name}: this segmenter is closed; open the model again with demo.open()")
        return self._pipeline

    def _limits(self, overrides: dict[str, float | None]) -> DecodeLimits:
        unknown = set(overrides) - {"threshold", "iou_threshold", "max_det"}
        if unknown:
            raise TypeError(f"unknown limits: {', '.join(sorted(unknown))}")
        return replace(self.limits, **overrides) if overrides else self.limits

    def _instances(self, detections: Detections, image: np.ndarray) -> list:
        if self.classes is not None:
            detections = detections.of_classes(self.classes)
        return to_instances(detections, self.model.geometry(image), image.shape, self.labels)


def _let_go(engine: Engine, blas: OneBlasThread) -> None:
    """What an open segmenter holds, given back: its engine, and its hold on NumPy's BLAS threads."""
    try:
        engine.close()
    finally:
        blas.release()


def result_of(item: InferredFrame, instances: list) -> FrameResult:
    frame = item.frame
    return FrameResult(frame.index, frame.image, instances, item.timings_ms, frame.name, item.cpu_ms,
                       frame.captured, frame.dropped_before, frame.source)


def as_frames(frames: Iterable[Frame | np.ndarray]) -> Iterator[Frame]:
    for index, frame in enumerate(frames):
        yield frame if isinstance(frame, Frame) else Frame(index, as_bgr(frame), "")


def class_names(labels: Path | str | Sequence[str] | None, model_labels: tuple[str, ...]) -> list[str]:
    """The names given (a file, or the names), else the ones the model carries, else COCO's."""
    if isinstance(labels, (str, Path)):
        return load_labels(Path(labels))
    if labels is not None:
        return list(labels)
    return list(model_labels) if model_labels else load_labels(COCO_LABELS)


def class_ids(chosen: Sequence[ClassChoice], labels: list[str]) -> frozenset[int]:
    """The ids of classes chosen by name (as the labels spell them, any case) or by id."""
    by_name = {name.lower(): index for index, name in enumerate(labels)}
    ids, unknown = set(), []
    for choice in chosen:
        text = str(choice).strip()
        if text.isdigit():
            ids.add(int(text))
        elif text.lower() in by_name:
            ids.add(by_name[text.lower()])
        else:
            unknown.append(text)
    if unknown:
        raise UsageError(f"unknown class {', '.join(map(repr, unknown))}; the model's classes are: "
                         f"{', '.join(labels) or 'numbers only (no labels)'}")
    return frozenset(ids)
