"""Running throughput and per-stage latency figures, in constant memory."""
from __future__ import annotations

import contextlib
import math
import time
from collections import defaultdict, deque
from collections.abc import Iterator

import numpy as np

STAGES = ("decode", "preprocess", "inference", "postprocess", "render", "write")
# The stages the demo itself runs on the host; inference is the device's.
HOST_STAGES = tuple(stage for stage in STAGES if stage != "inference")


class StageClock:
    """Times consecutive stages run by one thread: wall time, and the CPU time of that thread.

    CPU time tells what a stage costs when it shares the cores with inference, which
    stretches its wall time without making it do more work.
    """

    def __init__(self, wall_ms: dict[str, float], cpu_ms: dict[str, float]):
        self.wall_ms = wall_ms
        self.cpu_ms = cpu_ms
        self._wall = self.started = time.perf_counter()
        self._cpu = time.thread_time()

    def lap(self, stage: str) -> None:
        """Add the time since the previous lap (or the start) to ``stage``'s: a stage may run in two
        parts, on two clocks (the paste in the stream, the tracker after it)."""
        wall, cpu = time.perf_counter(), time.thread_time()
        self.wall_ms[stage] = self.wall_ms.get(stage, 0.0) + 1000 * (wall - self._wall)
        self.cpu_ms[stage] = self.cpu_ms.get(stage, 0.0) + 1000 * (cpu - self._cpu)
        self._wall, self._cpu = wall, cpu


class LatencyHistogram:
    """Percentiles of any number of latencies in constant memory: counts in bins 1% wide, 0.1 ms to 12 h."""

    LOWEST_MS, RATIO, BINS = 0.1, 1.01, 2000

    def __init__(self) -> None:
        self.counts = np.zeros(self.BINS, dtype=np.int64)

    def add(self, ms: float) -> None:
        position = math.log(max(ms, self.LOWEST_MS) / self.LOWEST_MS, self.RATIO)
        self.counts[min(int(position), self.BINS - 1)] += 1

    def percentile(self, percent: float) -> float:
        """The middle of the bin holding that share of the values, within 0.5%; NaN when empty."""
        total = int(self.counts.sum())
        if not total:
            return float("nan")
        rank = max(math.ceil(total * percent / 100), 1)
        index = int(np.searchsorted(np.cumsum(self.counts), rank))
        return self.LOWEST_MS * self.RATIO ** (index + 0.5)


class KeyWaits:
    """The spans the process spent waiting for the user's key in a paused window. That time is the user's, not
    the run's work, so no figure counts it: neither a frame's age nor a rate."""

    def __init__(self) -> None:
        self._spans: list[tuple[float, float]] = []  # (start, end) on perf_counter's clock; a handful per run

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self._spans.append((start, time.perf_counter()))

    def within(self, start: float, end: float) -> float:
        """Seconds of waiting between ``start`` and ``end``."""
        return sum(max(0.0, min(end, stop) - max(start, began)) for began, stop in self._spans)

    def busy(self, start: float, end: float) -> float:
        """Seconds from ``start`` to ``end``, the waits for a key left out."""
        return end - start - self.within(start, end)


KEY_WAITS = KeyWaits()  # the process's: a window records its waits in it, every figure leaves them out


def age_ms(captured: float) -> float:
    """A frame's age now, from its capture (a live source) or the start of its decoding (a file), without the
    waits for a key."""
    return 1000 * KEY_WAITS.busy(captured, time.perf_counter())


class RunMetrics:
    """What a run did: frames, throughput, stage times and the age of each frame when shown.

    The latency of a frame is its age on screen: from its capture (a live source) or the start
    of its decoding (a file) to the moment it was delivered to the window and the writers. The rate
    covers the frames' own time, from the first one's capture to the last one's delivery: a source
    that ended early in a run of several is not measured over the others' time. Waits for a key
    (:data:`KEY_WAITS`) count in neither.
    """

    def __init__(self, window: int = 30):
        self.first: float | None = None  # when the earliest frame counted was captured
        self.last: float | None = None  # when the latest was delivered
        self.frames = 0
        self.dropped = 0  # frames a live source delivered that were never processed
        self.stage_totals: dict[str, float] = defaultdict(float)
        self.cpu_totals: dict[str, float] = defaultdict(float)
        self.latency_total = 0.0
        self.latencies = LatencyHistogram()
        self._recent: deque[float] = deque(maxlen=window)  # finish times, for the live FPS

    def add(self, timings_ms: dict[str, float], captured: float, cpu_ms: dict[str, float] | None = None,
            dropped_before: int = 0) -> float:
        """A frame delivered now, captured (or its decoding started) at ``captured``; its latency in ms."""
        self.last = time.perf_counter()
        latency_ms = 1000 * KEY_WAITS.busy(captured, self.last)
        self.first = captured if self.first is None else min(self.first, captured)
        self.frames += 1
        self.dropped += dropped_before
        self.latency_total += latency_ms
        self.latencies.add(latency_ms)
        for stage, ms in timings_ms.items():
            self.stage_totals[stage] += ms
        for stage, ms in (cpu_ms or {}).items():
            self.cpu_totals[stage] += ms
        self._recent.append(self.last)
        return latency_ms

    @property
    def fps(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        busy = KEY_WAITS.busy(self.first, self.last)
        return self.frames / busy if busy > 0 else 0.0

    @property
    def live_fps(self) -> float:
        if len(self._recent) < 2:
            return 0.0
        busy = KEY_WAITS.busy(self._recent[0], self._recent[-1])
        return (len(self._recent) - 1) / busy if busy > 0 else 0.0

    @property
    def mean_latency_ms(self) -> float:
        return self.latency_total / self.frames if self.frames else 0.0

    def stage_means_ms(self) -> dict[str, float]:
        return {stage: self.stage_totals[stage] / self.frames if self.frames else 0.0 for stage in STAGES}

    def host_cpu_means_ms(self) -> dict[str, float]:
        """CPU milliseconds per frame of each stage the demo runs itself."""
        return {stage: self.cpu_totals[stage] / self.frames if self.frames else 0.0 for stage in HOST_STAGES}

    def summary(self, live: bool = False) -> str:
        """Two lines; a live source's also say how many frames it dropped."""
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in self.stage_means_ms().items())
        dropped = f", dropped: {self.dropped} ({self.dropped_share:.0%} of the frames delivered)" if live else ""
        return (f"frames: {self.frames}, FPS: {self.fps:.1f}, latency (age of the frame shown): median "
                f"{self.latencies.percentile(50):.0f} ms, p95 {self.latencies.percentile(95):.0f} ms, mean "
                f"{self.mean_latency_ms:.1f} ms{dropped}\n"
                f"per-frame stage latency (ms): {stages}")

    @property
    def dropped_share(self) -> float:
        delivered = self.frames + self.dropped
        return self.dropped / delivered if delivered else 0.0
