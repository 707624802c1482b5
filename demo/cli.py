"""Command line: the flags (see :mod:`demo.flags`) turned into settings, and the stages wired by them."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from . import app, background, benchmark, download, evaluate, exports, files, flags, repository
from .errors import DemoError, configure_logging, quiet_opencv
from .metrics import RunMetrics
from .model import input_files
from .render import InstanceRenderer
from .segmenter import Segmenter, resolve
from .serve import FrameServer
from .sinks import ResultsWriter, open_output
from .sources import files_read, open_source
from .stopping import INTERRUPTED, INTERRUPTED_LINE, STDOUT_CLOSED, STOP, stdout_reader_gone
from .tracker import MaskTracker
from .virtual_camera import VirtualCamera
from .window import open_window

log = logging.getLogger("demo")
WINDOW_TITLES = {"instances": "Instance segmentation", "background": "Background subtraction", "privacy": "Privacy"}


def refuse_overlapping_files(args: argparse.Namespace, model: Path, spec: str) -> None:
    """Before anything is opened: no output may be an input or another output."""
    inputs = [files.Named("-i", path) for path in files_read(spec)] + input_files(model, args.labels)
    for flag, value in (("--target_bgr", args.target_bgr), ("--background", args.background)):
        if value:
            inputs += [files.Named(flag, path) for path in files_read(value)]
    outputs = [files.Named(flag, Path(value)) for flag, value in
               (("-o", flags.file_output(args)), ("--results", args.results), ("--report", args.report),
                ("--coco_results", args.coco_results)) if value]
    files.refuse_overlaps(inputs, outputs)
    exports.refuse_folders_of_inputs(inputs, flags.export_settings(args).folders())


def run_instances(args: argparse.Namespace) -> None:
    measure = flags.benchmark_settings(args)
    video = flags.video_settings(args)
    composition = flags.background_settings(args) if args.mode in flags.COMPOSED_MODES else None
    settings = flags.model_settings(args)
    model = resolve(args.model, settings)  # before the source, so that a wrong name never opens a camera
    spec = args.input or str(download.fetch_sample_clip(flags.fetcher(args)))
    refuse_overlapping_files(args, model.path, spec)
    served = flags.serve_settings(args)
    server = FrameServer(served) if served else None  # before the source and the model: a port in use at once
    looping = args.loop or measure is not None
    source = open_source(spec, loop=looping, live=flags.live_settings(args))
    camera_settings = flags.virtual_camera_settings(args, source.fps or 25.0)
    camera = VirtualCamera(camera_settings) if camera_settings else None
    live = source.live and not args.no_drop
    if settings.hint is None and source.live:
        settings = replace(settings, hint="latency")  # a camera's frames should be shown as soon as can be
    settings = replace(settings, reconnect=source.live)  # a served model's server is waited for as a camera is
    segmenter = Segmenter.load(model, args.device, settings)
    composer = composition and background.BackgroundComposer.from_settings(
        replace(composition, classes=segmenter.classes), segmenter.labels, str(args.labels or "COCO"),
        flags.footage(source, looping))
    outputs = app.Outputs(limit=args.output_limit, size=args.output_resolution, print_raw=args.raw_output_message,
                          live=[view for view in (server, camera) if view], status=flags.status_settings(args))
    metrics = RunMetrics()
    single_frame = source.frame_count == 1 and not args.loop
    try:
        if output := flags.file_output(args):
            # A live source that drops frames is recorded at its capture times; with --no_drop every
            # frame is kept, and n / fps is the source's own pace.
            outputs.sinks.append(open_output(output, source.fps or 25.0, single_frame, replace(video, real_time=live)))
        if args.results:
            outputs.results = ResultsWriter(args.results)
        outputs.exports = exports.open_exports(flags.export_settings(args), segmenter.labels)
        if not args.no_show and measure is None:
            outputs.window = open_window(f"{WINDOW_TITLES[args.mode]} (q or Esc quits, space pauses)")
        tracked = not (args.no_track or composer or source.kind in ("image", "folder"))
        tracker = MaskTracker(flags.tracker_settings(args)) if tracked else None
        log.info("model %s on %s, resize %s, %d infer requests", segmenter.name, args.device,
                 segmenter.model.policy.value, segmenter.requests)
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
            if metrics.frames:
                print(metrics.summary(live=source.live), file=sys.stderr)


def run_evaluation(argv: list[str]) -> None:
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
