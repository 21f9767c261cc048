"""The ``audit`` subcommand of ``downward-webhook``: its flags, and what it prints and exits.

Exit codes: 0 when no pod needs attention, 1 when some do (with ``--restart`` too: restarted
pods are replaced only after the command ends), 2 for bad usage or when the cluster cannot be
read (no credentials, 403, unreachable) or a restart failed. Errors are one line on stderr.
The result goes to stdout; a progress line goes to stderr only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from webhook.audit.kube import Cluster
    from webhook.audit.scan import Report
    from webhook.core.audit import AuditSettings

# Imported when the command runs: building the parser (which ``serve`` does too) must not
# load the Kubernetes client.

__all__ = ["register"]

Subparsers = argparse._SubParsersAction  # the type argparse gives add_subparsers()

_EXCLUDED = ("kube-system", "kube-node-lease")
_KUBECONFIG = "kubeconfig file; default: in-cluster config, else $KUBECONFIG or ~/.kube/config"


def register(subparsers: Subparsers[Any]) -> None:
    """Add ``audit`` to the top-level subcommands."""
    parser = subparsers.add_parser(
        "audit",
        help="find pods that ask for injection but were not (fully) injected",
        description="List the pods that ask for injection but carry no downward.io/injected, "
        "would still get something from the webhook today, or record a mode their annotation "
        "no longer asks for; grouped by owning workload. Exit 0 when none, 1 otherwise.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-n", "--namespace", metavar="NS", help="only this namespace")
    where.add_argument(
        "-A", "--all-namespaces", action="store_true", help="every namespace (the default)"
    )
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="restart the owning Deployments, StatefulSets and DaemonSets "
        "(as kubectl rollout restart does)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what --restart would do; change nothing"
    )
    parser.add_argument(
        "--namespace-default-inject",
        metavar="MODES",
        help="the webhook's namespace default (chart namespaceDefaults.inject); given, pods "
        "without an annotation in namespaces labelled downward.io/inject=enabled ask too",
    )
    parser.add_argument(
        "--exclude-namespace",
        metavar="NS",
        action="append",
        help=f"a namespace the webhook excludes (repeatable; default {', '.join(_EXCLUDED)})",
    )
    parser.add_argument(
        "--page-size", type=_page_size, default=500, metavar="N", help="pods per list request"
    )
    parser.add_argument("--kubeconfig", metavar="FILE", help=_KUBECONFIG)
    parser.set_defaults(func=_run)


def _page_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 5000:
        raise argparse.ArgumentTypeError(f"must be from 1 to 5000: {value}")
    return value


def _run(args: argparse.Namespace) -> int:
    from webhook.audit.kube import AuditError, connect

    try:
        settings = _settings(args.namespace_default_inject)
        cluster = connect(args.kubeconfig)
    except (AuditError, ValueError) as exc:
        return _fail(exc)
    try:
        return _audit(args, cluster, settings)
    except AuditError as exc:
        return _fail(exc)
    finally:
        cluster.close()


def _settings(modes: str | None) -> AuditSettings:
    from webhook.core.admission import Settings
    from webhook.core.audit import AuditSettings
    from webhook.core.parsers import parse_modes
    from webhook.core.reasons import Finding

    if modes is None:
        return AuditSettings()
    findings: list[Finding] = []
    parsed = parse_modes(modes, findings)
    if findings or not parsed:
        raise ValueError(
            f"--namespace-default-inject {modes!r}: use env, volume, ambassador or all"
        )
    return AuditSettings(Settings(namespace_default_inject=modes), namespace_defaults=True)


def _audit(args: argparse.Namespace, cluster: Cluster, settings: AuditSettings) -> int:
    from webhook.audit import report as output
    from webhook.audit.restart import restart
    from webhook.audit.scan import scan

    progress = _Progress(sys.stderr)
    try:
        result = scan(
            cluster,
            settings,
            namespace=args.namespace,
            excluded=frozenset(args.exclude_namespace or _EXCLUDED),
            page_size=args.page_size,
            progress=progress,
        )
    finally:
        progress.clear()
    if args.restart or args.dry_run:
        restart(cluster, result.sorted(), datetime.now(UTC), dry_run=args.dry_run)
    print(output.as_json(result) if args.output == "json" else output.as_table(result))
    if any(w.action == "failed" for w in result.workloads.values()):
        print("downward-webhook audit: error: some restarts failed (see notes)", file=sys.stderr)
        return 2
    return 1 if result.workloads else 0


class _Progress:
    """A line on stderr, rewritten after each page, only when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.on = stream.isatty()

    def __call__(self, report: Report) -> None:
        if self.on:
            line = f"\r{report.scanned} pods scanned, {report.pods} need attention"
            self.stream.write(line)
            self.stream.flush()

    def clear(self) -> None:
        if self.on:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _fail(exc: Exception) -> int:
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"downward-webhook audit: error: {message}", file=sys.stderr)
    return 2
