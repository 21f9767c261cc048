"""The ``certs generate`` and ``certs ensure`` subcommands of ``downward-webhook``.

Their flags are ``webhook.flags`` flags, like ``serve``'s: each also reads an environment
variable, ``DOWNWARD_`` plus the flag in upper snake case (``--webhook-config`` reads
``DOWNWARD_WEBHOOK_CONFIG``), so the chart can configure the init container through ``env``;
docs/interfaces.md's tables of them are made from these tuples. Errors print one line to
stderr: exit 2 for bad input (a flag, a missing or broken kubeconfig), 1 when the work
itself fails (the API server refuses, a file cannot be written).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from webhook import flags
from webhook.core import values
from webhook.flags import Flag

if TYPE_CHECKING:
    from webhook.certs.ensure import EnsureResult, EnsureTarget

# The subcommands import their modules when they run: building the parser (which every
# command does, ``serve`` included) must not load the Kubernetes client and cryptography,
# about 15 MB of memory that ``serve`` has no use for.

__all__ = ["ENSURE_FLAGS", "GENERATE_FLAGS", "MAX_DAYS", "register"]

Subparsers = argparse._SubParsersAction  # the type argparse gives add_subparsers()

#: The longest validity or renewal window, in days: 100 years. X.509 dates end with the year
#: 9999 (GeneralizedTime) and so do Python's; a fixed bound, checked when the flag is parsed,
#: keeps every certificate made from today's clock far inside both.
MAX_DAYS = 36500
_VALIDITY = f"days the new certificates are valid (at most {MAX_DAYS})"
_KUBECONFIG = "kubeconfig file; default: in-cluster config, else $KUBECONFIG or ~/.kube/config"
_DROP_OLD_CAS = (
    "trust only the stored CA: drop the previous CAs from the caBundle and the Secret "
    "(after a CA leak; delete the Secret first if the current CA leaked)"
)


def _days(text: str) -> int:
    days: int = values.positive_int(text)
    if days > MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days (100 years)")
    return days


def _out_dir(text: str) -> Path:
    """A folder to write into: it may not exist yet, but what exists of it is a folder."""
    path = Path(flags.text(text))
    for at in (path, *path.parents):
        if at.exists():
            if not at.is_dir():
                raise ValueError("is a file, not a folder" if at == path else f"{at} is a file")
            break
    return path


_SERVICE_FLAGS = (
    Flag(
        "service",
        values.service_name,
        None,
        "the webhook's Service (a DNS-1035 label)",
        "NAME",
        required=True,
    ),
    Flag(
        "namespace",
        values.namespace_name,
        None,
        "the Service's namespace (a DNS-1123 label)",
        "NS",
        required=True,
    ),
)
GENERATE_FLAGS: tuple[Flag, ...] = (
    *_SERVICE_FLAGS,
    Flag("out-dir", _out_dir, None, "output folder", "DIR", required=True),
    Flag("days", _days, 365, _VALIDITY, "N"),
)
ENSURE_FLAGS: tuple[Flag, ...] = (
    *_SERVICE_FLAGS,
    Flag("secret", values.object_name, None, "name of the TLS Secret", "NAME", required=True),
    Flag(
        "webhook-config",
        values.object_name,
        None,
        "MutatingWebhookConfiguration to put the CA in",
        "NAME",
        required=True,
    ),
    Flag("validity-days", _days, 365, _VALIDITY, "N"),
    Flag(
        "renew-before-days",
        _days,
        30,
        "renew when the certificate expires within N days (fewer than --validity-days)",
        "N",
    ),
    Flag("out-dir", _out_dir, None, "also write the files here", "DIR"),
    Flag("kubeconfig", flags.text, None, _KUBECONFIG, "FILE"),
    Flag.toggle("drop-old-cas", _DROP_OLD_CAS, default=False),
)


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``generate`` and ``ensure`` to the ``certs`` subcommand group."""
    generate = subparsers.add_parser(
        "generate",
        help="write a self-signed CA and a serving certificate as PEM files",
        description="Write DIR/ca.crt, DIR/tls.crt and DIR/tls.key (mode 0600) for the "
        "webhook Service's DNS names.",
    )
    flags.add(generate, *GENERATE_FLAGS)
    generate.set_defaults(func=_run_generate)
    ensure = subparsers.add_parser(
        "ensure",
        help="create or renew the certificate Secret and the webhook's caBundle",
        description="Get or create the kubernetes.io/tls Secret, renew it when it is invalid "
        "or near expiry, and write its CA into the caBundle of every webhook entry. Safe to "
        "run from many replicas at once.",
    )
    flags.add(ensure, *ENSURE_FLAGS)
    ensure.set_defaults(func=_run_ensure)


def _run_generate(args: argparse.Namespace) -> int:
    from webhook.certs.files import CA_FILE, CERT_FILE, KEY_FILE, write_bundle
    from webhook.certs.generate import generate_bundle
    from webhook.certs.pem import not_after

    try:
        bundle = generate_bundle(args.service, args.namespace, days=args.days)
        write_bundle(bundle, args.out_dir)
    except ValueError as exc:  # the flags' checkers leave none, but never a traceback
        return _fail("generate", exc, code=2)
    except OSError as exc:
        return _fail("generate", _write_error(args.out_dir, exc))
    files = ", ".join(str(args.out_dir / name) for name in (CA_FILE, CERT_FILE, KEY_FILE))
    print(f"wrote {files}; valid until {not_after(bundle.tls_crt).isoformat()}")
    return 0


def _run_ensure(args: argparse.Namespace) -> int:
    from webhook.certs.ensure import CertsError, EnsureTarget, connect, ensure_certificates
    from webhook.certs.files import write_bundle
    from webhook.certs.kube import BadKubeconfig

    try:
        target = EnsureTarget(
            namespace=args.namespace,
            secret=args.secret,
            service=args.service,
            webhook_config=args.webhook_config,
            validity_days=args.validity_days,
            renew_before=timedelta(days=args.renew_before_days),
        )
        apis = connect(args.kubeconfig)
    except (BadKubeconfig, ValueError) as exc:  # bad input: the flags or the kubeconfig
        return _fail("ensure", exc, code=2)
    try:
        result = ensure_certificates(apis, target, drop_old_cas=args.drop_old_cas)
        if args.out_dir is not None:
            write_bundle(result.bundle, args.out_dir)
    except CertsError as exc:
        return _fail("ensure", exc)
    except OSError as exc:
        return _fail("ensure", _write_error(args.out_dir, exc))
    finally:
        apis.close()
    print(_summary(target, result))
    return 0


def _summary(target: EnsureTarget, result: EnsureResult) -> str:
    secret = f"Secret {target.namespace}/{target.secret} {result.secret} ({result.reason})"
    if not result.webhook_config_found:
        ca = f"MutatingWebhookConfiguration {target.webhook_config} not found, caBundle not set"
    else:
        ca = "caBundle " + ("updated" if result.ca_bundle_updated else "already up to date")
    return f"{secret}; {ca}; valid until {result.not_after.isoformat()}"


def _write_error(out_dir: Path, exc: OSError) -> str:
    return f"{out_dir}: cannot write the files: {exc.strerror or exc}"


def _fail(command: str, exc: Exception | str, *, code: int = 1) -> int:
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"downward-webhook certs {command}: error: {message}", file=sys.stderr)
    return code
