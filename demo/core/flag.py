"""A flag declared as data, so one declaration gives the command line, the Python setting and the reference page.

A library settings dataclass declares its flags beside its fields with :func:`setting`; the command line
builds its parser from them (demo.app.flags) and the reference page docs/cli.md (demo.app.reference)
from the same declarations, so the three cannot drift apart. Ultralytics' cfg/default.yaml is the model:
one table for the CLI and Python.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

FLAG = "flag"  # the key of a field's metadata that holds its Flag
NESTED = "nested settings"  # the key of a field's metadata that holds the settings class it is


@dataclass(frozen=True)
class Flag:
    """One command-line flag: its spellings (a name without a dash is a positional argument), its help and what
    a parser needs to read it. ``parse`` turns the text into the value or raises a one-line
    :class:`~demo.core.values.BadValue`; the other fields mean what argparse's ``add_argument`` makes of them."""

    spellings: tuple[str, ...]
    help: str
    parse: Callable[[str], Any] | None = None
    default: Any = None
    default_from: Callable[[], Any] | None = None  # read when the parser is built: it depends on the environment
    shown_default: str | None = None  # the reference page's words for a default read from the environment
    choices: Sequence[str] | None = None
    metavar: str | None = None
    action: str | None = None  # "store_true", "append", or "joined": a use's values as one tuple (--classes 0 2 3)
    nargs: str | None = None
    const: Any = None
    required: bool = False
    exclusive: str | None = None  # flags of a group that share this name exclude each other
    # None on the command line unless given, so that the app can refuse the flag where it does not apply;
    # the field's default applies when it is not given (the help says what it is).
    given_only: bool = False
    # Other tools' spellings of the same flag (Ultralytics' --conf for -t), taken as well and named as "also".
    aliases: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        """The name the value is stored under: the first long spelling without its dashes, as argparse names it."""
        long = [name for name in self.spellings if name.startswith("--")]
        return (long or self.spellings)[0].lstrip("-").replace("-", "_")

    @property
    def accepted(self) -> tuple[str, ...]:
        """Every spelling the command line takes: the declared ones, the aliases, and each long one also with dashes
        for underscores (--no-show for --no_show), as Ultralytics and most command-line tools write them."""
        named = (*self.spellings, *self.aliases)
        return named + tuple(name.replace("_", "-") for name in named if name.startswith("--") and "_" in name)

    def current_default(self) -> Any:
        return self.default_from() if self.default_from else self.default


def setting(flag: Flag, default: Any = dataclasses.MISSING, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with its flag; the flag's default is the field's unless the flag states its own."""
    if flag.default is None and flag.default_from is None and not flag.given_only:
        if default is not dataclasses.MISSING:
            flag = dataclasses.replace(flag, default=default)
        elif default_factory is not dataclasses.MISSING:
            flag = dataclasses.replace(flag, default_from=default_factory)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={FLAG: flag})


def nested(settings_class: type) -> Any:
    """A dataclass field holding ``settings_class``, whose flags count among its holder's."""
    return dataclasses.field(default_factory=settings_class, metadata={NESTED: settings_class})


def declared_flags(settings_class: type) -> dict[str, Flag]:
    """The flags a settings dataclass declares, by field name (a nested one's by theirs), in the fields' order."""
    flags: dict[str, Flag] = {}
    for field in dataclasses.fields(settings_class):
        if FLAG in field.metadata:
            flags[field.name] = field.metadata[FLAG]
        elif NESTED in field.metadata:
            flags.update(declared_flags(field.metadata[NESTED]))
    return flags


def filled(settings_class: type, value_of: Callable[[Flag], Any]) -> dict[str, Any]:
    """The keywords that make ``settings_class`` from its flags' values: ``value_of`` gives a flag's value, None
    where the flag was not given or is not there, which leaves the field's default."""
    keywords: dict[str, Any] = {}
    for field in dataclasses.fields(settings_class):
        if FLAG in field.metadata and (value := value_of(field.metadata[FLAG])) is not None:
            keywords[field.name] = value
        elif NESTED in field.metadata:
            keywords[field.name] = field.metadata[NESTED](**filled(field.metadata[NESTED], value_of))
    return keywords
