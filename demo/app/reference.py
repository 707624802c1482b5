"""The command-line reference page, docs/cli.md, written from the same flag declarations the parsers are built
from: ``python -m demo.app.reference > docs/cli.md``. A test fails while the page is stale."""
from __future__ import annotations

import sys

from demo.app.flags import COMMANDS, Command, Group
from demo.core.flag import Flag, declared_flags
from demo.frames.live import LiveSettings
from demo.model.segmenter import Settings
from demo.outputs.exports import ExportSettings
from demo.outputs.sinks import VideoSettings
from demo.picture.background import BackgroundSettings, EdgeStyle
from demo.results.tracker import TrackerSettings

HEADER = """# Command-line reference

Every flag of every command, written from the flags' declarations by `python -m demo.app.reference > docs/cli.md`:
edit the declarations (demo/app/flags.py, and the settings classes beside their fields), not this page.
A flag's "Python:" note names the same setting in Python: `demo.open(NAME=...)` for the model's (the fields of
`demo.Settings`), else the field of the settings class named. A flag's "Also" note names the other tools' spellings
it takes too (Ultralytics' `--conf`), and every long flag is also taken with dashes for underscores: `--no-show`
for `--no_show`, `--max-det` for `--max_det`.
"""
# The library settings classes whose fields declare flags, and how a Python user reaches each field.
# A nested class comes after its holder: its fields are its own.
PYTHON_SETTINGS = ((Settings, "demo.open({}=...)"), (LiveSettings, "LiveSettings.{}"),
                   (TrackerSettings, "TrackerSettings.{}"), (ExportSettings, "ExportSettings.{}"),
                   (VideoSettings, "VideoSettings.{}"), (BackgroundSettings, "BackgroundSettings.{}"),
                   (EdgeStyle, "EdgeStyle.{}"))


def python_names() -> dict[tuple[str, ...], str]:
    """A declared flag's spellings -> how Python code sets the same thing."""
    return {flag.spellings: form.format(name) for settings_class, form in PYTHON_SETTINGS
            for name, flag in declared_flags(settings_class).items()}


def value_text(flag: Flag) -> str:
    if flag.action == "store_true":
        return ""
    value = flag.metavar or ("{" + ",".join(flag.choices) + "}" if flag.choices else flag.dest.upper())
    return f" `[{value}]`" if flag.nargs == "?" else f" `{value}`"


def flag_line(flag: Flag, python: dict[tuple[str, ...], str]) -> str:
    default = flag.shown_default if flag.default_from else flag.default
    also = ", ".join(f"`{name}`" for name in flag.aliases)
    notes = [note for note, wanted in (("Required", flag.required), ("Repeatable", flag.action == "append"),
                                       (f"Also {also}", flag.aliases),
                                       (f"Python: `{python.get(flag.spellings)}`", flag.spellings in python))
             if wanted]
    spellings = ", ".join(f"`{name}`" for name in flag.spellings)
    return f"- {spellings}{value_text(flag)}: {flag.help % {'default': default}}" + \
        "".join(f". {note}" for note in notes)


def group_text(group: Group, python: dict[tuple[str, ...], str]) -> str:
    title = f"### {group.title}\n\n" if group.title else ""
    return title + "\n".join(flag_line(flag, python) for flag in group.flags) + "\n"


def command_text(command: Command) -> str:
    python = python_names()
    return f"## {command.prog}\n\n{command.description}.\n\n" + \
        "\n".join(group_text(group, python) for group in command.groups)


def reference() -> str:
    return HEADER + "".join(f"\n{command_text(command)}" for command in COMMANDS)


if __name__ == "__main__":
    sys.stdout.write(reference())
