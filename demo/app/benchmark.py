"""``--benchmark``: the whole pipeline headless and flat out, set against the network alone.

The end-to-end run is the demo's own loop (:func:`demo.app.run.deliver`) through the lanes and
writers the command line built, over ``-niter`` frames or ``--time`` seconds of a looped
input. The reference is the network alone, as OpenVINO's ``benchmark_app`` runs it: the raw
network, compiled for the same device with the same settings and as many requests, at its own
input size, element type and layout, nothing of the frames' preparation in its graph, fed inputs
prepared beforehand from frames of the same input, its outputs not read. Whatever the pipeline
adds to the network (decoding, fitting frames, in the graph or here, post-processing, drawing,
writing) shows as the cost it is. Their quotient, the efficiency, says how much of the network's
throughput the pipeline keeps; the report splits a frame's CPU time into those shares.

The two take turns in short rounds, each network-alone round as long as the pipeline round
before it: on a shared machine, a burst of other load during one long phase would
otherwise be charged to one side of the ratio only. The spread of the rounds' efficiencies
is the run's noise, and the report gives it.
"""
from __future__ import annotations

import itertools
import os
import resource
import statistics
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from demo.app import many
from demo.app import run as app
from demo.core.errors import UsageError
from demo.core.metrics import RunMetrics
from demo.core.wording import counted
from demo.frames.sources import Frame, FrameSource
from demo.model.inference import Inputs, RequestQueue
from demo.model.segmenter import Segmenter
from demo.outputs.sinks import write_json

DEFAULT_SECONDS = 10.0
# Short, for many rounds and so a measure of the noise; filling and draining cost both sides alike.
ROUND_SECONDS = 1.0
# Other processes' share of the cores above which the report says the throughputs are not the machine's best.
NOTABLE_OTHER_LOAD = 0.05


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
    # Each frame drawn as the window a run would open draws it (none opens); --no_show measures the run
    # without one, where only -o and the live views take drawn frames.
    drawn: bool = True

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
class RoundSpread:
    """How the rounds' efficiencies spread: the run's noise."""

    rounds: int
    median: float
    min: float
    max: float
    sd: float  # 0 for one round

    @classmethod
    def of(cls, efficiencies: list[float]) -> RoundSpread:
        if not efficiencies:
            return cls(0, *[float("nan")] * 4)
        sd = statistics.stdev(efficiencies) if len(efficiencies) > 1 else 0.0
        return cls(len(efficiencies), statistics.median(efficiencies), min(efficiencies), max(efficiencies), sd)

    def text(self) -> str:
        return (f"efficiency per round: median {self.median:.3f}, {self.min:.3f} to {self.max:.3f}, "
                f"sd {self.sd:.3f} over {counted(self.rounds, 'round')} (the run's noise)")


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
    process_cpu_ms: dict[str, float]  # the process's CPU time per frame: end_to_end, inference_only (the network's)
    peak_rss_mb: float
    round_efficiency: RoundSpread
    cpu_efficiency: float  # the network alone's CPU per frame / end-to-end's
    other_load: float | None  # the share of all cores other processes used meanwhile; None: unknown
    fit: str = "model"  # where frames were fitted to the network: host, model (its graph)
    cpu_shares: dict[str, float] = field(default_factory=dict)  # of the end-to-end CPU per frame, see cpu_shares()
    live: LiveFigures | None = None  # for a camera or stream
    sources: dict[str, dict[str, float]] | None = None  # several inputs: each one's frames and FPS

    @classmethod
    def build(cls, device: str, config: dict[str, str], infer_requests: int, rounds: list[Round],
              metrics: MeasuredMetrics, other_load: float | None = None, live: bool = False,
              fit: str = "model") -> BenchmarkReport:
        pipeline = sum((r.pipeline for r in rounds), Throughput())
        model_alone = sum((r.model_alone for r in rounds), Throughput())
        host_cpu = metrics.host_cpu_means_ms()
        return cls(device, config, infer_requests, pipeline.frames, pipeline.seconds, pipeline.fps, model_alone.fps,
                   efficiency(pipeline, model_alone), LatencyStats.of(metrics.latencies_ms),
                   metrics.stage_means_ms(), host_cpu,
                   {"end_to_end": pipeline.cpu_ms_per_frame, "inference_only": model_alone.cpu_ms_per_frame},
                   peak_rss_mb(), RoundSpread.of([r.efficiency for r in rounds]),
                   model_alone.cpu_ms_per_frame / pipeline.cpu_ms_per_frame if pipeline.cpu_seconds else 0.0,
                   other_load, fit, cpu_shares(host_cpu, model_alone.cpu_ms_per_frame, pipeline.cpu_ms_per_frame),
                   LiveFigures.of(metrics) if live else None)

    @property
    def above_reference(self) -> bool:
        """The pipeline came out faster than the network alone by more than the rounds' noise: other load
        must have changed during the run, and the figures are not to be trusted."""
        return self.efficiency > 1 + self.round_efficiency.sd

    def _load_lines(self) -> list[str]:
        lines = []
        if self.other_load is not None and self.other_load > NOTABLE_OTHER_LOAD:
            lines.append(f"other processes used {self.other_load:.0%} of the cores meanwhile: the throughputs are "
                         "not this machine's best, and their efficiency moves with that load")
        if self.above_reference:
            lines.append("warning: the pipeline beat the network alone by more than the noise: the machine's other "
                         "load changed during the run; measure again")
        return lines

    @property
    def host_cpu_total_ms(self) -> float:
        return sum(self.host_cpu_ms.values())

    def text(self) -> str:
        def figures(values: dict[str, float]) -> str:
            return ", ".join(f"{name} {value:.2f}" for name, value in values.items())

        config = ", ".join(f"{name} {value}" for name, value in self.config.items())
        return "\n".join([
            f"device: {self.device} ({config}), {self.infer_requests} infer requests, frames fitted to the network "
            f"{FIT_WORDS[self.fit]}",
            f"frames: {self.frames} in {self.seconds:.2f} s",
            f"end-to-end throughput: {self.end_to_end_fps:.2f} FPS",
            f"network-alone throughput: {self.inference_only_fps:.2f} FPS (as benchmark_app runs it: the raw "
            "network at its own input size, compiled alike, as many requests, inputs prepared beforehand, outputs "
            "not read)",
            f"efficiency (end-to-end / network alone): {self.efficiency:.3f}",
            self.round_efficiency.text(),
            f"efficiency in CPU time (the network alone's CPU per frame / end-to-end's): {self.cpu_efficiency:.3f}; "
            "with every core busy, what other load does not move",
        ] + self._load_lines() + [
            f"latency (ms): {figures(asdict(self.latency_ms))}",
            f"stage time per frame (ms): {figures(self.stages_ms)}",
            f"host CPU per frame (ms): {figures(self.host_cpu_ms)}; total {self.host_cpu_total_ms:.2f}",
            f"process CPU per frame (ms): {figures(self.process_cpu_ms)}",
            "shares of the end-to-end CPU per frame: " + ", ".join(
                f"{name} {share:.0%}" for name, share in self.cpu_shares.items())
            + " (inference: the network alone's; rest: threads and waits, and the fit where the graph does it)",
            f"peak memory: {self.peak_rss_mb:.0f} MB",
        ] + ([self.live.text()] if self.live else []) + ([self.sources_text()] if self.sources else []))

    def sources_text(self) -> str:
        return "per source: " + ", ".join(f"{name} {counted(int(figures['frames']), 'frame')}, "
                                          f"{figures['fps']:.2f} FPS"
                                          for name, figures in (self.sources or {}).items())


FIT_WORDS = {"host": "here (OpenCV)", "model": "in the model's graph"}


def cpu_shares(host_cpu_ms: dict[str, float], network_ms: float, end_to_end_ms: float) -> dict[str, float]:
    """Where a frame's CPU time goes, each as a share of the end-to-end CPU per frame: decoding it, fitting it
    to the network here, the network (its CPU per inference alone), post-processing (its outputs decoded
    and mapped to the frame), output (drawing and writing), and the rest (threads, waits, and the fit
    where the graph does it)."""
    if not end_to_end_ms:
        return {}
    parts = {"decode": host_cpu_ms["decode"], "fit": host_cpu_ms["preprocess"], "inference": network_ms,
             "postprocess": host_cpu_ms["postprocess"], "output": host_cpu_ms["render"] + host_cpu_ms["write"]}
    parts["rest"] = end_to_end_ms - sum(parts.values())
    return {name: ms / end_to_end_ms for name, ms in parts.items()}


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
        return (f"live source: {counted(self.dropped_frames, 'frame')} dropped; age of the frames shown (ms): median "
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

    def add(self, timings_ms: dict[str, float], captured: float, cpu_ms: dict[str, float] | None = None,
            dropped_before: int = 0) -> float:
        latency_ms = super().add(timings_ms, captured, cpu_ms, 0 if self._round_started else dropped_before)
        self._round_started = False
        self.latencies_ms.append(latency_ms)
        self.progress.update()
        return latency_ms


@dataclass(frozen=True)
class Round:
    pipeline: Throughput
    model_alone: Throughput

    @property
    def efficiency(self) -> float:
        return efficiency(self.pipeline, self.model_alone)


def efficiency(pipeline: Throughput, model_alone: Throughput) -> float:
    return pipeline.fps / model_alone.fps if model_alone.fps else 0.0


class OtherLoad:
    """The share of all cores that processes other than this one use from now to :meth:`share` (Linux)."""

    def __init__(self) -> None:
        self._busy, self._own, self._wall = machine_busy_seconds(), time.process_time(), time.perf_counter()

    def share(self) -> float | None:
        busy, wall = machine_busy_seconds(), time.perf_counter()
        if busy is None or self._busy is None or wall <= self._wall:
            return None
        others = (busy - self._busy) - (time.process_time() - self._own)
        return max(others, 0.0) / ((wall - self._wall) * (os.cpu_count() or 1))


def machine_busy_seconds() -> float | None:
    """CPU seconds every process has used since boot, from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def until(frames: Iterable[Frame], count: int | None, seconds: float | None) -> Iterator[Frame]:
    """The frames up to ``count`` of them or until ``seconds`` have passed, whichever comes first."""
    deadline = time.perf_counter() + seconds if seconds else float("inf")
    for frame in itertools.islice(frames, count):
        if time.perf_counter() >= deadline:
            return
        yield frame


def measure_pipeline(segmenter: Segmenter, frames: Iterable[Frame], lanes: Mapping[str, app.Lane],
                     screen: app.Shows, metrics: RunMetrics) -> Throughput:
    counted, cpu_started, started = metrics.frames, time.process_time(), time.perf_counter()
    app.deliver(segmenter.stream(frames, takes_newest(lanes)), lanes, screen, metrics)
    return Throughput(metrics.frames - counted, time.perf_counter() - started, time.process_time() - cpu_started)


def takes_newest(lanes: Mapping[str, app.Lane]) -> bool:
    """A lane's source drops frames: the stream takes a frame only when a request is free."""
    return any(lane.live for lane in lanes.values())


def several(lanes: Mapping[str, app.Lane]) -> bool:
    return list(lanes) != [app.ONE_SOURCE]


def measure_model_alone(requests: RequestQueue, inputs: list[Inputs], seconds: float | None = None) -> Throughput:
    """The network alone's requests fed ``inputs`` (prepared beforehand) in turn for ``seconds`` (None: once
    each), as fast as they take them, their outputs not read: as benchmark_app runs a model."""
    fed = itertools.cycle(inputs) if seconds else iter(inputs)
    count, cpu_started, started = 0, time.process_time(), time.perf_counter()
    for item in until(fed, None, seconds):
        requests.start_async(item)  # returns once a request is free
        count += 1
    requests.wait_all()
    return Throughput(count, time.perf_counter() - started, time.process_time() - cpu_started)


@dataclass
class ForWindow:
    """The window a benchmark does not open, as watching: frames are drawn for it as a run draws them for its
    window, and shown on ``screen`` (which has no window, but may have live views)."""

    screen: app.Shows
    viewed: bool = True

    def show(self, name: str, picture: np.ndarray, fps: float) -> bool:
        return self.screen.show(name, picture, fps)

    def idle(self) -> bool:
        return self.screen.idle()


def run(segmenter: Segmenter, source: FrameSource, lanes: Mapping[str, app.Lane], screen: app.Shows,
        settings: BenchmarkSettings, device: str) -> BenchmarkReport:
    """Warm up, then measure the pipeline and the network alone in turns; print and maybe write the report.

    ``source`` is the run's one source, or its several merged (:mod:`demo.frames.merge`), each lane's results
    then measured too; ``screen`` shows the measured frames (a benchmark opens no window, but live views)."""
    frames = iter(source)
    sample = next(frames, None)
    if sample is None:
        raise UsageError("--benchmark: the input gave no frame")
    # The warm-up fills the pipeline once without the writers, so they get only measured frames. Its
    # frames, prepared before the renderer draws on them, are what the network alone is fed: real frames
    # of this input, several, so that the network alone meets what the pipeline meets.
    warmup = [sample, *itertools.islice(frames, segmenter.read_ahead(takes_newest(lanes)) - 1)]
    with closing(segmenter.network()) as network:
        prepared = [network.inputs(frame.image.copy()) for frame in warmup]
        requests = network.engine.requests(segmenter.requests)
        measure_pipeline(segmenter, warmup, many.unwritten(lanes), app.Screen(None), RunMetrics())
        measure_model_alone(requests, prepared)
        watched = screen if screen.viewed or not settings.drawn else ForWindow(screen)
        rounds, metrics, other_load = measure_rounds(segmenter, frames, lanes, watched, settings, requests, prepared)
    report = BenchmarkReport.build(device, segmenter.model.engine.config(), segmenter.requests, rounds,
                                   metrics, other_load, source.live, "host" if segmenter.model.fit_here else "model")
    if several(lanes):
        end_to_end = sum((r.pipeline for r in rounds), Throughput())
        report = replace(report, sources={name: {"frames": lane.metrics.frames,
                                                 "fps": lane.metrics.frames / end_to_end.seconds}
                                          for name, lane in lanes.items()})
    print(report.text(), flush=True)
    if settings.report:
        write_json(settings.report, asdict(report), "the report", indent=2)
    return report


def measure_rounds(segmenter: Segmenter, frames: Iterator[Frame], lanes: Mapping[str, app.Lane], screen: app.Shows,
                   settings: BenchmarkSettings, requests: RequestQueue, prepared: list[Inputs],
                   ) -> tuple[list[Round], MeasuredMetrics, float | None]:
    """The pipeline and the network alone in turns, each network round as long as the pipeline's before it;
    the rounds, the pipeline's figures and the other processes' share of the cores meanwhile."""
    rounds: list[Round] = []
    end_to_end = Throughput()
    other_load = OtherLoad()
    with tqdm(total=settings.frames, desc="benchmark", unit="frame", file=sys.stderr, disable=None) as progress:
        metrics = MeasuredMetrics(progress)
        if not several(lanes):  # one source's figures are the run's, counted once a frame
            lanes = {name: replace(lane, metrics=metrics) for name, lane in lanes.items()}
        while round_ := settings.next_round(end_to_end):
            metrics.new_round()
            measured = measure_pipeline(segmenter, until(frames, *round_), lanes, screen, metrics)
            if not measured.frames:  # the input ran dry, or the time was too short for one frame
                break
            end_to_end += measured
            rounds.append(Round(measured, measure_model_alone(requests, prepared, measured.seconds)))
    return rounds, metrics, other_load.share()
