"""Every flag of every command, and what each turns into: the typed settings the stages take.

Flags are declared once, as data: a library setting's flag beside its field (:func:`demo.core.flag.setting`),
the application's own in the tables below. The parsers and the reference page docs/cli.md
(:mod:`demo.app.reference`) are built from them. Flags are named as in Open Model Zoo's Python demos.
Nothing outside this module and :mod:`demo.app.cli` sees an ``argparse.Namespace``.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from demo.app import many
from demo.app.benchmark import DEFAULT_SECONDS, BenchmarkSettings
from demo.app.evaluate import DEFAULT_THRESHOLD, MAX_PER_IMAGE, EvalSettings
from demo.app.parsing import Parser
from demo.core import values
from demo.core.errors import DemoError, UsageError
from demo.core.files import Output, shown
from demo.core.flag import Flag, declared_flags, filled
from demo.core.values import MAX_PIXELS, BadValue, non_negative, positive, real_number, whole_number
from demo.frames.live import LiveSettings
from demo.frames.sources import DEFAULT_MAX_IMAGE_PIXELS, FrameSource, open_source
from demo.model.catalogue import DEFAULT_MODEL, DEFAULT_PRECISION, PRECISIONS
from demo.model.download import MEDIA_ORIGIN, MODEL_ORIGIN, DownloadRequest, Fetcher
from demo.model.segmenter import MAX_REQUESTS, Settings  # noqa: F401  (MAX_REQUESTS: the flag's bound, for tests)
from demo.outputs.exports import ExportSettings
from demo.outputs.repository import RepositoryRequest
from demo.outputs.serve import ALLOW_HOST_FLAG, ANY_HOST, ServeSettings
from demo.outputs.sinks import VideoSettings
from demo.outputs.virtual_camera import VirtualCameraSettings
from demo.picture import background
from demo.picture.modes import RENDER_MODES
from demo.picture.render import StatusSettings
from demo.results.tracker import TrackerSettings


@dataclass(frozen=True)
class Group:
    """Flags shown together under a title; None: the command's own options."""

    title: str | None
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class Command:
    """A command's parser as data: the parser and the reference page (demo.app.reference) are built from it."""

    prog: str
    description: str  # up to its first ": ", the command's one line in the list of commands
    groups: tuple[Group, ...]

    @property
    def name(self) -> str:
        """What follows ``python -m demo`` (nothing for the default command)."""
        return " ".join(self.prog.split()[3:])

    @property
    def summary(self) -> str:
        return self.description.partition(": ")[0]

    def parser(self, listed: tuple[Command, ...] = ()) -> Parser:
        """The command's parser; its help lists the ``listed`` commands."""
        parser = Parser(self.prog, self.description, [(command.name, command.summary) for command in listed])
        for group in self.groups:
            container = parser.add_argument_group(group.title) if group.title else parser
            exclusive: dict[str, argparse._MutuallyExclusiveGroup] = {}
            for flag in group.flags:
                into = container
                if flag.exclusive:
                    into = exclusive.get(flag.exclusive) or container.add_mutually_exclusive_group()
                    exclusive[flag.exclusive] = into
                argument = into.add_argument(*flag.accepted, **argument_keywords(flag))
                if argument.option_strings:  # all are taken; the help and the messages name the declared ones
                    argument.option_strings = list(flag.spellings)
        return parser


def argument_keywords(flag: Flag) -> dict[str, object]:
    """What ``add_argument`` takes besides the spellings; the unset ones are left to argparse."""
    also = f" (also {', '.join(flag.aliases)})" if flag.aliases else ""
    keywords = {"help": flag.help + also, "type": flag.parse and argument_type(flag.parse),
                "default": flag.current_default(),
                "choices": flag.choices, "metavar": flag.metavar, "action": flag.action, "nargs": flag.nargs,
                "const": flag.const, "required": flag.required or None}
    return {key: value for key, value in keywords.items() if value is not None}


def argument_type(parse: Callable[[str], object]) -> Callable[[str], object]:
    """``parse`` as argparse's type: a BadValue's one line is what argparse shows after the flag's name."""
    def typed(text: str) -> object:
        try:
            return parse(text)
        except BadValue as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    typed.__name__ = getattr(parse, "__name__", repr(parse))  # argparse names the type in its own messages
    return typed


def declared_values(args: argparse.Namespace, settings_class: type) -> dict[str, object]:
    """The fields of ``settings_class`` its flags on this command fill, by field name; a field whose flag the
    command lacks, or left None, keeps its default."""
    return filled(settings_class, lambda flag: getattr(args, flag.dest, None))


def declared(settings_class: type, *names: str) -> tuple[Flag, ...]:
    """The flags ``settings_class`` declares for these fields; all of them without names."""
    flags = declared_flags(settings_class)
    return tuple(flags[name] for name in names or flags)


DEBUG = Flag(("--debug",), "show tracebacks", action="store_true")
MIRRORS = (Flag(("--mirror",), f"fetch models from URL instead of {MODEL_ORIGIN} (default: $OMZ_MIRROR)",
                metavar="URL"),
           Flag(("--media_mirror",), f"fetch the sample clip from URL instead of {MEDIA_ORIGIN} "
                "(default: $DEMO_MEDIA_MIRROR)", metavar="URL"))


NO_CACHE = Flag(("--no_cache",), "do not use the compiled-model cache", action="store_true")


def model_group(threshold: float = Settings.threshold, max_det: int = Settings.max_det) -> Group:
    """Model and device flags, shared by every command that runs a model: the model and the device, then the
    fields of :class:`Settings` as it declares them, each followed by the application's flags that go with it."""
    fields = declared_flags(Settings)
    fields["threshold"] = replace(fields["threshold"], default=threshold)
    fields["max_det"] = replace(fields["max_det"], default=max_det)
    beside = {"cache_dir": (NO_CACHE,), "models_dir": MIRRORS}
    return Group("model and device", (
        Flag(("-m", "--model"), "model .xml (with its .bin), .onnx or .tflite, a folder holding one .xml (as "
             "Ultralytics' export to OpenVINO writes it, with its metadata.yaml), or a name from models.lst, "
             f"downloaded on first use (default: {DEFAULT_MODEL}), or a served model: "
             "http|https|grpc|grpcs://HOST:PORT/v2/models/NAME[/versions/N]"),
        Flag(("-d", "--device"), "OpenVINO device: CPU, GPU, AUTO, MULTI:..., HETERO:...", default="CPU"),
        *(flag for name, field in fields.items() for flag in (field, *beside.get(name, ())))))


def live_settings(args: argparse.Namespace) -> LiveSettings:
    return LiveSettings(**declared_values(args, LiveSettings))


def fetcher(args: argparse.Namespace) -> Fetcher:
    return Fetcher.from_environment(args.mirror, args.media_mirror)


def model_settings(args: argparse.Namespace) -> Settings:
    """The model flags as :class:`Settings` (a hint left unset is for the caller to choose by the source)."""
    return Settings(**{**declared_values(args, Settings), "cache_dir": None if args.no_cache else args.cache_dir},
                    matting=getattr(args, "mode", "instances") == "background", plate=background_plate(args),
                    fetcher=fetcher(args))


# --- Exports for other tools (--coco_results, --save_masks, --yolo_labels) -------------------------

EXPORTS = Group("results for other tools (every input; -limit and --classes apply)", declared(ExportSettings))


def export_settings(args: argparse.Namespace) -> ExportSettings:
    return ExportSettings(**declared_values(args, ExportSettings))

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


INPUT_OUTPUT = Group("input and output", (
    Flag(("-i", "--input"), "image, folder of images, video, image pattern (img_%%04d.png), camera index, stream URL "
         "(rtsp://, http://, ...) or named pipe (default: the sample clip, downloaded on first use); given several "
         "times, or as @FILE (the inputs listed in FILE), all of them through one model, -o with {source} in its "
         "name or a folder", action="append", aliases=("--source",)),
    Flag(("--loop",), "repeat the input forever", action="store_true"),
    Flag(("--max_frames",), "end each input after its first N frames, as if it ended there (0: no limit); "
         "-limit only stops the writing", non_negative, default=0, metavar="N"),
    Flag(("--max_image_pixels",), "refuse an image with more pixels than this, as its header says, before decoding "
         "it (default: %(default)s, 2^27; at most 2^30)", whole_number(1, MAX_PIXELS),
         default=DEFAULT_MAX_IMAGE_PIXELS, metavar="N"),
    Flag(("-o", "--output"), "write frames to a video (.avi, .mp4, .mkv) or images (out_%%03d.png)"),
    Flag(("-limit", "--output_limit"), "frames to write to -o, --results and the exports (0: all)", non_negative,
         default=0),
    Flag(("--output_resolution",), "size of shown and written frames, WxH", values.resolution),
    Flag(("--no_show",), "do not open a window; with nothing else taking pictures (-o, --serve, "
         "--virtual_camera) frames are not drawn", action="store_true"),
    Flag(("--results",), "write each frame's instances as JSON Lines", Path),
    Flag(("-r", "--raw_output_message"), "print each frame's detections", action="store_true")))


MODE = Flag(("--mode",), "draw the instances, keep the people and replace the background, or hide the people in "
            "the scene (default: %(default)s)", choices=list(RENDER_MODES), default="instances")
# The flags of --mode background and --mode privacy (whose classes are --classes, default person).
COMPOSITING = Group("background and privacy modes (--mode background, --mode privacy)",
                    declared(background.BackgroundSettings))


def background_settings(args: argparse.Namespace) -> background.BackgroundSettings:
    # The flags a composed mode alone takes have None as their default when not given.
    for mode, declared_mode in RENDER_MODES.items():
        for name in declared_mode.only_flags:
            if getattr(args, name) is not None and args.mode != mode:
                raise UsageError(f"argument --{name}: only with --mode {mode}")
    return background.BackgroundSettings(mode=args.mode, **declared_values(args, background.BackgroundSettings))


def footage(source: FrameSource, looping: bool) -> background.Footage:
    """Single images and folders of photos are unrelated pictures: no history runs over them."""
    return background.Footage(source.kind not in ("image", "folder"), source.frame_count if looping else None)


SERVED_SCHEME = "http://"
DEFAULT_SERVE_HOST = ServeSettings.host


def serve_address(text: str) -> tuple[str, int]:
    """[HOST:]PORT, also as http://HOST:PORT/; an IPv6 host in brackets ([::1]:8080)."""
    rest = text.strip()
    if rest.lower().startswith("https://"):
        raise BadValue(f"the live view is plain HTTP: use http:// or HOST:PORT, got {text!r}")
    if rest.lower().startswith(SERVED_SCHEME):
        rest, _, path = rest[len(SERVED_SCHEME):].partition("/")
        if path:
            raise BadValue(f"the live view is served at /, give no path: got {text!r}")
    host, colon, port = rest.rpartition(":")
    if not colon:
        host, port = DEFAULT_SERVE_HOST, rest
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise BadValue(f"an IPv6 host goes in brackets, like [::1]:8080, got {text!r}")
    if not port.isdigit() or int(port) > 65535:
        raise BadValue(f"expected [HOST:]PORT with a port from 0 to 65535, got {text!r}")
    return host or DEFAULT_SERVE_HOST, int(port)


LIVE_OUTPUTS = Group("live outputs", (
    Flag(("--serve",), "serve the output as an MJPEG stream with a page that shows it, at http://HOST:PORT/ "
         f"(default host {DEFAULT_SERVE_HOST}; 0.0.0.0 for other machines); -o http://HOST:PORT/ does the same",
         serve_address, metavar="[HOST:]PORT"),
    Flag((ALLOW_HOST_FLAG,), "a name a browser may open the live view by, besides an IP address, localhost, the "
         "served host and this machine's name (which are all it answers to, against DNS rebinding); repeat for "
         f"several, {ANY_HOST} for any", action="append", default=[], metavar="NAME"),
    Flag(("--virtual_camera",), "send the output to a virtual camera for video calls: v4l2loopback on Linux "
         "(DEVICE such as /dev/video10; default: the first one), OBS's on Windows and macOS", nargs="?", const="",
         metavar="DEVICE")))


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
    except BadValue as error:
        raise UsageError(f"argument -o/--output: {error}") from None


def virtual_camera_settings(args: argparse.Namespace, fps: float) -> VirtualCameraSettings | None:
    if args.virtual_camera is None:
        return None
    return VirtualCameraSettings(args.virtual_camera or None, fps, args.output_resolution)


VIDEO = Group("video output", declared(VideoSettings))


def video_settings(args: argparse.Namespace) -> VideoSettings:
    """The settings for -o; --crf with an output other than .mp4 is refused rather than ignored."""
    # A folder takes several sources' NAME.mp4 files.
    mp4 = args.output and (Path(args.output).suffix.lower() == ".mp4" or Path(args.output).is_dir())
    if args.crf is not None and not mp4:
        given = f"-o '{shown(args.output)}' is not one" if args.output else "there is no -o"
        raise UsageError(f"--crf sets the quality of an .mp4 output, and {given}")
    return VideoSettings(**declared_values(args, VideoSettings))


STATUS = Group("status lines (FPS, latency)", (
    Flag(("--no_status",), "draw no status lines, not even in the window", action="store_true"),
    Flag(("--status_in_output",), "draw the status lines into what -o writes too (default: the window and the live "
         "views only)", action="store_true")))


def status_settings(args: argparse.Namespace) -> StatusSettings:
    return StatusSettings(shown=not args.no_status, in_output=args.status_in_output)


# Named as in Open Model Zoo's background_subtraction_demo, which runs the same model.
PLATE = Group("two-image matting (background-matting-mobilenetv2, --mode background)", (
    Flag(("--background",), "the scene without the person, taken from the same place: the plate a two-image "
         "matting model compares each frame with (stretched to the frame)", metavar="IMAGE"),))


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


TRACKING = Group("tracking (videos and streams)", (
    Flag(("--no_track",), "no tracker: instances get no ids and colours do not follow objects", action="store_true"),
    *declared(TrackerSettings)))


def tracker_settings(args: argparse.Namespace) -> TrackerSettings:
    return TrackerSettings(**declared_values(args, TrackerSettings))


BENCHMARK = Group("benchmark", (
    Flag(("--benchmark",), "run the whole pipeline headless as fast as it goes, looping the input, and report its "
         "throughput against the model's own", action="store_true"),
    Flag(("-niter", "--number_iterations"), "frames to measure (with --benchmark)", positive, metavar="N"),
    Flag(("--time",), f"seconds to measure (with --benchmark; default {DEFAULT_SECONDS:g} unless -niter is given; "
         "with both, whichever ends first). Not -t, which is the score threshold here",
         real_number(0, above=True, unit=" of seconds"), metavar="SECONDS"),
    Flag(("--report",), "also write the figures to this JSON file (with --benchmark)", Path, metavar="FILE.json")))


def benchmark_settings(args: argparse.Namespace) -> BenchmarkSettings | None:
    """The benchmark asked for, None for a normal run; flags that need --benchmark are refused without it."""
    if not args.benchmark:
        given = [flag for flag, value in (("-niter", args.number_iterations), ("--time", args.time),
                                          ("--report", args.report)) if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} --benchmark")
        return None
    if args.max_frames:
        raise UsageError("--max_frames stops a run; --benchmark measures -niter N frames or --time SECONDS")
    if args.report and not args.report.parent.is_dir():
        raise UsageError(f"--report {shown(args.report)}: folder '{shown(args.report.parent)}' does not exist")
    seconds = args.time if args.time or args.number_iterations else DEFAULT_SECONDS
    return BenchmarkSettings(args.number_iterations, seconds, args.report, drawn=not args.no_show)


RUN = Command("python -m demo", "OpenVINO instance segmentation demo", (
    model_group(), INPUT_OUTPUT, VIDEO, EXPORTS,
    Group("cameras and network streams", declared(LiveSettings)),
    LIVE_OUTPUTS, STATUS,
    Group("what is drawn", (Flag(("--show_boxes",), "draw boxes", action="store_true"),
                            Flag(("--show_scores",), "draw scores beside the names", action="store_true"))),
    Group(None, (MODE,)), COMPOSITING, PLATE, TRACKING, BENCHMARK, Group(None, (DEBUG,))))


def build_parser() -> Parser:
    return RUN.parser(listed=COMMANDS[1:])


EVAL = Command("python -m demo eval", "COCO box and mask AP of a model, measured through the demo's own pipeline", (
    model_group(DEFAULT_THRESHOLD, MAX_PER_IMAGE),
    Group("data and results", (
        Flag(("--annotations",), "COCO instances JSON file", Path, required=True),
        Flag(("--images",), "folder holding the annotation file's images", Path, required=True),
        Flag(("--limit",), "evaluate the first N images (0: all)", non_negative, default=0),
        Flag(("--results",), "write the detections as a COCO results JSON file", Path),
        Flag(("--metrics",), "write the AP figures as JSON", Path))),
    Group(None, (DEBUG,))))


def eval_parser() -> Parser:
    return EVAL.parser()


def eval_settings(args: argparse.Namespace) -> EvalSettings:
    return EvalSettings(args.model, args.device, args.annotations, args.images, model_settings(args), args.limit,
                        args.results, args.metrics)


DOWNLOAD = Command("python -m demo download",
                   "fetch Open Model Zoo models and the sample clip, checking size and checksum", (Group(None, (
                       Flag(("names",), "model names; ? and * are wildcards", nargs="*", metavar="NAME"),
                       Flag(("--list",), "a file of model names, one per line (e.g. models.lst)", Path),
                       Flag(("--media",), "fetch the sample clip one-by-one-person-detection.mp4 (CC-BY-4.0, Intel)",
                            action="store_true"),
                       Flag(("--precision",), "default: %(default)s", choices=PRECISIONS, default=DEFAULT_PRECISION),
                       Flag(("--output_dir",), "where to put the files (default: the cache the demo reads, "
                            "$DEMO_MODELS_DIR for models)", Path),
                       *MIRRORS, DEBUG)),))


def download_parser() -> Parser:
    return DOWNLOAD.parser()


def download_request(args: argparse.Namespace) -> DownloadRequest:
    return DownloadRequest(tuple(args.names), args.list, args.media, args.precision, args.output_dir, fetcher(args))


# --- python -m demo export: an OpenVINO Model Server repository (demo.outputs.repository) ---------------------

EXPORT = Command("python -m demo export",
                 "write an OpenVINO Model Server repository of MODEL into DIR: DIR/NAME/1/model.xml (the demo's "
                 "pre-processing embedded: it takes BGR u8 frames of any size) and DIR/config.json; nothing in DIR "
                 "is replaced", (Group(None, (
                     Flag(("model",), "model .xml, .onnx or .tflite, a folder holding one .xml, or a name from "
                          "models.lst", metavar="MODEL"),
                     Flag(("folder",), "the repository folder (made if absent)", Path, metavar="DIR"),
                     Flag(("--name",), "the served model's name (default: the model file's name without suffix)"),
                     *declared(Settings, "model_type", "resize", "precision", "models_dir"),
                     *MIRRORS, DEBUG)),))


def repository_parser() -> Parser:
    return EXPORT.parser()


def repository_request(args: argparse.Namespace) -> RepositoryRequest:
    settings = Settings(**declared_values(args, Settings), fetcher=fetcher(args))
    return RepositoryRequest(args.model, args.folder, args.name, settings)

# --- End of export -----------------------------------------------------------------------------------

COMMANDS = (RUN, EVAL, DOWNLOAD, EXPORT)
