"""The ``downward-webhook`` command: ``serve``, ``render``, ``certs``, ``version``.

A client of the core like the server: ``render`` calls the same ``mutate`` as ``/mutate``.
Every flag also reads an environment variable (``DOWNWARD_<FLAG>``), so the chart can set
them either way.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO

import yaml

from webhook.core.admission import Settings
from webhook.core.ambassador import AmbassadorSettings
from webhook.core.annotations import parse_modes
from webhook.core.bounds import DEFAULT_MAX_CONTAINERS
from webhook.core.keys import ALL, MODES
from webhook.core.reasons import Finding
from webhook.core.review import BadReview
from webhook.core.workloads import inject_document

__all__ = ["main"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _env_name(flag: str) -> str:
    return "DOWNWARD_" + flag.upper().replace("-", "_")


def _env(flag: str, default: Any = None) -> Any:
    return os.environ.get(_env_name(flag), default)


def _env_bool(flag: str, default: bool) -> bool:
    value = _env(flag)
    if value is None:
        return default
    if value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise SystemExit(f"downward-webhook: {_env_name(flag)}={value!r} is not a boolean")


def _package_version() -> str:
    try:
        return version("downward-webhook")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"


def _add_injection_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by ``serve`` and ``render``: they shape what gets injected."""
    defaults = AmbassadorSettings()
    p.add_argument(
        "--strict",
        action="store_true",
        default=_env_bool("strict", False),
        help="deny pods with bad downward.io annotations instead of warning [DOWNWARD_STRICT]",
    )
    p.add_argument(
        "--namespace-default-inject",
        metavar="MODES",
        default=_env("namespace-default-inject", "env,volume"),
        help="modes for pods in namespaces labelled downward.io/inject=enabled "
        "[DOWNWARD_NAMESPACE_DEFAULT_INJECT]",
    )
    p.add_argument(
        "--ambassador-image",
        metavar="IMAGE",
        default=_env("ambassador-image", defaults.image),
        help="image of the kubectl-proxy ambassador [DOWNWARD_AMBASSADOR_IMAGE]",
    )
    p.add_argument(
        "--native-sidecar",
        action=argparse.BooleanOptionalAction,
        default=_env_bool("native-sidecar", True),
        help="inject the ambassador as a native sidecar (Kubernetes 1.29+) "
        "[DOWNWARD_NATIVE_SIDECAR]",
    )
    for resource, kind in (
        ("cpu", "request"),
        ("cpu", "limit"),
        ("memory", "request"),
        ("memory", "limit"),
    ):
        flag = f"ambassador-{resource}-{kind}"
        p.add_argument(
            f"--{flag}",
            metavar="QUANTITY",
            default=_env(flag, defaults.resources[kind + "s"][resource]),
            help=f"ambassador {resource} {kind} [{_env_name(flag)}]",
        )
    p.add_argument(
        "--max-containers",
        metavar="N",
        type=int,
        default=int(_env("max-containers", DEFAULT_MAX_CONTAINERS)),
        help="pods with more containers and init containers get nothing injected "
        "[DOWNWARD_MAX_CONTAINERS]",
    )
    p.add_argument(
        "--ambassador-run-as-user",
        metavar="UID",
        type=int,
        default=int(_env("ambassador-run-as-user", defaults.run_as_user)),
        help="numeric non-root user of the ambassador [DOWNWARD_AMBASSADOR_RUN_AS_USER]",
    )


def _settings(args: argparse.Namespace) -> Settings:
    findings: list[Finding] = []
    modes = parse_modes(args.namespace_default_inject, findings)
    if findings or not modes:
        raise SystemExit(
            f"downward-webhook: --namespace-default-inject "
            f"{args.namespace_default_inject!r}: use {', '.join(MODES)} or {ALL}"
        )
    if args.max_containers < 1:
        raise SystemExit("downward-webhook: --max-containers must be at least 1")
    if args.ambassador_run_as_user <= 0:
        raise SystemExit("downward-webhook: --ambassador-run-as-user must be a non-root UID")
    ambassador = AmbassadorSettings(
        image=args.ambassador_image,
        native_sidecar=args.native_sidecar,
        run_as_user=args.ambassador_run_as_user,
        resources={
            "requests": {
                "cpu": args.ambassador_cpu_request,
                "memory": args.ambassador_memory_request,
            },
            "limits": {"cpu": args.ambassador_cpu_limit, "memory": args.ambassador_memory_limit},
        },
    )
    return Settings(
        strict=args.strict,
        namespace_default_inject=args.namespace_default_inject,
        ambassador=ambassador,
        max_containers=args.max_containers,
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 3600: {text}")
    return value


def _serve(args: argparse.Namespace) -> int:
    from webhook.server import logs
    from webhook.server.app import ServerOptions
    from webhook.server.run import ServeConfig, build_server
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
        server = build_server(_settings(args), config)
    except (CertificateError, ValueError) as exc:
        print(f"downward-webhook: cannot start: {exc}", file=sys.stderr)
        return 2
    server.run()
    return 0


class _BlockStyleDumper(yaml.SafeDumper):
    """Writes multi-line strings (annotations, scripts) as ``|`` blocks, as people write them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None  # PyYAML falls back to quotes when it must
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


def _render(args: argparse.Namespace) -> int:
    settings = _settings(args)
    stream: TextIO = sys.stdin if args.filename == "-" else open(args.filename)  # noqa: SIM115
    with stream:
        try:
            docs = [d for d in yaml.safe_load_all(stream) if d is not None]
        except yaml.YAMLError as exc:
            print(
                f"downward-webhook: {args.filename}: not YAML: {exc}".splitlines()[0],
                file=sys.stderr,
            )
            return 2
    bad = False
    for doc in docs:
        try:
            results = inject_document(doc, settings)
        except BadReview as exc:
            print(f"downward-webhook: {args.filename}: {exc}", file=sys.stderr)
            return 2
        for result in results:
            for finding in result.decision.findings:
                bad |= finding.invalid
                print(f"{result.where}: {finding.message}", file=sys.stderr)
            if result.decision.outcome == "denied":
                bad = True
    if not args.check:
        yaml.dump_all(
            docs, sys.stdout, Dumper=_BlockStyleDumper, sort_keys=False, default_flow_style=False
        )
    return 1 if bad and (args.check or args.strict) else 0


def _version(_: argparse.Namespace) -> int:
    print(f"downward-webhook {_package_version()}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="downward-webhook", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the admission webhook server")
    serve.add_argument("--host", default=_env("host", "0.0.0.0"), help="[DOWNWARD_HOST]")
    serve.add_argument("--port", type=int, default=int(_env("port", 8443)), help="[DOWNWARD_PORT]")
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        default=_env("tls-cert"),
        help="PEM certificate (chain), reloaded when it changes [DOWNWARD_TLS_CERT]",
    )
    serve.add_argument(
        "--tls-key",
        metavar="FILE",
        default=_env("tls-key"),
        help="PEM private key, reloaded when it changes [DOWNWARD_TLS_KEY]",
    )
    serve.add_argument(
        "--tls-wait",
        metavar="SECONDS",
        type=float,
        default=float(_env("tls-wait", 0)),
        help="wait this long for missing certificate files before giving up "
        "(the chart sets it for a first install) [DOWNWARD_TLS_WAIT]",
    )
    serve.add_argument(
        "--insecure-http",
        action="store_true",
        default=_env_bool("insecure-http", False),
        help="DEVELOPMENT ONLY: serve plain HTTP without TLS [DOWNWARD_INSECURE_HTTP]",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=int(_env("max-body-bytes", 3 * 1024 * 1024)),
        help="larger request bodies get HTTP 413 [DOWNWARD_MAX_BODY_BYTES]",
    )
    serve.add_argument(
        "--body-timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=_env("body-timeout", "10"),
        help="seconds for a request head (else the connection is closed), then for its body "
        "(else HTTP 408) [DOWNWARD_BODY_TIMEOUT]",
    )
    serve.add_argument(
        "--cert-reload-interval",
        type=float,
        default=float(_env("cert-reload-interval", 5)),
        help="seconds between checks of the certificate files [DOWNWARD_CERT_RELOAD_INTERVAL]",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=float,
        default=float(_env("graceful-timeout", 20)),
        help="seconds to finish in-flight requests after SIGTERM [DOWNWARD_GRACEFUL_TIMEOUT]",
    )
    serve.add_argument(
        "--log-level",
        default=_env("log-level", "info"),
        choices=["debug", "info", "warning", "error"],
        help="[DOWNWARD_LOG_LEVEL]",
    )
    _add_injection_flags(serve)
    serve.set_defaults(func=_serve)

    render = sub.add_parser("render", help="print Kubernetes YAML with the injection applied")
    render.add_argument("-f", "--filename", default="-", help="YAML file, or - for stdin")
    render.add_argument(
        "--check",
        action="store_true",
        help="print warnings only; exit 1 if a downward.io annotation is bad",
    )
    _add_injection_flags(render)
    render.set_defaults(func=_render)

    certs = sub.add_parser("certs", help="certificates for the webhook")
    from webhook.certs import commands as certs_commands

    certs_commands.register(certs.add_subparsers(dest="certs_command", required=True))

    from webhook.audit import commands as audit_commands

    audit_commands.register(sub)

    sub.add_parser("version", help="print the version").set_defaults(func=_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
