"""The demo's main loop: inferred frames in order, to instances, to a picture, to the sinks."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .instances import FrameResult
from .metrics import RunMetrics, StageClock
from .model import CompiledSegmenter
from .pipeline import AsyncPipeline
from .postprocess import to_instances
from .render import draw_status
from .sinks import ResultsWriter, Sink, Window
from .sources import Frame
from .stopping import STOP
from .tracker import MaskTracker

ESCAPE_KEYS = {27, ord("q"), ord("Q")}


@dataclass
class Outputs:
    """Where each frame's result goes; every part is optional."""

    sinks: list[Sink] = field(default_factory=list)
    window: Window | None = None
    results: ResultsWriter | None = None
    limit: int = 0  # frames written to the sinks; 0 = all
    size: tuple[int, int] | None = None  # (w, h) of written and shown frames
    print_raw: bool = False
    delivered: int = 0  # frames given to the sinks so far, counted across runs for the limit

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        if self.results:
            self.results.close()
        if self.window:
            self.window.close()


def format_raw(result: FrameResult) -> str:
    lines = [f"frame {result.index}: {len(result.instances)} instances"]
    lines += [f"  {i.class_id:3d} {i.name:<16} {i.score:.3f} "
              f"[{i.box.x1:.1f}, {i.box.y1:.1f}, {i.box.x2:.1f}, {i.box.y2:.1f}] area {i.area}"
              for i in result.instances]
    return "\n".join(lines)


def status_lines(metrics: RunMetrics, latency_so_far_ms: float) -> list[str]:
    """FPS once there is a rate to show; the mean latency, or this frame's own for the first."""
    latency = metrics.mean_latency_ms if metrics.frames else latency_so_far_ms
    fps = [f"FPS: {metrics.live_fps:.1f}"] if metrics.live_fps > 0 else []
    return fps + [f"latency: {latency:.0f} ms"]


def run(segmenter: CompiledSegmenter, pipeline: AsyncPipeline, frames: Iterable[Frame], labels: list[str],
        render: Callable[[FrameResult], np.ndarray], outputs: Outputs, tracker: MaskTracker | None,
        metrics: RunMetrics) -> None:
    """Run until the frames end, the user presses Esc/q, or Ctrl-C.

    The outputs stay open, so that several runs can write to them; whoever made them closes
    them, which leaves every sink whole however the run ended.
    """
    results = pipeline.run(frames)
    try:
        for inferred in results:
            frame = inferred.frame
            clock = StageClock(inferred.timings_ms, inferred.cpu_ms)
            instances = to_instances(inferred.detections, segmenter.geometry(frame.image), frame.image.shape, labels)
            if tracker:
                instances = tracker.update(instances)
            result = FrameResult(frame.index, frame.image, instances, inferred.timings_ms, frame.name)
            clock.lap("postprocess")
            picture = render(result)
            draw_status(picture, status_lines(metrics, 1000 * (time.perf_counter() - inferred.started)))
            if outputs.size:
                picture = cv2.resize(picture, outputs.size)
            clock.lap("render")
            with STOP.shielded():  # a stop comes between frames: each reaches every output or none
                key = _deliver(result, picture, outputs)
            clock.lap("write")
            metrics.add(result.timings_ms, 1000 * (time.perf_counter() - inferred.started), inferred.cpu_ms)
            if key in ESCAPE_KEYS:
                break
    finally:
        results.close()


def _deliver(result: FrameResult, picture: np.ndarray, outputs: Outputs) -> int:
    if outputs.print_raw:
        sys.stdout.write(format_raw(result) + "\n")  # one write, so a reader never gets half a frame's lines
        sys.stdout.flush()
    if not outputs.limit or outputs.delivered < outputs.limit:
        if outputs.results:
            outputs.results.write(result)
        for sink in outputs.sinks:
            sink.write(picture)
        outputs.delivered += 1
    return outputs.window.show(picture) if outputs.window else -1
