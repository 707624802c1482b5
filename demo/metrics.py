"""Running throughput and per-stage latency figures, in constant memory."""
from __future__ import annotations

import time
from collections import defaultdict, deque

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
        self._wall = time.perf_counter()
        self._cpu = time.thread_time()

    def lap(self, stage: str) -> None:
        """Record the time since the previous lap (or the start) as ``stage``'s."""
        wall, cpu = time.perf_counter(), time.thread_time()
        self.wall_ms[stage] = 1000 * (wall - self._wall)
        self.cpu_ms[stage] = 1000 * (cpu - self._cpu)
        self._wall, self._cpu = wall, cpu


class RunMetrics:
    def __init__(self, window: int = 30):
        self.started = time.perf_counter()
        self.frames = 0
        self.stage_totals: dict[str, float] = defaultdict(float)
        self.cpu_totals: dict[str, float] = defaultdict(float)
        self.latency_total = 0.0
        self._recent: deque[float] = deque(maxlen=window)  # finish times, for the live FPS

    def add(self, timings_ms: dict[str, float], latency_ms: float, cpu_ms: dict[str, float] | None = None) -> None:
        self.frames += 1
        self.latency_total += latency_ms
        for stage, ms in timings_ms.items():
            self.stage_totals[stage] += ms
        for stage, ms in (cpu_ms or {}).items():
            self.cpu_totals[stage] += ms
        self._recent.append(time.perf_counter())

    @property
    def fps(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.frames / elapsed if elapsed > 0 else 0.0

    @property
    def live_fps(self) -> float:
        if len(self._recent) < 2:
            return 0.0
        return (len(self._recent) - 1) / (self._recent[-1] - self._recent[0])

    @property
    def mean_latency_ms(self) -> float:
        return self.latency_total / self.frames if self.frames else 0.0

    def stage_means_ms(self) -> dict[str, float]:
        return {stage: self.stage_totals[stage] / self.frames if self.frames else 0.0 for stage in STAGES}

    def host_cpu_means_ms(self) -> dict[str, float]:
        """CPU milliseconds per frame of each stage the demo runs itself."""
        return {stage: self.cpu_totals[stage] / self.frames if self.frames else 0.0 for stage in HOST_STAGES}

    def summary(self) -> str:
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in self.stage_means_ms().items())
        return (f"frames: {self.frames}, FPS: {self.fps:.1f}, mean latency: {self.mean_latency_ms:.1f} ms\n"
                f"per-frame stage latency (ms): {stages}")
