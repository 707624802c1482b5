"""The run plan: everything a run of the demo will read, write and decide, made from the flags before anything
opens (no source, model, window or server), so that a wrong flag or an overlap of files costs nothing."""
from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from demo.app import flags, many
from demo.app.benchmark import BenchmarkSettings
from demo.app.run import ONE_SOURCE
from demo.core import files
from demo.frames.live import LiveSettings, is_stream_url
from demo.frames.sources import files_read
from demo.model import download
from demo.model.loading import input_files
from demo.model.segmenter import ResolvedModel, Settings, resolve
from demo.outputs.exports import ExportSettings
from demo.outputs.serve import ServeSettings
from demo.outputs.sinks import VideoSettings
from demo.outputs.virtual_camera import VirtualCameraSettings
from demo.picture import background
from demo.picture.modes import RENDER_MODES
from demo.picture.render import StatusSettings
from demo.results.tracker import TrackerSettings


@dataclass(frozen=True)
class RunPlan:
    """One run of ``python -m demo``, decided: its inputs, model, outputs and views, and every policy."""

    inputs: tuple[str, ...]
    names: tuple[str, ...]  # each input's lane: ONE_SOURCE alone, or the {source} names of several
    reads: tuple[files.Named, ...]  # every file read: -i's, the model's, --target_bgr's, --background's
    writes: tuple[files.Output, ...]  # every file and folder written
    frame_outputs: dict[str, str]  # -o's file for each lane that has one
    model: ResolvedModel
    device: str
    settings: Settings  # with hint and reconnect decided
    live_input: LiveSettings
    looping: bool  # --loop, or a benchmark, which loops its input
    loop: bool  # --loop itself: a single image with it is a video
    max_frames: int  # each source ends after this many frames; 0: when it ends
    no_drop: bool
    composition: background.BackgroundSettings | None  # --mode background or privacy
    labels_name: str  # what the composer calls the class names in its messages
    tracker: TrackerSettings | None  # None: --no_track
    video: VideoSettings
    results: Path | None
    exports: ExportSettings
    serve: ServeSettings | None
    virtual_camera: VirtualCameraSettings | None  # its fps the input's, once known
    window_title: str | None  # None: no window
    show_boxes: bool
    show_scores: bool
    output_limit: int
    output_size: tuple[int, int] | None
    print_raw: bool
    status: StatusSettings
    benchmark: BenchmarkSettings | None

    @property
    def several(self) -> bool:
        return self.names != (ONE_SOURCE,)


def build(args: argparse.Namespace) -> RunPlan:
    """The plan of the run the flags ask for. Raises UsageError for flags that do not go together, and for an
    output that would overwrite an input or meet another output."""
    several = flags.several_inputs(args)
    measure = flags.benchmark_settings(args)
    video = flags.video_settings(args)
    composition = flags.background_settings(args) if RENDER_MODES[args.mode].composed else None
    settings = flags.model_settings(args)
    with offline_advice(OFFLINE_MODEL, *([] if args.input else [OFFLINE_INPUT])):
        model = resolve(args.model, settings)  # before the source, so that a wrong name never opens a camera
    if several is None:
        with offline_advice(OFFLINE_INPUT):
            inputs = [args.input[0] if args.input else str(download.fetch_sample_clip(flags.fetcher(args)))]
        names = [ONE_SOURCE]
        frame_outputs = {ONE_SOURCE: output} if (output := flags.file_output(args)) else {}
        writes = flags.planned_outputs(args)
    else:
        inputs, names = several, many.source_names(several)
        frame_outputs = flags.many_outputs(args, names)
        writes = flags.planned_outputs(args, names)
    reads = read_files(args, inputs, model)
    files.refuse_overlaps(reads, writes)
    live_input = flags.live_settings(args)
    return RunPlan(
        tuple(inputs), tuple(names), tuple(reads), tuple(writes), frame_outputs, model, args.device,
        decided(settings, inputs, live_input, several is None), live_input, args.loop or measure is not None,
        args.loop, args.max_frames, args.no_drop, composition, str(args.labels or "COCO"),
        None if args.no_track else flags.tracker_settings(args), video, args.results, flags.export_settings(args),
        flags.serve_settings(args), flags.virtual_camera_settings(args, 25.0),
        None if args.no_show or measure else f"{RENDER_MODES[args.mode].title} (q or Esc quits, space pauses)",
        args.show_boxes, args.show_scores, args.output_limit, args.output_resolution, args.raw_output_message,
        flags.status_settings(args), measure)


OFFLINE_MODEL = "a model with -m (a model file or an Ultralytics export folder; docs/models.md says how to get one)"
OFFLINE_INPUT = "an input with -i"


@contextmanager
def offline_advice(*needed: str) -> Iterator[None]:
    """A download that cannot reach its server says what to give instead: the model or the input it was fetching,
    and the input it would fetch next."""
    try:
        yield
    except download.Unreachable as error:
        raise download.Unreachable(f"{error}; without the network, give {' and '.join(needed)}") from None


def read_files(args: argparse.Namespace, inputs: list[str], model: ResolvedModel) -> list[files.Named]:
    """The files the run reads, named by their flags: no output may be one of them."""
    read = [files.Named("-i", path) for spec in inputs for path in files_read(spec)] + input_files(model.path,
                                                                                                   args.labels)
    for flag, value in (("--target_bgr", args.target_bgr), ("--background", args.background)):
        if value:
            read += [files.Named(flag, path) for path in files_read(value)]
    return read


def decided(settings: Settings, inputs: list[str], live_input: LiveSettings, one_source: bool) -> Settings:
    """The model's settings with the policies that follow the inputs: one camera or stream gets the latency
    hint unless --hint says otherwise (several keep throughput, every stream kept busy); a served model's lost
    server is waited for as a live input is, as long as --reconnect says."""
    live = any(is_live(spec) for spec in inputs)
    if settings.hint is None and live and one_source:
        settings = replace(settings, hint="latency")  # a camera's frames should be shown as soon as can be
    return replace(settings, reconnect=live_input.reconnect if live else 0)


def is_live(spec: str) -> bool:
    """A camera index, a stream's URL or a device or named pipe: what :func:`demo.frames.sources.open_source`
    opens as a live source."""
    path = Path(spec)
    return spec.isdigit() or is_stream_url(spec) or (path.exists() and not path.is_dir() and not path.is_file())
