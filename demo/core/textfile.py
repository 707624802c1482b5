"""Reading the text files a user hands the demo the way editors write them.

UTF-8 with or without a byte-order mark (Windows Notepad writes one), and LF, CRLF or CR line
ends. A file that is not UTF-8 is one error naming it, never a UnicodeDecodeError. Only a regular
file is read, and only up to a size: ``--labels /dev/zero`` or a named pipe would read for ever.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from demo.core.errors import DemoError
from demo.core.names import shown

# Labels, lists of inputs and metadata are a few KB: a file far larger is the wrong file.
TEXT_LIMIT = 16 * 2**20
# COCO's largest annotations file (train2017) is 448 MB.
ANNOTATIONS_LIMIT = 2**30
SPECIAL_FILES = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                 (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def special_kind(path: Path) -> str | None:
    """What ``path`` is when it exists but is no regular file ("a named pipe"); None otherwise."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    return _kind(mode)


def _kind(mode: int) -> str | None:
    return next((kind for is_kind, kind in SPECIAL_FILES if is_kind(mode)), None)


def read_text(path: Path, what: str, limit: int = TEXT_LIMIT) -> str:
    """The whole file as text with "\\n" line ends; ``what`` names the file in errors ("labels file")."""
    data = _read_regular_file(path, what, limit)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DemoError(f"{what} {shown(path)} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                        f"{error.start}); save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_regular_file(path: Path, what: str, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file, else one line saying what it is or how large."""
    try:
        # Non-blocking, as opening a named pipe otherwise waits for a writer; it is refused below.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            kind = _kind(os.fstat(file.fileno()).st_mode)
            if kind:
                raise DemoError(f"{what} {shown(path)} is {kind}, not a regular file")
            data = file.read(limit + 1)
    except OSError as error:
        raise DemoError(f"cannot read the {what} {shown(path)}: {error.strerror or error}") from None
    if len(data) > limit:
        raise DemoError(f"{what} {shown(path)} is larger than {limit // 2**20} MB, more than any {what}: is it the "
                        "right file?")
    return data


def read_lines(path: Path, what: str) -> list[str]:
    """The file's lines, without line ends; a final line end does not make an extra empty line."""
    text = read_text(path, what)
    return text.removesuffix("\n").split("\n") if text else []
