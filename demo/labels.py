"""Class names: one per line in a text file, in the model's class-id order."""
from __future__ import annotations

import logging
from pathlib import Path

from .errors import DemoError

log = logging.getLogger(__name__)


def load_labels(path: Path) -> list[str]:
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as error:
        raise DemoError(f"labels file {path}: {error.strerror or error}") from None
    if not names:
        log.warning("labels file %s is empty: classes are shown as numbers", path)
    return names
