"""The ``caBundle`` of every entry of the webhook configuration, written by server-side apply.

``certs ensure`` reads the MutatingWebhookConfiguration, computes the bundle it wants from
the ``caBundle`` values it finds, and writes only that field with a server-side apply
(``PATCH``, ``application/apply-patch+yaml``) under its own field manager
``downward-webhook-certs``, with ``force`` so that it takes the field over from whoever
wrote it before (an older version of this tool wrote it with a PUT, which the API server
records under the client's User-Agent, ``OpenAPI-Generator``). Owning just that one field
under a name of its own is what lets ``helm upgrade`` (Helm 4 applies server-side as
``helm``) leave it alone in the self-signed mode, where the chart does not render it.

The apply carries the ``resourceVersion`` it read, so it is conditional like the PUT it
replaces: a 409 means another writer came first, and we read again.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

from kubernetes import client

from webhook.certs.kube import FIELD_MANAGER, CertsError, Conflict, KubeApis, NotFound, apply, call

__all__ = ["CaBundleOutcome", "NotConvergedError", "b64", "update_ca_bundle"]

log = logging.getLogger(__name__)

CaBundleOutcome = Literal["updated", "unchanged", "missing"]
Wanted = Callable[[Sequence[bytes]], bytes]

_API_VERSION = "admissionregistration.k8s.io/v1"
_KIND = "MutatingWebhookConfiguration"


class NotConvergedError(CertsError):
    """Writes kept conflicting with other writers for every attempt."""


def update_ca_bundle(apis: KubeApis, name: str, wanted: Wanted, attempts: int) -> CaBundleOutcome:
    """Set every webhook's caBundle to ``wanted(current caBundles)``, retrying conflicts.

    Nothing is written when every entry already holds the wanted bundle under our field
    manager; an entry holding it under another manager is written, to take the field over.
    """
    for _ in range(attempts):
        try:
            read = apis.admission.read_mutating_webhook_configuration
            config = call(f"get {_KIND} {name}", read, name)
        except NotFound:  # the chart creates it alongside the Deployment: not an error
            return "missing"
        hooks = config.webhooks or []
        metadata = config.metadata or client.V1ObjectMeta()
        current = [_decode(hook.client_config.ca_bundle) for hook in hooks]
        bundle = wanted(current)
        if all(ca == bundle for ca in current) and {h.name for h in hooks} <= _owned(metadata):
            return "unchanged"
        body = _apply_body(name, metadata.resource_version, [h.name for h in hooks], bundle)
        try:
            patch = apis.admission.patch_mutating_webhook_configuration
            apply(f"apply {_KIND} {name}", patch, name, body)
        except (Conflict, NotFound):
            log.info("%s %s changed meanwhile; reading again", _KIND, name)
            continue
        log.info("caBundle of %d webhook(s) in %s updated", len(hooks), name)
        return "updated"
    raise NotConvergedError(f"{_KIND} {name}: still conflicting after {attempts} attempts")


def _apply_body(
    name: str,
    resource_version: str | None,
    entries: Sequence[str],
    bundle: bytes,
) -> dict[str, Any]:
    """The apply configuration: only each entry's name (the list's key) and its caBundle.

    ``resourceVersion`` makes the apply fail with 409 if the object changed since we read it
    (for instance an entry added or removed by ``helm upgrade``), so we never write a bundle
    computed from a stale read, nor an entry that no longer exists.
    """
    encoded = b64(bundle)
    metadata = {"name": name} | ({"resourceVersion": resource_version} if resource_version else {})
    return {
        "apiVersion": _API_VERSION,
        "kind": _KIND,
        "metadata": metadata,
        "webhooks": [{"name": entry, "clientConfig": {"caBundle": encoded}} for entry in entries],
    }


def _owned(metadata: client.V1ObjectMeta) -> set[str]:
    """Names of the entries whose caBundle our field manager owns (by apply)."""
    owned: set[str] = set()
    for entry in metadata.managed_fields or []:
        if entry.manager != FIELD_MANAGER or entry.operation != "Apply":
            continue
        fields = entry.fields_v1 if isinstance(entry.fields_v1, dict) else {}
        for key, value in (fields.get("f:webhooks") or {}).items():
            entry_name = _list_key_name(key)
            if entry_name and "f:caBundle" in ((value or {}).get("f:clientConfig") or {}):
                owned.add(entry_name)
    return owned


def _list_key_name(key: str) -> str | None:
    """``k:{"name":"inject.downward.io"}`` (a managedFields list-map key) -> its name."""
    if not key.startswith("k:"):
        return None
    try:
        value = json.loads(key[2:])
    except ValueError:
        return None
    name = value.get("name") if isinstance(value, dict) else None
    return name if isinstance(name, str) else None


def _decode(value: str | bytes | None) -> bytes:
    try:
        return base64.b64decode(value or "", validate=True)
    except (binascii.Error, ValueError):
        return b""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
