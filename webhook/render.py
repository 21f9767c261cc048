"""The ``render`` subcommand of ``downward-webhook``: Kubernetes YAML in, the injection applied.

A client of the core like the server: every pod and pod template goes through the same
``mutate`` as ``POST /mutate`` (``core/workloads.py``), so the output is what the webhook would
make of it, and documents it leaves alone come out byte for byte (``manifests.py``). Exit
codes: 0 ok, 1 findings (``--check``) or a denial (``--strict``), 2 bad input or usage; each
error is one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from webhook import flags, injection_flags, manifests
from webhook.core.review import BadReview
from webhook.core.workloads import Rendered, inject_document
from webhook.flags import Flag, UsageError
from webhook.types import Patch

__all__ = ["MAX_INPUT_BYTES", "RENDER_FLAGS", "register"]

#: The largest input ``render`` reads: 64 MiB, far more than any repository's manifests, and a
#: bound on its memory (parsed YAML takes many times its size).
MAX_INPUT_BYTES = 64 * 2**20

Subparsers = argparse._SubParsersAction  # the type argparse gives add_subparsers()

#: The flags of ``render`` besides the injection flags it shares with ``serve``.
RENDER_FLAGS: tuple[Flag, ...] = (
    Flag.switch("check", "print warnings only; exit 1 if a downward.io annotation is bad"),
    Flag.switch(
        "namespace-default",
        "treat every pod as in a namespace labelled downward.io/inject=enabled: pods without "
        "downward.io/inject get --namespace-default-inject",
    ),
)


_NAMESPACE_DEFAULT_FLAG = next(f for f in RENDER_FLAGS if f.name == "namespace-default")
_INJECT_FLAG = next(
    f for f in injection_flags.INJECTION_FLAGS if f.name == "namespace-default-inject"
)


#: The part of a pod a ``BadReview`` names, as ``webhook.core.review`` writes it.
_AT = re.compile(r" - at `([^`]*)`$")


def register(subparsers: Subparsers[Any]) -> None:
    """Add ``render`` to the top-level subcommands."""
    parser = subparsers.add_parser(
        "render", help="print Kubernetes YAML with the injection applied"
    )
    parser.add_argument("-f", "--filename", default="-", help="YAML file, or - for stdin")
    flags.add(parser, *RENDER_FLAGS, *injection_flags.INJECTION_FLAGS)
    parser.set_defaults(func=_render, check_command_line=_refuse_what_cannot_apply)


def _refuse_what_cannot_apply(args: argparse.Namespace) -> None:
    """A flag render cannot honour is refused, not ignored: without --namespace-default, no pod
    of render's input is in a namespace with the label. Run before the environment is read.

    Its variable, though, is ignored then, not even checked: serve's environment may well set
    it (``DOWNWARD_NAMESPACE_DEFAULT_INJECT``), and render would not use it.
    """
    if args.namespace_default_inject is not None and not args.namespace_default:
        raise UsageError("--namespace-default-inject applies only with --namespace-default")
    if args.namespace_default_inject is None and not flags.given(_NAMESPACE_DEFAULT_FLAG, args):
        args.namespace_default_inject = _INJECT_FLAG.default  # resolve() reads no variable


def _read(filename: str) -> str:
    """The file's text (``-``: stdin), or a one-line ``UsageError``.

    At most ``MAX_INPUT_BYTES`` are read: ``-f /dev/zero`` (or a stream that never ends) is
    refused instead of reading until memory runs out.
    """
    name = "stdin" if filename == "-" else filename
    if filename == "-" and sys.stdin is None:  # started with fd 0 closed (``<&-``)
        raise UsageError("stdin: closed, nothing to read (give -f FILE)")
    try:
        if filename == "-":
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with Path(filename).open("rb") as file:
                data = file.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{name}: is a directory, not a YAML file") from None
    except PermissionError:
        raise UsageError(f"{name}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(
            f"{name}: more than {MAX_INPUT_BYTES // 2**20} MiB, too large to render "
            "(split it into smaller files)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UsageError(
            f"{name}:{line}:{column}: not UTF-8 (byte 0x{data[exc.start]:02x})"
        ) from None


def _write(pieces: list[str]) -> None:
    """Write to stdout as bytes (CRLF kept), raising ``BrokenPipeError`` when the reader left.

    On a pipe, ``os.write`` loops: one big buffered write can end short without an error. A
    process started with stdout closed (``>&-``; Python then sets ``sys.stdout`` to None) has
    no reader at all: that is a closed pipe too.
    """
    if sys.stdout is None:
        raise BrokenPipeError("stdout is closed")
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests capture it)
        fd = -1
    for piece in pieces:
        data = memoryview(piece.encode("utf-8"))
        if fd < 0:
            sys.stdout.buffer.write(data)
            continue
        while data:
            data = data[os.write(fd, data) :]
    sys.stdout.flush()


def _report(rendered: list[Rendered]) -> int:
    """Print every finding (and denial) on stderr; 1 if one is bad, 2 if one was denied."""
    worst = 0
    for result in rendered:
        decision = result.decision
        for message in decision.warnings:
            print(f"{result.where}: {message}", file=sys.stderr)
        if decision.denial is not None:
            print(f"{result.where}: {decision.denial}", file=sys.stderr)
            worst = 2
        elif any(f.invalid for f in decision.findings):
            worst = max(worst, 1)
    return worst


def _render(args: argparse.Namespace) -> int:
    settings = injection_flags.settings(args)
    default = settings.namespace_default_inject if args.namespace_default else None
    text = _read(args.filename)
    name = "stdin" if args.filename == "-" else args.filename
    rendered: list[Rendered] = []

    def transform(doc: object) -> Patch:
        try:
            results = inject_document(doc, settings, default_inject=default)
        except BadReview as exc:
            message = str(exc)
            at = _AT.search(message)
            raise manifests.BadObject(message, at[1] if at else None) from None
        rendered.extend(results)
        return [op for result in results for op in result.operations]

    try:
        output = manifests.render_pieces(text, transform)
    except manifests.BadYAML as exc:
        where = f"{name}:{exc.line}:{exc.column}" if exc.line else name
        raise UsageError(f"{where}: {exc.what}: {exc.problem}") from None
    except manifests.BadObject as exc:
        raise UsageError(f"{name}:{exc.line}:{exc.column}: {exc.message}") from None
    worst = _report(rendered)
    del text
    if not args.check:
        _write(output)
    if worst == 2 or (worst and args.check):
        return 1
    return 0
