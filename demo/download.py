"""Models by name: Open Model Zoo's instance segmentation models and the sample clip, fetched and verified.

The facts (URLs, sizes, checksums, input shapes, resize policies, reference APs) live in omz_models.json.
An instance segmentation model comes in precisions, each an IR; a matting model Open Model Zoo lists as an
ONNX file has one set of files, whatever the precision asked, and no COCO AP.
A file is downloaded into a temporary ``.part`` beside its target and renamed only once its size and
checksum match, so the cache never holds a half or wrong file, whatever stops the download.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import fnmatch
import hashlib
import http.client
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from tqdm import tqdm

from . import files
from .errors import DemoError, UsageError
from .geometry import ResizePolicy
from .textfile import read_lines, read_text

BUNDLED_CATALOGUE = Path(__file__).with_name("omz_models.json")
DEFAULT_MODEL = "instance-segmentation-person-0007"
PRECISIONS = ("FP16", "FP32", "FP16-INT8")
DEFAULT_PRECISION = "FP16"
# What the mirror settings replace: OMZ_MIRROR / --mirror for models, DEMO_MEDIA_MIRROR / --media_mirror
# for the sample clip, which GitHub serves rather than Open Model Zoo's storage.
MODEL_ORIGIN = "https://storage.openvinotoolkit.org"
MEDIA_ORIGIN = "https://raw.githubusercontent.com"
CHUNK_BYTES = 1 << 16
STAMP_MIN_AGE = 2.0  # seconds since a file last changed before its verification is remembered
log = logging.getLogger("demo")


@dataclass(frozen=True)
class RemoteFile:
    name: str  # file name on disk
    url: str
    size: int
    algorithm: str  # a hashlib name
    digest: str  # hex


@dataclass(frozen=True)
class ModelInfo:
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
    models: dict[str, ModelInfo]
    sample_clip: RemoteFile


class RetryableError(Exception):
    """A network failure that another try may not meet: a dropped connection, a timeout, a 5xx."""


@dataclass(frozen=True)
class Fetcher:
    """Where the files are really fetched from (official URL prefix -> mirror) and how hard to try."""

    mirrors: dict[str, str] = field(default_factory=dict)
    tries: int = 3
    backoff: float = 1.0  # seconds before the second try; doubled before each later one
    # Seconds of silence, while connecting or waiting for the next bytes, before a try fails. A try
    # that got nothing at all is not repeated: a mirror that accepts connections and never answers
    # fails in this time, not in tries x this.
    timeout: float = 10.0

    @classmethod
    def from_environment(cls, model_mirror: str | None = None, media_mirror: str | None = None) -> Fetcher:
        """Flags win over the environment variables OMZ_MIRROR and DEMO_MEDIA_MIRROR."""
        mirrors = {}
        for origin, flag, variable in ((MODEL_ORIGIN, model_mirror, "OMZ_MIRROR"),
                                       (MEDIA_ORIGIN, media_mirror, "DEMO_MEDIA_MIRROR")):
            mirror = flag or os.environ.get(variable)
            if mirror:
                if urlsplit(mirror).scheme not in ("http", "https"):
                    raise UsageError(f"mirror {mirror!r} (for {origin}) must be an http:// or https:// URL")
                mirrors[origin] = mirror.rstrip("/")
        return cls(mirrors)

    def locate(self, url: str) -> str:
        for origin, mirror in self.mirrors.items():
            if url.startswith(origin + "/"):
                return mirror + url[len(origin):]
        return url

    def download(self, url: str, part: Path, size: int, bar: tqdm) -> None:
        for attempt in range(1, self.tries + 1):
            try:
                return _transfer(url, part, size, self.timeout, bar)
            except RetryableError as error:
                if attempt == self.tries:
                    raise DemoError(f"{url}: download failed after {self.tries} tries ({error})") from None
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("%s: %s; trying again in %.3g s", url, error, delay)
                time.sleep(delay)


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openvino-segmentation-demo"


def default_models_dir() -> Path:
    return Path(os.environ.get("DEMO_MODELS_DIR") or cache_root() / "models")


def default_media_dir() -> Path:
    return cache_root() / "media"


def catalogue() -> Catalogue:
    """The bundled catalogue, or the one DEMO_CATALOGUE names (tests, private model sets)."""
    return load_catalogue(Path(os.environ.get("DEMO_CATALOGUE") or BUNDLED_CATALOGUE))


@lru_cache(maxsize=4)
def load_catalogue(path: Path) -> Catalogue:
    try:
        data = json.loads(read_text(path, "model catalogue"))
        models = {name: _model_info(name, entry) for name, entry in data["models"].items()}
        return Catalogue(models, _remote_file(data["sample_clip"]))
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as error:
        raise DemoError(f"{path}: not a readable model catalogue ({type(error).__name__}: {error})") from None


def _model_info(name: str, entry: dict) -> ModelInfo:
    _, _, height, width = entry["input_shape"]
    # A model of one file set (an ONNX file) names the precision it is in, for its folder.
    sets = {entry["precision"]: entry["files"]} if "files" in entry else entry["precisions"]
    precisions = {precision: tuple(map(_remote_file, files)) for precision, files in sets.items()}
    accuracy = entry.get("coco_ap", {})  # matting models have no COCO AP
    return ModelInfo(name, (width, height), ResizePolicy(entry["resize"]), accuracy.get("box"), accuracy.get("mask"),
                     precisions, tuple(entry.get("labels", ())), "files" in entry)


def _remote_file(entry: dict) -> RemoteFile:
    algorithm = next(name for name in ("sha384", "sha256") if name in entry)
    return RemoteFile(entry["name"], entry["url"], int(entry["size"]), algorithm, entry[algorithm].lower())


def verified(path: Path, file: RemoteFile) -> bool:
    if not path.is_file() or path.stat().st_size != file.size:
        return False
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, file.algorithm).hexdigest() == file.digest


def _stamp(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def _fingerprint(path: Path, file: RemoteFile) -> str:
    status = path.stat()
    return (f"{file.algorithm} {file.digest} size {status.st_size} inode {status.st_ino} "
            f"mtime_ns {status.st_mtime_ns}\n")


def verified_once(path: Path, file: RemoteFile) -> bool:
    """:func:`verified`, remembered in a stamp beside the file so that a file left as it was
    (same size, inode and modification time) is not hashed again at every start: the FP32
    weights of security-0091 take a second to hash."""
    stamp = _stamp(path)
    with contextlib.suppress(OSError):
        if stamp.read_text() == _fingerprint(path, file):
            return True
    if not verified(path, file):
        with contextlib.suppress(OSError):  # a read-only cache keeps its stale stamp: it no longer matches
            stamp.unlink(missing_ok=True)
        return False
    # A file changed moments ago could change again within the file system's timestamp
    # granularity without its time moving, so only a settled file is stamped.
    if time.time() - path.stat().st_mtime > STAMP_MIN_AGE:
        with contextlib.suppress(OSError):  # a read-only cache still works, hashing every time
            stamp.write_text(_fingerprint(path, file))
    return True


def fetch(file: RemoteFile, folder: Path, fetcher: Fetcher) -> Path:
    """``folder/file.name``, verified: downloaded unless a verified copy is already there."""
    target = folder / file.name
    if verified_once(target, file):
        log.info("%s is present and verified", target)
        return target
    url = fetcher.locate(file.url)
    with writing_in(folder):
        if target.exists():
            log.warning("%s does not match its size or checksum: downloading it again", target)
            target.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        part = files.new_hidden_file(folder, file.name, ".part")
    log.info("downloading %s", url)
    try:
        with tqdm(total=file.size, unit="B", unit_scale=True, unit_divisor=1024, desc=file.name,
                  disable=None) as bar:  # None: no bar when stderr is not a terminal
            fetcher.download(url, part, file.size, bar)
        _check(part, file, url)
        with writing_in(folder):
            os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)  # after a failure, a mismatch or Ctrl-C
    return target


@contextlib.contextmanager
def writing_in(folder: Path) -> Iterator[None]:
    """Local file-system errors (no space, read-only) as one line naming the folder: never retried,
    as another try would meet the same disk."""
    try:
        yield
    except OSError as error:
        raise DemoError(f"cannot write in {folder}: {error.strerror or error}") from None


def _check(part: Path, file: RemoteFile, url: str) -> None:
    size = part.stat().st_size
    if size != file.size:
        raise DemoError(f"{url}: expected {file.size} bytes, got {size}; the download was removed")
    if not verified(part, file):
        raise DemoError(f"{url}: {file.algorithm} checksum mismatch (expected {file.digest[:16]}...); "
                        "the download was removed")


def _transfer(url: str, part: Path, size: int, timeout: float, bar: tqdm) -> None:
    """One try: continue ``part`` where it stops if the server can resume, else start it over."""
    held = part.stat().st_size
    response = _open(url, held, timeout)
    if response is None:
        return  # nothing past what is held: the size check says whether that is the whole file
    with response, writing_in(part.parent):  # every network error is converted inside: an OSError is the disk's
        if response.status != 206:
            held = 0
            bar.reset()
        length = response.headers.get("Content-Length")
        end = held + int(length) if length else size
        first = held
        with part.open("ab" if held else "wb") as out:
            while held <= size and (chunk := _read(response, timeout, f"{held} of {size} bytes", held == first)):
                out.write(chunk)
                held += len(chunk)
                bar.update(len(chunk))
    if held > size:
        return  # more than the catalogue says: the size check reports it
    if held < end:
        raise RetryableError(f"connection dropped at {held} of {size} bytes")


def _read(response: http.client.HTTPResponse, timeout: float, progress: str, first: bool) -> bytes:
    """The next chunk; silence after some data is worth another try, silence from the start is not."""
    try:
        return response.read1(CHUNK_BYTES)  # what has come, so that silence never loses bytes received
    except TimeoutError:
        if first:
            raise DemoError(f"{response.url}: the server sent no data for {timeout:g} s") from None
        raise RetryableError(f"no data for {timeout:g} s at {progress}") from None
    except (OSError, http.client.HTTPException) as error:
        raise RetryableError(f"connection dropped at {progress} ({error})") from None


def _open(url: str, held: int, timeout: float) -> http.client.HTTPResponse | None:
    request = urllib.request.Request(url, headers={"Range": f"bytes={held}-"} if held else {})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416 and held:
            return None
        if error.code >= 500 or error.code == 429:
            raise RetryableError(f"HTTP {error.code} {error.reason}") from None
        raise DemoError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        if _unreachable(error.reason):
            raise DemoError(f"cannot reach {urlsplit(url).netloc}: {_describe(error.reason)} (offline?)") from None
        if isinstance(error.reason, TimeoutError):
            raise DemoError(f"cannot reach {urlsplit(url).netloc}: no connection within {timeout:g} s") from None
        raise RetryableError(_describe(error.reason)) from None
    except TimeoutError:
        raise DemoError(f"{urlsplit(url).netloc} accepted the connection but sent no answer within "
                        f"{timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:
        raise RetryableError(_describe(error)) from None


def _unreachable(reason: object) -> bool:
    """No route to the host at all (refused, unknown name, no network), which retrying soon will not mend."""
    return isinstance(reason, (ConnectionRefusedError, socket.gaierror)) or (
        isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH))


def _describe(reason: object) -> str:
    return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__


def fetch_model(info: ModelInfo, precision: str, models_dir: Path, fetcher: Fetcher) -> Path:
    """The model's .xml in ``models_dir/NAME/PRECISION`` (with its .bin), downloaded if not there yet."""
    files = info.files(precision)
    folder = models_dir / info.name / info.precision_for(precision)
    paths = [fetch(file, folder, fetcher) for file in files]
    return next(path for path in paths if path.suffix in (".xml", ".onnx"))


def resolve_model(spec: Path | None, precision: str, models_dir: Path, fetcher: Fetcher) -> Path:
    """``-m``: a catalogue model's name (the default model if none) or a path to a model file."""
    name = str(spec or DEFAULT_MODEL)
    known = catalogue().models
    if name in known:
        return fetch_model(known[name], precision, models_dir, fetcher)
    path = Path(name)
    if not path.exists() and not path.suffix:
        raise UsageError(f"model {name!r} is neither a file nor a known model name ({', '.join(known)})")
    return path


def fetch_sample_clip(fetcher: Fetcher, folder: Path | None = None) -> Path:
    return fetch(catalogue().sample_clip, folder or default_media_dir(), fetcher)


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


def chosen_models(patterns: list[str], model_list: Path | None, precision: str) -> list[ModelInfo]:
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


def add_mirror_arguments(parser: argparse._ActionsContainer) -> None:  # a parser or an argument group
    parser.add_argument("--mirror", metavar="URL",
                        help=f"fetch models from URL instead of {MODEL_ORIGIN} (default: $OMZ_MIRROR)")
    parser.add_argument("--media_mirror", metavar="URL",
                        help=f"fetch the sample clip from URL instead of {MEDIA_ORIGIN} (default: $DEMO_MEDIA_MIRROR)")


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
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


def run(args: argparse.Namespace) -> None:
    if not (args.names or args.list or args.media):
        raise UsageError("say what to download: model NAMEs, --list FILE or --media")
    fetcher = Fetcher.from_environment(args.mirror, args.media_mirror)
    for info in chosen_models(args.names, args.list, args.precision):
        fetch_model(info, args.precision, args.output_dir or default_models_dir(), fetcher)
    if args.media:
        fetch_sample_clip(fetcher, args.output_dir)
