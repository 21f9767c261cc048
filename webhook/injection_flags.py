"""The flags that shape what gets injected, shared by ``serve`` and ``render``.

Defined once here, not in either command's module, so that both commands read the same
flags into the same ``Settings``: ``render`` shows what ``serve`` would inject only if the two
cannot drift apart, and neither command's module has to import the other's.
"""

from __future__ import annotations

import argparse

from webhook.core import values
from webhook.core.admission import Settings
from webhook.core.ambassador import AmbassadorSettings
from webhook.core.bounds import DEFAULT_MAX_CONTAINERS
from webhook.core.keys import ALL, MODES
from webhook.core.parsers import parse_modes
from webhook.core.reasons import Finding
from webhook.flags import Flag, UsageError

__all__ = ["INJECTION_FLAGS", "check_resources", "settings"]

_MAX_UID = 2**31 - 1


def _modes(text: str) -> str:
    findings: list[Finding] = []
    if not parse_modes(text, findings) or findings:
        raise ValueError(f"use {', '.join(MODES)} or {ALL} (comma-separated)")
    return text.strip()


def _uid(text: str) -> int:
    uid = values.positive_int(text)
    if uid > _MAX_UID:
        raise ValueError(f"not a non-root UID (1-{_MAX_UID})")
    return uid


_DEFAULTS = AmbassadorSettings()
_RESOURCE = [
    Flag(
        f"ambassador-{resource}-{kind}",
        values.quantity,
        _DEFAULTS.resources[kind + "s"][resource],
        f"ambassador {resource} {kind}",
        "QUANTITY",
    )
    for resource, kind in (
        ("cpu", "request"),
        ("cpu", "limit"),
        ("memory", "request"),
        ("memory", "limit"),
    )
]
#: Flags shared by ``serve`` and ``render``: they shape what gets injected.
INJECTION_FLAGS: tuple[Flag, ...] = (
    Flag.switch("strict", "deny pods with bad downward.io annotations instead of warning"),
    Flag(
        "namespace-default-inject",
        _modes,
        "env,volume",
        "modes for pods without downward.io/inject in namespaces labelled "
        "downward.io/inject=enabled",
        "MODES",
    ),
    Flag(
        "ambassador-image",
        values.image_reference,
        _DEFAULTS.image,
        "image of the kubectl-proxy ambassador",
        "IMAGE",
    ),
    Flag.toggle(
        "native-sidecar",
        "inject the ambassador as a native sidecar (Kubernetes 1.29+)",
        default=True,
    ),
    *_RESOURCE,
    Flag(
        "max-containers",
        values.positive_int,
        DEFAULT_MAX_CONTAINERS,
        "pods with more containers and init containers get nothing injected",
        "N",
    ),
    Flag(
        "ambassador-run-as-user",
        _uid,
        _DEFAULTS.run_as_user,
        "numeric non-root user of the ambassador",
        "UID",
    ),
)


def check_resources(args: argparse.Namespace) -> None:
    """Refuse ambassador resources Kubernetes would refuse in every pod that gets one: a limit
    of 0, or a request above its limit (``ValidateResourceRequirements``), compared as
    quantities (``1Gi`` is more than ``1Mi``). One ``UsageError`` naming both flags."""
    for resource in ("cpu", "memory"):
        request = getattr(args, f"ambassador_{resource}_request")
        limit = getattr(args, f"ambassador_{resource}_limit")
        if values.quantity_value(limit) <= 0:
            raise UsageError(f"--ambassador-{resource}-limit {limit}: a limit must be more than 0")
        if values.quantity_value(request) > values.quantity_value(limit):
            raise UsageError(
                f"--ambassador-{resource}-request {request} is more than "
                f"--ambassador-{resource}-limit {limit}: Kubernetes refuses a request above "
                "its limit in every pod that gets the ambassador"
            )


def settings(args: argparse.Namespace) -> Settings:
    """The core's ``Settings`` from the resolved ``INJECTION_FLAGS`` of either command.

    Raises ``UsageError`` for ambassador resources that no pod could have (``check_resources``).
    """
    check_resources(args)
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
