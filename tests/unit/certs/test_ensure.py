"""Tests for ``webhook.certs.ensure`` against the HTTP fake of the Kubernetes API.

The fake (``tests/fakes/kube_api.py``) is not a real API server; the client is the real
``kubernetes`` client, so requests, resourceVersions and error Status bodies go over HTTP.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from tests.fakes.kube_api import SECRETS, WEBHOOK_CONFIGS, FakeKubeApi, api_client_for, serve
from webhook.certs.ensure import (
    MAX_ATTEMPTS,
    EnsureResult,
    EnsureTarget,
    KubeApiError,
    KubeApis,
    NotConvergedError,
    ensure_certificates,
)
from webhook.certs.generate import CertBundle, generate_bundle
from webhook.certs.secret import PREVIOUS_CAS_ANNOTATION

NOW = datetime(2030, 1, 1, tzinfo=UTC)
NS = "downward-system"
TARGET = EnsureTarget(namespace=NS, secret="downward-tls", service="downward", webhook_config="dw")


@pytest.fixture
def url(fake: FakeKubeApi) -> Iterator[str]:
    with serve(fake) as url:
        yield url


@pytest.fixture
def apis(url: str) -> Iterator[KubeApis]:
    apis = KubeApis.from_api_client(api_client_for(url))
    yield apis
    apis.close()


def _ensure(
    apis: KubeApis, when: datetime = NOW, target: EnsureTarget = TARGET, *, drop: bool = False
) -> EnsureResult:
    return ensure_certificates(apis, target, now=when, drop_old_cas=drop)


def _stored(fake: FakeKubeApi) -> CertBundle:
    data = fake.secret_data(NS, "downward-tls")
    return CertBundle(ca_crt=data["ca.crt"], tls_crt=data["tls.crt"], tls_key=data["tls.key"])


def _rv(fake: FakeKubeApi) -> str:
    secret = fake.secret(NS, "downward-tls")
    assert secret is not None
    return str(secret["metadata"]["resourceVersion"])


def _cas(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem) if pem else []


def _writes(fake: FakeKubeApi, resource: str) -> int:
    return sum(1 for m, r, _ in fake.requests if r == resource and m in ("POST", "PUT", "PATCH"))


def test_first_install_creates_the_tls_secret_and_sets_the_ca_in_both_webhook_entries(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    result = _ensure(apis)

    assert (result.secret, result.ca_bundle_updated, result.webhook_config_found) == (
        "created",
        True,
        True,
    )
    secret = fake.secret(NS, "downward-tls")
    assert secret is not None and secret["type"] == "kubernetes.io/tls"
    assert _stored(fake) == result.bundle
    assert fake.ca_bundles("dw") == [result.bundle.ca_crt, result.bundle.ca_crt]
    assert result.not_after == NOW + timedelta(days=365)


def test_a_valid_secret_is_kept_untouched(fake: FakeKubeApi, apis: KubeApis) -> None:
    first = _ensure(apis)
    version, requests = _rv(fake), len(fake.requests)

    again = _ensure(apis, NOW + timedelta(days=100))

    assert (again.secret, again.ca_bundle_updated) == ("kept", False)
    assert again.bundle == first.bundle
    assert _rv(fake) == version
    assert [m for m, _, _ in fake.requests[requests:]] == ["GET", "GET"]  # no writes at all


def test_a_secret_about_to_expire_is_renewed(fake: FakeKubeApi, apis: KubeApis) -> None:
    old = _ensure(apis).bundle
    version = _rv(fake)

    renewed = _ensure(apis, NOW + timedelta(days=340))

    assert renewed.secret == "renewed" and "renewal window" in renewed.reason
    assert renewed.bundle != old and _stored(fake) == renewed.bundle
    assert renewed.not_after == NOW + timedelta(days=340 + 365)
    assert _rv(fake) != version


def test_during_rotation_the_ca_bundle_trusts_new_and_old_ca_before_the_secret_changes(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    old = _ensure(apis).bundle
    seen_at_secret_write: list[list[bytes]] = []
    fake.before_next("PUT", SECRETS, lambda: seen_at_secret_write.append(fake.ca_bundles("dw")))

    new = _ensure(apis, NOW + timedelta(days=340)).bundle

    both = {*_cas(new.ca_crt), *_cas(old.ca_crt)}
    assert [set(_cas(b)) for b in seen_at_secret_write[0]] == [both, both]
    assert fake.ca_bundles("dw") == [new.ca_crt + old.ca_crt] * 2
    secret = fake.secret(NS, "downward-tls")
    assert secret is not None
    assert secret["metadata"]["annotations"][PREVIOUS_CAS_ANNOTATION].encode() == old.ca_crt


def test_the_old_ca_is_dropped_from_the_ca_bundle_once_it_has_expired(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    _ensure(apis)
    new = _ensure(apis, NOW + timedelta(days=340)).bundle

    later = _ensure(apis, NOW + timedelta(days=366))

    assert (later.secret, later.ca_bundle_updated) == ("kept", True)
    assert fake.ca_bundles("dw") == [new.ca_crt, new.ca_crt]


def test_a_deleted_secret_is_recreated_and_the_old_ca_stays_trusted(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    old = _ensure(apis).bundle
    fake.delete_secret(NS, "downward-tls")

    result = _ensure(apis)

    assert result.secret == "created" and result.bundle != old
    assert _stored(fake) == result.bundle
    # Pods keep serving the deleted Secret's files until the kubelet syncs the new one.
    assert fake.ca_bundles("dw") == [result.bundle.ca_crt + old.ca_crt] * 2


def test_a_secret_for_other_dns_names_is_replaced(fake: FakeKubeApi, apis: KubeApis) -> None:
    other = generate_bundle("someone-else", NS, now=NOW)
    fake.put_secret(NS, "downward-tls", _data(other))

    result = _ensure(apis)

    assert result.secret == "renewed" and "does not name" in result.reason
    assert _stored(fake) == result.bundle != other


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("garbage PEM", {"ca.crt": b"x", "tls.crt": b"y", "tls.key": b"z"}),
        ("missing ca.crt", {"tls.crt": b"y", "tls.key": b"z"}),
    ],
)
def test_a_corrupt_secret_is_replaced(
    fake: FakeKubeApi, apis: KubeApis, case: str, data: dict[str, bytes]
) -> None:
    fake.put_secret(NS, "downward-tls", data)

    result = _ensure(apis)

    assert result.secret == "renewed", case
    assert _stored(fake) == result.bundle


def test_a_missing_webhook_configuration_is_reported_but_not_fatal(apis: KubeApis) -> None:
    result = _ensure(apis, target=EnsureTarget(NS, "downward-tls", "downward", "not-there"))

    assert (result.secret, result.webhook_config_found, result.ca_bundle_updated) == (
        "created",
        False,
        False,
    )


def test_forbidden_gives_a_one_line_error_naming_the_request(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    fake.fail_next("GET", SECRETS, 403)

    with pytest.raises(KubeApiError) as error:
        _ensure(apis)

    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"get Secret {NS}/downward-tls: HTTP 403: ")
    assert "forbidden" in message and "RBAC" in message


def test_forbidden_on_the_webhook_configuration_is_an_error_too(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    fake.fail_next("PATCH", WEBHOOK_CONFIGS, 403)

    with pytest.raises(KubeApiError, match="apply MutatingWebhookConfiguration dw: HTTP 403"):
        _ensure(apis)


def test_an_unreachable_api_server_is_a_clear_error() -> None:
    apis = KubeApis.from_api_client(api_client_for("http://127.0.0.1:9"))
    try:
        with pytest.raises(KubeApiError, match="cannot reach the API server"):
            _ensure(apis)
    finally:
        apis.close()


def test_a_conflict_on_the_webhook_configuration_is_retried(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    fake.fail_next("PATCH", WEBHOOK_CONFIGS, 409, times=2)

    result = _ensure(apis)

    assert fake.ca_bundles("dw") == [result.bundle.ca_crt] * 2


def test_endless_conflicts_give_up_after_the_bounded_attempts(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    fake.fail_next("POST", SECRETS, 409, reason="AlreadyExists", times=100)

    with pytest.raises(NotConvergedError, match=f"still conflicting after {MAX_ATTEMPTS} attempts"):
        _ensure(apis)


def test_a_replica_that_loses_the_create_race_converges_on_the_winners_certificate(
    fake: FakeKubeApi, url: str, apis: KubeApis
) -> None:
    winner: list[EnsureResult] = []

    def other_replica_wins() -> None:
        other = KubeApis.from_api_client(api_client_for(url))
        try:
            winner.append(_ensure(other))
        finally:
            other.close()

    # Right before this replica's POST, another replica runs ensure to the end.
    fake.before_next("POST", SECRETS, other_replica_wins)

    loser = _ensure(apis)

    assert winner[0].secret == "created"
    assert (loser.secret, loser.reason) == ("kept", "another replica stored it first")
    assert loser.bundle == winner[0].bundle == _stored(fake)
    bundles = fake.ca_bundles("dw")
    assert bundles[0] == bundles[1] and bundles[0].startswith(winner[0].bundle.ca_crt)


def test_a_replica_that_loses_the_renewal_race_converges_on_the_winners_certificate(
    fake: FakeKubeApi, url: str, apis: KubeApis
) -> None:
    _ensure(apis)
    later = NOW + timedelta(days=340)
    winner: list[EnsureResult] = []

    def other_replica_wins() -> None:
        other = KubeApis.from_api_client(api_client_for(url))
        try:
            winner.append(_ensure(other, later))
        finally:
            other.close()

    fake.before_next("PUT", SECRETS, other_replica_wins)

    loser = _ensure(apis, later)

    assert winner[0].secret == "renewed" and loser.secret == "kept"
    assert loser.bundle == winner[0].bundle == _stored(fake)
    expected = ensure_certificates(apis, TARGET, now=later)  # what a third replica would see
    assert expected.ca_bundle_updated is False
    assert fake.ca_bundles("dw")[0] == fake.ca_bundles("dw")[1]


def test_replicas_racing_from_threads_end_with_one_certificate_and_one_ca_bundle(
    fake: FakeKubeApi, url: str
) -> None:
    results: list[EnsureResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def replica() -> None:
        apis = KubeApis.from_api_client(api_client_for(url))
        try:
            start.wait()
            results.append(_ensure(apis))
        except BaseException as exc:  # reported below, in the test thread
            errors.append(exc)
        finally:
            apis.close()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)  # each request has a 10 s timeout: only a hang gets here
    assert not [thread for thread in threads if thread.is_alive()], "a replica hung"

    assert not errors
    assert len(results) == 4
    assert len({r.bundle for r in results}) == 1
    assert sorted(r.secret for r in results).count("created") == 1
    assert _stored(fake) == results[0].bundle
    bundles = fake.ca_bundles("dw")
    assert bundles[0] == bundles[1] and bundles[0].startswith(results[0].bundle.ca_crt)
    assert _writes(fake, SECRETS) >= 1


def _data(bundle: CertBundle) -> dict[str, bytes]:
    return {"ca.crt": bundle.ca_crt, "tls.crt": bundle.tls_crt, "tls.key": bundle.tls_key}


def _chart_like_webhook(name: str) -> dict[str, object]:
    return {
        "name": name,
        "admissionReviewVersions": ["v1", "v1beta1"],
        "sideEffects": "None",
        "failurePolicy": "Fail",
        "reinvocationPolicy": "IfNeeded",
        "timeoutSeconds": 5,
        "matchPolicy": "Equivalent",
        "clientConfig": {
            "service": {"name": "downward", "namespace": NS, "path": "/mutate", "port": 443},
            "caBundle": "",
        },
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["pods"],
                "scope": "*",
            }
        ],
        "namespaceSelector": {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [NS]}
            ]
        },
        "objectSelector": {},
        "matchConditions": [
            {
                "name": "opted-in",
                "expression": "'downward.io/inject' in object.metadata.annotations",
            }
        ],
    }


def test_setting_the_ca_bundle_changes_nothing_else_in_the_webhook_configuration(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    hooks = [_chart_like_webhook("pods.downward.io"), _chart_like_webhook("ns.downward.io")]
    labels = {"app.kubernetes.io/managed-by": "Helm"}
    fake.put_webhook_config("chart", hooks, labels=labels, annotations={"a": "b"})
    before = fake.webhook_config("chart")
    assert before is not None

    result = _ensure(apis, target=EnsureTarget(NS, "downward-tls", "downward", "chart"))

    after = fake.webhook_config("chart")
    assert after is not None
    for hook in after["webhooks"]:
        assert base64.b64decode(hook["clientConfig"].pop("caBundle")) == result.bundle.ca_crt
    for hook in before["webhooks"]:
        hook["clientConfig"].pop("caBundle")
    assert after["webhooks"] == before["webhooks"]
    assert after["metadata"]["labels"] == labels
    assert after["metadata"]["annotations"] == {"a": "b"}


def test_a_ca_bundle_reset_by_a_chart_upgrade_is_restored_without_touching_the_secret(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    first = _ensure(apis)
    version = _rv(fake)
    fake.put_webhook_config("dw", webhooks=("pods", "namespace-default"))  # caBundle empty

    again = _ensure(apis)

    assert (again.secret, again.ca_bundle_updated) == ("kept", True)
    assert _rv(fake) == version
    assert fake.ca_bundles("dw") == [first.bundle.ca_crt] * 2


# --- server-side apply of caBundle ------------------------------------------------------


def test_the_ca_bundle_is_written_by_server_side_apply_under_its_own_field_manager(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    _ensure(apis)

    # pre-trust: GET + apply; then the final bundle is already there, under our manager
    assert [m for m, r, _ in fake.requests if r == WEBHOOK_CONFIGS] == ["GET", "PATCH", "GET"]
    assert {(name, manager, force) for name, manager, force in fake.applies} == {
        ("dw", "downward-webhook-certs", True)
    }
    assert fake.ca_bundle_managers("dw") == {
        "pods.downward.io": {"downward-webhook-certs"},
        "namespace-default.downward.io": {"downward-webhook-certs"},
    }


def test_an_equal_ca_bundle_written_by_another_manager_is_applied_to_co_own_it(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    """An install by an older version wrote caBundle with a PUT (manager OpenAPI-Generator).

    Applying the same value shares the field (server-side apply never takes a field whose
    value does not change), so both managers are named from then on."""
    first = _ensure(apis)
    hooks = [_chart_like_webhook("pods.downward.io"), _chart_like_webhook("ns.downward.io")]
    for hook in hooks:
        hook["clientConfig"]["caBundle"] = base64.b64encode(first.bundle.ca_crt).decode()  # type: ignore[index]
    fake.put_webhook_config("dw", hooks)
    assert fake.ca_bundle_managers("dw")["ns.downward.io"] == {"fake-seed"}

    again = _ensure(apis)

    assert again.ca_bundle_updated is True
    assert fake.ca_bundle_managers("dw") == {
        "pods.downward.io": {"downward-webhook-certs", "fake-seed"},
        "ns.downward.io": {"downward-webhook-certs", "fake-seed"},
    }
    assert fake.ca_bundles("dw") == [first.bundle.ca_crt] * 2
    assert _ensure(apis).ca_bundle_updated is False  # owned now: no further writes


def test_an_entry_removed_meanwhile_is_never_written_back(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    """The apply carries the resourceVersion it read: a concurrent change means read again."""

    def helm_upgrade_removes_an_entry() -> None:
        fake.put_webhook_config("dw", webhooks=("pods",))

    fake.before_next("PATCH", WEBHOOK_CONFIGS, helm_upgrade_removes_an_entry)

    result = _ensure(apis)

    stored = fake.webhook_config("dw")
    assert stored is not None
    assert [hook["name"] for hook in stored["webhooks"]] == ["pods.downward.io"]
    assert fake.ca_bundles("dw") == [result.bundle.ca_crt]


# --- dropping old CAs (revoking a leaked CA) --------------------------------------------


def _delete_three_times_and_renew(fake: FakeKubeApi, apis: KubeApis, *, drop: bool) -> None:
    _ensure(apis)
    for _ in range(3):
        fake.delete_secret(NS, "downward-tls")
        _ensure(apis)
    _ensure(apis, NOW + timedelta(days=340), drop=drop)


def test_without_the_flag_deleted_and_renewed_secrets_leave_every_ca_trusted(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    _delete_three_times_and_renew(fake, apis, drop=False)

    assert [len(_cas(bundle)) for bundle in fake.ca_bundles("dw")] == [5, 5]


def test_drop_old_cas_leaves_the_stored_ca_alone_in_the_ca_bundle_and_the_secret(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    _delete_three_times_and_renew(fake, apis, drop=True)

    assert fake.ca_bundles("dw") == [_stored(fake).ca_crt] * 2
    assert [len(_cas(bundle)) for bundle in fake.ca_bundles("dw")] == [1, 1]
    secret = fake.secret(NS, "downward-tls")
    assert secret is not None
    assert PREVIOUS_CAS_ANNOTATION not in (secret["metadata"].get("annotations") or {})


def test_dropped_cas_do_not_come_back_on_the_next_run_without_the_flag(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    _delete_three_times_and_renew(fake, apis, drop=True)

    later = _ensure(apis, NOW + timedelta(days=341))

    assert later.secret == "kept"
    assert fake.ca_bundles("dw") == [later.bundle.ca_crt] * 2


def test_drop_old_cas_on_a_kept_secret_makes_it_forget_its_previous_cas(
    fake: FakeKubeApi, apis: KubeApis
) -> None:
    """A leaked *previous* CA: no need to delete the Secret, the flag alone revokes it."""
    old = _ensure(apis).bundle
    fake.delete_secret(NS, "downward-tls")
    current = _ensure(apis).bundle
    secret = fake.secret(NS, "downward-tls")
    assert secret is not None
    assert secret["metadata"]["annotations"][PREVIOUS_CAS_ANNOTATION].encode() == old.ca_crt

    result = _ensure(apis, drop=True)

    assert (result.secret, result.bundle) == ("kept", current)
    assert fake.ca_bundles("dw") == [current.ca_crt] * 2
    secret = fake.secret(NS, "downward-tls")
    assert secret is not None
    assert PREVIOUS_CAS_ANNOTATION not in (secret["metadata"].get("annotations") or {})
    assert _stored(fake) == current
