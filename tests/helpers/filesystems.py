"""Real file systems made for a test: a full disk, a read-only folder.

Root ignores permission bits, so read-only and full locations are real mounts (tmpfs, a read-only
bind). A test that needs one is skipped, with the reason, where mounting is not allowed.
"""
from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(*args: str | Path) -> None:
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    done = subprocess.run(["mount", *map(str, args)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount here (mount {' '.join(map(str, args))}: {done.stderr.strip()})")


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "1m", read_only: bool = False) -> Iterator[Path]:
    """A fresh tmpfs of ``size`` at ``path`` (made if absent) for the block's time."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}" + (",ro" if read_only else ""), "tmpfs", path)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@contextlib.contextmanager
def full_tmpfs(path: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs with no byte left: a filler file takes all of it."""
    with tmpfs(path, size) as mounted:
        with contextlib.suppress(OSError), (mounted / ".filler").open("wb") as filler:
            while True:
                filler.write(bytes(4096))
                filler.flush()
        yield mounted


@contextlib.contextmanager
def read_only_bind(path: Path) -> Iterator[Path]:
    """``path`` (an existing folder, with what it holds) made read-only in place for the block's time."""
    _mount("--bind", path, path)
    try:
        done = subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot remount read-only here: {done.stderr.strip()}")
        assert _write_fails(path), f"{path} is still writable"
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _write_fails(path: Path) -> bool:
    try:
        (path / ".probe").touch()
    except OSError:
        return True
    (path / ".probe").unlink()
    return False
