"""The demo's main loop: a segmenter's results in order, each through its source's lane: tracked, drawn, shown
and written."""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from demo.app.progress import Progress
from demo.core.errors import DemoError
from demo.core.metrics import RunMetrics, StageClock, age_ms
from demo.core.stopping import STOP
from demo.core.wording import counted
from demo.frames.sources import Frame
from demo.model.segmenter import Segmenter
from demo.outputs.sinks import ResultsWriter, Sink
from demo.outputs.window import Window
from demo.picture.render import StatusSettings, draw_status
from demo.results.instances import FrameResult
from demo.results.tracker import MaskTracker

log = logging.getLogger(__name__)

ONE_SOURCE = ""  # the lane of a run of one source, as its results' ``source`` names it


@dataclass
class Outputs:
    """Where each frame's result goes; every part is optional."""

    sinks: list[Sink] = field(default_factory=list)
    window: Window | None = None
    results: ResultsWriter | None = None
    exports: list[Sink[FrameResult]] = field(default_factory=list)  # --coco_results, --save_masks, ...
    limit: int = 0  # frames written to the sinks; 0 = all
    live: list[Sink] = field(default_factory=list)  # live views (--serve, --virtual_camera): never limited
    status: StatusSettings = field(default_factory=StatusSettings)  # where the FPS and latency lines go
    size: tuple[int, int] | None = None  # (w, h) of written and shown frames
    print_raw: bool = False
    delivered: int = 0  # frames given to the sinks so far, counted across runs for the limit

    @property
    def viewed(self) -> bool:
        """Someone watches the run as it goes: a window, or a live view (--serve, --virtual_camera)."""
        return self.window is not None or bool(self.live)

    @property
    def takes_pictures(self) -> bool:
        """A file output (-o) still takes drawn frames: none does once the output limit is reached."""
        return bool(self.sinks) and (not self.limit or self.delivered < self.limit)

    def close(self) -> None:
        """Close every output, even after one fails to finish, so none is left half-done.

        The first failure is raised; others are logged. When the run is already ending on an
        error, that error stays the one reported and every failure here is logged.
        """
        closers = ([sink.close for sink in self.sinks + self.live]
                   + [part.close for part in (self.results, *self.exports, self.window) if part])
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
    where = f"{result.source} " if result.source else ""  # a run of several sources names each frame's
    lines = [f"{where}frame {result.index}: {counted(len(result.instances), 'instance')}"]
    lines += [f"  {i.class_id:3d} {i.name:<16} {i.score:.3f} "
              f"[{i.box.x1:.1f}, {i.box.y1:.1f}, {i.box.x2:.1f}, {i.box.y2:.1f}] area {i.area}"
              + ("" if i.track_id is None else f" id {i.track_id}")
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


@dataclass
class Lane:
    """One source's way through the loop: its drawing, tracker, outputs and figures."""

    render: Callable[[FrameResult], np.ndarray]
    outputs: Outputs
    tracker: MaskTracker | None
    metrics: RunMetrics
    live: bool = False  # a camera or stream that drops frames: its status lines count them


@dataclass
class Screen:
    """The window and the live views (--serve, --virtual_camera) of a run of one source: each picture whole."""

    window: Window | None
    live: list[Sink] = field(default_factory=list)
    picture: np.ndarray | None = None  # the last one shown, shown again while no new one comes

    @property
    def viewed(self) -> bool:
        return self.window is not None or bool(self.live)

    def show(self, name: str, picture: np.ndarray, fps: float) -> bool:
        """Show the picture (``name`` and ``fps`` are for a grid's tiles); False once the user has asked to stop."""
        for view in self.live:
            view.write(picture)
        self.picture = picture
        # Not shielded: a paused window waits here for a key, and a signal must still stop it.
        return self.window.show(picture) if self.window else True

    def idle(self) -> bool:
        """While no result comes, keep the window answering its keys; True to stop."""
        return self.window is not None and self.picture is not None and not self.window.show(self.picture)


class Shows(Protocol):
    """Where the pictures of a run are watched: :class:`Screen`, or a grid of several sources."""

    @property
    def viewed(self) -> bool: ...

    def show(self, name: str, picture: np.ndarray, fps: float) -> bool: ...

    def idle(self) -> bool: ...


def run(segmenter: Segmenter, frames: Iterable[Frame], render: Callable[[FrameResult], np.ndarray],
        outputs: Outputs, tracker: MaskTracker | None, metrics: RunMetrics, live: bool = False) -> None:
    """One source's frames through the loop of :func:`deliver`, shown in ``outputs``' window and live views: for
    a caller with outputs of its own (the command line's runner hands :func:`deliver` its lanes itself).

    The outputs stay open, so that several runs can write to them; whoever made them closes
    them, which leaves every sink whole however the run ended.
    """
    screen = Screen(outputs.window, outputs.live)
    lane = Lane(render, outputs, tracker, metrics, live)
    deliver(segmenter.stream(frames, live, screen.idle), {ONE_SOURCE: lane}, screen, metrics)


def deliver(results: Iterator[FrameResult], lanes: Mapping[str, Lane], screen: Shows, total: RunMetrics,
            progress: Progress | None = None) -> None:
    """Hand each result to its source's lane (tracked, drawn, written) and to the screen, until the results end
    or the user quits in the window (Esc, q, its close button). ``total`` counts every source's frames, which
    ``progress`` shows on the terminal."""
    try:
        for result in results:
            if not deliver_one(result, lanes[result.source], screen, total, progress):
                break
    finally:
        results.close()


def deliver_one(result: FrameResult, lane: Lane, screen: Shows, total: RunMetrics, progress: Progress | None) -> bool:
    """One result through its lane and onto the screen; False once the user has asked to stop."""
    clock = StageClock(result.timings_ms, result.cpu_ms)
    if lane.tracker:
        result.instances = lane.tracker.update(result.instances)
        clock.lap("postprocess")
    # With only results, exports or figures asked for, nobody sees the picture: drawing it would only take time.
    seen = screen.viewed or lane.outputs.takes_pictures
    picture, status = drawn(result, lane, clock) if seen else (None, [])
    # A stop comes between frames: each reaches every file output and the figures, or none, so the summary's
    # frames are the frames the files hold. Counted here, not after the window: a signal between the two
    # steps would leave a written frame uncounted.
    with STOP.shielded():
        _write(result, picture, lane.outputs)
        clock.lap("write")
        count(result, lane, total, progress)
    if picture is None:
        return True
    # Drawn after the files took the picture, rather than on a copy for them; the live views
    # take it after, as the window does, since a server may encode it later on its own thread.
    if screen.viewed and status:
        draw_status(picture, status)
    return screen.show(result.source, picture, lane.metrics.live_fps)


def drawn(result: FrameResult, lane: Lane, clock: StageClock) -> tuple[np.ndarray, list[str]]:
    """The result drawn at the output size, and the status lines left to draw for whoever watches (none when
    they are in the picture already, or drawn nowhere)."""
    outputs, metrics = lane.outputs, lane.metrics
    picture = lane.render(result)
    if outputs.size:
        picture = cv2.resize(picture, outputs.size)
    status = status_lines(metrics, age_ms(result.captured),
                          metrics.dropped + result.dropped_before if lane.live else None)
    if outputs.status.shown and outputs.status.in_output:
        draw_status(picture, status)
    clock.lap("render")
    return picture, status if outputs.status.shown and not outputs.status.in_output else []


def count(result: FrameResult, lane: Lane, total: RunMetrics, progress: Progress | None) -> None:
    """The result, delivered now, in its lane's figures and the run's, and on the progress bar."""
    lane.metrics.add(result.timings_ms, result.captured, result.cpu_ms, result.dropped_before)
    if total is not lane.metrics:  # a run of one source: its figures are the run's
        total.add(result.timings_ms, result.captured, result.cpu_ms, result.dropped_before)
    if progress:
        progress.advance(total.live_fps)


def _write(result: FrameResult, picture: np.ndarray | None, outputs: Outputs) -> None:
    """Hand the frame to stdout, and the results and the file sinks (with when the frame was captured) up to
    the output limit."""
    if outputs.print_raw:
        sys.stdout.write(format_raw(result) + "\n")  # one write, so a reader never gets half a frame's lines
        sys.stdout.flush()
    if not outputs.limit or outputs.delivered < outputs.limit:
        if outputs.results:
            outputs.results.write(result)
        for export in outputs.exports:
            export.write(result)
        for sink in outputs.sinks:
            sink.write(picture, result.captured)
        outputs.delivered += 1
