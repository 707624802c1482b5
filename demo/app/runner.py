"""The one runner of a plan (:mod:`demo.app.plan`): every resource opened into one exit stack, in a fixed order
(the live server, the sources, the virtual camera, the model, the outputs, the window, each lane's composer),
then one lane per source through the loop of :func:`demo.app.run.deliver`, or through ``--benchmark``.

Whatever opened is closed however the run ends, a failure to open the next one included.
"""
from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Iterable
from contextlib import ExitStack, closing
from dataclasses import dataclass, field, replace

from demo.app import benchmark, flags, many, progress
from demo.app import run as app
from demo.app.plan import RunPlan
from demo.core import files
from demo.core.metrics import RunMetrics
from demo.core.stopping import STOP
from demo.core.wording import counted
from demo.frames.merge import merged
from demo.frames.sources import FrameSource, open_source
from demo.model.segmenter import Segmenter
from demo.outputs import exports
from demo.outputs.serve import FrameServer
from demo.outputs.sinks import ResultsWriter, open_output
from demo.outputs.virtual_camera import VirtualCamera
from demo.outputs.window import open_window
from demo.picture import background
from demo.picture.render import InstanceRenderer
from demo.results.tracker import MaskTracker

log = logging.getLogger("demo")
DEFAULT_FPS = 25.0  # a source's frame rate when it does not say


@dataclass
class Opened:
    """What a run has opened so far, for its end: the sources (one, or several by name), the lanes and the
    figures."""

    sources: many.Opened = field(default_factory=lambda: many.Opened(0))
    lanes: dict[str, app.Lane] = field(default_factory=dict)
    total: RunMetrics = field(default_factory=RunMetrics)


def run(plan: RunPlan) -> None:
    """Open what the plan names, run its lanes, close everything; then the run's summary, when the run
    delivered frames and every resource closed."""
    resources, opened = ExitStack(), Opened()
    try:
        open_and_run(plan, resources, opened)
    finally:
        with STOP.shielded():
            resources.close()  # in a finally, so that the outputs' close knows when the run is failing
            if opened.total.frames:
                print(summary(plan, opened), file=sys.stderr)
    opened.sources.check()


def open_and_run(plan: RunPlan, resources: ExitStack, opened: Opened) -> None:
    shared = app.Outputs(limit=plan.output_limit, size=plan.output_size, print_raw=plan.print_raw,
                         status=plan.status)
    resources.callback(shared.close)  # the live views, files and window: closed together, the first failure told
    if plan.serve:
        shared.live.append(FrameServer(plan.serve))  # before the sources and the model: a port in use at once
    opened.sources = open_sources(plan, resources)
    sources = opened.sources.sources
    if plan.virtual_camera:
        fps = next(iter(sources.values())).fps if not plan.several else None
        shared.live.append(VirtualCamera(replace(plan.virtual_camera, fps=fps or DEFAULT_FPS)))
    segmenter = resources.enter_context(Segmenter.load(plan.model, plan.device, plan.settings))
    open_outputs(plan, shared, segmenter)
    newest = {name: source.live and not plan.no_drop for name, source in sources.items()}
    status = shared.status.drawn(shared.viewed)
    for name, source in sources.items():
        # One source's figures are the run's; several have each their own besides.
        metrics = opened.total if not plan.several else RunMetrics()
        opened.lanes[name] = open_lane(plan, name, source, newest[name], status, shared, segmenter, metrics,
                                       resources)
    log_model(segmenter, plan.model.url or plan.device)
    go(plan, opened, newest, shared, segmenter, resources)


def open_sources(plan: RunPlan, resources: ExitStack) -> many.Opened:
    """The one source, whose failure to open is the run's; or the several, each opened alone."""
    if plan.several:
        return resources.enter_context(closing(many.open_sources(plan.inputs, plan.names, plan.looping,
                                                                 plan.live_input)))
    one = open_source(plan.inputs[0], loop=plan.looping, live=plan.live_input)
    return resources.enter_context(closing(many.Opened(1, {app.ONE_SOURCE: one})))


def open_outputs(plan: RunPlan, shared: app.Outputs, segmenter: Segmenter) -> None:
    """The outputs every lane shares, each kept in ``shared`` the moment it opens, and the window."""
    if plan.results:
        shared.results = ResultsWriter(plan.results)
    shared.exports = exports.open_exports(plan.exports, segmenter.labels,
                                          [read.path.name for read in plan.reads if read.flag == "-i"])
    if plan.window_title:
        shared.window = open_window(plan.window_title)


def open_lane(plan: RunPlan, name: str, source: FrameSource, newest: bool, status: bool, shared: app.Outputs,
              segmenter: Segmenter, metrics: RunMetrics, resources: ExitStack) -> app.Lane:
    """One source's way: its -o file (closed with the shared outputs), its drawing and its tracker."""
    outputs = replace(shared, sinks=[], window=None, live=[])
    if name in plan.frame_outputs:
        # A live source that drops frames is recorded at its capture times; with --no_drop every
        # frame is kept, and n / fps is the source's own pace.
        outputs.sinks.append(open_output(plan.frame_outputs[name], source.fps or DEFAULT_FPS,
                                         single_frame(plan, source), replace(plan.video, real_time=newest)))
        shared.sinks += outputs.sinks
    composer = plan.composition and resources.enter_context(closing(background.BackgroundComposer.from_settings(
        replace(plan.composition, classes=segmenter.classes), segmenter.labels, plan.labels_name,
        flags.footage(source, plan.looping))))
    # Labels keep clear of the status band wherever it is drawn, so the window and the files agree. One
    # source keeps room for the dropped line whenever it is live, as it always has: its pictures stay the same.
    band = app.status_rows(source.live if not plan.several else newest) if status else 0
    render = composer or InstanceRenderer(plan.show_boxes, plan.show_scores, band)
    tracked = plan.tracker is not None and not (composer or source.kind in ("image", "folder"))
    return app.Lane(render, outputs, MaskTracker(plan.tracker) if tracked else None, metrics, newest)


def single_frame(plan: RunPlan, source: FrameSource) -> bool:
    return source.frame_count == 1 and not plan.loop


def go(plan: RunPlan, opened: Opened, newest: dict[str, bool], shared: app.Outputs, segmenter: Segmenter,
       resources: ExitStack) -> None:
    """The lanes run: measured with --benchmark, else until the sources end or the user quits."""
    sources, lanes = opened.sources.sources, opened.lanes
    if plan.several:
        screen = many.GridScreen(many.TileGrid(list(lanes), plan.output_size or many.TILE_SIZE), shared.window,
                                 shared.live)
    else:
        screen = app.Screen(shared.window, shared.live)
    if plan.benchmark:
        frames = (resources.enter_context(closing(merged(sources, newest, opened.sources.ended))) if plan.several
                  else sources[app.ONE_SOURCE])
        benchmark.run(segmenter, frames, lanes, screen, plan.benchmark, plan.device)
        return
    frames = {name: itertools.islice(source, plan.max_frames) if plan.max_frames else source
              for name, source in sources.items()}
    if plan.several:
        results = segmenter.stream_many(frames, newest, opened.sources.ended, screen.idle)
    else:
        results = segmenter.stream(frames[app.ONE_SOURCE], newest[app.ONE_SOURCE], screen.idle)
    with progress.shown(frames_to_come(plan, sources.values()), wanted=shared.window is None) as bar:
        app.deliver(results, lanes, screen, opened.total, bar)
    if not plan.several and shared.window and single_frame(plan, sources[app.ONE_SOURCE]):
        shared.window.hold()


def frames_to_come(plan: RunPlan, sources: Iterable[FrameSource]) -> int | None:
    """The frames the run will deliver, for its progress; None when a source does not say."""
    counts = [frames_of(source, plan) for source in sources]
    return None if None in counts else sum(counts)


def frames_of(source: FrameSource, plan: RunPlan) -> int | None:
    """The frames ``source`` will give: its own count unless it loops, at most --max_frames; None when unknown
    (a camera, a stream, a video that does not say, --loop without --max_frames)."""
    own = None if plan.looping else source.frame_count
    if own is None or (plan.max_frames and plan.max_frames < own):
        return plan.max_frames or None
    return own


def summary(plan: RunPlan, opened: Opened) -> str:
    live = {name: source.live for name, source in opened.sources.sources.items()}
    if plan.several:
        return many.summary(opened.lanes, live, opened.total)
    return opened.total.summary(live=live[app.ONE_SOURCE])


def log_model(segmenter: Segmenter, where: str) -> None:
    """``where``: the device, or a served model's address."""
    log.info("model %s on %s, resize %s, %s", segmenter.name, files.shown(where),
             segmenter.model.policy.value, counted(segmenter.requests, "infer request"))
