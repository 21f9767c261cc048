"""The real server over real TLS on loopback, with certificates from ``certs generate``."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography import x509

from tests.support.reviews import admission_review
from tests.support.server import RunningServer, generate_certs, running_server

GOLDEN = Path(__file__).resolve().parents[1] / "testdata" / "golden"


def _pod(case: str) -> dict[str, Any]:
    pod: dict[str, Any] = yaml.safe_load((GOLDEN / case / "input.yaml").read_text())
    return pod


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("server")
    with running_server(tmp, "--max-body-bytes", "200000") as s:
        yield s


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client(timeout=10) as c:
        yield c


def _patch(response: dict[str, Any]) -> list[dict[str, Any]]:
    if "patch" not in response:
        return []
    ops: list[dict[str, Any]] = json.loads(base64.b64decode(response["patch"]))
    return ops


def test_mutate_answers_a_v1_review_with_the_golden_patch(client: httpx.Client) -> None:
    review = admission_review(_pod("all-modes"), uid="uid-v1")
    body = client.post("/mutate", json=review).json()
    assert body["apiVersion"] == "admission.k8s.io/v1"
    assert body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == "uid-v1"
    assert body["response"]["allowed"] is True
    assert body["response"]["patchType"] == "JSONPatch"
    expected = json.loads((GOLDEN / "all-modes" / "expected.patch.json").read_text())
    assert _patch(body["response"]) == expected


def test_fields_without_a_value_are_left_out_of_the_response(client: httpx.Client) -> None:
    review = admission_review(_pod("env-default"), uid="uid-plain")
    body = client.post("/mutate", json=review).json()
    assert sorted(body["response"]) == ["allowed", "patch", "patchType", "uid"]
    untouched = admission_review(_pod("no-annotations-map"), uid="uid-untouched")
    assert client.post("/mutate", json=untouched).json() == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "uid-untouched", "allowed": True},
    }


def test_mutate_answers_v1beta1_in_v1beta1(client: httpx.Client) -> None:
    review = admission_review(_pod("env-default"), api_version="admission.k8s.io/v1beta1")
    body = client.post("/mutate", json=review).json()
    assert body["apiVersion"] == "admission.k8s.io/v1beta1"
    assert _patch(body["response"])


def test_namespace_default_path_injects_pods_without_the_annotation(client: httpx.Client) -> None:
    review = admission_review(_pod("no-annotations-map"))
    assert _patch(client.post("/mutate", json=review).json()["response"]) == []
    body = client.post("/mutate/namespace-default", json=review).json()
    injected = [op for op in _patch(body["response"]) if op["path"] == "/metadata/annotations"]
    assert injected == [
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"downward.io/injected": "env,volume"},
        }
    ]


def test_bad_annotations_come_back_as_warnings(client: httpx.Client) -> None:
    body = client.post("/mutate", json=admission_review(_pod("unknown-mode"))).json()
    assert body["response"]["allowed"] is True
    assert (
        body["response"]["warnings"]
        == (GOLDEN / "unknown-mode" / "expected.warnings.txt").read_text().splitlines()
    )


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"", 400, "body is not JSON"),
        (b"{not json", 400, "body is not JSON"),
        (b"[1, 2]", 400, "not an AdmissionReview: Expected `object`, got `array` - at `the body`"),
        (b'{"apiVersion": "v1", "kind": "Pod"}', 400, "apiVersion must be"),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}',
            400,
            "request must be an object",
        ),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",'
            b' "request": {"uid": "", "operation": "CREATE"}}',
            400,
            "request.uid",
        ),
        (
            json.dumps(admission_review({"spec": {"containers": [{"name": 7}]}})).encode(),
            400,
            "Expected `str`, got `int` - at `request.object.spec.containers[0].name`",
        ),
        (
            json.dumps(admission_review({"spec": {"containers": []}})).encode(),
            400,
            "request.object.spec.containers must not be empty",
        ),
        (b'{"apiVersion": "x", "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "too deep"),
        (b'{"kind": "\xff"}', 400, "not UTF-8"),
        (b"x" * 200_001, 413, "over the limit"),
    ],
    ids=[
        "empty",
        "broken-json",
        "json-array",
        "not-a-review",
        "no-request",
        "empty-uid",
        "container-name-not-a-string",
        "no-containers",
        "nested-too-deeply",
        "invalid-utf8",
        "too-large",
    ],
)
def test_malformed_bodies_get_a_one_line_4xx(
    client: httpx.Client, body: bytes, status: int, reason: str
) -> None:
    response = client.post("/mutate", content=body)
    assert response.status_code == status
    assert reason in response.text
    assert response.text.count("\n") == 1


def _requests_counted(client: httpx.Client, outcome: str) -> float:
    sample = f'downward_admission_requests_total{{endpoint="mutate",outcome="{outcome}"}} '
    lines = [x for x in client.get("/metrics").text.splitlines() if x.startswith(sample)]
    assert len(lines) == 1, lines
    return float(lines[0].removeprefix(sample))


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain", 415),
        ("application/json; charset=utf-8", 200),
        ("APPLICATION/JSON", 200),
        ("Application/Json ; charset=UTF-8", 200),
        ("application/jsonx", 415),
        ("application/json-patch+json", 415),
        ("", 415),
        (None, 415),
    ],
    ids=[
        "text-plain",
        "json-charset",
        "json-upper-case",
        "json-mixed-case-spaced",
        "jsonx",
        "json-patch",
        "empty",
        "missing",
    ],
)
def test_only_application_json_is_answered_else_415(
    server: RunningServer, client: httpx.Client, content_type: str | None, status: int
) -> None:
    body = json.dumps(admission_review(_pod("env-default"))).encode()
    headers = {} if content_type is None else {"content-type": content_type}
    before = _requests_counted(client, "bad_request")
    # A client without the default header, so that "missing" really sends none.
    with httpx.Client(base_url=server.url, verify=server.ssl_context(), timeout=10) as bare:
        response = bare.post("/mutate", content=body, headers=headers)
    assert ("content-type" in response.request.headers) == (content_type is not None)
    assert response.status_code == status, response.text
    if status == 415:
        assert "Content-Type" in response.text and "application/json" in response.text
        assert response.text.count("\n") == 1
        assert _requests_counted(client, "bad_request") == before + 1
    else:
        assert response.json()["response"]["allowed"] is True
        assert _requests_counted(client, "bad_request") == before


def test_the_namespace_default_path_refuses_text_plain_too(client: httpx.Client) -> None:
    review = json.dumps(admission_review(_pod("env-default"))).encode()
    response = client.post(
        "/mutate/namespace-default", content=review, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415


def test_other_methods_and_paths_get_the_same_one_line_refusals(client: httpx.Client) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = client.request(method, "/mutate")
        assert (response.status_code, response.text) == (405, "only POST is allowed\n")
    response = client.post("/no-such-path", json={})
    assert (response.status_code, response.text) == (404, "Not Found\n")
    assert response.headers["content-type"].startswith("text/plain")


def test_health_readiness_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").text == "ok\n"
    assert client.get("/readyz").status_code == 200
    client.post("/mutate", json=admission_review(_pod("env-default")))
    metrics = client.get("/metrics").text
    for name in (
        "downward_admission_requests_total",
        "downward_admission_duration_seconds",
        "downward_injections_total",
        "downward_warnings_total",
        "downward_certificate_expiry_timestamp_seconds",
    ):
        assert name in metrics
    assert 'downward_injections_total{mode="env"}' in metrics


def test_a_log_line_per_admission_with_uid_and_outcome(
    server: RunningServer, client: httpx.Client
) -> None:
    client.post("/mutate", json=admission_review(_pod("env-default"), uid="log-me-123"))

    def lines_of_it() -> list[dict[str, Any]]:
        return [json.loads(line) for line in server.logs().splitlines() if "log-me-123" in line]

    _wait_for(lambda: bool(lines_of_it()))  # admission lines go out in batches (0.5 s)
    lines = lines_of_it()
    assert len(lines) == 1
    assert lines[0]["outcome"] == "injected" and lines[0]["namespace"] == "team-a"
    assert lines[0]["latency_ms"] > 0


def _served_serial(server: RunningServer) -> int:
    context = ssl.create_default_context(cafile=None)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    host, port = server.url.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port))) as raw, context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_renewed_certificate_is_served_without_restart_or_failed_requests(tmp_path: Path) -> None:
    certs = generate_certs(tmp_path / "live")
    with running_server(tmp_path, certs=certs) as server:
        before = _served_serial(server)
        failures: list[str] = []
        served: list[int] = []
        stop = threading.Event()

        def load() -> None:
            review = admission_review(_pod("all-modes"))
            while not stop.is_set():
                # A new connection each time, so handshakes straddle the swap; the client
                # trusts the old and the new CA, as the API server's caBundle does in rotation.
                with httpx.Client(base_url=server.url, verify=trust, timeout=10) as c:
                    r = c.post("/mutate", json=review)
                    if r.status_code != 200:
                        failures.append(r.text)
                    served.append(r.status_code)

        renewed = generate_certs(tmp_path / "renewed")
        trust = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        trust.load_verify_locations(cafile=str(renewed / "ca.crt"))
        trust.check_hostname = False
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        _wait_for(lambda: len(served) >= 10)
        # Key first, then certificate: the half-written pair must be refused, not served.
        shutil.copy(renewed / "tls.key", certs / "tls.key")
        shutil.copy(renewed / "tls.crt", certs / "tls.crt")
        _wait_for(lambda: _served_serial(server) != before)
        swapped_at = len(served)
        _wait_for(lambda: len(served) >= swapped_at + 10)
        stop.set()
        for t in threads:
            t.join()
        after = _served_serial(server)
    assert after != before
    assert after == x509.load_pem_x509_certificate((renewed / "tls.crt").read_bytes()).serial_number
    assert failures == []
