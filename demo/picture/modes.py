"""The render modes (``--mode``), declared once: what each is called, what its window says, and whether it
composes the scene (:mod:`demo.picture.background`) or draws the instances (:mod:`demo.picture.render`).
A new composed mode is a row here and its behaviour in background.py; the command line reads this table."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RenderMode:
    title: str  # the window's title
    composed: bool  # a composite of the scene rather than the instances drawn on it
    verb: str = ""  # what a composed mode does to the people, for messages
    only_flags: tuple[str, ...] = ()  # the settings (flag names) that only this mode takes


RENDER_MODES = {
    "instances": RenderMode("Instance segmentation", composed=False),
    "background": RenderMode("Background subtraction", composed=True, verb="keeps",
                             only_flags=("target_color", "target_bgr", "blur_bgr", "empty")),
    "privacy": RenderMode("Privacy", composed=True, verb="hides", only_flags=("blur_people", "pixelate")),
}
