"""The catalogue of models a user can fetch by name: Open Model Zoo's instance segmentation models
(and the sample clip), with the facts a named model brings along.

The facts (URLs, sizes, checksums, input shapes, resize policies, reference APs) live in
omz_models.json. An instance segmentation model comes in precisions, each an IR; a matting model
Open Model Zoo lists as an ONNX file has one set of files, whatever the precision asked, and no COCO AP. A model asked for by name is resolved, with :mod:`demo.model.download`, to its
files and its :class:`ModelFacts`; a model given as a path has no facts: what it needs to
know it says itself, or the contract's defaults hold.
"""
from __future__ import annotations

import fnmatch
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from demo.core.errors import DemoError, UsageError
from demo.core.textfile import read_lines, read_text
from demo.model.geometry import ResizePolicy

BUNDLED_CATALOGUE = Path(__file__).with_name("omz_models.json")
DEFAULT_MODEL = "instance-segmentation-person-0007"
PRECISIONS = ("FP16", "FP32", "FP16-INT8")
DEFAULT_PRECISION = "FP16"
log = logging.getLogger("demo")


@dataclass(frozen=True)
class RemoteFile:
    name: str  # file name on disk
    url: str
    size: int
    algorithm: str  # a hashlib name
    digest: str  # hex


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    input_size: tuple[int, int]  # (width, height) of the network input
    resize: ResizePolicy  # the one its reference accuracy was measured with
    box_ap: float | None  # reference COCO AP; None for a matting model
    mask_ap: float | None
    precisions: dict[str, tuple[RemoteFile, ...]]
    labels: tuple[str, ...] = ()  # the classes, when not all of COCO's (person-0007: only "person")
    any_precision: bool = False  # one set of files (an ONNX file), whatever --precision says

    def precision_for(self, asked: str) -> str | None:
        """The precision whose files serve ``asked``: itself, or a one-file model's only one; else None."""
        if self.any_precision:
            return next(iter(self.precisions))
        return asked if asked in self.precisions else None

    def files(self, precision: str) -> tuple[RemoteFile, ...]:
        serving = self.precision_for(precision)
        if serving is None:
            raise UsageError(f"{self.name} has no {precision} files (it has {', '.join(self.precisions)})")
        return self.precisions[serving]


@dataclass(frozen=True)
class Catalogue:
    models: dict[str, CatalogueEntry]
    sample_clip: RemoteFile


@dataclass(frozen=True)
class ModelFacts:
    """What the catalogue knows of a model that the model file may not say: they travel with it."""

    resize: ResizePolicy | None = None  # the resize its reference accuracy was measured with
    labels: tuple[str, ...] = ()  # its classes, when not all of COCO's


@dataclass(frozen=True)
class ResolvedModel:
    """A model file to load, and the catalogue's facts about it (none for a model given as a path);
    or, with no file, the address of a served model."""

    path: Path | None
    facts: ModelFacts = ModelFacts()
    url: str = ""  # a KServe v2 server's model (demo.model.remote)


def catalogue() -> Catalogue:
    """The bundled catalogue, or the one DEMO_CATALOGUE names (tests, private model sets)."""
    return load_catalogue(Path(os.environ.get("DEMO_CATALOGUE") or BUNDLED_CATALOGUE))


@lru_cache(maxsize=4)
def load_catalogue(path: Path) -> Catalogue:
    try:
        data = json.loads(read_text(path, "model catalogue"))
        models = {name: _entry(name, entry) for name, entry in data["models"].items()}
        return Catalogue(models, _remote_file(data["sample_clip"]))
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as error:
        raise DemoError(f"{path}: not a readable model catalogue ({type(error).__name__}: {error})") from None


def _entry(name: str, entry: dict) -> CatalogueEntry:
    _, _, height, width = entry["input_shape"]
    # A model of one file set (an ONNX file) names the precision it is in, for its folder.
    sets = {entry["precision"]: entry["files"]} if "files" in entry else entry["precisions"]
    precisions = {precision: tuple(map(_remote_file, files)) for precision, files in sets.items()}
    accuracy = entry.get("coco_ap", {})  # matting models have no COCO AP
    return CatalogueEntry(name, (width, height), ResizePolicy(entry["resize"]), accuracy.get("box"),
                          accuracy.get("mask"), precisions, tuple(entry.get("labels", ())), "files" in entry)


def _remote_file(entry: dict) -> RemoteFile:
    algorithm = next(name for name in ("sha384", "sha256") if name in entry)
    return RemoteFile(entry["name"], entry["url"], int(entry["size"]), algorithm, entry[algorithm].lower())


def matching_models(pattern: str, known: Iterable[str], where: str) -> list[str]:
    found = [name for name in known if fnmatch.fnmatchcase(name, pattern)]
    if not found:
        raise UsageError(f"{where}: {pattern!r} matches no known model ({', '.join(known)})")
    return found


def read_model_list(path: Path, known: Iterable[str]) -> list[str]:
    """Names from an Open Model Zoo style list: one per line, ``#`` comments, ``?``/``*`` wildcards."""
    names = []
    for number, line in enumerate(read_lines(path, "model list"), 1):
        pattern = line.partition("#")[0].strip()
        if pattern:
            names += matching_models(pattern, known, f"{path}:{number}")
    return names


def chosen_models(patterns: list[str], model_list: Path | None, precision: str) -> list[CatalogueEntry]:
    """The models asked for that come in ``precision``; the others are named and skipped."""
    known = catalogue().models
    names = [name for pattern in patterns for name in matching_models(pattern, known, "download")]
    if model_list:
        names += read_model_list(model_list, known)
    chosen = [known[name] for name in dict.fromkeys(names)]
    for info in chosen:
        if info.precision_for(precision) is None:
            log.warning("skipping %s: it has no %s files (it has %s)", info.name, precision,
                        ", ".join(info.precisions))
    having = [info for info in chosen if info.precision_for(precision) is not None]
    if chosen and not having:
        raise UsageError(f"none of the chosen models comes in {precision}")
    return having
