"""Fetching catalogue models and the sample clip, verified by size and checksum.

A file is downloaded into a hidden ``.part`` beside its target and renamed only once its size and
checksum match, so the cache never holds a half or wrong file, whatever stops the download.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import logging
import os
import socket
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tqdm import tqdm

from demo.core import files
from demo.core.errors import DemoError, UsageError
from demo.core.names import shown
from demo.core.wording import counted
from demo.model.catalogue import (
    DEFAULT_MODEL,
    CatalogueEntry,
    ModelFacts,
    RemoteFile,
    ResolvedModel,
    catalogue,
    chosen_models,
)
from demo.model.model_info import model_in_folder

# What the mirror settings replace: OMZ_MIRROR / --mirror for models, DEMO_MEDIA_MIRROR / --media_mirror
# for the sample clip, which GitHub serves rather than Open Model Zoo's storage.
MODEL_ORIGIN = "https://storage.openvinotoolkit.org"
MEDIA_ORIGIN = "https://raw.githubusercontent.com"
CHUNK_BYTES = 1 << 16
STAMP_MIN_AGE = 2.0  # seconds since a file last changed before its verification is remembered
STAMP_MAX_BYTES = 4096  # a stamp is one short line; more is not a stamp
log = logging.getLogger("demo")


class Unreachable(DemoError):
    """No connection to the server at all: offline, or a wrong mirror."""


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
                    raise UsageError(f"mirror {shown(mirror)!r} (for {origin}) must be an http:// or https:// URL")
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
                    raise DemoError(f"{shown(url)}: download failed after {counted(self.tries, 'try', 'tries')} "
                                    f"({error})") from None
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("%s: %s; trying again in %.3g s", shown(url), error, delay)
                time.sleep(delay)


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openvino-segmentation-demo"


def default_models_dir() -> Path:
    return Path(os.environ.get("DEMO_MODELS_DIR") or cache_root() / "models")


def default_media_dir() -> Path:
    return cache_root() / "media"


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
        if _read_stamp(stamp) == _fingerprint(path, file):
            return True
    if not verified(path, file):
        with contextlib.suppress(OSError):  # a read-only cache keeps its stale stamp: it no longer matches
            stamp.unlink(missing_ok=True)
        return False
    # A file changed moments ago could change again within the file system's timestamp
    # granularity without its time moving, so only a settled file is stamped.
    if time.time() - path.stat().st_mtime > STAMP_MIN_AGE:
        with contextlib.suppress(DemoError):  # a read-only cache still works, hashing every time
            _write_stamp(stamp, _fingerprint(path, file))
    return True


def _read_stamp(stamp: Path) -> str | None:
    """The stamp's text. Whatever else is at its name (a link, a pipe that would block the read, a
    large file) is no stamp: it is never followed, waited on or read whole."""
    with open(stamp, "rb", opener=_no_follow_no_wait) as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(STAMP_MAX_BYTES).decode(errors="replace")


def _no_follow_no_wait(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)


def _write_stamp(stamp: Path, text: str) -> None:
    """Written aside and renamed over the stamp's name: a link planted there is replaced, never followed."""
    aside = files.WriteAside(stamp, "stamp", follow=False)
    with aside.finishing():
        try:
            with aside.open() as out:
                out.write(text.encode())
        except OSError as error:
            raise files.failed_write("stamp", stamp, files.reason(error)) from None
        aside.commit()


def fetch(file: RemoteFile, folder: Path, fetcher: Fetcher) -> Path:
    """``folder/file.name``, verified: downloaded unless a verified copy is already there."""
    target = folder / file.name
    for made_here in (folder.parent, folder):  # NAME/PRECISION: a link another user planted would lead elsewhere
        files.refuse_planted_link(made_here, "models folder")
    if verified_once(target, file):
        log.info("%s is present and verified", shown(target))
        return target
    url = fetcher.locate(file.url)
    with writing_in(folder):
        if target.exists():
            log.warning("%s does not match its size or checksum: downloading it again", shown(target))
            target.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        part = files.new_hidden_file(folder, file.name, ".part")
    log.info("downloading %s", shown(url))
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
        raise DemoError(f"cannot write in {shown(folder)}: {error.strerror or error}") from None


def _check(part: Path, file: RemoteFile, url: str) -> None:
    size = part.stat().st_size
    if size != file.size:
        raise DemoError(f"{shown(url)}: expected {file.size} bytes, got {size}; the download was removed")
    if not verified(part, file):
        raise DemoError(f"{shown(url)}: {file.algorithm} checksum mismatch (expected {file.digest[:16]}...); "
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
        with files.open_hidden_file(part, append=bool(held)) as out:
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
            raise DemoError(f"{shown(response.url)}: the server sent no data for {timeout:g} s") from None
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
        raise DemoError(f"{shown(url)}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        if _unreachable(error.reason):
            raise Unreachable(f"cannot reach {_host(url)}: {_describe(error.reason)} (offline?)") from None
        if isinstance(error.reason, TimeoutError):
            raise Unreachable(f"cannot reach {_host(url)}: no connection within {timeout:g} s") from None
        raise RetryableError(_describe(error.reason)) from None
    except TimeoutError:
        raise DemoError(f"{_host(url)} accepted the connection but sent no answer within "
                        f"{timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:
        raise RetryableError(_describe(error)) from None


def _host(url: str) -> str:
    """The server's name and port, never the credentials a mirror's address may carry."""
    return shown(urlsplit(url).netloc.rpartition("@")[2])


def _unreachable(reason: object) -> bool:
    """No route to the host at all (refused, unknown name, no network), which retrying soon will not mend."""
    return isinstance(reason, (ConnectionRefusedError, socket.gaierror)) or (
        isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH))


def _describe(reason: object) -> str:
    return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__


def fetch_model(entry: CatalogueEntry, precision: str, models_dir: Path, fetcher: Fetcher) -> Path:
    """The model's .xml (with its .bin) or .onnx in ``models_dir/NAME/PRECISION``, downloaded if not there yet."""
    files = entry.files(precision)
    folder = models_dir / entry.name / entry.precision_for(precision)
    paths = [fetch(file, folder, fetcher) for file in files]
    return next(path for path in paths if path.suffix in (".xml", ".onnx"))


def resolve_model(spec: str | Path | None, precision: str, models_dir: Path, fetcher: Fetcher) -> ResolvedModel:
    """A catalogue model's name (the default model if none), fetched, with its facts; or a path to a model file,
    or to a folder holding one (an Ultralytics export)."""
    name = str(spec or DEFAULT_MODEL)
    known = catalogue().models
    if name in known:
        entry = known[name]
        return ResolvedModel(fetch_model(entry, precision, models_dir, fetcher), ModelFacts(entry.resize, entry.labels))
    path = Path(name)
    if path.is_dir():
        return ResolvedModel(model_in_folder(path))
    if not path.exists() and not path.suffix:
        raise UsageError(f"model {name!r} is neither a file, a folder nor a known model name ({', '.join(known)})")
    return ResolvedModel(path)


def fetch_sample_clip(fetcher: Fetcher, folder: Path | None = None) -> Path:
    return fetch(catalogue().sample_clip, folder or default_media_dir(), fetcher)


@dataclass(frozen=True)
class DownloadRequest:
    """What ``python -m demo download`` was asked for."""

    names: tuple[str, ...] = ()  # patterns, ? and * as wildcards
    model_list: Path | None = None
    media: bool = False
    precision: str = "FP16"
    output_dir: Path | None = None  # None: the cache the demo reads
    fetcher: Fetcher = Fetcher()


def download(request: DownloadRequest) -> None:
    if not (request.names or request.model_list or request.media):
        raise UsageError("say what to download: model NAMEs, --list FILE or --media")
    for entry in chosen_models(list(request.names), request.model_list, request.precision):
        fetch_model(entry, request.precision, request.output_dir or default_models_dir(), request.fetcher)
    if request.media:
        fetch_sample_clip(request.fetcher, request.output_dir)
