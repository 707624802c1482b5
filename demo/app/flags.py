"""Every flag of every command, and what each turns into: the typed settings the stages take.

Flags are named as in Open Model Zoo's Python demos. Nothing outside this module and
:mod:`demo.app.cli` sees an ``argparse.Namespace``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from demo.app import many
from demo.app.argtypes import bgr_colour, box_size, median_size, real_number, whole_number
from demo.app.benchmark import DEFAULT_SECONDS, BenchmarkSettings
from demo.app.evaluate import DEFAULT_THRESHOLD, MAX_PER_IMAGE, EvalSettings
from demo.core.errors import DemoError, UsageError
from demo.core.files import Output, shown
from demo.frames.live import LiveSettings
from demo.frames.sources import DEFAULT_MAX_IMAGE_PIXELS, FrameSource, open_source
from demo.model.catalogue import DEFAULT_MODEL, DEFAULT_PRECISION, PRECISIONS
from demo.model.contracts import MODEL_TYPES, YOLACT_IOU_THRESHOLD, YOLO_IOU_THRESHOLD
from demo.model.download import MEDIA_ORIGIN, MODEL_ORIGIN, DownloadRequest, Fetcher, default_models_dir
from demo.model.geometry import ResizePolicy
from demo.model.loading import default_cache_dir
from demo.model.remote import DEFAULT_REQUESTS as DEFAULT_REMOTE_REQUESTS
from demo.model.segmenter import Settings
from demo.outputs.exports import ExportSettings
from demo.outputs.repository import RepositoryRequest
from demo.outputs.serve import ALLOW_HOST_FLAG, ANY_HOST, ServeSettings
from demo.outputs.sinks import DEFAULT_CRF, VideoSettings
from demo.outputs.virtual_camera import VirtualCameraSettings
from demo.picture import background
from demo.picture.render import StatusSettings
from demo.results.labels import COCO_LABELS
from demo.results.tracker import TrackerSettings

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


def add_model_arguments(parser: argparse.ArgumentParser, threshold: float = Settings.threshold,
                        max_det: int = Settings.max_det) -> None:
    """Model and device flags, shared by every command that runs a model: the fields of :class:`Settings`."""
    model = parser.add_argument_group("model and device")
    model.add_argument("-m", "--model",
                       help="model .xml (with its .bin), .onnx or .tflite, or a name from models.lst, downloaded on "
                            f"first use (default: {DEFAULT_MODEL}), or a served model: "
                            "http|https|grpc|grpcs://HOST:PORT/v2/models/NAME[/versions/N]")
    model.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION,
                       help="which files of a named model (default: %(default)s)")
    model.add_argument("--models_dir", type=Path, default=default_models_dir(),
                       help="where named models are kept ($DEMO_MODELS_DIR; default: %(default)s)")
    add_mirror_arguments(model)
    model.add_argument("-d", "--device", default="CPU", help="OpenVINO device: CPU, GPU, AUTO, MULTI:..., HETERO:...")
    model.add_argument("--labels", type=Path,
                       help="class names, one per line (default: the names the model carries, else COCO's, "
                            f"{COCO_LABELS.relative_to(COCO_LABELS.parent.parent)})")
    model.add_argument("-t", "--prob_threshold", type=probability, default=threshold,
                       help="minimum score to keep (default: %(default)s)")
    model.add_argument("--max_det", type=positive, default=max_det,
                       help="most instances kept per frame (default: %(default)s)")
    model.add_argument("--classes", type=class_list, metavar="NAMES",
                       help="keep only these classes, by name or id, comma-separated: person,car")
    model.add_argument("--iou_threshold", type=probability,
                       help="YOLO-seg and YOLACT models: overlap above which NMS drops the weaker of two "
                            f"same-class instances (default: the model's own, else {YOLO_IOU_THRESHOLD} for YOLO, "
                            f"{YOLACT_IOU_THRESHOLD} for YOLACT)")
    model.add_argument("--model_type", choices=MODEL_TYPES,
                       help="decode the model as this kind where its shapes cannot tell (default: recognised)")
    model.add_argument("--resize_type", choices=[p.value for p in ResizePolicy],
                       help="how frames fit the model input (default: the one the model was measured with)")
    model.add_argument("-nireq", "--num_infer_requests", type=requests, default=0,
                       help=f"infer requests in flight, up to {MAX_REQUESTS} (0: the device's optimal number; "
                            f"{DEFAULT_REMOTE_REQUESTS} for a served model)")
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
    io.add_argument("-i", "--input", action="append",
                    help="image, folder of images, video, image pattern (img_%%04d.png), camera index, stream URL "
                         "(rtsp://, http://, ...) or named pipe (default: the sample clip, downloaded on first use); "
                         "given several times, or as @FILE (the inputs listed in FILE), all of them through one "
                         "model, -o with {source} in its name or a folder")
    io.add_argument("--loop", action="store_true", help="repeat the input forever")
    io.add_argument("--max_image_pixels", type=whole_number(1, MAX_PIXELS), default=DEFAULT_MAX_IMAGE_PIXELS,
                    metavar="N", help="refuse an image with more pixels than this, as its header says, before "
                                      "decoding it (default: %(default)s, 2^27; at most 2^30)")
    io.add_argument("-o", "--output", help="write frames to a video (.avi, .mp4, .mkv) or images (out_%%03d.png)")
    io.add_argument("-limit", "--output_limit", type=non_negative, default=0,
                    help="frames to write to -o, --results and the exports (0: all)")
    io.add_argument("--output_resolution", type=resolution, help="size of shown and written frames, WxH")
    io.add_argument("--no_show", action="store_true", help="do not open a window")
    io.add_argument("--results", type=Path, help="write each frame's instances as JSON Lines")
    io.add_argument("-r", "--raw_output_message", action="store_true", help="print each frame's detections")
    add_video_arguments(parser)
    add_export_arguments(parser)
    add_live_arguments(parser)
    add_live_output_arguments(parser)
    add_status_arguments(parser)
    view = parser.add_argument_group("what is drawn")
    view.add_argument("--show_boxes", action="store_true", help="draw boxes")
    view.add_argument("--show_scores", action="store_true", help="draw scores beside the names")
    parser.add_argument("--mode", choices=["instances", *COMPOSED_MODES], default="instances",
                        help="draw the instances, keep the people and replace the background, or hide the people "
                             "in the scene (default: %(default)s)")
    add_background_arguments(parser)
    add_plate_arguments(parser)
    add_tracking_arguments(parser)
    add_benchmark_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


# --- Exports for other tools (--coco_results, --save_masks, --yolo_labels) -------------------------

def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("results for other tools (every input; -limit and --classes apply)")
    group.add_argument("--coco_results", type=Path, metavar="FILE.json",
                       help="write every instance to a COCO results file (boxes, RLE masks, scores), written "
                            "at the end of the run")
    group.add_argument("--save_masks", type=Path, metavar="DIR",
                       help="write one PNG per frame: 0 background, k the k-th instance of the frame")
    group.add_argument("--yolo_labels", type=Path, metavar="DIR",
                       help="write one Ultralytics segmentation label file per frame: class and polygon")


def export_settings(args: argparse.Namespace) -> ExportSettings:
    return ExportSettings(args.coco_results, args.save_masks, args.yolo_labels)

# --- End of exports ---------------------------------------------------------------------------------


# --- Every output of the run, before the first frame ------------------------------------------------

def planned_outputs(args: argparse.Namespace, sources: list[str] | None = None) -> list[Output]:
    """Every file and folder the run writes, known before the first frame: the one list the overlap check
    reads. ``sources``: the names of a run of several sources, each with its own -o."""
    if sources is None:
        frames = [output] if (output := file_output(args)) else []
    else:
        frames = list(many_outputs(args, sources).values())
    written = [Output.frames("-o", path) for path in frames]
    written += [Output(flag, path) for flag, path in (("--results", args.results), ("--report", args.report)) if path]
    return written + export_settings(args).planned()

# --- End of every output ----------------------------------------------------------------------------


# --- Several inputs in one run (-i given several times, -i @FILE) ------------------------------------

def several_inputs(args: argparse.Namespace) -> list[str] | None:
    """The inputs of a run of several sources (-i more than once, or a list of inputs); None for one input."""
    given = args.input or []
    if len(given) < 2 and not any(value.startswith(many.LIST_PREFIX) for value in given):
        return None
    refused = [output.flag for output in export_settings(args).planned()]
    if refused:
        raise UsageError(f"{', '.join(refused)} number files by frame and take one input: give one -i")
    many.check_output(file_output(args))
    return many.listed_inputs(given)


def many_outputs(args: argparse.Namespace, names: list[str]) -> dict[str, str]:
    """Each source's -o file, by source name; none without -o."""
    output = file_output(args)
    return {name: many.output_for(output, name) for name in names} if output else {}


# --- End of several inputs --------------------------------------------------------------------------


def class_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected class names or ids separated by commas, got {text!r}")
    return names


def add_mirror_arguments(parser: argparse._ActionsContainer) -> None:  # a parser or an argument group
    parser.add_argument("--mirror", metavar="URL",
                        help=f"fetch models from URL instead of {MODEL_ORIGIN} (default: $OMZ_MIRROR)")
    parser.add_argument("--media_mirror", metavar="URL",
                        help=f"fetch the sample clip from URL instead of {MEDIA_ORIGIN} (default: $DEMO_MEDIA_MIRROR)")


def fetcher(args: argparse.Namespace) -> Fetcher:
    return Fetcher.from_environment(args.mirror, args.media_mirror)


def model_settings(args: argparse.Namespace) -> Settings:
    """The model flags as :class:`Settings` (a hint left unset is for the caller to choose by the source)."""
    return Settings(
        threshold=args.prob_threshold, iou_threshold=args.iou_threshold, max_det=args.max_det, classes=args.classes,
        resize=args.resize_type, labels=args.labels, model_type=args.model_type,
        matting=getattr(args, "mode", "instances") == "background", plate=background_plate(args),
        hint=args.hint, streams=args.num_streams, threads=args.num_threads,
        requests=args.num_infer_requests, cache_dir=None if args.no_cache else args.cache_dir,
        precision=args.precision, models_dir=args.models_dir, fetcher=fetcher(args))


COMPOSED_MODES = ("background", "privacy")
# The flags each composed mode alone takes, with None as their default when not given.
MODE_ONLY_FLAGS = {"background": ("target_color", "target_bgr", "blur_bgr", "empty"),
                   "privacy": ("blur_people", "pixelate")}
smoothing = real_number(0, 0.99)
hold_frames = whole_number(0, 100_000)
pixel_block = whole_number(2, 8191)


def add_background_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``--mode background`` and ``--mode privacy`` (whose classes are --classes, default person)."""
    group = parser.add_argument_group("background and privacy modes (--mode background, --mode privacy)")
    replacement = group.add_mutually_exclusive_group()
    replacement.add_argument("--target_color", type=bgr_colour, metavar="B,G,R",
                             help="replace the background with this B,G,R colour (default: 0,255,0, green)")
    replacement.add_argument("--target_bgr", metavar="PATH",
                             help="replace the background with an image, or a video (looped, frame n with "
                                  "frame n), stretched to the frame")
    replacement.add_argument("--blur_bgr", type=box_size, metavar="K",
                             help="replace the background with the frame itself blurred by a KxK box filter, "
                                  "the people left out of the blur")
    hiding = group.add_mutually_exclusive_group()
    hiding.add_argument("--blur_people", type=box_size, metavar="K",
                        help="privacy: blur the people with a KxK box filter "
                             f"(default: {background.DEFAULT_BLUR_PEOPLE})")
    hiding.add_argument("--pixelate", type=pixel_block, metavar="N",
                        help="privacy: show the people as blocks of NxN pixels instead of blurring them")
    group.add_argument("--median", type=median_size, default=5, metavar="K",
                       help="median filter size that smooths the person mask; 1 = none (default: %(default)s)")
    group.add_argument("--alpha_edge", type=box_size, default=3, metavar="W",
                       help="width in pixels over which the person fades into the background; 1 = hard edge "
                            "(default: %(default)s)")
    group.add_argument("--smooth", type=smoothing, default=background.DEFAULT_SMOOTH, metavar="S",
                       help="over a video, the share of the last frame's opacity kept where the new mask agrees "
                            "with it, 0 to 0.99; 0 = off (default: %(default)s)")
    group.add_argument("--hold", type=hold_frames, default=background.DEFAULT_HOLD, metavar="N",
                       help="over a video, frames a missed person keeps the last opacity before it fades "
                            "(default: %(default)s)")
    group.add_argument("--empty", choices=background.EMPTY_CHOICES,
                       help="what a frame with no person shows (default: background over a video with --smooth "
                            "or --hold on, else original)")
    group.add_argument("--show_with_original_frame", action="store_true",
                       help="show the original frame and the result side by side")


def background_settings(args: argparse.Namespace) -> background.BackgroundSettings:
    for mode, names in MODE_ONLY_FLAGS.items():
        for name in names:
            if getattr(args, name) is not None and args.mode != mode:
                raise UsageError(f"argument --{name}: only with --mode {mode}")
    defaults = background.BackgroundSettings()
    return background.BackgroundSettings(
        args.mode, None, args.target_color or defaults.colour, args.target_bgr, args.blur_bgr,
        args.blur_people or defaults.blur_people, args.pixelate, background.EdgeStyle(args.median, args.alpha_edge),
        args.smooth, args.hold, args.empty, args.show_with_original_frame)


def footage(source: FrameSource, looping: bool) -> background.Footage:
    """Single images and folders of photos are unrelated pictures: no history runs over them."""
    return background.Footage(source.kind not in ("image", "folder"), source.frame_count if looping else None)


SERVED_SCHEME = "http://"
DEFAULT_SERVE_HOST = ServeSettings.host


def serve_address(text: str) -> tuple[str, int]:
    """[HOST:]PORT, also as http://HOST:PORT/; an IPv6 host in brackets ([::1]:8080)."""
    rest = text.strip()
    if rest.lower().startswith("https://"):
        raise argparse.ArgumentTypeError(f"the live view is plain HTTP: use http:// or HOST:PORT, got {text!r}")
    if rest.lower().startswith(SERVED_SCHEME):
        rest, _, path = rest[len(SERVED_SCHEME):].partition("/")
        if path:
            raise argparse.ArgumentTypeError(f"the live view is served at /, give no path: got {text!r}")
    host, colon, port = rest.rpartition(":")
    if not colon:
        host, port = DEFAULT_SERVE_HOST, rest
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise argparse.ArgumentTypeError(f"an IPv6 host goes in brackets, like [::1]:8080, got {text!r}")
    if not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected [HOST:]PORT with a port from 0 to 65535, got {text!r}")
    return host or DEFAULT_SERVE_HOST, int(port)


def add_live_output_arguments(parser: argparse.ArgumentParser) -> None:
    outputs = parser.add_argument_group("live outputs")
    outputs.add_argument("--serve", type=serve_address, metavar="[HOST:]PORT",
                         help="serve the output as an MJPEG stream with a page that shows it, at http://HOST:PORT/ "
                              f"(default host {DEFAULT_SERVE_HOST}; 0.0.0.0 for other machines); "
                              "-o http://HOST:PORT/ does the same")
    outputs.add_argument(ALLOW_HOST_FLAG, action="append", default=[], metavar="NAME",
                         help="a name a browser may open the live view by, besides an IP address, localhost, the "
                              "served host and this machine's name (which are all it answers to, against DNS "
                              f"rebinding); repeat for several, {ANY_HOST} for any")
    outputs.add_argument("--virtual_camera", nargs="?", const="", metavar="DEVICE",
                         help="send the output to a virtual camera for video calls: v4l2loopback on Linux "
                              "(DEVICE such as /dev/video10; default: the first one), OBS's on Windows and macOS")


def served_output(args: argparse.Namespace) -> bool:
    return bool(args.output) and args.output.lower().startswith((SERVED_SCHEME, "https://"))


def file_output(args: argparse.Namespace) -> str | None:
    """``-o`` when it names a file, not the live view."""
    return None if served_output(args) else args.output


def serve_settings(args: argparse.Namespace) -> ServeSettings | None:
    if served_output(args) and args.serve:
        raise UsageError("give the live view once: --serve or -o http://..., not both")
    if args.allowed_host and not (served_output(args) or args.serve):
        raise UsageError(f"{ALLOW_HOST_FLAG} names who may open the live view: give --serve too")
    allowed = tuple(args.allowed_host)
    if not served_output(args):
        return ServeSettings(*args.serve, allowed_hosts=allowed) if args.serve else None
    try:
        return ServeSettings(*serve_address(args.output), allowed_hosts=allowed)
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"argument -o/--output: {error}") from None


def virtual_camera_settings(args: argparse.Namespace, fps: float) -> VirtualCameraSettings | None:
    if args.virtual_camera is None:
        return None
    return VirtualCameraSettings(args.virtual_camera or None, fps, args.output_resolution)


crf_value = whole_number(0, 51)  # x264's range for 8-bit video


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    video = parser.add_argument_group("video output")
    video.add_argument("--crf", type=crf_value, metavar="N",
                       help="quality of an .mp4 output (H.264's constant rate factor): 18 looks lossless, 51 "
                            "is smallest, each +6 about halves the file; 0 is lossless but needs the High 4:4:4 "
                            f"profile, which many players and hardware decoders lack (default: {DEFAULT_CRF})")


def video_settings(args: argparse.Namespace) -> VideoSettings:
    """The settings for -o; --crf with an output other than .mp4 is refused rather than ignored."""
    # A folder takes several sources' NAME.mp4 files.
    mp4 = args.output and (Path(args.output).suffix.lower() == ".mp4" or Path(args.output).is_dir())
    if args.crf is not None and not mp4:
        given = f"-o '{shown(args.output)}' is not one" if args.output else "there is no -o"
        raise UsageError(f"--crf sets the quality of an .mp4 output, and {given}")
    return VideoSettings(DEFAULT_CRF if args.crf is None else args.crf)


def add_status_arguments(parser: argparse.ArgumentParser) -> None:
    status = parser.add_argument_group("status lines (FPS, latency)")
    status.add_argument("--no_status", action="store_true", help="draw no status lines, not even in the window")
    status.add_argument("--status_in_output", action="store_true",
                        help="draw the status lines into what -o writes too (default: the window and the live "
                             "views only)")


def status_settings(args: argparse.Namespace) -> StatusSettings:
    return StatusSettings(shown=not args.no_status, in_output=args.status_in_output)


def add_plate_arguments(parser: argparse.ArgumentParser) -> None:
    # Named as in Open Model Zoo's background_subtraction_demo, which runs the same model.
    group = parser.add_argument_group("two-image matting (background-matting-mobilenetv2, --mode background)")
    group.add_argument("--background", metavar="IMAGE",
                       help="the scene without the person, taken from the same place: the plate a two-image "
                            "matting model compares each frame with (stretched to the frame)")


def background_plate(args: argparse.Namespace) -> np.ndarray | None:
    """The --background image as read, BGR u8; None without the flag."""
    if getattr(args, "background", None) is None:
        return None
    try:
        source = open_source(args.background)
    except DemoError as error:
        raise DemoError(f"--background: {error}") from None
    with source:
        if source.kind != "image":
            raise UsageError(f"--background {args.background!r} is a {source.kind}: give one image of the scene "
                             "without the person")
        return next(iter(source)).image


def add_tracking_arguments(parser: argparse.ArgumentParser) -> None:
    track = parser.add_argument_group("tracking (videos and streams)")
    track.add_argument("--no_track", action="store_true",
                       help="no tracker: instances get no ids and colours do not follow objects")
    track.add_argument("--track_memory", type=non_negative, default=TrackerSettings.memory, metavar="N",
                       help="frames an object may go unseen (hidden, missed) and keep its id (default: %(default)s)")


def tracker_settings(args: argparse.Namespace) -> TrackerSettings:
    return TrackerSettings(memory=args.track_memory)


def add_benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("benchmark")
    group.add_argument("--benchmark", action="store_true",
                       help="run the whole pipeline headless as fast as it goes, looping the input, and report "
                            "its throughput against the model's own")
    group.add_argument("-niter", "--number_iterations", type=positive, metavar="N",
                       help="frames to measure (with --benchmark)")
    group.add_argument("--time", type=real_number(0, above=True, unit=" of seconds"), metavar="SECONDS",
                       help=f"seconds to measure (with --benchmark; default {DEFAULT_SECONDS:g} unless -niter is "
                            "given; with both, whichever ends first). Not -t, which is the score threshold here")
    group.add_argument("--report", type=Path, metavar="FILE.json",
                       help="also write the figures to this JSON file (with --benchmark)")


def benchmark_settings(args: argparse.Namespace) -> BenchmarkSettings | None:
    """The benchmark asked for, None for a normal run; flags that need --benchmark are refused without it."""
    if not args.benchmark:
        given = [flag for flag, value in (("-niter", args.number_iterations), ("--time", args.time),
                                          ("--report", args.report)) if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} --benchmark")
        return None
    if args.report and not args.report.parent.is_dir():
        raise UsageError(f"--report {shown(args.report)}: folder '{shown(args.report.parent)}' does not exist")
    seconds = args.time if args.time or args.number_iterations else DEFAULT_SECONDS
    return BenchmarkSettings(args.number_iterations, seconds, args.report)


def eval_parser() -> Parser:
    parser = Parser(prog="python -m demo eval",
                    description="COCO box and mask AP of a model, measured through the demo's own pipeline")
    add_model_arguments(parser, DEFAULT_THRESHOLD, MAX_PER_IMAGE)
    data = parser.add_argument_group("data and results")
    data.add_argument("--annotations", type=Path, required=True, help="COCO instances JSON file")
    data.add_argument("--images", type=Path, required=True, help="folder holding the annotation file's images")
    data.add_argument("--limit", type=non_negative, default=0, help="evaluate the first N images (0: all)")
    data.add_argument("--results", type=Path, help="write the detections as a COCO results JSON file")
    data.add_argument("--metrics", type=Path, help="write the AP figures as JSON")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def eval_settings(args: argparse.Namespace) -> EvalSettings:
    return EvalSettings(args.model, args.device, args.annotations, args.images, model_settings(args), args.limit,
                        args.results, args.metrics)


def download_parser() -> Parser:
    parser = Parser(prog="python -m demo download",
                    description="fetch Open Model Zoo models and the sample clip, checking size and checksum")
    parser.add_argument("names", nargs="*", metavar="NAME", help="model names; ? and * are wildcards")
    parser.add_argument("--list", type=Path, help="a file of model names, one per line (e.g. models.lst)")
    parser.add_argument("--media", action="store_true",
                        help="fetch the sample clip one-by-one-person-detection.mp4 (CC-BY-4.0, Intel)")
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION, help="default: %(default)s")
    parser.add_argument("--output_dir", type=Path,
                        help="where to put the files (default: the cache the demo reads, $DEMO_MODELS_DIR for models)")
    add_mirror_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def download_request(args: argparse.Namespace) -> DownloadRequest:
    return DownloadRequest(tuple(args.names), args.list, args.media, args.precision, args.output_dir, fetcher(args))


# --- python -m demo export: an OpenVINO Model Server repository (demo.outputs.repository) ---------------------

def repository_parser() -> Parser:
    parser = Parser(prog="python -m demo export",
                    description="write an OpenVINO Model Server repository of MODEL into DIR: DIR/NAME/1/model.xml "
                                "(the demo's pre-processing embedded: it takes BGR u8 frames of any size) and "
                                "DIR/config.json; nothing in DIR is replaced")
    parser.add_argument("model", metavar="MODEL", help="model .xml, .onnx or .tflite, or a name from models.lst")
    parser.add_argument("folder", metavar="DIR", type=Path, help="the repository folder (made if absent)")
    parser.add_argument("--name", help="the served model's name (default: the model file's name without suffix)")
    parser.add_argument("--model_type", choices=MODEL_TYPES,
                        help="decode the model as this kind where its shapes cannot tell (default: recognised)")
    parser.add_argument("--resize_type", choices=[p.value for p in ResizePolicy],
                        help="how frames fit the model input (default: the one the model was measured with)")
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION,
                        help="which files of a named model (default: %(default)s)")
    parser.add_argument("--models_dir", type=Path, default=default_models_dir(),
                        help="where named models are kept ($DEMO_MODELS_DIR; default: %(default)s)")
    add_mirror_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def repository_request(args: argparse.Namespace) -> RepositoryRequest:
    settings = Settings(resize=args.resize_type, model_type=args.model_type, precision=args.precision,
                        models_dir=args.models_dir, fetcher=fetcher(args))
    return RepositoryRequest(args.model, args.folder, args.name, settings)

# --- End of export -----------------------------------------------------------------------------------
