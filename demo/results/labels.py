"""Class names: one per line in a text file, in the model's class-id order."""
from __future__ import annotations

import logging
from pathlib import Path

from demo.core.errors import DemoError
from demo.core.names import shown
from demo.core.textfile import read_lines

log = logging.getLogger(__name__)
# COCO's 80 names, the default for models that carry none.
COCO_LABELS = Path(__file__).with_name("coco_labels.txt")  # in the package: an installed demo has no assets/


def load_labels(path: Path) -> list[str]:
    """Line n names class n - 1. Blank lines at the end are ignored; one before the last name is an
    error, as it would shift every later name onto the wrong class."""
    names = [line.strip() for line in read_lines(path, "labels file")]
    while names and not names[-1]:
        names.pop()
    if "" in names:
        raise DemoError(f"labels file {shown(path)}, line {names.index('') + 1}: a blank line before the last name; "
                        "remove it, or write a name for that class")
    if not names:
        log.warning("labels file %s is empty: classes are shown as numbers", shown(path))
    return names
