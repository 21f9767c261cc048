"""Fixtures shared by the certificate tests."""

from __future__ import annotations

import pytest

from tests.fakes.kube_api import FakeKubeApi


@pytest.fixture
def fake() -> FakeKubeApi:
    fake = FakeKubeApi()
    fake.put_webhook_config("dw", webhooks=("pods", "namespace-default"))
    return fake
