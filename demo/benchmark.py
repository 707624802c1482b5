"""``--benchmark``: the whole pipeline headless and flat out, set against the model alone.

The end-to-end run is the demo's own loop (:func:`demo.app.run`) with whatever renderer and
writers the command line built, over ``-niter`` frames or ``--time`` seconds of a looped
input. The inference-only run feeds the same compiled model one pre-decoded frame with the
same number of requests, as OpenVINO's ``benchmark_app`` does. Their quotient, the
efficiency, says how much of the model's throughput the pipeline keeps.

The two take turns in short rounds, each model-alone round as long as the pipeline round
before it: on a shared machine, a burst of other load during one long phase would
otherwise be charged to one side of the ratio only.
"""
from __future__ import annotations

import itertools
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import app, many
from .errors import UsageError
from .inference import Inputs, RequestQueue
from .instances import FrameResult
from .metrics import RunMetrics
from .segmenter import Segmenter
from .sinks import write_json
from .sources import Frame, FrameSource
from .tracker import MaskTracker

DEFAULT_SECONDS = 10.0
# Long enough that filling and draining the pipeline costs well under 1% of a round.
ROUND_SECONDS = 2.0


@dataclass(frozen=True)
class Throughput:
    frames: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the whole process's CPU time, all threads

    def __add__(self, other: Throughput) -> Throughput:
        return Throughput(self.frames + other.frames, self.seconds + other.seconds,
                          self.cpu_seconds + other.cpu_seconds)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_frame(self) -> float:
        return 1000 * self.cpu_seconds / self.frames if self.frames else 0.0


@dataclass(frozen=True)
class BenchmarkSettings:
    frames: int | None  # stop after this many frames...
    seconds: float | None  # ...or after this many seconds, whichever comes first
    report: Path | None

    def next_round(self, done: Throughput) -> tuple[int | None, float] | None:
        """The frames (None: no limit) and seconds of the next pipeline round; None when done."""
        frames = None if self.frames is None else self.frames - done.frames
        seconds = ROUND_SECONDS if self.seconds is None else min(ROUND_SECONDS, self.seconds - done.seconds)
        return (frames, seconds) if (frames is None or frames > 0) and seconds > 0 else None


@dataclass(frozen=True)
class LatencyStats:
    median: float
    mean: float
    min: float
    max: float
    p90: float
    p99: float

    @classmethod
    def of(cls, latencies_ms: list[float]) -> LatencyStats:
        values = np.asarray(latencies_ms, dtype=np.float64)
        if values.size == 0:
            return cls(*[float("nan")] * 6)
        median, p90, p99 = np.percentile(values, [50, 90, 99])
        return cls(float(median), float(values.mean()), float(values.min()), float(values.max()), float(p90),
                   float(p99))


@dataclass(frozen=True)
class BenchmarkReport:
    device: str
    config: dict[str, str]
    infer_requests: int
    frames: int
    seconds: float
    end_to_end_fps: float
    inference_only_fps: float
    efficiency: float
    latency_ms: LatencyStats
    stages_ms: dict[str, float]  # wall time per frame of each stage
    host_cpu_ms: dict[str, float]  # CPU time per frame of each stage the demo runs itself
    process_cpu_ms: dict[str, float]  # the process's CPU time per frame: end_to_end, inference_only
    peak_rss_mb: float
    live: LiveFigures | None = None  # for a camera or stream
    sources: dict[str, dict[str, float]] | None = None  # several inputs: each one's frames and FPS

    @classmethod
    def build(cls, device: str, config: dict[str, str], infer_requests: int, pipeline: Throughput,
              model_alone: Throughput, metrics: MeasuredMetrics, live: bool = False) -> BenchmarkReport:
        return cls(device, config, infer_requests, pipeline.frames, pipeline.seconds, pipeline.fps, model_alone.fps,
                   pipeline.fps / model_alone.fps if model_alone.fps else 0.0, LatencyStats.of(metrics.latencies_ms),
                   metrics.stage_means_ms(), metrics.host_cpu_means_ms(),
                   {"end_to_end": pipeline.cpu_ms_per_frame, "inference_only": model_alone.cpu_ms_per_frame},
                   peak_rss_mb(), LiveFigures.of(metrics) if live else None)

    @property
    def host_cpu_total_ms(self) -> float:
        return sum(self.host_cpu_ms.values())

    def text(self) -> str:
        def figures(values: dict[str, float]) -> str:
            return ", ".join(f"{name} {value:.2f}" for name, value in values.items())

        config = ", ".join(f"{name} {value}" for name, value in self.config.items())
        return "\n".join([
            f"device: {self.device} ({config}), {self.infer_requests} infer requests",
            f"frames: {self.frames} in {self.seconds:.2f} s",
            f"end-to-end throughput: {self.end_to_end_fps:.2f} FPS",
            f"inference-only throughput: {self.inference_only_fps:.2f} FPS "
            "(same compiled model and requests, one pre-decoded frame)",
            f"efficiency (end-to-end / inference-only): {self.efficiency:.3f}",
            f"latency (ms): {figures(asdict(self.latency_ms))}",
            f"stage time per frame (ms): {figures(self.stages_ms)}",
            f"host CPU per frame (ms): {figures(self.host_cpu_ms)}; total {self.host_cpu_total_ms:.2f}",
            f"process CPU per frame (ms): {figures(self.process_cpu_ms)}",
            f"peak memory: {self.peak_rss_mb:.0f} MB",
        ] + ([self.live.text()] if self.live else []) + ([self.sources_text()] if self.sources else []))

    def sources_text(self) -> str:
        return "per source: " + ", ".join(f"{name} {figures['frames']:.0f} frames, {figures['fps']:.2f} FPS"
                                          for name, figures in (self.sources or {}).items())


@dataclass(frozen=True)
class LiveFigures:
    """A live source's: the frames it delivered that the pipeline never took, and the age of those shown."""

    dropped_frames: int
    age_ms: dict[str, float]  # median, p95: from capture to the frame shown

    @classmethod
    def of(cls, metrics: MeasuredMetrics) -> LiveFigures:
        median, p95 = np.percentile(metrics.latencies_ms, [50, 95]) if metrics.latencies_ms else (np.nan,) * 2
        return cls(metrics.dropped, {"median": float(median), "p95": float(p95)})

    def text(self) -> str:
        return (f"live source: {self.dropped_frames} frames dropped; age of the frames shown (ms): median "
                f"{self.age_ms['median']:.2f}, p95 {self.age_ms['p95']:.2f}")



class MeasuredMetrics(RunMetrics):
    """RunMetrics that also keeps every frame's latency, for percentiles, and ticks a progress bar."""

    def __init__(self, progress: tqdm):
        super().__init__()
        self.latencies_ms: list[float] = []
        self.progress = progress
        self._round_started = False

    def new_round(self) -> None:
        # The first frame of a round counts as dropped what a live source delivered while the
        # model ran alone: that is the benchmark's doing, not the pipeline's.
        self._round_started = True

    def add(self, timings_ms: dict[str, float], latency_ms: float, cpu_ms: dict[str, float] | None = None,
            dropped_before: int = 0) -> None:
        super().add(timings_ms, latency_ms, cpu_ms, 0 if self._round_started else dropped_before)
        self._round_started = False
        self.latencies_ms.append(latency_ms)
        self.progress.update()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def until(frames: Iterable[Frame], count: int | None, seconds: float | None) -> Iterator[Frame]:
    """The frames up to ``count`` of them or until ``seconds`` have passed, whichever comes first."""
    deadline = time.perf_counter() + seconds if seconds else float("inf")
    for frame in itertools.islice(frames, count):
        if time.perf_counter() >= deadline:
            return
        yield frame


def measure_pipeline(segmenter: Segmenter, frames: Iterable[Frame], render: Callable[[FrameResult], np.ndarray],
                     outputs: app.Outputs, tracker: MaskTracker | None, metrics: RunMetrics,
                     live: bool, lanes: Mapping[str, app.Lane] | None = None) -> Throughput:
    counted, cpu_started, started = metrics.frames, time.process_time(), time.perf_counter()
    if lanes:  # several sources: each result through its own source's lane
        many.run(segmenter.stream(frames, live), lanes, many.GridScreen(None, None), metrics)
    else:
        app.run(segmenter, frames, render, outputs, tracker, metrics, live)
    return Throughput(metrics.frames - counted, time.perf_counter() - started, time.process_time() - cpu_started)


def warm_up(requests: RequestQueue, inputs: Inputs) -> None:
    for _ in range(len(requests)):
        requests.start_async(inputs)
    requests.wait_all()


def measure_inference_only(requests: RequestQueue, inputs: Inputs,
                           seconds: float) -> Throughput:
    """The compiled model alone, fed the same inputs over and over by ``requests`` for ``seconds``."""
    frames = 0
    cpu_started, started = time.process_time(), time.perf_counter()
    deadline = started + seconds
    while frames == 0 or time.perf_counter() < deadline:
        requests.start_async(inputs)  # returns as soon as a request is free
        frames += 1
    requests.wait_all()
    return Throughput(frames, time.perf_counter() - started, time.process_time() - cpu_started)


def run(segmenter: Segmenter, source: FrameSource, render: Callable[[FrameResult], np.ndarray], outputs: app.Outputs,
        tracker: MaskTracker | None, settings: BenchmarkSettings, device: str, live: bool,
        lanes: Mapping[str, app.Lane] | None = None) -> BenchmarkReport:
    """Warm up, then measure the pipeline and the model alone in turns; print and maybe write the report.

    With ``lanes`` the source is several sources merged (:mod:`demo.merge`), and each lane's are measured too."""
    frames = iter(source)
    sample = next(frames, None)
    if sample is None:
        raise UsageError("--benchmark: the input gave no frame")
    # A copy, because renderers may draw on the frames they are given.
    model = segmenter.model
    alone, inputs = model.engine.requests(segmenter.requests), model.inputs(sample.image.copy())
    # The warm-up fills the pipeline once without the writers, so they get only measured frames.
    warmup = itertools.chain([sample], itertools.islice(frames, segmenter.read_ahead(live) - 1))
    measure_pipeline(segmenter, warmup, render, app.Outputs(), tracker, RunMetrics(), live, many.unwritten(lanes))
    warm_up(alone, inputs)
    end_to_end, model_alone = Throughput(), Throughput()
    with tqdm(total=settings.frames, desc="benchmark", unit="frame", file=sys.stderr, disable=None) as progress:
        metrics = MeasuredMetrics(progress)
        while round_ := settings.next_round(end_to_end):
            metrics.new_round()
            measured = measure_pipeline(segmenter, until(frames, *round_), render, outputs, tracker, metrics, live,
                                        lanes)
            if not measured.frames:  # the input ran dry, or the time was too short for one frame
                break
            end_to_end += measured
            model_alone += measure_inference_only(alone, inputs, measured.seconds)
    report = BenchmarkReport.build(device, model.engine.config(), segmenter.requests, end_to_end,
                                   model_alone, metrics, source.live)
    if lanes:
        report = replace(report, sources={name: {"frames": lane.metrics.frames,
                                                 "fps": lane.metrics.frames / end_to_end.seconds}
                                          for name, lane in lanes.items()})
    print(report.text(), flush=True)
    if settings.report:
        write_json(settings.report, asdict(report), "the report", indent=2)
    return report
