"""``webhook.certs.secret``: the Secret to write, built over the one read.

Reading and writing against an API server (conflicts, a garbled or deleted Secret) are in
``test_ensure.py``, through the HTTP fake; here the body alone.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from kubernetes import client

from webhook.certs.generate import generate_bundle
from webhook.certs.secret import PREVIOUS_CAS_ANNOTATION, SECRET_TYPE, StoredSecret, secret_body

BUNDLE = generate_bundle("downward-webhook", "downward", now=datetime(2026, 12, 1, tzinfo=UTC))


def _stored(annotations: dict[str, str] | None) -> StoredSecret:
    metadata = client.V1ObjectMeta(
        name="tls", namespace="downward", resource_version="41", annotations=annotations
    )
    secret = client.V1Secret(metadata=metadata, type=SECRET_TYPE, string_data={"x": "y"})
    return StoredSecret(secret, None, b"")


def test_a_new_secret_is_labelled_typed_and_holds_the_bundle_in_base64() -> None:
    body = secret_body("downward", "tls", BUNDLE, b"", None)
    assert (body.metadata.namespace, body.metadata.name, body.type) == (
        "downward",
        "tls",
        SECRET_TYPE,
    )
    assert body.metadata.labels["app.kubernetes.io/name"] == "downward-webhook"
    assert base64.b64decode(body.data["tls.key"]) == BUNDLE.tls_key
    assert base64.b64decode(body.data["ca.crt"]) == BUNDLE.ca_crt
    assert body.metadata.annotations is None


def test_a_replace_keeps_the_read_version_and_other_annotations_and_sets_previous_cas() -> None:
    stored = _stored({"team": "a", PREVIOUS_CAS_ANNOTATION: "old"})
    body = secret_body("downward", "tls", BUNDLE, b"older CA", stored)
    assert body.metadata.resource_version == "41"  # the PUT is conditional on it
    assert body.metadata.annotations == {"team": "a", PREVIOUS_CAS_ANNOTATION: "older CA"}
    assert body.string_data is None


def test_no_previous_cas_removes_the_annotation() -> None:
    body = secret_body("downward", "tls", BUNDLE, b"", _stored({PREVIOUS_CAS_ANNOTATION: "old"}))
    assert body.metadata.annotations is None
