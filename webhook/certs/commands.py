"""The ``certs generate`` and ``certs ensure`` subcommands of ``downward-webhook``.

Each flag also reads an environment variable, ``DOWNWARD_`` plus the flag in upper snake
case (``--webhook-config`` reads ``DOWNWARD_WEBHOOK_CONFIG``), so the chart can configure the
init container through ``env``. Errors print one line to stderr and exit non-zero.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webhook.certs.ensure import EnsureResult, EnsureTarget

# The subcommands import their modules when they run: building the parser (which every
# command does, ``serve`` included) must not load the Kubernetes client and cryptography,
# about 15 MB of memory that ``serve`` has no use for.

__all__ = ["register"]

Subparsers = argparse._SubParsersAction  # the type argparse gives add_subparsers()

_VALIDITY = "days the new certificates are valid"
_RENEW = "renew when the certificate expires within N days"
_KUBECONFIG = "kubeconfig file; default: in-cluster config, else $KUBECONFIG or ~/.kube/config"
_DROP_OLD_CAS = (
    "trust only the stored CA: drop the previous CAs from the caBundle and the Secret "
    "(after a CA leak; delete the Secret first if the current CA leaked)"
)


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``generate`` and ``ensure`` to the ``certs`` subcommand group."""
    _add_generate(subparsers)
    _add_ensure(subparsers)


def _add_generate(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write a self-signed CA and a serving certificate as PEM files",
        description="Write DIR/ca.crt, DIR/tls.crt and DIR/tls.key (mode 0600) for the "
        "webhook Service's DNS names.",
    )
    _service_flags(parser)
    _flag(parser, "--out-dir", type=Path, required=True, metavar="DIR", help="output folder")
    _flag(parser, "--days", type=_positive_int, default=365, metavar="N", help=_VALIDITY)
    parser.set_defaults(func=_run_generate)


def _add_ensure(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ensure",
        help="create or renew the certificate Secret and the webhook's caBundle",
        description="Get or create the kubernetes.io/tls Secret, renew it when it is invalid "
        "or near expiry, and write its CA into the caBundle of every webhook entry. Safe to "
        "run from many replicas at once.",
    )
    _service_flags(parser)
    _flag(parser, "--secret", required=True, metavar="NAME", help="name of the TLS Secret")
    _flag(
        parser,
        "--webhook-config",
        required=True,
        metavar="NAME",
        help="MutatingWebhookConfiguration to put the CA in",
    )
    _flag(parser, "--validity-days", type=_positive_int, default=365, metavar="N", help=_VALIDITY)
    _flag(parser, "--renew-before-days", type=_positive_int, default=30, metavar="N", help=_RENEW)
    _flag(parser, "--out-dir", type=Path, metavar="DIR", help="also write the files here")
    _flag(parser, "--kubeconfig", metavar="FILE", help=_KUBECONFIG)
    _flag(
        parser,
        "--drop-old-cas",
        type=_boolean,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help=_DROP_OLD_CAS,
    )
    parser.set_defaults(func=_run_ensure)


def _service_flags(parser: argparse.ArgumentParser) -> None:
    _flag(parser, "--service", required=True, metavar="NAME", help="the webhook's Service")
    _flag(parser, "--namespace", required=True, metavar="NS", help="the Service's namespace")


def _flag(parser: argparse.ArgumentParser, flag: str, *, required: bool = False, **kw: Any) -> None:
    """Add ``flag``, defaulting to its ``DOWNWARD_*`` environment variable when that is set.

    argparse passes a string default through ``type``, so ``DOWNWARD_DAYS=30`` works like
    ``--days 30``, and a bad value is reported like a bad flag.
    """
    env = "DOWNWARD_" + flag.removeprefix("--").upper().replace("-", "_")
    fallback = kw.pop("default", None)
    default = _FromEnv(env, os.environ[env]) if os.environ.get(env) else fallback
    if "type" in kw:
        kw["type"] = _naming_variable(kw["type"])
    help_text = f"{kw.pop('help')} (env {env}" + (f", default {default})" if default else ")")
    parser.add_argument(
        flag, default=default, required=required and default is None, help=help_text, **kw
    )


class _FromEnv(str):
    """A default read from an environment variable, which a bad value's error names."""

    variable: str

    def __new__(cls, variable: str, value: str) -> _FromEnv:
        text = super().__new__(cls, value)
        text.variable = variable
        return text


def _naming_variable(convert: Any) -> Any:
    def checked(text: str) -> Any:
        try:
            return convert(text)
        except (argparse.ArgumentTypeError, ValueError) as exc:
            if isinstance(text, _FromEnv):
                raise argparse.ArgumentTypeError(f"{text.variable}={str(text)!r}: {exc}") from None
            raise

    checked.__name__ = getattr(convert, "__name__", "value")
    return checked


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"not true or false: {text!r}")


def _run_generate(args: argparse.Namespace) -> int:
    from webhook.certs.files import CA_FILE, CERT_FILE, KEY_FILE, write_bundle
    from webhook.certs.generate import generate_bundle
    from webhook.certs.pem import not_after

    try:
        bundle = generate_bundle(args.service, args.namespace, days=args.days)
        write_bundle(bundle, args.out_dir)
    except (OSError, ValueError) as exc:
        return _fail("generate", exc)
    files = ", ".join(str(args.out_dir / name) for name in (CA_FILE, CERT_FILE, KEY_FILE))
    print(f"wrote {files}; valid until {not_after(bundle.tls_crt).isoformat()}")
    return 0


def _run_ensure(args: argparse.Namespace) -> int:
    from webhook.certs.ensure import CertsError, EnsureTarget, connect, ensure_certificates
    from webhook.certs.files import write_bundle

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
    except (CertsError, ValueError) as exc:
        return _fail("ensure", exc)
    try:
        result = ensure_certificates(apis, target, drop_old_cas=args.drop_old_cas)
        if args.out_dir is not None:
            write_bundle(result.bundle, args.out_dir)
    except (CertsError, OSError) as exc:
        return _fail("ensure", exc)
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


def _fail(command: str, exc: Exception) -> int:
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"downward-webhook certs {command}: error: {message}", file=sys.stderr)
    return 1
