"""Switching `certs.mode` on `helm upgrade` under Helm 4's server-side apply, on the FAKE.

Helm 4 applies the rendered manifest server-side as field manager `helm`, without
`--force-conflicts` unless asked. Here the real chart is rendered with the real `helm`, and
its MutatingWebhookConfiguration is applied the way Helm 4 applies it, to the HTTP fake of
the API server (tests/fakes/kube_api.py), whose field ownership of caBundle follows the
documented server-side apply rules (tests/fakes/apply.py). `certs ensure` and cert-manager's
CA injector (a PUT under its own manager) write the field as they do in a cluster. This
checks our reading of those rules, not a real API server: docs/chart.md says how to check it
on a cluster.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kubernetes import client

from tests.chart.rendering import CI_DIR, NAMESPACE, Doc, Renderer, one
from tests.fakes.kube_api import APPLY_PATCH, FakeKubeApi
from tests.support.fake_clients import kube_apis
from webhook.certs.ensure import EnsureTarget, KubeApis, ensure_certificates
from webhook.certs.generate import generate_bundle
from webhook.certs.kube import FIELD_MANAGER

FULLNAME = "dw-downward-webhook"
TARGET = EnsureTarget(NAMESPACE, f"{FULLNAME}-tls", FULLNAME, FULLNAME)
NOW = datetime(2030, 1, 1, tzinfo=UTC)
ENTRY = "inject.downward.io"
#: Every entry the chart renders by default: each carries the caBundle.
ENTRIES = (ENTRY, "spelling.downward.io")


def _owned_by(manager: str) -> dict[str, set[str]]:
    """What ``ca_bundle_managers`` reports when ``manager`` owns every entry's caBundle."""
    return {entry: {manager} for entry in ENTRIES}


HELM = ("helm", "Apply")  # Helm 4 creates and updates with server-side apply as `helm`
MODES = {
    "self-signed": None,
    "cert-manager": CI_DIR / "cert-manager-values.yaml",
    "provided": CI_DIR / "provided-values.yaml",
}


@pytest.fixture
def fake() -> FakeKubeApi:
    return FakeKubeApi()


@pytest.fixture
def apis(fake: FakeKubeApi) -> Iterator[KubeApis]:
    with kube_apis(fake) as apis:
        yield apis


def _config(chart: Renderer, mode: str) -> Doc:
    return one(chart.docs(MODES[mode], "1.35"), "MutatingWebhookConfiguration")


def _install(fake: FakeKubeApi, chart: Renderer, mode: str) -> None:
    """`helm install`: the configuration is created with the chart's fields only."""
    doc = _config(chart, mode)
    labels = doc["metadata"]["labels"]
    fake.put_webhook_config(FULLNAME, doc["webhooks"], ca_bundle_owner=HELM, labels=labels)


def _helm_upgrade(apis: KubeApis, chart: Renderer, mode: str, *, force: bool = False) -> None:
    """What Helm 4 sends for the configuration: an apply as `helm` (`--force-conflicts`)."""
    apis.admission.patch_mutating_webhook_configuration(
        FULLNAME,
        _config(chart, mode),
        field_manager="helm",
        force=True if force else None,
        _content_type=APPLY_PATCH,
        _request_timeout=10,
    )


def _ensure(apis: KubeApis) -> bytes:
    return ensure_certificates(apis, TARGET, now=NOW).bundle.ca_crt


def _cainjector(apis: KubeApis, ca: bytes) -> None:
    """cert-manager's CA injector: read, set caBundle, PUT under its own manager."""
    config = apis.admission.read_mutating_webhook_configuration(FULLNAME)
    for hook in config.webhooks or []:
        hook.client_config.ca_bundle = base64.b64encode(ca).decode()
    apis.admission.replace_mutating_webhook_configuration(
        FULLNAME, config, field_manager="cert-manager-cainjector"
    )


def _provided_ca(chart: Renderer) -> bytes:
    return base64.b64decode(_config(chart, "provided")["webhooks"][0]["clientConfig"]["caBundle"])


def _bundle(fake: FakeKubeApi) -> bytes:
    return fake.ca_bundles(FULLNAME)[0]


def test_upgrades_in_self_signed_mode_leave_the_ca_bundle_to_certs_ensure(
    fake: FakeKubeApi, apis: KubeApis, chart: Renderer
) -> None:
    _install(fake, chart, "self-signed")
    ca = _ensure(apis)

    _helm_upgrade(apis, chart, "self-signed")

    assert _bundle(fake) == ca
    assert fake.ca_bundle_managers(FULLNAME) == _owned_by(FIELD_MANAGER)


def test_self_signed_to_cert_manager_needs_no_flag(
    fake: FakeKubeApi, apis: KubeApis, chart: Renderer
) -> None:
    _install(fake, chart, "self-signed")
    _ensure(apis)

    _helm_upgrade(apis, chart, "cert-manager")
    issuer = generate_bundle("issuer", NAMESPACE, now=NOW).ca_crt
    _cainjector(apis, issuer)

    assert _bundle(fake) == issuer
    assert fake.ca_bundle_managers(FULLNAME) == _owned_by("cert-manager-cainjector")


@pytest.mark.parametrize("previous", ["self-signed", "cert-manager"])
def test_switching_to_provided_conflicts_without_force_conflicts_and_works_with_it(
    fake: FakeKubeApi, apis: KubeApis, chart: Renderer, previous: str
) -> None:
    _install(fake, chart, previous)
    owner = FIELD_MANAGER
    if previous == "self-signed":
        _ensure(apis)
    else:
        _cainjector(apis, generate_bundle("issuer", NAMESPACE, now=NOW).ca_crt)
        owner = "cert-manager-cainjector"

    with pytest.raises(client.ApiException) as conflict:
        _helm_upgrade(apis, chart, "provided")
    assert conflict.value.status == 409
    message = json.loads(conflict.value.body or "{}")["message"]
    assert message.startswith(f"Apply failed with {len(ENTRIES)} conflicts: ")
    assert f'conflict with "{owner}"' in message
    assert f'.webhooks[name="{ENTRY}"].clientConfig.caBundle' in message

    _helm_upgrade(apis, chart, "provided", force=True)  # helm upgrade --force-conflicts

    assert _bundle(fake) == _provided_ca(chart)
    assert fake.ca_bundle_managers(FULLNAME) == _owned_by("helm")


def test_provided_to_self_signed_needs_no_flag_and_certs_ensure_writes_the_new_ca(
    fake: FakeKubeApi, apis: KubeApis, chart: Renderer
) -> None:
    _install(fake, chart, "provided")
    _helm_upgrade(apis, chart, "provided")  # a plain upgrade in provided mode: no conflict
    assert fake.ca_bundle_managers(FULLNAME) == _owned_by("helm")

    _helm_upgrade(apis, chart, "self-signed")
    assert _bundle(fake) == b""  # helm gave the field up and nobody else held it
    ca = _ensure(apis)  # the init container of the first new pod

    assert _bundle(fake) == ca
    assert fake.ca_bundle_managers(FULLNAME) == _owned_by(FIELD_MANAGER)


def test_cert_manager_to_self_signed_keeps_trusting_the_issuers_ca_while_pods_roll(
    fake: FakeKubeApi, apis: KubeApis, chart: Renderer
) -> None:
    _install(fake, chart, "cert-manager")
    issuer = generate_bundle("issuer", NAMESPACE, now=NOW).ca_crt
    _cainjector(apis, issuer)

    _helm_upgrade(apis, chart, "self-signed")
    ca = _ensure(apis)

    assert _bundle(fake) == ca + issuer
    assert fake.ca_bundle_managers(FULLNAME) == _owned_by(FIELD_MANAGER)


def test_provided_to_cert_manager_needs_no_flag(
    fake: FakeKubeApi, apis: KubeApis, chart: Renderer
) -> None:
    _install(fake, chart, "provided")

    _helm_upgrade(apis, chart, "cert-manager")
    assert _bundle(fake) == b""  # given up by helm until the CA injector writes it
    issuer = generate_bundle("issuer", NAMESPACE, now=NOW).ca_crt
    _cainjector(apis, issuer)

    assert _bundle(fake) == issuer
