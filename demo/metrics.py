"""Running throughput and per-stage latency figures, in constant memory."""
from __future__ import annotations

import time
from collections import defaultdict, deque

STAGES = ("decode", "preprocess", "inference", "postprocess", "render", "write")


class RunMetrics:
    def __init__(self, window: int = 30):
        self.started = time.perf_counter()
        self.frames = 0
        self.stage_totals: dict[str, float] = defaultdict(float)
        self.latency_total = 0.0
        self._recent: deque[float] = deque(maxlen=window)  # finish times, for the live FPS

    def add(self, timings_ms: dict[str, float], latency_ms: float) -> None:
        self.frames += 1
        self.latency_total += latency_ms
        for stage, ms in timings_ms.items():
            self.stage_totals[stage] += ms
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

    def summary(self) -> str:
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in self.stage_means_ms().items())
        return (f"frames: {self.frames}, FPS: {self.fps:.1f}, mean latency: {self.mean_latency_ms:.1f} ms\n"
                f"per-frame stage latency (ms): {stages}")
