"""Command line: parse the flags (named as in Open Model Zoo's Python demos) and wire the stages."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import openvino as ov

from . import app, background, benchmark, download, files
from .argtypes import real_number, whole_number
from .contracts import MODEL_TYPES, YOLACT_IOU_THRESHOLD, YOLO_IOU_THRESHOLD, DecodeLimits
from .errors import DemoError, UsageError, configure_logging, quiet_opencv
from .geometry import ResizePolicy
from .labels import load_labels
from .live import LiveSettings
from .metrics import RunMetrics
from .model import DeviceConfig, default_cache_dir, load_segmenter
from .model_info import METADATA_FILE
from .pipeline import AsyncPipeline
from .render import InstanceRenderer, StatusSettings
from .sinks import ResultsWriter, open_output
from .sources import files_read, open_source
from .stopping import INTERRUPTED, INTERRUPTED_LINE, STDOUT_CLOSED, STOP, stdout_reader_gone
from .tracker import MaskTracker
from .window import open_window

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_LABELS = ASSETS / "coco_labels.txt"
log = logging.getLogger("demo")
MAX_SIDE = 65500
MAX_PIXELS = 2**30
MAX_REQUESTS = 64


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit code 2, as for every bad argument
        raise UsageError(message)


def resolution(text: str) -> tuple[int, int]:
    """WxH within OpenCV's image limits: the JPEG/MJPEG codec's 65500 a side, CV_IO_MAX_IMAGE_PIXELS in all
    (2^30; a larger frame fails to allocate or to encode)."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or int(width) < 1 or int(height) < 1:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT with both at least 1, got {text!r}")
    if max(int(width), int(height)) > MAX_SIDE or int(width) * int(height) > MAX_PIXELS:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT with both at most {MAX_SIDE} and at most "
                                         f"{MAX_PIXELS} pixels in all, got {text!r}")
    return int(width), int(height)


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability between 0 and 1, got {text}")
    return value


non_negative = whole_number(0)
positive = whole_number(1)
# OpenVINO's INFERENCE_NUM_THREADS and NUM_STREAMS are 32-bit; it uses no more than the device has.
threads = whole_number(1, 2**31 - 1)
# Each request holds its own tensors and the pipeline decodes two frames per request ahead.
requests = whole_number(0, MAX_REQUESTS)


def streams(text: str) -> str:
    if text.strip().upper() == "AUTO":
        return "AUTO"
    try:
        return str(threads(text))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected AUTO or a whole number from 1 to {2**31 - 1}, got {text}") from None


positive_seconds = real_number(0, 3600, above=True, unit=" of seconds")
frame_rate = real_number(0, 1000, above=True, unit=" of frames per second")


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    live = parser.add_argument_group("cameras and network streams")
    live.add_argument("--rtsp_transport", choices=["tcp", "udp"], default="tcp",
                      help="how RTSP streams carry their packets (default: %(default)s)")
    live.add_argument("--open_timeout", type=positive_seconds, default=LiveSettings.open_timeout, metavar="SECONDS",
                      help="give up opening a stream after this long (default: %(default)g)")
    live.add_argument("--read_timeout", type=positive_seconds, default=LiveSettings.read_timeout, metavar="SECONDS",
                      help="a stream that delivers nothing for this long is lost and reconnected "
                           "(default: %(default)g)")
    live.add_argument("--reconnect", type=non_negative, metavar="N",
                      help="attempts to reconnect a lost camera or stream, 0 to end the run instead "
                           "(default: keep trying)")
    live.add_argument("--no_drop", action="store_true",
                      help="process every frame of a camera or stream instead of always the newest: what is "
                           "shown falls behind when the model is slower than the source")
    live.add_argument("--camera_resolution", type=resolution, metavar="WxH", help="ask the camera for this size")
    live.add_argument("--camera_fps", type=frame_rate, metavar="N", help="ask the camera for this frame rate")


def live_settings(args: argparse.Namespace) -> LiveSettings:
    return LiveSettings(args.rtsp_transport, args.open_timeout, args.read_timeout, args.reconnect, args.no_drop,
                        args.camera_resolution, args.camera_fps)


# --- the status lines (FPS, latency): where they are drawn -----------------------------------------
def add_status_arguments(parser: argparse.ArgumentParser) -> None:
    status = parser.add_argument_group("status lines (FPS, latency)")
    status.add_argument("--no_status", action="store_true", help="draw no status lines, not even in the window")
    status.add_argument("--status_in_output", action="store_true",
                        help="draw the status lines into what -o writes too (default: the window only)")


def status_settings(args: argparse.Namespace) -> StatusSettings:
    return StatusSettings(shown=not args.no_status, in_output=args.status_in_output)
# --- end of the status lines' flags -----------------------------------------------------------------


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Model and device flags, shared by every command that runs a model."""
    model = parser.add_argument_group("model and device")
    # A Path even for a name, so that commands reading args.model as a file keep working with paths.
    model.add_argument("-m", "--model", type=Path,
                       help="model .xml (with its .bin) or .onnx, or a name from models.lst, downloaded on first "
                            f"use (default: {download.DEFAULT_MODEL})")
    model.add_argument("--precision", choices=download.PRECISIONS, default=download.DEFAULT_PRECISION,
                       help="which files of a named model (default: %(default)s)")
    model.add_argument("--models_dir", type=Path, default=download.default_models_dir(),
                       help="where named models are kept ($DEMO_MODELS_DIR; default: %(default)s)")
    download.add_mirror_arguments(model)
    model.add_argument("-d", "--device", default="CPU", help="OpenVINO device: CPU, GPU, AUTO, MULTI:..., HETERO:...")
    model.add_argument("--labels", type=Path, default=DEFAULT_LABELS,
                       help="class names, one per line (default: the names the model carries, else %(default)s)")
    model.add_argument("--iou_threshold", type=probability,
                       help="YOLO-seg and YOLACT models: overlap above which NMS drops the weaker of two "
                            f"same-class instances (default: the model's own, else {YOLO_IOU_THRESHOLD} for YOLO, "
                            f"{YOLACT_IOU_THRESHOLD} for YOLACT)")
    model.add_argument("--model_type", choices=MODEL_TYPES,
                       help="decode the model as this kind where its shapes cannot tell (default: recognised)")
    model.add_argument("--resize_type", choices=[p.value for p in ResizePolicy],
                       help="how frames fit the model input (default: the one the model was measured with)")
    model.add_argument("-nireq", "--num_infer_requests", type=requests, default=0,
                       help=f"infer requests in flight, up to {MAX_REQUESTS} (0: the device's optimal number)")
    model.add_argument("-nstreams", "--num_streams", type=streams, help="CPU/GPU streams, a number >= 1 or AUTO")
    model.add_argument("-nthreads", "--num_threads", type=threads, help="CPU inference threads")
    model.add_argument("--hint", choices=["latency", "throughput"],
                       help="OpenVINO performance hint (default: latency for a camera, throughput otherwise)")
    model.add_argument("--cache_dir", type=Path, default=default_cache_dir(),
                       help="compiled-model cache, so the next start is fast (default: %(default)s)")
    model.add_argument("--no_cache", action="store_true", help="do not use the compiled-model cache")


def build_parser() -> Parser:
    parser = Parser(prog="python -m demo", description="OpenVINO instance segmentation demo")
    add_model_arguments(parser)
    io = parser.add_argument_group("input and output")
    io.add_argument("-i", "--input",
                    help="image, folder of images, video, image pattern (img_%%04d.png), camera index, stream URL "
                         "(rtsp://, http://, ...) or named pipe (default: the sample clip, downloaded on first use)")
    io.add_argument("--loop", action="store_true", help="repeat the input forever")
    io.add_argument("-o", "--output", help="write frames to a video (.avi, .mp4, .mkv) or images (out_%%03d.png)")
    io.add_argument("-limit", "--output_limit", type=non_negative, default=0,
                    help="frames to write to -o and --results (0: all)")
    io.add_argument("--output_resolution", type=resolution, help="size of shown and written frames, WxH")
    io.add_argument("--no_show", action="store_true", help="do not open a window")
    io.add_argument("--results", type=Path, help="write each frame's instances as JSON Lines")
    io.add_argument("-r", "--raw_output_message", action="store_true", help="print each frame's detections")
    add_live_arguments(parser)
    add_status_arguments(parser)
    view = parser.add_argument_group("what is drawn")
    view.add_argument("-t", "--prob_threshold", type=probability, default=0.5, help="minimum score to keep")
    view.add_argument("--max_det", type=positive, default=DecodeLimits.max_det,
                      help="most instances kept per frame (default: %(default)s)")
    view.add_argument("--show_boxes", action="store_true", help="draw boxes")
    view.add_argument("--show_scores", action="store_true", help="draw scores beside the names")
    view.add_argument("--no_track", action="store_true", help="no tracker: colours do not follow objects")
    parser.add_argument("--mode", choices=["instances", "background"], default="instances",
                        help="draw the instances, or keep the people and replace the background "
                             "(default: %(default)s)")
    background.add_arguments(parser)
    benchmark.add_arguments(parser, positive)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def device_config(args: argparse.Namespace, live: bool = False) -> DeviceConfig:
    hint = args.hint or ("latency" if live else "throughput")
    return DeviceConfig(args.device, hint, args.num_streams, args.num_threads, args.num_infer_requests,
                        None if args.no_cache else args.cache_dir)


def fetcher(args: argparse.Namespace) -> download.Fetcher:
    return download.Fetcher.from_environment(args.mirror, args.media_mirror)


def model_path(args: argparse.Namespace) -> Path:
    """``-m`` as a model file: a path as given, or a named model from the cache, downloaded on first use."""
    return download.resolve_model(args.model, args.precision, args.models_dir, fetcher(args))


def class_names(args: argparse.Namespace, model_labels: tuple[str, ...]) -> list[str]:
    """Names from --labels when given, else the ones the model carries, else the COCO names."""
    if args.labels == DEFAULT_LABELS and model_labels:
        return list(model_labels)
    return load_labels(args.labels)


def model_inputs(args: argparse.Namespace, model: Path) -> list[files.Named]:
    """The files the model and its class names are read from, which no output may replace."""
    paths = [model, model.with_suffix(".bin")] if model.suffix.lower() == ".xml" else [model]
    return ([files.Named("-m", path) for path in [*paths, model.parent / METADATA_FILE] if path.exists()]
            + [files.Named("--labels", args.labels)])


def refuse_overlapping_files(args: argparse.Namespace, model: Path, spec: str) -> None:
    """Before anything is opened: no output may be an input or another output."""
    inputs = [files.Named("-i", path) for path in files_read(spec)] + model_inputs(args, model)
    if args.target_bgr:
        inputs += [files.Named("--target_bgr", path) for path in files_read(args.target_bgr)]
    outputs = [files.Named(flag, Path(value)) for flag, value in
               (("-o", args.output), ("--results", args.results), ("--report", args.report)) if value]
    files.refuse_overlaps(inputs, outputs)


def run_instances(args: argparse.Namespace) -> None:
    measure = benchmark.settings_from_args(args)
    model = model_path(args)  # before the source, so that a wrong name never opens a camera
    spec = args.input or str(download.fetch_sample_clip(fetcher(args)))
    refuse_overlapping_files(args, model, spec)
    source = open_source(spec, loop=args.loop or measure is not None,
                         live=live_settings(args))
    segmenter = load_segmenter(ov.Core(), model, device_config(args, source.live),
                               ResizePolicy(args.resize_type) if args.resize_type else None,
                               args.iou_threshold, args.max_det, args.model_type, args.mode == "background")
    labels = class_names(args, segmenter.labels)
    composer = background.composer_from_args(args, labels) if args.mode == "background" else None
    outputs = app.Outputs(limit=args.output_limit, size=args.output_resolution, print_raw=args.raw_output_message,
                          status=status_settings(args))
    metrics = RunMetrics()
    single_frame = source.frame_count == 1 and not args.loop
    try:
        if args.output:
            outputs.sinks.append(open_output(args.output, source.fps or 25.0, single_frame))
        if args.results:
            outputs.results = ResultsWriter(args.results)
        if not args.no_show and measure is None:
            title = "Background subtraction" if composer else "Instance segmentation"
            outputs.window = open_window(f"{title} (q or Esc quits, space pauses)")
        tracker = None if args.no_track or composer or source.kind in ("image", "folder") else MaskTracker()
        pipeline = AsyncPipeline(segmenter, args.num_infer_requests, args.prob_threshold,
                                 live=source.live and not args.no_drop)
        log.info("model %s on %s, resize %s, %d infer requests", segmenter.name, args.device,
                 segmenter.policy.value, pipeline.nireq)
        # Labels keep clear of the status band wherever it is drawn, so the window and the files agree.
        render = composer or InstanceRenderer(args.show_boxes, args.show_scores,
                                              app.status_rows(source.live) if outputs.status.drawn(
                                                  outputs.window is not None) else 0)
        if measure:
            benchmark.run(segmenter, pipeline, source, labels, render, outputs, tracker, measure, args.device)
        else:
            app.run(segmenter, pipeline, source, labels, render, outputs, tracker, metrics)
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
    from . import evaluate  # here, not at the top: evaluate builds its flags from this module

    evaluate.main(argv)


def run_download(argv: list[str]) -> None:
    parser = Parser(prog="python -m demo download",
                    description="fetch Open Model Zoo models and the sample clip, checking size and checksum")
    download.run(download.add_arguments(parser).parse_args(argv))


# Commands other than the default run: `python -m demo NAME ...` calls SUBCOMMANDS[NAME](rest of argv).
SUBCOMMANDS: dict[str, Callable[[list[str]], None]] = {"eval": run_evaluation, "download": run_download}


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
            run_instances(build_parser().parse_args(argv))
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
