"""Counts as the user reads them in messages, logs and summaries: "1 frame", "2 frames", "0 frames"."""
from __future__ import annotations


def counted(number: int, noun: str, plural: str = "") -> str:
    """``number`` and ``noun``, plural unless the number is one; ``plural`` for a noun that takes more than an s
    (class, classes)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
