"""Reading the text files a user hands the demo the way editors write them.

UTF-8 with or without a byte-order mark (Windows Notepad writes one), and LF, CRLF or CR line
ends. A file that is not UTF-8 is one error naming it, never a UnicodeDecodeError.
"""
from __future__ import annotations

from pathlib import Path

from .errors import DemoError
from .names import shown


def read_text(path: Path, what: str) -> str:
    """The whole file as text with "\\n" line ends; ``what`` names the file in errors ("labels file")."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DemoError(f"cannot read the {what} {shown(path)}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DemoError(f"{what} {shown(path)} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                        f"{error.start}); save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_lines(path: Path, what: str) -> list[str]:
    """The file's lines, without line ends; a final line end does not make an extra empty line."""
    text = read_text(path, what)
    return text.removesuffix("\n").split("\n") if text else []
