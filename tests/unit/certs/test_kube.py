"""How ``webhook.certs.kube.apply`` makes the generated ``kubernetes`` client send an apply.

The generated ``patch_*`` methods choose a JSON-patch content type unless ``_content_type``
is given; ``apply`` relies on that parameter (documented in each generated method as "force
content-type for the request") and on the client sending a dict body as JSON under a YAML
content type. These tests fail by name if an upgrade of the client changes either.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.fakes.kube_api import WEBHOOK_CONFIGS, FakeKubeApi
from tests.support.fake_clients import kube_apis
from webhook.certs.kube import APPLY_PATCH, FIELD_MANAGER, KubeApis, apply


@pytest.fixture
def apis(fake: FakeKubeApi) -> Iterator[KubeApis]:
    with kube_apis(fake) as apis:
        yield apis


def test_the_generated_patch_method_takes_content_type_field_manager_and_force() -> None:
    parameters = inspect.signature(
        client.AdmissionregistrationV1Api.patch_mutating_webhook_configuration
    ).parameters

    assert {"_content_type", "field_manager", "force", "_request_timeout"} <= set(parameters)


def test_apply_sends_an_apply_patch_with_our_field_manager_and_force(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    body = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "dw"},
        "webhooks": [{"name": "pods.downward.io", "clientConfig": {"caBundle": "Y2E="}}],
    }

    stored = apply("apply dw", apis.admission.patch_mutating_webhook_configuration, "dw", body)

    # The fake answers 415 to any other content type than APPLY_PATCH.
    assert fake.applies == [("dw", FIELD_MANAGER, True)]
    assert stored.webhooks is not None
    assert stored.webhooks[0].client_config.ca_bundle == "Y2E="
    assert fake.ca_bundle_managers("dw") == {"pods.downward.io": {FIELD_MANAGER}}
    assert APPLY_PATCH == "application/apply-patch+yaml"
    assert ("PATCH", WEBHOOK_CONFIGS, "dw") in fake.requests


def test_without_content_type_the_client_would_not_send_an_apply(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    """The control: the default content type is not an apply, and the fake refuses it."""
    body = {"metadata": {"name": "dw"}}

    with pytest.raises(client.ApiException) as error:
        apis.admission.patch_mutating_webhook_configuration(
            "dw", body, field_manager=FIELD_MANAGER, _request_timeout=10
        )

    assert error.value.status == 415
    assert fake.applies == []
