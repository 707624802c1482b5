"""The file system, safely: which names are one file, writing aside and putting in place, names OpenCV cannot take.

Stage-neutral: the sources, the sinks and the command line use it alike.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum, auto
from pathlib import Path
from typing import BinaryIO

from demo.core.errors import DemoError, UsageError
from demo.core.names import shown
from demo.core.stopping import STOP

# A printf integer field such as %d or %04d: the frame number in image-sequence file names.
FRAME_NUMBER_FIELD = re.compile(r"%\d*d")

# Below this much free space, a video file that stopped growing is taken to be on a full disk.
FULL_DISK_BYTES = 64 * 1024


# --- Names OpenCV cannot take ---------------------------------------------------------------

def opencv_takes(name: str) -> bool:
    """Whether OpenCV can take ``name`` as it is.

    A name whose bytes are not UTF-8 reaches Python as a str with surrogates, and OpenCV's
    binding crashes on it (a segmentation fault, not an exception).
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Aliases:
    """Symbolic links with UTF-8 names (bytes escaped as \\xNN) to files whose own names OpenCV cannot take.

    A symlink rather than /proc/self/fd/N: it keeps the extension (OpenCV picks the container
    and FFmpeg guesses the format from it), a capture can reopen it to loop, a writer writes
    through it, and it needs no descriptor held open. The links live in one private folder
    that is removed when the process ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._by_name: dict[str, str] = {}

    def name_for(self, path: Path) -> str:
        name = str(path)
        if opencv_takes(name):
            return name
        with self._lock:
            if name not in self._by_name:
                self._by_name[name] = self._link(name, path.suffix)
            return self._by_name[name]

    def _link(self, name: str, suffix: str) -> str:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="demo-names-")
        # The readable name in the link's own, for the messages that name what OpenCV opened.
        # In ASCII, which every file system encoding takes (under LC_ALL=C it is ASCII itself).
        readable = shown(os.path.basename(name)).encode("ascii", "backslashreplace").decode("ascii")
        label = readable if len(readable) <= 200 else (suffix if opencv_takes(suffix) else "")
        alias = os.path.join(self._folder.name, f"{len(self._by_name)}-{label}")
        os.symlink(os.path.abspath(name), alias)
        return alias


    def remove(self) -> None:
        with self._lock:
            if self._folder is not None:
                self._folder.cleanup()
            self._folder, self._by_name = None, {}


_aliases = _Aliases()


def remove_aliases() -> None:
    """Remove the links made for OpenCV; called once nothing is open through them any more."""
    _aliases.remove()


def opencv_name(path: Path) -> str:
    """A name for ``path`` that OpenCV can open: its own, or a link to it with a name OpenCV takes."""
    return _aliases.name_for(path)


# --- Writing aside, putting in place --------------------------------------------------------

# A new hidden file never follows a link planted at its name (O_EXCL alone refuses one too, but
# O_NOFOLLOW says so), and reopening it by name never follows one swapped in since.
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
REOPEN_FLAGS = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
READER_WAIT_SECONDS = 10.0  # how long an output that is a pipe waits for a program to read it


def new_hidden_file(folder: Path, name: str, suffix: str) -> Path:
    """A new, empty ``.NAME.XXXXXXXX<suffix>`` in ``folder``, with the mode the umask gives any new
    file (mkstemp's 0600 would keep it from the other users of a shared folder)."""
    while True:
        path = folder / f".{name}.{secrets.token_hex(4)}{suffix}"
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, NEW_FILE_FLAGS, 0o666))
            return path


def open_hidden_file(path: Path, append: bool = False) -> BinaryIO:
    """``path``, made by :func:`new_hidden_file`, opened for writing; a link put at its name is not followed."""
    flags = REOPEN_FLAGS | (os.O_APPEND if append else os.O_TRUNC)
    return os.fdopen(os.open(path, flags), "ab" if append else "wb")


def may_follow(link: Path) -> bool:
    """Whether the kernel's fs.protected_symlinks rule lets this user follow ``link``: anywhere but in
    a sticky world-writable folder (/tmp), and there only a link of this user or of the folder's owner.
    A link that another user planted there would make the demo overwrite a file of this user."""
    folder = os.stat(link.parent)
    shared = folder.st_mode & stat.S_ISVTX and folder.st_mode & stat.S_IWOTH
    return not shared or os.lstat(link).st_uid in (os.geteuid(), folder.st_uid)


def refuse_planted_link(path: Path, what: str) -> None:
    """A DemoError when ``path`` is a link that :func:`may_follow` says must not be followed."""
    with contextlib.suppress(OSError):  # no link there, or a folder that cannot be read: not a planted link
        if path.is_symlink() and not may_follow(path):
            owner = os.lstat(path).st_uid
            raise DemoError(f"{what} '{shown(path)}' is a symlink of another user (uid {owner}) in a shared "
                            "folder; it is not followed: remove it or choose another name")


def reason(error: OSError) -> str:
    return error.strerror or str(error)


def free_bytes(path: Path) -> int:
    """Free space on ``path``'s file system for this user (root may also use the reserved blocks)."""
    info = os.statvfs(path)
    return (info.f_bfree if os.geteuid() == 0 else info.f_bavail) * info.f_frsize


def failed_write(what: str, target: Path, cause: str, written: str | None = None) -> DemoError:
    """The one line for an output that could not be completed: which file, why, how far it got."""
    so_far = f" ({written} written)" if written is not None else ""
    return DemoError(f"cannot write {what} '{shown(target)}': {cause}{so_far}; "
                     "the file is left as it was before the run")


class WriteAside:
    """A hidden temporary file beside ``target``, put in its place by ``commit`` only when whole.

    Beside it, on the same file system, so that the rename is atomic: whoever reads the target
    sees the previous file or the finished one, never a part. The name (.NAME.XXXXXXXX.EXT)
    keeps the extension, from which OpenCV picks the container. With ``follow``, a symlink at
    the target is followed (the file it points to is replaced and the link stays) where
    :func:`may_follow` allows it, else refused; without (a name the user never chose: a stamp, a
    download), the rename replaces the link itself. A target that is not a regular file
    (/dev/null, a pipe, a terminal) cannot be replaced by renaming, so it is written directly.
    A new file gets the mode the umask gives; a replaced one keeps its own.
    """

    def __init__(self, target: Path, what: str, follow: bool = True) -> None:
        self.what = what
        self.named = target
        if target.is_dir():
            raise DemoError(f"cannot write {what} '{shown(target)}': it is a folder")
        if follow:
            refuse_planted_link(target, what)
        self.in_place = follow and target.exists() and not target.is_file()
        self.target = target if self.in_place else _resolved(target, follow)
        self._held: int | None = None  # the descriptor of a device or pipe written in place
        if self.in_place:
            self.path = target
            self._held = _open_special(target, what)
            return
        try:
            self.path = new_hidden_file(self.target.parent, _short(self.target.name), self.target.suffix)
        except OSError as error:
            raise DemoError(f"cannot write {what} '{shown(target)}': {_folder_problem(self.target.parent, error)}"
                            ) from None
        # A replaced file keeps its mode (a replaced link does not give its own 0777); a file system
        # without modes (FAT) keeps its own.
        with contextlib.suppress(OSError):
            replaced = self.target.stat(follow_symlinks=False)
            if stat.S_ISREG(replaced.st_mode):
                os.chmod(self.path, stat.S_IMODE(replaced.st_mode))

    def open(self) -> BinaryIO:
        if self._held is not None:
            return os.fdopen(os.dup(self._held), "wb")
        return open_hidden_file(self.path)

    def size(self) -> int:
        return self.path.stat().st_size

    def free_bytes(self) -> int:
        return free_bytes(self.path.parent)

    def cause(self, error: OSError | str) -> str:
        """Why writing or checking the hidden file failed; a folder removed mid-run is said so,
        whatever error its loss gave."""
        if not self.in_place and not self.path.parent.is_dir():
            return f"folder '{shown(self.path.parent)}' was removed during the run"
        return error if isinstance(error, str) else reason(error)

    def commit(self, written: str | None = None) -> None:
        """Put the finished file in place; on failure remove it and raise the one-line error."""
        if self.in_place:
            self._let_go()
            return
        try:
            _sync(self.path)
            os.replace(self.path, self.target)
        except OSError as error:
            self.discard()
            raise failed_write(self.what, self.named, self.cause(error), written) from None
        # The rename is done; a file system that cannot sync folders only loses the crash guarantee.
        with contextlib.suppress(OSError):
            _sync(self.target.parent)

    def discard(self) -> None:
        self._let_go()
        if not self.in_place:
            self.path.unlink(missing_ok=True)

    def _let_go(self) -> None:
        if self._held is not None:
            os.close(self._held)
            self._held = None

    @contextlib.contextmanager
    def finishing(self) -> Iterator[None]:
        """Around the checks and the commit: whatever escapes (a failure, a second Ctrl-C) removes the file."""
        try:
            yield
        except BaseException:
            self.discard()
            raise


def _resolved(target: Path, follow: bool) -> Path:
    """Where the aside file is renamed to: the file a link leads to, or, without ``follow``, the name itself."""
    if follow:
        return Path(os.path.realpath(target))
    return Path(os.path.realpath(target.parent), target.name)


def _open_special(target: Path, what: str) -> int:
    """A descriptor of the device or pipe at ``target``, for writing. A pipe nobody reads would block
    the open, deaf to Ctrl-C inside a shielded step, so it is opened without blocking, tried again
    until a reader comes, a deadline passes or a stop is asked for; then writes block as usual."""
    deadline = time.monotonic() + READER_WAIT_SECONDS
    while True:
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            if error.errno != errno.ENXIO:  # ENXIO: a pipe that no program reads yet
                raise failed_write(what, target, reason(error)) from None
            if STOP.signal is not None or time.monotonic() > deadline:
                waited = "stopped" if STOP.signal is not None else f"waited {READER_WAIT_SECONDS:g} s"
                raise DemoError(f"cannot write {what} '{shown(target)}': no program reads the pipe ({waited})"
                                ) from None
            time.sleep(0.1)
            continue
        os.set_blocking(descriptor, True)
        return descriptor


def _short(name: str) -> str:
    # The hidden name adds 10 characters and the extension; a long name would exceed NAME_MAX.
    return name if len(os.fsencode(name)) <= 100 else "output"


def _folder_problem(folder: Path, error: OSError) -> str:
    if not folder.is_dir():
        return f"folder '{shown(folder)}' does not exist"
    return f"folder '{shown(folder)}': {reason(error)}"


def _sync(path: Path) -> None:
    """Flush ``path`` (a file or a folder) to the disk, so a rename never publishes unwritten data."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- Which names are one file ---------------------------------------------------------------

@dataclass(frozen=True)
class Named:
    """A file the run reads, with the flag that named it (for the message)."""

    flag: str
    path: Path


class Writes(Enum):
    """What an output puts on the disk."""

    FILE = auto()
    NUMBERED = auto()  # a name with a frame-number field (out_%04d.png): a file per frame
    FOLDER = auto()  # a folder the run fills with files named after its inputs


@dataclass(frozen=True)
class Output:
    """One thing the run writes, with the flag that named it: the entries of the run's list of outputs,
    all known before the first frame and checked together by :func:`refuse_overlaps`."""

    flag: str
    path: Path
    writes: Writes = Writes.FILE

    @classmethod
    def frames(cls, flag: str, path: str | Path) -> Output:
        """Where drawn frames go: a video, or numbered images when the name has a frame-number field."""
        numbered = FRAME_NUMBER_FIELD.search(str(path))
        return cls(flag, Path(path), Writes.NUMBERED if numbered else Writes.FILE)


def _pattern_parts(pattern: str) -> tuple[str, str, str] | None:
    """A file name with one number field as (text before, the field, text after), %% read as %;
    None for a name without a field."""
    field = FRAME_NUMBER_FIELD.search(pattern)
    if field is None:
        return None
    head, tail = (part.replace("%%", "%") for part in (pattern[:field.start()], pattern[field.end():]))
    return head, field.group(), tail


def pattern_matches(pattern: str, name: str) -> bool:
    """Whether ``pattern % n == name`` for some n >= 0; ``pattern`` is a file name with one number field."""
    parts = _pattern_parts(pattern)
    if parts is None:
        return pattern == name
    head, field, tail = parts
    if not (name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail)):
        return False
    number = name[len(head):len(name) - len(tail)]
    return number.strip().isdigit() and field % int(number) == number


def common_name(pattern: str, other: str) -> str | None:
    """A name both number patterns write (``x%d.png`` and ``x1%d.png`` both write x15.png), None if none.

    Each length up to the longest that could matter is tried with the two patterns lined up: a place is what
    either fixes there, else a 1, which no field pads away; a name longer still only adds places where both
    have their number, so it changes no answer.
    """
    parts, other_parts = _pattern_parts(pattern), _pattern_parts(other)
    fixed = [len(head) + len(tail) for head, _, tail in (parts, other_parts)]
    widest = max(int(field[1:-1] or 0) for _, field, _ in (parts, other_parts))
    for length in range(max(fixed) + 1, sum(fixed) + widest + 2):
        name = "".join(mine or theirs or "1" for mine, theirs in zip(_places(parts, length),
                                                                      _places(other_parts, length)))
        if pattern_matches(pattern, name) and pattern_matches(other, name):
            return name
    return None


def _places(parts: tuple[str, str, str], length: int) -> list[str | None]:
    """A pattern's name of ``length`` characters, place by place: a fixed character, or None in its number."""
    head, _, tail = parts
    return [*head, *[None] * (length - len(head) - len(tail)), *tail]


def pattern_files(pattern: str) -> list[Path]:
    """The existing files that ``pattern`` (like frames/img_%04d.png) names, in name order."""
    folder, name = os.path.split(pattern)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    return [Path(folder, entry) for entry in sorted(names) if pattern_matches(name, entry)]


Identity = tuple[object, ...]


def _identity(path: Path) -> Identity | None:
    """The same for every name of one file: device and inode where it exists, else the resolved name.

    None for what is not a regular file (/dev/null, a pipe): writing there destroys no file.
    """
    try:
        info = path.stat()
    except OSError:
        return ("name", os.path.realpath(path))
    return ("inode", info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else None


def _targets(output: Output) -> list[Path]:
    """The existing files an output may replace: its own, or those its number pattern names."""
    if output.writes is Writes.FILE:
        return [output.path]
    if FRAME_NUMBER_FIELD.search(str(output.path.parent)):
        raise UsageError(f"{output.flag} '{shown(output.path)}': the frame number must be in the file name, "
                         "not in a folder name")
    return pattern_files(str(output.path))


def refuse_overlaps(inputs: Iterable[Named], outputs: Sequence[Output]) -> None:
    """A UsageError when an output would replace a file the run reads, or two outputs could meet: one file,
    a name one's pattern writes, or anything inside a folder an export fills.

    One file is one whatever its names: symlinks, hard links and relative paths all lead to
    the same device and inode; a file that does not exist yet is known by its resolved name.
    """
    inputs = list(inputs)
    read = {key: named for named in inputs if (key := _identity(named.path)) is not None}
    written: dict[Identity, Output] = {}
    for output in outputs:
        if output.writes is Writes.FOLDER:
            _refuse_folder_of_inputs(output, inputs)
            continue
        for target in _targets(output):
            refuse_planted_link(target, output.flag)
            key = _identity(target)
            if key in read:
                source = read[key]
                raise UsageError(f"{output.flag} '{shown(output.path)}' would overwrite {source.flag} "
                                 f"'{shown(source.path)}', which this run reads; choose another output")
            if key in written:
                raise UsageError(f"{written[key].flag} and {output.flag} both write '{shown(target)}'; "
                                 "give each output its own file")
            if key is not None:
                written[key] = output
    for number, output in enumerate(outputs):
        for other in outputs[number + 1:]:
            _refuse_shared_folder(output, other)
            _refuse_shared_names(output, other)


def _refuse_folder_of_inputs(folder: Output, inputs: Iterable[Named]) -> None:
    """An export folder may not hold a file the run reads: its files are named after the inputs."""
    where = os.path.realpath(folder.path)
    for source in inputs:
        if os.path.realpath(source.path.parent) == where:
            raise UsageError(f"{folder.flag} '{shown(folder.path)}' holds {source.flag} '{shown(source.path)}', "
                             "which this run reads; choose another folder")


def _place(output: Output) -> str:
    """Where an output is, resolved: a folder's own path, a file's resolved folder and its own name (a link
    in its place is replaced, not followed)."""
    if output.writes is Writes.FOLDER:
        return os.path.realpath(output.path)
    return os.path.join(os.path.realpath(output.path.parent), output.path.name)


def _refuse_shared_folder(output: Output, other: Output) -> None:
    """An export's folder is its own: no other output in it or below it, and it in no other export's."""
    for folder, inner in ((output, other), (other, output)):
        if folder.writes is not Writes.FOLDER:
            continue
        where, place = _place(folder), _place(inner)
        if place == where:
            raise UsageError(f"{folder.flag} '{shown(folder.path)}' and {inner.flag} '{shown(inner.path)}' "
                             "are the same folder; give each output its own place")
        if os.path.commonpath([place, where]) == where:
            raise UsageError(f"{inner.flag} '{shown(inner.path)}' is inside {folder.flag} '{shown(folder.path)}', "
                             "which that export fills; give each output its own place")


def _refuse_shared_names(output: Output, other: Output) -> None:
    """A name a number pattern will write later, though no such file exists yet: another output's file,
    or a name another pattern of the same folder writes too."""
    numbered = [o for o in (output, other) if o.writes is Writes.NUMBERED]
    if not numbered or Writes.FOLDER in (output.writes, other.writes):
        return
    pattern = numbered[0]
    named = other if pattern is output else output
    if os.path.realpath(pattern.path.parent) != os.path.realpath(named.path.parent):
        return
    if named.writes is Writes.FILE and pattern_matches(pattern.path.name, named.path.name):
        raise UsageError(f"{pattern.flag} '{shown(pattern.path)}' would write {named.flag} "
                         f"'{shown(named.path)}'; give each output its own file")
    if named.writes is Writes.NUMBERED and (both := common_name(pattern.path.name, named.path.name)):
        raise UsageError(f"{pattern.flag} '{shown(pattern.path)}' and {named.flag} '{shown(named.path)}' "
                         f"both write '{shown(pattern.path.parent / both)}'; give each output its own names")
