"""Several inputs in one run: their names, their opening, and where each source's results go.

The sources' frames are merged fairly (:mod:`demo.frames.merge`) into one stream through one compiled model
(:meth:`demo.model.segmenter.Segmenter.stream_many`); each result goes to its own source's lane (tracker,
drawing, files, figures) and into that source's tile of the grid the window shows.
"""
from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np

from demo.app import run as app
from demo.core.errors import DemoError, UsageError
from demo.core.files import shown
from demo.core.metrics import RunMetrics
from demo.core.names import redact
from demo.core.textfile import read_lines
from demo.core.wording import counted
from demo.frames.live import LiveSettings, is_stream_url
from demo.frames.merge import Feed
from demo.frames.sources import FrameSource, open_source
from demo.outputs.sinks import Sink
from demo.outputs.window import Window
from demo.picture.render import FONT, STATUS_BACKGROUND, TEXT_COLOUR, TEXT_LINE, frame_style

logger = logging.getLogger(__name__)

SOURCE_FIELD = "{source}"  # in -o: replaced by each source's name
LIST_PREFIX = "@"  # -i @FILE: the inputs listed in FILE, one per line
NAME_LENGTH = 40  # characters of a source's name: enough to tell cameras apart in a file name and a tile
TILE_SIZE = (640, 360)  # a grid tile when --output_resolution does not give one
OPEN_POLL_S = 0.1  # opening waits in slices this long, so that Ctrl-C stops it at once


# --- Which inputs, and their names -------------------------------------------------------------------

def listed_inputs(values: Sequence[str]) -> list[str]:
    """The inputs of ``-i`` given as they came: each value, or for ``@FILE`` the lines of FILE (blank lines
    and ``#`` comments aside). A relative path in a list is taken from the list's folder, as playlists do."""
    inputs: list[str] = []
    for value in values:
        if not value.startswith(LIST_PREFIX):
            inputs.append(value)
            continue
        listing = Path(value[len(LIST_PREFIX):])
        if not listing.exists():  # a named pipe or a device is refused in one line as it is read
            raise UsageError(f"-i {value}: no list of inputs '{shown(listing)}' (an input whose name starts with "
                             f"{LIST_PREFIX} is given with its folder: ./{LIST_PREFIX}NAME)")
        lines = [line.strip() for line in read_lines(listing, "list of inputs")]
        entries = [line for line in lines if line and not line.startswith("#")]
        if not entries:
            raise UsageError(f"-i {value}: the list names no input")
        inputs += [entry if _not_a_path(entry) else str(listing.parent / entry) for entry in entries]
    return inputs


def _not_a_path(entry: str) -> bool:
    return entry.isdigit() or "://" in entry or Path(entry).is_absolute()


def source_names(inputs: Sequence[str]) -> list[str]:
    """A short name per input, safe in a file name and unique among them: a file's or folder's name without
    its extension, ``camera0`` for a camera, a stream's host, port and last path part (never its
    credentials); a name taken already gets ``-2``, ``-3``, ..."""
    names: list[str] = []
    for spec in inputs:
        base = _safe(_base_name(spec))
        name, number = base, 1
        while name in names:
            number += 1
            name = f"{base}-{number}"
        names.append(name)
    return names


def _base_name(spec: str) -> str:
    if spec.isdigit():
        return f"camera{spec}"
    if is_stream_url(spec) or "://" in spec:
        parts = urlsplit(redact(spec))
        host = parts.netloc.rpartition("@")[2]
        return "_".join(part for part in (host, Path(parts.path).stem) if part)
    path = Path(spec.rstrip("/"))
    return path.name if path.is_dir() else path.stem.replace("%", "")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:NAME_LENGTH].strip("._-") or "source"


def output_for(pattern: str, name: str) -> str:
    """``-o``'s name for one source: its {source} field filled, or in a folder, ``NAME.mp4``."""
    if SOURCE_FIELD in pattern:
        return pattern.replace(SOURCE_FIELD, name)
    return str(Path(pattern) / f"{name}.mp4")


def check_output(pattern: str | None) -> None:
    """Several sources need one output each: ``-o`` must say where each goes."""
    if pattern and SOURCE_FIELD not in pattern and not (pattern.endswith("/") or Path(pattern).is_dir()):
        raise UsageError(f"-o '{shown(pattern)}' would take the frames of every source: with several inputs "
                         f"put {SOURCE_FIELD} in its name (out_{SOURCE_FIELD}.mp4) or give a folder")


# --- Opening, all at once ----------------------------------------------------------------------------

@dataclass
class Opened:
    """The sources that opened, by name, and one line for each that did not."""

    inputs: int
    sources: dict[str, FrameSource] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def ended(self, feed: Feed) -> None:
        """A source ended or failed: one line, while the others go on."""
        if feed.error is None:
            logger.info("source %s ended after %s", feed.name, counted(feed.taken, "frame"))
        else:
            self.failed(feed.name, feed.error)

    def failed(self, name: str, error: BaseException) -> None:
        reason = str(error) if isinstance(error, DemoError) else f"unexpected {type(error).__name__}: {error}"
        self.failures.append(f"source {name}: {reason}")
        logger.error("source %s: %s; the other sources go on", name, reason)

    def check(self) -> None:
        """At the end: a source that could not be read whole makes the run an error, its reason in one line."""
        if self.failures:
            raise DemoError(f"{len(self.failures)} of {counted(self.inputs, 'source')} failed, the others were read "
                            f"to their end or the stop ({'; '.join(self.failures)})")

    def close(self) -> None:
        for source in self.sources.values():
            source.close()


def open_sources(inputs: Sequence[str], names: Sequence[str], loop: bool, live: LiveSettings) -> Opened:
    """Open every input at the same time (a camera that does not answer delays none of the others); each
    that cannot open is reported in one line and left out. None opening at all is an error."""
    results: dict[str, FrameSource | Exception] = {}

    def open_one(name: str, spec: str) -> None:
        try:
            results[name] = open_source(spec, loop=loop, live=live)
        except Exception as error:  # noqa: BLE001 - this input fails alone
            results[name] = error

    threads = [threading.Thread(target=open_one, args=(name, spec), name=f"open {name}", daemon=True)
               for name, spec in zip(names, inputs)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(OPEN_POLL_S)
    except BaseException:  # a stop while some still open: those that did are closed
        for outcome in list(results.values()):
            if isinstance(outcome, FrameSource):
                outcome.close()
        raise
    opened = Opened(len(inputs))
    for name in names:  # in the order given, whatever order they opened in
        outcome = results[name]
        if isinstance(outcome, FrameSource):
            opened.sources[name] = outcome
        else:
            opened.failed(name, outcome)
    if not opened.sources:
        raise DemoError(f"none of the {counted(len(inputs), 'input')} could be opened")
    return opened


# --- The grid -----------------------------------------------------------------------------------------

def grid_shape(count: int) -> tuple[int, int]:
    """(columns, rows) of the most nearly square grid that holds ``count`` tiles, wider than tall."""
    columns = math.ceil(math.sqrt(count))
    return columns, math.ceil(count / columns)


def fit_into(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``picture`` scaled to fit ``size`` (w, h) with its proportions, centred on black."""
    height, width = picture.shape[:2]
    scale = min(size[0] / width, size[1] / height)
    fitted = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = picture if fitted == (width, height) else cv2.resize(picture, fitted, interpolation=interpolation)
    tile = np.zeros((size[1], size[0], 3), np.uint8)
    x, y = (size[0] - fitted[0]) // 2, (size[1] - fitted[1]) // 2
    tile[y:y + fitted[1], x:x + fitted[0]] = scaled
    return tile


def draw_tile_label(tile: np.ndarray, text: str) -> None:
    """The tile's name and FPS on a box of their own in its bottom-left corner."""
    style = frame_style((tile.shape[1], tile.shape[0]))
    (width, height), baseline = cv2.getTextSize(text, FONT, style.status_scale, style.line)
    pad = style.status_pad
    top = tile.shape[0] - height - baseline - 2 * pad
    cv2.rectangle(tile, (0, top), (width + 2 * pad - 1, tile.shape[0] - 1), STATUS_BACKGROUND, cv2.FILLED)
    cv2.putText(tile, text, (pad, tile.shape[0] - pad - baseline), FONT, style.status_scale, TEXT_COLOUR,
                style.line, TEXT_LINE)


class TileGrid:
    """One picture holding each source's newest in a tile of its own, in the order the sources were given;
    a tile whose source has shown nothing yet is black."""

    def __init__(self, names: Sequence[str], tile: tuple[int, int]) -> None:
        self.tile = tile
        self.columns, rows = grid_shape(len(names))
        self._place = {name: divmod(position, self.columns) for position, name in enumerate(names)}
        self.picture = np.zeros((rows * tile[1], self.columns * tile[0], 3), np.uint8)

    def put(self, name: str, picture: np.ndarray, label: str) -> None:
        row, column = self._place[name]
        tile = fit_into(picture, self.tile)
        draw_tile_label(tile, label)
        width, height = self.tile
        self.picture[row * height:(row + 1) * height, column * width:(column + 1) * width] = tile


@dataclass
class GridScreen:
    """The window and the live views of a run of several sources: the grid, each tile as its source delivers."""

    grid: TileGrid | None  # None: nobody watches
    window: Window | None
    live: list[Sink] = field(default_factory=list)
    shown: bool = False  # a picture is on the screen already

    @property
    def viewed(self) -> bool:
        return self.window is not None or bool(self.live)

    def show(self, name: str, picture: np.ndarray, fps: float) -> bool:
        """Put the picture in its tile and show the grid; False once the user has asked to stop."""
        if not self.viewed:
            return True
        self.grid.put(name, picture, f"{name}  {fps:.1f} FPS" if fps > 0 else name)
        for view in self.live:
            view.write(self.grid.picture.copy())  # a server encodes it later, while the next tile goes in
        self.shown = True
        return self.window.show(self.grid.picture) if self.window else True

    def idle(self) -> bool:
        """While no result comes (every source stalled), keep the window answering its keys; True to stop."""
        return bool(self.window and self.shown) and not self.window.show(self.grid.picture)


# --- The lanes ----------------------------------------------------------------------------------------

def unwritten(lanes: Mapping[str, app.Lane]) -> dict[str, app.Lane]:
    """The lanes with nothing written and figures of their own: for a warm-up, whose frames are not the run's."""
    return {name: replace(lane, outputs=app.Outputs(), metrics=RunMetrics()) for name, lane in lanes.items()}


def summary(lanes: Mapping[str, app.Lane], live: Mapping[str, bool], total: RunMetrics) -> str:
    """One line per source (its frames, FPS and latency, a live source's drops), then the run's own two
    lines over every source."""
    lines = [f"source {name}: " + lane.metrics.summary(live=live[name]).partition("\n")[0]
             for name, lane in lanes.items() if lane.metrics.frames]
    return "\n".join(lines + [f"all {counted(len(lanes), 'source')}: " + total.summary(live=any(live.values()))])
