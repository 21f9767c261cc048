"""The ``downward-webhook`` command: ``serve``, ``render``, ``certs``, ``version``.

``serve`` and ``version`` live here; ``render`` in ``render.py``, ``certs`` in
``certs/commands.py``, ``audit`` in ``audit/commands.py``, and the flags ``serve`` and
``render`` share in ``injection_flags.py``. Every flag also reads an environment variable
(``DOWNWARD_<FLAG>``), so the chart can set them either way (``webhook.flags``). Exit codes:
0 ok, 1 findings (``render --check``) or a denial (``render --strict``), 2 bad input or usage,
each error one line, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from webhook import flags, injection_flags, render
from webhook.core import values
from webhook.flags import Flag, UsageError

__all__ = ["main"]

_PROG = "downward-webhook"
_EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process ended by SIGPIPE
_EXIT_INTERRUPTED = 128 + 2  # and by SIGINT (Ctrl-C)


def _package_version() -> str:
    try:
        return version("downward-webhook")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"


def _seconds_or_zero(text: str) -> float:
    return 0.0 if text.strip() in ("0", "0.0") else values.positive_seconds(text)


SERVE_FLAGS: tuple[Flag, ...] = (
    Flag("host", flags.text, "0.0.0.0", "address to listen on", "HOST"),
    Flag("port", values.port, 8443, "port to listen on", "PORT"),
    Flag(
        "tls-cert",
        flags.text,
        None,
        "PEM certificate (chain), reloaded when it changes; required unless --insecure-http",
        "FILE",
    ),
    Flag(
        "tls-key",
        flags.text,
        None,
        "PEM private key, reloaded when it changes; required unless --insecure-http",
        "FILE",
    ),
    Flag(
        "tls-wait",
        _seconds_or_zero,
        0.0,
        "seconds to wait for missing certificate or key files before giving up "
        "(the chart sets it for a first install)",
        "SECONDS",
    ),
    Flag.switch("insecure-http", "DEVELOPMENT ONLY: serve plain HTTP without TLS"),
    Flag(
        "max-body-bytes",
        values.positive_int,
        3 * 1024 * 1024,
        "larger request bodies get HTTP 413",
        "BYTES",
    ),
    Flag(
        "body-timeout",
        values.positive_seconds,
        10.0,
        "seconds for a request head (else the connection is closed), then for its body "
        "(else HTTP 408); more than 0, at most 3600",
        "SECONDS",
    ),
    Flag(
        "cert-reload-interval",
        values.positive_seconds,
        5.0,
        "seconds between digest checks of the certificate files",
        "SECONDS",
    ),
    Flag(
        "graceful-timeout",
        _seconds_or_zero,
        20.0,
        "seconds to finish in-flight requests after SIGTERM",
        "SECONDS",
    ),
    Flag(
        "log-level",
        flags.choice("debug", "info", "warning", "error"),
        "info",
        "log level: debug, info, warning or error",
        "LEVEL",
    ),
)
#: Every flag of ``serve``, in ``--help`` order; the table of docs/interfaces.md is made from it.
SERVE_COMMAND_FLAGS: tuple[Flag, ...] = (*SERVE_FLAGS, *injection_flags.INJECTION_FLAGS)


def _serve(args: argparse.Namespace) -> int:
    from webhook.server import logs
    from webhook.server.app import ServerOptions
    from webhook.server.run import CannotListen, ServeConfig, build_server, listen
    from webhook.server.tls import CertificateError

    logs.configure(args.log_level)
    config = ServeConfig(
        host=args.host,
        port=args.port,
        tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None,
        insecure_http=args.insecure_http,
        graceful_timeout=args.graceful_timeout,
        tls_wait=args.tls_wait,
        options=ServerOptions(
            max_body_bytes=args.max_body_bytes,
            body_timeout=args.body_timeout,
            cert_reload_interval=args.cert_reload_interval,
        ),
    )
    try:
        server = build_server(injection_flags.settings(args), config)
    except (CertificateError, ValueError, OSError) as exc:
        print(f"downward-webhook: cannot start: {exc}", file=sys.stderr)
        return 2
    try:
        sockets = listen(config.host, config.port)
    except CannotListen as exc:
        print(f"downward-webhook: {exc}", file=sys.stderr)
        return 2
    server.run(sockets)
    return server.exit_code


def _version(_: argparse.Namespace) -> int:
    print(f"downward-webhook {_package_version()}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = flags.Parser(prog=_PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the admission webhook server")
    flags.add(serve, *SERVE_COMMAND_FLAGS)
    serve.set_defaults(func=_serve)

    render.register(sub)

    certs: argparse.ArgumentParser = sub.add_parser("certs", help="certificates for the webhook")
    from webhook.certs import commands as certs_commands

    certs_commands.register(certs.add_subparsers(dest="certs_command", required=True))

    from webhook.audit import commands as audit_commands

    audit_commands.register(sub)

    sub.add_parser("version", help="print the version").set_defaults(func=_version)
    return parser


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    # A subcommand may check what the command line alone says (render refuses a flag it
    # cannot honour) before the environment fills in the rest.
    check = getattr(args, "check_command_line", None)
    if check is not None:
        check(args)
    flags.resolve(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parse(argv)
        result: int = args.func(args)
    except UsageError as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before serve handles it, or in render reading stdin
        return _EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``render | head``): stop quietly, as cat and kubectl do, and
        # point stdout at /dev/null so that Python's own flush at exit does not complain
        # (unless it was closed from the start: then there is no stdout to flush).
        if sys.stdout is not None:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return _EXIT_BROKEN_PIPE
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
