"""The parser every command is built with (demo.app.flags declares what it parses): each bad argument is one line
and exit code 2, each flag is taken in every spelling it accepts (demo.core.flag.Flag.accepted), and what it does
not know is answered with the nearest spelling it does: ``--confidence``, Ultralytics' ``conf=0.5``, a mistyped
command."""
from __future__ import annotations

import argparse
import difflib
import shlex
from collections.abc import Sequence
from pathlib import Path

from demo.core.errors import UsageError
from demo.core.names import shown

DASHES = "Long flags are also taken with dashes for underscores: --no-show for --no_show."
TRUE_WORDS = ("true", "yes", "on", "1")  # how Ultralytics' key=value booleans (show=True) say yes
# How alike a name must be to a flag's to be offered (difflib's ratio): at 0.6, imgsz= was offered --time.
NEAR = 0.7
MIN_STEM = 4  # the shortest name whose longer spelling is offered it: --confidence is --conf, imgsz is not -i


class Joined(argparse.Action):
    """A flag's values, given apart or each a list, as one tuple: ``--classes 0 2 3`` as YOLOv5's detect.py takes
    it, or ``--classes 0,2,3``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, tuple(item for value in values for item in value))


class Parser(argparse.ArgumentParser):
    """``commands``: the other commands, by name and one line, that this one's help lists and a mistyped word
    is compared with (the default command's)."""

    def __init__(self, prog: str, description: str, commands: Sequence[tuple[str, str]] = ()) -> None:
        listed = commands_text(prog, commands)
        super().__init__(prog=prog, description=description + listed, epilog=DASHES,
                         formatter_class=argparse.RawDescriptionHelpFormatter if listed else argparse.HelpFormatter)
        self.commands = [name for name, _ in commands]
        self.register("action", "joined", Joined)

    def error(self, message: str) -> None:  # one line and exit code 2, as for every bad argument
        raise UsageError(message)

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            raise UsageError(f"unrecognized argument {quoted(unknown[0])}: {self.suggestion(unknown[0])}")
        return parsed

    def _get_option_tuples(self, option_string: str) -> list[tuple]:
        # argparse takes a unique prefix of a flag; a prefix of --media_mirror and of --media-mirror is still one flag.
        one_each = {}
        for option in super()._get_option_tuples(option_string):
            one_each.setdefault(option[0], option)
        return list(one_each.values())

    def suggestion(self, token: str) -> str:
        """What the user may have meant by ``token``, which no flag, value or command of this parser takes."""
        if token.startswith("-"):
            return self.flag_suggestion(token.lstrip("-").partition("=")[0], token)
        key, equals, value = token.partition("=")
        if equals and key.isidentifier() and not exists(token):
            return self.flag_suggestion(key, token, value)
        return self.word_suggestion(token)

    def flag_suggestion(self, key: str, token: str, value: str | None = None) -> str:
        """The flag named ``key``, or the nearest one; ``value``: what Ultralytics' ``key=value`` gave it."""
        negative = f"--no_{key}"
        if f"--{key}" not in self._option_string_actions and negative in self._option_string_actions:
            if value is None or value.lower() in TRUE_WORDS:  # --show, show=True
                return f"{key} is on unless {negative} is given: leave {token} out"
            return f"did you mean {negative}?"
        flag = self.nearest(key)
        if flag is None:
            return self.see_help()
        if value is None:
            return f"did you mean {flag}?"
        if self._option_string_actions[flag].nargs == 0:  # a switch: loop=True is --loop, loop=False its default
            return f"did you mean {flag}?" if value.lower() in TRUE_WORDS else \
                f"{flag} is off unless given: leave {token} out"
        return f"did you mean {flag} {quoted(value)}?"

    def word_suggestion(self, word: str) -> str:
        """A word where no value is expected: a mistyped command, or, for a command that has them, an input
        given without -i."""
        if not self.commands:
            return self.see_help()
        near = difflib.get_close_matches(word, self.commands, n=1)
        if near and not exists(word):
            return f"did you mean the command {near[0]}? ({self.prog} {near[0]} --help)"
        if looks_like_input(word):
            return f"did you mean -i {quoted(word)}?"
        return f"the input is given with -i, and the commands are {', '.join(self.commands)} ({self.prog} --help)"

    def nearest(self, name: str) -> str | None:
        """The flag ``--name``, else the one named most like ``name`` (its dashes aside, which would make every
        long flag look alike), else the longest whose name starts ``name`` (--confidence: --conf); None if none."""
        if f"--{name}" in self._option_string_actions:
            return f"--{name}"
        by_name = {spelling.lstrip("-"): spelling for spelling in self._option_string_actions}
        near = difflib.get_close_matches(name, list(by_name), n=1, cutoff=NEAR) or \
            sorted((known for known in by_name if len(known) >= MIN_STEM and name.startswith(known)), key=len)[-1:]
        return by_name[near[0]] if near else None

    def see_help(self) -> str:
        return f"{self.prog} --help lists what it takes"


def commands_text(prog: str, commands: Sequence[tuple[str, str]]) -> str:
    """The other commands and what each does, for the help of the command that lists them."""
    if not commands:
        return ""
    width = max(len(name) for name, _ in commands)
    lines = [f"  {name:<{width}}  {summary}" for name, summary in commands]
    return f"\n\ncommands ({prog} NAME --help shows a command's flags):\n" + "\n".join(lines)


def looks_like_input(word: str) -> bool:
    """A file or folder that exists, a camera index, a URL, or a file name with a suffix."""
    return exists(word) or word.isdigit() or "://" in word or bool(Path(word).suffix)


def exists(word: str) -> bool:
    try:
        return Path(word).exists()
    except (OSError, ValueError):  # a name too long for the file system is no file
        return False


def quoted(text: str) -> str:
    """``text`` as the user would type it in a shell, escaped where it does not print."""
    return shlex.quote(shown(text))
