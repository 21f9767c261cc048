"""The certificate RBAC is derived from measurement: exactly what `certs ensure` sends.

`certs ensure` runs against the HTTP fake of the API server (tests/fakes/kube_api.py, not a
real API server) through every path it has: first install, a kept Secret, renewal, a
deleted and a corrupt Secret, a missing webhook configuration, conflicts from racing
replicas, forbidden answers, and --drop-old-cas. The fake records each request as the verb
the API server authorizes it as, the resource and the name. That set must equal what the
rendered Role and ClusterRole grant: a verb the code never sends is not granted, and a
request the chart does not grant fails here before it fails in a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.chart.rendering import NAMESPACE, Doc, Renderer, one
from tests.fakes.kube_api import SECRETS, WEBHOOK_CONFIGS, FakeKubeApi, api_client_for, serve
from webhook.certs.ensure import (
    MAX_ATTEMPTS,
    EnsureTarget,
    KubeApiError,
    KubeApis,
    NotConvergedError,
    ensure_certificates,
)

FULLNAME = "dw-downward-webhook"
TARGET = EnsureTarget(
    namespace=NAMESPACE,
    secret=f"{FULLNAME}-tls",
    service=FULLNAME,
    webhook_config=FULLNAME,
)
NOW = datetime(2030, 1, 1, tzinfo=UTC)
API_GROUPS = {SECRETS: "", WEBHOOK_CONFIGS: "admissionregistration.k8s.io"}
Grant = tuple[str, str, str | None]  # (resource, verb, name; None: any name)


def _run(apis: KubeApis, when: datetime = NOW, *, drop: bool = False) -> None:
    ensure_certificates(apis, TARGET, now=when, drop_old_cas=drop)


def _scenarios(fake: FakeKubeApi, apis: KubeApis, url: str) -> Iterator[str]:
    """Drive `certs ensure` through each of its paths; yields the name of each."""
    _run(apis)
    yield "first install"
    _run(apis, NOW + timedelta(days=10))
    yield "valid Secret kept"
    _run(apis, NOW + timedelta(days=340))
    yield "renewal"
    fake.delete_secret(NAMESPACE, TARGET.secret)
    _run(apis, NOW + timedelta(days=341))
    yield "deleted Secret recreated"
    _run(apis, NOW + timedelta(days=342), drop=True)
    yield "--drop-old-cas on a kept Secret"
    fake.put_secret(NAMESPACE, TARGET.secret, {"ca.crt": b"x", "tls.crt": b"y", "tls.key": b"z"})
    _run(apis, NOW + timedelta(days=343))
    yield "corrupt Secret replaced"
    fake.fail_next("PATCH", WEBHOOK_CONFIGS, 409, times=2)
    fake.fail_next("PUT", SECRETS, 409)
    _run(apis, NOW + timedelta(days=700))
    yield "conflicts retried"
    fake.delete_secret(NAMESPACE, TARGET.secret)
    fake.before_next("POST", SECRETS, _other_replica(url))
    _run(apis, NOW + timedelta(days=701))
    yield "lost the create race"
    fake.fail_next("POST", SECRETS, 409, reason="AlreadyExists", times=MAX_ATTEMPTS)
    fake.delete_secret(NAMESPACE, TARGET.secret)
    with pytest.raises(NotConvergedError):
        _run(apis, NOW + timedelta(days=702))
    yield "gave up after conflicts"
    fake.fail_next("GET", SECRETS, 403)
    with pytest.raises(KubeApiError):
        _run(apis)
    yield "forbidden"
    missing = EnsureTarget(NAMESPACE, TARGET.secret, FULLNAME, "not-there")
    ensure_certificates(apis, missing, now=NOW + timedelta(days=703))
    yield "webhook configuration missing"


def _other_replica(url: str) -> Callable[[], None]:
    def run() -> None:
        other = KubeApis.from_api_client(api_client_for(url))
        try:
            _run(other, NOW + timedelta(days=701))
        finally:
            other.close()

    return run


@pytest.fixture(scope="module")
def measured() -> set[Grant]:
    fake = FakeKubeApi()
    fake.put_webhook_config(FULLNAME, webhooks=("inject", "namespace-default"))
    with serve(fake) as url:
        apis = KubeApis.from_api_client(api_client_for(url))
        try:
            done = list(_scenarios(fake, apis, url))
        finally:
            apis.close()
    assert len(done) == 11
    names = {name for _, _, name in fake.served} - {"", TARGET.secret, FULLNAME}
    assert names == {"not-there"}
    return {
        (resource, verb, name or None)
        for verb, resource, name in fake.served
        if name != "not-there"  # a configuration of another name is simply not found
    }


def _granted(docs: list[Doc]) -> set[Grant]:
    grants: set[Grant] = set()
    for kind in ("Role", "ClusterRole"):
        for rule in one(docs, kind, f"{FULLNAME}-certs")["rules"]:
            for resource in rule["resources"]:
                assert rule["apiGroups"] == [API_GROUPS[resource]], rule
                for verb in rule["verbs"]:
                    for name in rule.get("resourceNames") or [None]:
                        grants.add((resource, verb, name))
    return grants


def test_the_measured_requests_are_what_the_issue_reports_from_a_real_cluster(
    measured: set[Grant],
) -> None:
    """GET, POST, PUT on the Secret; GET and (now) the apply PATCH on the configuration."""
    assert measured == {
        (SECRETS, "get", TARGET.secret),
        (SECRETS, "create", None),
        (SECRETS, "update", TARGET.secret),
        (WEBHOOK_CONFIGS, "get", FULLNAME),
        (WEBHOOK_CONFIGS, "patch", FULLNAME),
    }


def test_the_certificate_rbac_grants_exactly_the_measured_requests(
    chart: Renderer, measured: set[Grant]
) -> None:
    docs = chart.docs()

    assert _granted(docs) == measured
    assert one(docs, "Role", f"{FULLNAME}-certs")["metadata"]["namespace"] == NAMESPACE
