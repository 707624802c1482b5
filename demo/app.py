"""The demo's main loop: inferred frames in order, to instances, to a picture, to the sinks."""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import DemoError
from .instances import FrameResult
from .metrics import RunMetrics, StageClock
from .model import CompiledSegmenter
from .pipeline import AsyncPipeline
from .postprocess import to_instances
from .render import StatusSettings, draw_status
from .sinks import ResultsWriter, Sink
from .sources import Frame
from .stopping import STOP
from .tracker import MaskTracker
from .window import Window

log = logging.getLogger(__name__)


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
    status: StatusSettings = StatusSettings()

    def close(self) -> None:
        """Close every output, even after one fails to finish, so none is left half-done.

        The first failure is raised; others are logged. When the run is already ending on an
        error, that error stays the one reported and every failure here is logged.
        """
        closers = [sink.close for sink in self.sinks] + [part.close for part in (self.results, self.window) if part]
        failures: list[DemoError] = []
        for close in closers:
            try:
                close()
            except DemoError as error:
                failures.append(error)
        raise_first = not isinstance(sys.exc_info()[1], DemoError)
        for failure in failures[1 if raise_first else 0:]:
            log.error("%s", failure)
        if failures and raise_first:
            raise failures[0]


def format_raw(result: FrameResult) -> str:
    lines = [f"frame {result.index}: {len(result.instances)} instances"]
    lines += [f"  {i.class_id:3d} {i.name:<16} {i.score:.3f} "
              f"[{i.box.x1:.1f}, {i.box.y1:.1f}, {i.box.x2:.1f}, {i.box.y2:.1f}] area {i.area}"
              for i in result.instances]
    return "\n".join(lines)


def status_lines(metrics: RunMetrics, age_ms: float, dropped: int | None = None) -> list[str]:
    """FPS once there is a rate to show; the age of the frame shown; a live source's dropped frames."""
    fps = [f"FPS: {metrics.live_fps:.1f}"] if metrics.live_fps > 0 else []
    drops = [] if dropped is None else [f"dropped: {dropped}"]
    return fps + [f"latency: {age_ms:.0f} ms"] + drops


def status_rows(live: bool) -> int:
    """The most lines :func:`status_lines` gives, which labels keep clear of."""
    return 3 if live else 2


def run(segmenter: CompiledSegmenter, pipeline: AsyncPipeline, frames: Iterable[Frame], labels: list[str],
        render: Callable[[FrameResult], np.ndarray], outputs: Outputs, tracker: MaskTracker | None,
        metrics: RunMetrics) -> None:
    """Run until the frames end, the user quits in the window (Esc, q, its close button), or Ctrl-C.

    The outputs stay open, so that several runs can write to them; whoever made them closes
    them, which leaves every sink whole however the run ended.
    """
    shown: list[np.ndarray] = []  # the last picture shown, shown again while no new one comes

    def quit_while_waiting() -> bool:
        return bool(outputs.window and shown) and not outputs.window.show(shown[0])

    results = pipeline.run(frames, quit_while_waiting)
    live = pipeline.live
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
            if outputs.size:
                picture = cv2.resize(picture, outputs.size)
            status = status_lines(metrics, 1000 * (time.perf_counter() - frame.captured),
                                  metrics.dropped + frame.dropped_before if live else None)
            if outputs.status.shown and outputs.status.in_output:
                draw_status(picture, status)
            clock.lap("render")
            with STOP.shielded():  # a stop comes between frames: each reaches every file output or none
                _write(result, picture, outputs)
            # Drawn after the sinks took the picture, rather than on a copy for them.
            if outputs.window and outputs.status.shown and not outputs.status.in_output:
                draw_status(picture, status)
            # Not shielded: a paused window waits here for a key, and a signal must still stop it.
            going_on = outputs.window.show(picture) if outputs.window else True
            shown[:] = [picture]
            clock.lap("write")
            metrics.add(result.timings_ms, 1000 * (time.perf_counter() - frame.captured), inferred.cpu_ms,
                        frame.dropped_before)
            if not going_on:
                break
    finally:
        results.close()


def _write(result: FrameResult, picture: np.ndarray, outputs: Outputs) -> None:
    """Hand the frame to stdout, the results and the sinks, up to the output limit."""
    if outputs.print_raw:
        sys.stdout.write(format_raw(result) + "\n")  # one write, so a reader never gets half a frame's lines
        sys.stdout.flush()
    if not outputs.limit or outputs.delivered < outputs.limit:
        if outputs.results:
            outputs.results.write(result)
        for sink in outputs.sinks:
            sink.write(picture)
        outputs.delivered += 1
