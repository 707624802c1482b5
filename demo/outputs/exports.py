"""Results for other tools: a COCO results file, per-frame label PNGs, Ultralytics segmentation labels.

Each writer is a :class:`~demo.outputs.sinks.Sink` of :class:`FrameResult`, fed what ``--results`` is fed
(the same frames, the same instances, within ``-limit``), and each puts every file in place only
once it is whole.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from demo.core.errors import DemoError
from demo.core.files import Output, Writes, refuse_planted_link, shown
from demo.core.flag import Flag, setting
from demo.core.wording import counted
from demo.frames.sources import ClosesOnExit
from demo.outputs.sinks import Sink, require_writable_folder, write_image, write_json, write_whole
from demo.results.coco import CategoryMap, CocoDetection, name_key, to_coco
from demo.results.instances import FrameResult, Instance
from demo.results.labels import COCO_LABELS, load_labels

# COCO's category ids for its 80 names, in the order of demo/coco_labels.txt (ids 12, 26, 29, 30, 45,
# 66, 68, 69, 71 and 83 are names of the 2014 paper that no image was annotated with).
COCO_CATEGORY_IDS = (*range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66), 67, 70,
                     *range(72, 83), *range(84, 91))
UINT8_LABELS = 255  # instances a frame's label PNG holds in 8 bits; more take 16


@dataclass(frozen=True)
class ExportSettings:
    """Where each export goes; None: not written. Each field's flag is declared beside it."""

    coco_results: Path | None = setting(Flag(
        ("--coco_results",), "write every instance to a COCO results file (boxes, RLE masks, scores), written at the "
        "end of the run", Path, metavar="FILE.json"), None)
    save_masks: Path | None = setting(Flag(
        ("--save_masks",), "write one PNG per frame: 0 background, k the k-th instance of the frame", Path,
        metavar="DIR"), None)
    yolo_labels: Path | None = setting(Flag(
        ("--yolo_labels",), "write one Ultralytics segmentation label file per frame: class and polygon", Path,
        metavar="DIR"), None)

    def planned(self) -> list[Output]:
        """What the exports asked for write, for the run's list of outputs."""
        return [Output(flag, path, writes) for flag, path, writes in (
            ("--coco_results", self.coco_results, Writes.FILE), ("--save_masks", self.save_masks, Writes.FOLDER),
            ("--yolo_labels", self.yolo_labels, Writes.FOLDER)) if path is not None]


def open_exports(settings: ExportSettings, labels: Sequence[str], images: Iterable[str]) -> list[Sink[FrameResult]]:
    """The writers asked for; a file or folder that cannot be written fails here, before the first frame.
    ``images``: the names of the input's images, which name the per-frame files."""
    exports: list[Sink[FrameResult]] = []
    if settings.coco_results:
        exports.append(CocoResultsWriter(settings.coco_results, coco_categories(labels)))
    stems = frame_file_stems(images)
    if settings.save_masks:
        exports.append(LabelImageWriter(settings.save_masks, stems))
    if settings.yolo_labels:
        exports.append(YoloLabelWriter(settings.yolo_labels, stems))
    return exports


# --- COCO results ---------------------------------------------------------------------------

def coco_categories(labels: Sequence[str]) -> CategoryMap:
    """COCO's own category ids when every label is one of COCO's 80 names, else class id + 1 (COCO
    counts categories from 1); by the names as the evaluation matches them."""
    coco_ids = dict(zip(map(name_key, load_labels(COCO_LABELS)), COCO_CATEGORY_IDS))
    keys = [name_key(label) for label in labels]
    if keys and all(key in coco_ids for key in keys):
        return CategoryMap({key: coco_ids[key] for key in keys}, [])
    # Reversed, so that of two classes with one name the first gives the id.
    return CategoryMap({key: number + 1 for number, key in reversed(list(enumerate(keys)))}, [])


def image_ids(frames: Sequence[tuple[int, str]]) -> list[int]:
    """Each frame's image id: the number its file is named by (COCO's 000000397133.jpg is 397133) when
    every frame has such a name and no two share it, else its frame number."""
    stems = [Path(name).stem for _, name in frames]
    if all(stem.isascii() and stem.isdigit() for stem in stems):
        numbers = [int(stem) for stem in stems]
        if len(set(numbers)) == len(numbers):
            return numbers
    return [index for index, _ in frames]


class CocoResultsWriter(ClosesOnExit):
    """Every instance of the run as one COCO results file: a JSON list of ``{"image_id", "category_id",
    "bbox": [x, y, w, h], "score", "segmentation": compressed RLE}``, as pycocotools' ``loadRes`` takes it.

    The file is one JSON document, so it is written at ``close``, once the image ids are known.
    """

    def __init__(self, path: Path, categories: CategoryMap) -> None:
        if path.is_dir():
            raise DemoError(f"cannot write --coco_results '{shown(path)}': it is a folder")
        require_writable_folder(path)
        self.path = path
        self._categories = categories
        self._frames: list[tuple[int, str]] = []  # frame number and file name
        self._detections: list[list[CocoDetection]] = []

    def write(self, result: FrameResult) -> None:
        self._frames.append((result.index, result.name))
        self._detections.append(to_coco(result.instances, 0, self._categories))

    def close(self) -> None:
        if not self._frames:
            return  # nothing to show for the run: whatever was there stays
        records = [replace(detection, image_id=image_id).as_coco()
                   for image_id, detections in zip(image_ids(self._frames), self._detections)
                   for detection in detections]
        write_json(self.path, records, "COCO results")
        self._frames = []


# --- Per-frame files ------------------------------------------------------------------------

def prepare_folder(flag: str, folder: Path) -> None:
    """``folder`` made if only it is missing; one line when it cannot be written."""
    refuse_planted_link(folder, flag)  # else its files would be written in the folder the link leads to
    if folder.exists() and not folder.is_dir():
        raise DemoError(f"{flag} '{shown(folder)}' is a file, not a folder")
    if not folder.exists():
        if not folder.parent.is_dir():
            raise DemoError(f"{flag} '{shown(folder)}': folder '{shown(folder.parent)}' does not exist")
        try:
            folder.mkdir()
        except OSError as error:
            raise DemoError(f"{flag} '{shown(folder)}': cannot make the folder: {error.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DemoError(f"{flag} '{shown(folder)}': the folder is not writable")


def frame_file_stems(images: Iterable[str]) -> dict[str, str]:
    """Each image's file name in an export folder, before the export's extension: the image's stem
    (photo.jpg → photo, so a tool pairs photo.jpg with photo.png or photo.txt), or its whole name where the
    stem would not tell it apart: another image has that stem too (a.jpg, a.png), or the stem is another
    image's whole name (a.png.png's stem a.png). Unique by construction: the kept stems are unique, the
    whole names are, and no kept stem is another image's whole name."""
    names = set(images)
    stems = Counter(Path(name).stem for name in names)
    files: dict[str, str] = {}
    for name in names:
        stem = Path(name).stem
        files[name] = stem if stems[stem] == 1 and (stem == name or stem not in names) else name
    return files


class FrameFiles:
    """One file per frame in a folder: named by the frame's image (see :func:`frame_file_stems`) with
    ``extension``, or by the frame number, 000042, for a video or stream."""

    def __init__(self, flag: str, folder: Path, extension: str, stems: Mapping[str, str]) -> None:
        prepare_folder(flag, folder)
        self.folder = folder
        self._extension = extension
        self._stems = stems
        self.written = 0

    def path(self, result: FrameResult) -> Path:
        if not result.name:
            return self.folder / f"{result.index:06d}{self._extension}"
        # An image the listing for the names missed (it came into the folder after) keeps its whole name.
        return self.folder / f"{self._stems.get(result.name, result.name)}{self._extension}"

    def done(self) -> str:
        return counted(self.written, "file")


def label_image(result: FrameResult) -> np.ndarray:
    """0 where no instance is, k + 1 where instance k is; where instances overlap, the higher score
    (on equal scores the later instance). 8 bits up to 255 instances, 16 above."""
    height, width = result.frame.shape[:2]
    labels = np.zeros((height, width), np.uint8 if len(result.instances) <= UINT8_LABELS else np.uint16)
    painting_order = sorted(range(len(result.instances)), key=lambda k: result.instances[k].score)
    for k in painting_order:
        mask = result.instances[k].mask
        mask.within(labels)[mask.bits] = k + 1
    return labels


class LabelImageWriter(ClosesOnExit):
    """``--save_masks DIR``: one PNG per frame whose pixel value is the instance's place in that frame's
    ``--results`` line (1 for the first), 0 for the background."""

    def __init__(self, folder: Path, stems: Mapping[str, str]) -> None:
        self._files = FrameFiles("--save_masks", folder, ".png", stems)

    def write(self, result: FrameResult) -> None:
        write_image(self._files.path(result), label_image(result), self._files.done(), "mask image")
        self._files.written += 1

    def close(self) -> None:
        pass  # every file is in place once write returns


def one_outline(pieces: Sequence[np.ndarray]) -> np.ndarray:
    """The pieces of a mask as one polygon, as Ultralytics' one-line-per-instance labels need: from the
    largest piece, each next piece is reached by a there-and-back seam between their closest vertices."""
    ordered = sorted(pieces, key=lambda p: cv2.contourArea(p.astype(np.float32)), reverse=True)
    path = ordered[0]
    for piece in ordered[1:]:
        distances = ((path[:, None, :] - piece[None, :, :]) ** 2).sum(axis=2)
        at, into = np.unravel_index(np.argmin(distances), distances.shape)
        loop = np.roll(piece, -into, axis=0)
        path = np.concatenate([path[:at + 1], loop, loop[:1], path[at:]])
    return path


def yolo_line(instance: Instance) -> str | None:
    """``class x1 y1 x2 y2 ...``: the class id and the outline in fractions of the frame's width and height."""
    pieces = instance.polygons()
    if not pieces:
        return None  # a mask of fewer than three outline points has no polygon
    width, height = instance.frame_size
    points = np.clip(one_outline(pieces) / (width, height), 0.0, 1.0)
    return " ".join([str(instance.class_id), *(f"{value:.6f}" for value in points.ravel())])


class YoloLabelWriter(ClosesOnExit):
    """``--yolo_labels DIR``: one Ultralytics segmentation label file per frame; a frame without
    instances gets an empty file, which Ultralytics reads as a picture with nothing in it."""

    def __init__(self, folder: Path, stems: Mapping[str, str]) -> None:
        self._files = FrameFiles("--yolo_labels", folder, ".txt", stems)

    def write(self, result: FrameResult) -> None:
        lines = [line for line in map(yolo_line, result.instances) if line is not None]
        text = "".join(line + "\n" for line in lines)
        write_whole(self._files.path(result), text.encode("ascii"), self._files.done(), "label file")
        self._files.written += 1

    def close(self) -> None:
        pass  # every file is in place once write returns
