"""Command line: the flags (see :mod:`demo.app.flags`) turned into settings, and the stages wired by them."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from demo.app import benchmark, evaluate, flags, many
from demo.app import run as app
from demo.core import files
from demo.core.errors import DemoError, configure_logging, quiet_opencv
from demo.core.metrics import RunMetrics
from demo.core.stopping import INTERRUPTED, INTERRUPTED_LINE, STDOUT_CLOSED, STOP, stdout_reader_gone
from demo.frames.merge import merged
from demo.frames.sources import FrameSource, files_read, limit_image_pixels, open_source
from demo.model import download
from demo.model.loading import input_files
from demo.model.segmenter import Segmenter, resolve
from demo.outputs import exports, repository
from demo.outputs.serve import FrameServer
from demo.outputs.sinks import ResultsWriter, open_output
from demo.outputs.virtual_camera import VirtualCamera
from demo.outputs.window import open_window
from demo.picture import background
from demo.picture.render import InstanceRenderer
from demo.results.tracker import MaskTracker

log = logging.getLogger("demo")
WINDOW_TITLES = {"instances": "Instance segmentation", "background": "Background subtraction", "privacy": "Privacy"}


def refuse_overlapping_files(args: argparse.Namespace, model: Path, read: list[Path],
                             outputs: list[files.Output]) -> None:
    """Before anything is opened: no output may be an input, and no two outputs may meet. ``read``: the files
    of the -i inputs."""
    inputs = [files.Named("-i", path) for path in read] + input_files(model, args.labels)
    for flag, value in (("--target_bgr", args.target_bgr), ("--background", args.background)):
        if value:
            inputs += [files.Named(flag, path) for path in files_read(value)]
    files.refuse_overlaps(inputs, outputs)


def run_instances(args: argparse.Namespace) -> None:
    limit_image_pixels(args.max_image_pixels)
    if (inputs := flags.several_inputs(args)) is not None:
        return run_several(args, inputs)
    measure = flags.benchmark_settings(args)
    video = flags.video_settings(args)
    composition = flags.background_settings(args) if args.mode in flags.COMPOSED_MODES else None
    settings = flags.model_settings(args)
    model = resolve(args.model, settings)  # before the source, so that a wrong name never opens a camera
    spec = args.input[0] if args.input else str(download.fetch_sample_clip(flags.fetcher(args)))
    read = files_read(spec)
    refuse_overlapping_files(args, model.path, read, flags.planned_outputs(args))
    served = flags.serve_settings(args)
    server = FrameServer(served) if served else None  # before the source and the model: a port in use at once
    looping = args.loop or measure is not None
    live_input = flags.live_settings(args)
    source = open_source(spec, loop=looping, live=live_input)
    camera_settings = flags.virtual_camera_settings(args, source.fps or 25.0)
    camera = VirtualCamera(camera_settings) if camera_settings else None
    live = source.live and not args.no_drop
    if settings.hint is None and source.live:
        settings = replace(settings, hint="latency")  # a camera's frames should be shown as soon as can be
    # A served model's lost server is waited for as a camera is, as long as --reconnect says.
    settings = replace(settings, reconnect=live_input.reconnect if source.live else 0)
    segmenter = Segmenter.load(model, args.device, settings)
    composer = composer_for(args, composition, segmenter, source, looping)
    outputs = shared_outputs(args, [view for view in (server, camera) if view])
    metrics = RunMetrics()
    single_frame = source.frame_count == 1 and not args.loop
    try:
        if output := flags.file_output(args):
            # A live source that drops frames is recorded at its capture times; with --no_drop every
            # frame is kept, and n / fps is the source's own pace.
            outputs.sinks.append(open_output(output, source.fps or 25.0, single_frame, replace(video, real_time=live)))
        if args.results:
            outputs.results = ResultsWriter(args.results)
        outputs.exports = exports.open_exports(flags.export_settings(args), segmenter.labels,
                                               [path.name for path in read])
        if not args.no_show and measure is None:
            outputs.window = open_window(f"{WINDOW_TITLES[args.mode]} (q or Esc quits, space pauses)")
        tracker = tracker_for(args, composer, source)
        log_model(segmenter, model.url or args.device)
        # Labels keep clear of the status band wherever it is drawn, so the window and the files agree.
        band = app.status_rows(source.live) if outputs.status.drawn(outputs.viewed) else 0
        render = composer or InstanceRenderer(args.show_boxes, args.show_scores, band)
        if measure:
            benchmark.run(segmenter, source, render, outputs, tracker, measure, args.device, live)
        else:
            app.run(segmenter, source, render, outputs, tracker, metrics, live)
            if single_frame and outputs.window:
                outputs.window.hold()
    finally:
        with STOP.shielded():
            outputs.close()
            if composer:
                composer.close()
            source.close()
            segmenter.close()
            if metrics.frames:
                print(metrics.summary(live=source.live), file=sys.stderr)


def composer_for(args: argparse.Namespace, composition: background.BackgroundSettings | None, segmenter: Segmenter,
                 source: FrameSource, looping: bool) -> background.BackgroundComposer | None:
    return composition and background.BackgroundComposer.from_settings(
        replace(composition, classes=segmenter.classes), segmenter.labels, str(args.labels or "COCO"),
        flags.footage(source, looping))


def tracker_for(args: argparse.Namespace, composer: object, source: FrameSource) -> MaskTracker | None:
    tracked = not (args.no_track or composer or source.kind in ("image", "folder"))
    return MaskTracker(flags.tracker_settings(args)) if tracked else None


def shared_outputs(args: argparse.Namespace, live: list) -> app.Outputs:
    return app.Outputs(limit=args.output_limit, size=args.output_resolution, print_raw=args.raw_output_message,
                       live=live, status=flags.status_settings(args))


def log_model(segmenter: Segmenter, where: str) -> None:
    """``where``: the device, or a served model's address."""
    log.info("model %s on %s, resize %s, %d infer requests", segmenter.name, files.shown(where),
             segmenter.model.policy.value, segmenter.requests)


def run_several(args: argparse.Namespace, inputs: list[str]) -> None:
    """Several inputs through one model: each source its own lane (tracker, drawing, -o file, figures), one
    --results file whose lines name their source, one window with a grid of the sources."""
    measure = flags.benchmark_settings(args)
    video = flags.video_settings(args)
    composition = flags.background_settings(args) if args.mode in flags.COMPOSED_MODES else None
    settings = flags.model_settings(args)
    model = resolve(args.model, settings)
    names = many.source_names(inputs)
    refuse_overlapping_files(args, model.path, [path for spec in inputs for path in files_read(spec)],
                             flags.planned_outputs(args, names))
    files_out = flags.many_outputs(args, names)
    served = flags.serve_settings(args)
    server = FrameServer(served) if served else None
    looping = args.loop or measure is not None
    live_input = flags.live_settings(args)
    opened = many.open_sources(inputs, names, looping, live_input)
    camera_settings = flags.virtual_camera_settings(args, 25.0)
    camera = VirtualCamera(camera_settings) if camera_settings else None
    # Throughput unless --hint: every stream kept busy. A served model's server is waited for as a camera is.
    settings = replace(settings, reconnect=live_input.reconnect
                       if any(source.live for source in opened.sources.values()) else 0)
    segmenter = Segmenter.load(model, args.device, settings)
    shared = shared_outputs(args, [view for view in (server, camera) if view])
    newest = {name: source.live and not args.no_drop for name, source in opened.sources.items()}
    lanes: dict[str, app.Lane] = {}
    composers: list[background.BackgroundComposer] = []
    metrics = RunMetrics()
    try:
        if args.results:
            shared.results = ResultsWriter(args.results)
        if not args.no_show and measure is None:
            shared.window = open_window(f"{WINDOW_TITLES[args.mode]} (q or Esc quits, space pauses)")
        status = shared.status.drawn(shared.viewed)
        for name, source in opened.sources.items():
            outputs = replace(shared, sinks=[], window=None, live=[])
            if name in files_out:
                outputs.sinks.append(open_output(files_out[name], source.fps or 25.0, source.frame_count == 1
                                                 and not args.loop, replace(video, real_time=newest[name])))
                shared.sinks += outputs.sinks  # closed with the shared outputs, however the run ends
            composer = composer_for(args, composition, segmenter, source, looping)
            composers += [composer] if composer else []
            band = app.status_rows(newest[name]) if status else 0
            render = composer or InstanceRenderer(args.show_boxes, args.show_scores, band)
            lanes[name] = app.Lane(render, outputs, tracker_for(args, composer, source), RunMetrics(), newest[name])
        log_model(segmenter, model.url or args.device)
        screen = many.GridScreen(many.TileGrid(list(lanes), args.output_resolution or many.TILE_SIZE),
                                 shared.window, shared.live)
        if measure:
            frames = merged(opened.sources, newest, opened.ended)
            try:
                benchmark.run(segmenter, frames, None, shared, None, measure, args.device, frames.live, lanes)
            finally:
                frames.close()
        else:
            results = segmenter.stream_many(opened.sources, newest, opened.ended, screen.idle)
            many.run(results, lanes, screen, metrics)
    finally:
        with STOP.shielded():
            shared.close()
            for composer in composers:
                composer.close()
            opened.close()
            segmenter.close()
            if metrics.frames:
                print(many.summary(lanes, {name: source.live for name, source in opened.sources.items()}, metrics),
                      file=sys.stderr)
    opened.check()


def run_evaluation(argv: list[str]) -> None:
    limit_image_pixels()
    evaluate.run(flags.eval_settings(flags.eval_parser().parse_args(argv)))


def run_download(argv: list[str]) -> None:
    download.download(flags.download_request(flags.download_parser().parse_args(argv)))


def run_export(argv: list[str]) -> None:
    print(repository.export(flags.repository_request(flags.repository_parser().parse_args(argv))).text())


# Commands other than the default run: `python -m demo NAME ...` calls SUBCOMMANDS[NAME](rest of argv).
SUBCOMMANDS: dict[str, Callable[[list[str]], None]] = {"eval": run_evaluation, "download": run_download,
                                                        "export": run_export}


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    quiet_opencv()
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    STOP.install()  # again, for callers of main() other than `python -m demo`
    try:
        if argv and argv[0] in SUBCOMMANDS:
            SUBCOMMANDS[argv[0]](argv[1:])
        else:
            run_instances(flags.build_parser().parse_args(argv))
    except DemoError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return interrupted()
    except Exception as error:  # noqa: BLE001 - a bug still gets one line; --debug shows the traceback
        if isinstance(error, BrokenPipeError) and stdout_reader_gone():
            return STDOUT_CLOSED  # the reader has what it wanted: nothing to report, as `seq 9 | head -1`
        if debug:
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    return interrupted() if STOP.signal is not None else 0  # a signal in the clean-up of a finished run


def interrupted() -> int:
    print(INTERRUPTED_LINE, file=sys.stderr)
    return INTERRUPTED
