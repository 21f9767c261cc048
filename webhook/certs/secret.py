"""The webhook's certificate Secret: read it, decode its bundle, write a new one over it.

A ``kubernetes.io/tls`` Secret holding ``ca.crt``, ``tls.crt`` and ``tls.key``, and the CAs
still trusted from before its last rotation (annotation ``downward.io/previous-cas``). Every
replace carries the ``resourceVersion`` that was read, so a write over someone else's is a
409 Conflict (``webhook.certs.ensure`` reads again), never a lost update.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from kubernetes import client

from webhook.certs.cabundle import b64
from webhook.certs.files import CA_FILE, CERT_FILE, KEY_FILE
from webhook.certs.generate import CertBundle
from webhook.certs.kube import KubeApis, NotFound, call

__all__ = [
    "PREVIOUS_CAS_ANNOTATION",
    "SECRET_TYPE",
    "StoredSecret",
    "read_secret",
    "secret_body",
    "write_secret",
]

SECRET_TYPE = "kubernetes.io/tls"
PREVIOUS_CAS_ANNOTATION = "downward.io/previous-cas"
_LABELS = {
    "app.kubernetes.io/name": "downward-webhook",
    "app.kubernetes.io/component": "webhook-certificate",
}


@dataclass(frozen=True)
class StoredSecret:
    """The Secret as read, and what it holds."""

    secret: client.V1Secret  # as read, the base of a replace
    bundle: CertBundle | None  # None when its data is missing or garbled
    previous_cas: bytes


def read_secret(apis: KubeApis, namespace: str, name: str) -> StoredSecret | None:
    """The Secret, or ``None`` when there is none."""
    try:
        secret = call(
            f"get Secret {namespace}/{name}", apis.core.read_namespaced_secret, name, namespace
        )
    except NotFound:
        return None
    annotations = (secret.metadata or client.V1ObjectMeta()).annotations or {}
    previous = annotations.get(PREVIOUS_CAS_ANNOTATION, "").encode()
    return StoredSecret(secret, _decode_bundle(secret.data or {}), previous)


def _decode_bundle(data: Mapping[str, str | bytes]) -> CertBundle | None:
    try:
        parts = [base64.b64decode(data[k], validate=True) for k in (CA_FILE, CERT_FILE, KEY_FILE)]
    except (KeyError, TypeError, binascii.Error):
        return None
    return CertBundle(ca_crt=parts[0], tls_crt=parts[1], tls_key=parts[2])


def secret_body(
    namespace: str, name: str, bundle: CertBundle, previous_cas: bytes, stored: StoredSecret | None
) -> client.V1Secret:
    """The Secret to write: the stored one (its metadata and resourceVersion) with new data."""
    secret = stored.secret if stored else _new_secret(namespace, name)
    metadata = secret.metadata or client.V1ObjectMeta(name=name)
    annotations = dict(metadata.annotations or {})
    annotations.pop(PREVIOUS_CAS_ANNOTATION, None)
    if previous_cas:
        annotations[PREVIOUS_CAS_ANNOTATION] = previous_cas.decode()
    metadata.annotations = annotations or None
    secret.metadata = metadata
    secret.data = {
        CA_FILE: b64(bundle.ca_crt),
        CERT_FILE: b64(bundle.tls_crt),
        KEY_FILE: b64(bundle.tls_key),
    }
    secret.string_data = None
    return secret


def _new_secret(namespace: str, name: str) -> client.V1Secret:
    metadata = client.V1ObjectMeta(name=name, namespace=namespace, labels=_LABELS)
    return client.V1Secret(api_version="v1", kind="Secret", metadata=metadata, type=SECRET_TYPE)


def write_secret(
    apis: KubeApis, namespace: str, name: str, body: client.V1Secret, *, create: bool
) -> None:
    """POST a new Secret or PUT over the one read (its resourceVersion makes it conditional)."""
    where = f"Secret {namespace}/{name}"
    if create:
        call(f"create {where}", apis.core.create_namespaced_secret, namespace, body)
        return
    call(f"replace {where}", apis.core.replace_namespaced_secret, name, namespace, body)
