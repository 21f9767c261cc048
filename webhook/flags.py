"""Command-line flags, each defined once: name, ``DOWNWARD_<FLAG>`` variable, checker, default.

A flag's value comes from the command line, else from its environment variable, else from
its default. Both sources go through the same checker (most of them from
``webhook.core.values``, shared with the annotation parser), and an environment variable is
read only after parsing, for the subcommand that was asked for: a bad ``DOWNWARD_PORT``
breaks ``serve`` with one line naming the variable, never ``version``. An empty variable
counts as unset.

Adding a flag is one line: ``Flag("max-containers", values.positive_int, 64, "...")`` in the
subcommand's tuple, then ``add(parser, *flags)``. ``--help`` and the flag table of
docs/interfaces.md (``markdown_table``) are both made from that line, so they cannot disagree.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

__all__ = [
    "Flag",
    "Parser",
    "UsageError",
    "add",
    "boolean",
    "choice",
    "env_name",
    "given",
    "markdown_table",
    "resolve",
    "text",
]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_REGISTERED = "downward_flags"

Checker = Callable[[str], Any]


class UsageError(Exception):
    """Bad flag or environment value: one line for the user, exit code 2."""


def env_name(flag: str) -> str:
    return "DOWNWARD_" + flag.upper().replace("-", "_")


def boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise ValueError("not a boolean (use true or false)")


def text(value: str) -> str:
    """Any text that is not blank."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def choice(*words: str) -> Checker:
    """A checker that accepts one of ``words`` (case-insensitive)."""

    def check(text: str) -> str:
        word = text.strip().lower()
        if word not in words:
            raise ValueError(f"not one of {', '.join(words)}")
        return word

    return check


@dataclass(frozen=True, slots=True)
class Flag:
    """One flag. ``kind``: ``value`` (takes an argument), ``switch`` (``--x``), or
    ``toggle`` (``--x`` / ``--no-x``); the last two read true/false from the environment."""

    name: str
    check: Checker
    default: Any
    help: str
    metavar: str | None = None
    kind: str = "value"
    env: bool = True
    #: No default: the command line or the environment must give it.
    required: bool = False

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def variable(self) -> str:
        return env_name(self.name)

    @classmethod
    def switch(cls, name: str, help: str, *, default: bool = False) -> Flag:
        return cls(name, boolean, default, help, kind="switch")

    @classmethod
    def toggle(cls, name: str, help: str, *, default: bool) -> Flag:
        return cls(name, boolean, default, help, kind="toggle")

    def parse_env(self, text: str) -> Any:
        try:
            return self.check(text)
        except ValueError as exc:
            raise UsageError(f"{self.variable}={text!r}: {exc}") from None


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _argparse_type(flag: Flag) -> Checker:
    def convert(text: str) -> Any:
        try:
            return flag.check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    convert.__name__ = flag.name  # argparse names the type in some messages
    return convert


def _metavar(flag: Flag) -> str:
    return flag.metavar or flag.dest.upper()


def _default(flag: Flag) -> str:
    """The default as ``--help`` and the docs show it: booleans as on/off, no default as
    ``none``, whole seconds without a ``.0`` (``10``, as a user would type it)."""
    value = flag.default
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _help(flag: Flag) -> str:
    where = f"{flag.variable}, " if flag.env else ""
    return f"{flag.help} [{where}{'required' if flag.required else 'default: ' + _default(flag)}]"


def add(parser: argparse.ArgumentParser, *flags: Flag) -> None:
    """Add ``flags`` to ``parser``; ``resolve`` fills in what the command line did not give."""
    for flag in flags:
        option = "--" + flag.name
        common: dict[str, Any] = {"dest": flag.dest, "default": None, "help": _help(flag)}
        if flag.kind == "switch":
            parser.add_argument(option, action="store_const", const=True, **common)
        elif flag.kind == "toggle":
            parser.add_argument(option, action=argparse.BooleanOptionalAction, **common)
        else:
            parser.add_argument(option, type=_argparse_type(flag), metavar=_metavar(flag), **common)
    registered = parser.get_default(_REGISTERED) or ()
    parser.set_defaults(**{_REGISTERED: (*registered, *flags)})


def markdown_table(flags: Iterable[Flag]) -> str:
    """The Markdown table of ``flags``: docs/interfaces.md holds the one of ``serve``.

    Made from the same fields as ``--help`` (metavar, variable, default, help text), so a test
    can tell when the page is out of date instead of a reader finding out.
    """

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = ["| flag | env var | default; meaning |", "|---|---|---|"]
    for flag in flags:
        if flag.kind == "toggle":
            option = f"`--{flag.name}` / `--no-{flag.name}`"
        elif flag.kind == "switch":
            option = f"`--{flag.name}`"
        else:
            option = f"`--{flag.name} {_metavar(flag)}`"
        variable = f"`{flag.variable}`" if flag.env else "none"
        if flag.env and flag.kind != "value":
            variable += " (`true`/`false`)"
        default = _default(flag)
        if flag.required:
            default = "required"
        elif flag.kind == "value" and flag.default is not None:
            default = f"`{default}`"
        rows.append(f"| {option} | {variable} | {default}; {cell(flag.help)} |")
    return "\n".join(rows) + "\n"


def given(flag: Flag, args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Any:
    """The value ``resolve`` gives ``flag``: the command line's, else its variable's (checked:
    ``UsageError`` naming it), else its default."""
    value = getattr(args, flag.dest)
    if value is not None:
        return value
    env = os.environ if environ is None else environ
    raw = env.get(flag.variable, "") if flag.env else ""
    return flag.parse_env(raw) if raw else flag.default


def resolve(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> None:
    """Fill in every flag of the chosen subcommand not given on the command line.

    Raises ``UsageError`` naming the variable when an environment value is bad, and naming
    every required flag that neither the command line nor the environment gave.
    """
    env = os.environ if environ is None else environ
    missing: list[Flag] = []
    for flag in getattr(args, _REGISTERED, ()):
        if getattr(args, flag.dest) is not None:
            continue
        if flag.required and not (flag.env and env.get(flag.variable)):
            missing.append(flag)
        else:
            setattr(args, flag.dest, given(flag, args, env))
    if missing:
        names = ", ".join(f"--{f.name}" + (f" (or {f.variable})" if f.env else "") for f in missing)
        raise UsageError(f"missing {names}")
