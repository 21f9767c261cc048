"""Hostile request bodies against the real TLS server: never a 5xx, a hang or a crash.

Every bad body gets a 4xx with a one-line reason (or, where it is still an AdmissionReview, a
valid review); the server keeps serving afterwards and its memory stays flat. The server runs
with ``--max-body-bytes 65536`` so that the size limits are cheap to hit.
"""

from __future__ import annotations

import copy
import json
import os
import random
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.kube import minimal_pod
from tests.support.reviews import admission_review
from tests.support.server import RunningServer, running_server

LIMIT = 65536
BODY_TIMEOUT = 2.0  # --body-timeout (10 s by default): short, so the slow-body tests are quick

POD: dict[str, Any] = minimal_pod("env,volume")
REVIEW = admission_review(POD)

BODIES: dict[str, int] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("hostile")
    with running_server(
        tmp, "--max-body-bytes", str(LIMIT), "--body-timeout", str(BODY_TIMEOUT)
    ) as s:
        yield s
        assert s.process.poll() is None, f"server died: {s.logs()[-2000:]}"
        assert '"status":500' not in s.logs() and "internal error" not in s.logs()
    print(f"\nhostile bodies tried: {sum(BODIES.values())} {BODIES}")


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client(timeout=BODY_TIMEOUT + 10) as c:
        yield c


def _count(kind: str, n: int = 1) -> None:
    BODIES[kind] = BODIES.get(kind, 0) + n


def _post(client: httpx.Client, body: bytes, **headers: str) -> httpx.Response:
    return client.post(
        "/mutate", content=body, headers={"content-type": "application/json", **headers}
    )


def _assert_refused_or_valid(response: httpx.Response, uid: str | None = None) -> None:
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        review = response.json()
        assert review["kind"] == "AdmissionReview"
        assert review["apiVersion"] in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
        if uid is not None:
            assert review["response"]["uid"] == uid
    else:
        assert 400 <= response.status_code < 500
        assert response.text.count("\n") <= 1 and response.text.strip().isprintable()


def _still_serving(client: httpx.Client) -> None:
    response = _post(client, json.dumps(REVIEW).encode())
    assert response.status_code == 200
    assert response.json()["response"]["uid"] == REVIEW["request"]["uid"]
    assert "patch" in response.json()["response"]


# --- raw TLS sockets, for what httpx will not send ------------------------------------------------


def _connect(server: RunningServer, timeout: float = 5.0) -> ssl.SSLSocket:
    host, port = server.url.removeprefix("https://").split(":")
    raw = socket.create_connection((host, int(port)), timeout=timeout)
    return server.ssl_context().wrap_socket(raw)


def _read_all(sock: ssl.SSLSocket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ssl.SSLError, ConnectionError):
        pass
    return data


def _statuses(data: bytes) -> list[int]:
    return [int(line.split()[1]) for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def _raw(server: RunningServer, data: bytes, timeout: float = 5.0) -> list[int]:
    with _connect(server) as sock:
        sock.sendall(data)
        return _statuses(_read_all(sock, timeout))


def _head(length: int | str | None, extra: str = "") -> bytes:
    lines = [
        "POST /mutate HTTP/1.1",
        "Host: localhost",
        "Content-Type: application/json",
        "Connection: close",
    ]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


# --- garbage and malformed JSON -------------------------------------------------------------------


def test_random_bytes_are_refused_with_400(client: httpx.Client) -> None:
    rng = random.Random(1234)
    for _ in range(300):
        body = rng.randbytes(rng.randint(0, 4096))
        response = _post(client, body)
        assert response.status_code == 400, response.text
        _count("random bytes")
    _still_serving(client)


def test_every_truncation_of_a_review_is_refused_or_answered(client: httpx.Client) -> None:
    body = json.dumps(REVIEW).encode()
    for cut in range(0, len(body), 7):
        response = _post(client, body[:cut])
        assert response.status_code == 400, (cut, response.text)
        _count("truncated JSON")
    _still_serving(client)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="100k-nested-lists-over-the-limit"),
        pytest.param(b"[" * 30_000 + b"]" * 30_000, id="30k-nested-lists-under-the-limit"),
        pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, id="10k-nested-objects"),
        pytest.param(
            json.dumps(
                {
                    **REVIEW,
                    "request": {
                        **REVIEW["request"],
                        "object": {
                            **POD,
                            "metadata": {**POD["metadata"], "labels": {"x": "y"}},
                            "spec": {**POD["spec"], "deep": json.loads("[" * 900 + "]" * 900)},
                        },
                    },
                }
            ).encode(),
            id="deep-list-inside-the-pod",
        ),
    ],
)
def test_deeply_nested_json_is_refused_or_answered_never_a_crash(
    client: httpx.Client, body: bytes
) -> None:
    response = _post(client, body)
    _assert_refused_or_valid(response)
    if len(body) > LIMIT:
        assert response.status_code == 413
    _count("deep nesting")
    _still_serving(client)


def test_a_huge_string_over_the_limit_gets_413(client: httpx.Client) -> None:
    review = copy.deepcopy(REVIEW)
    review["request"]["object"]["metadata"]["annotations"]["big"] = "x" * (10 * LIMIT)
    response = _post(client, json.dumps(review).encode())
    assert response.status_code == 413
    _count("huge string")
    _still_serving(client)


def _review_of_size(size: int) -> bytes:
    review = copy.deepcopy(REVIEW)
    review["request"]["object"]["metadata"]["annotations"]["pad"] = ""
    base = len(json.dumps(review).encode())
    review["request"]["object"]["metadata"]["annotations"]["pad"] = "p" * (size - base)
    body = json.dumps(review).encode()
    assert len(body) == size
    return body


def test_a_body_exactly_at_the_limit_is_answered(client: httpx.Client) -> None:
    response = _post(client, _review_of_size(LIMIT))
    assert response.status_code == 200
    assert "patch" in response.json()["response"]
    _count("at the limit")


def test_a_body_one_byte_over_the_limit_gets_413(client: httpx.Client) -> None:
    assert _post(client, _review_of_size(LIMIT + 1)).status_code == 413
    _count("over the limit")


def test_a_chunked_body_over_the_limit_gets_413_without_content_length(
    client: httpx.Client,
) -> None:
    body = _review_of_size(LIMIT + 1)
    chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))
    response = client.post("/mutate", content=chunks)  # the client sends application/json
    assert response.status_code == 413
    _count("chunked over the limit")


def test_a_chunked_body_under_the_limit_is_answered(client: httpx.Client) -> None:
    body = json.dumps(REVIEW).encode()
    response = client.post("/mutate", content=(body[i : i + 10] for i in range(0, len(body), 10)))
    assert response.status_code == 200
    assert response.json()["response"]["uid"] == REVIEW["request"]["uid"]
    _count("chunked")


# --- wrong types, table-driven --------------------------------------------------------------------

_WRONG = [1, 1.5, True, None, "s", [], [1], {}]


def _set(doc: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


_FULL_POD = {
    **POD,
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "nginx",
                "env": [{"name": "A", "value": "1"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "ports": [{"containerPort": 80}],
                "resources": {"limits": {"cpu": "1"}},
            }
        ],
        "initContainers": [{"name": "init", "image": "busybox"}],
        "volumes": [{"name": "data", "emptyDir": {}}],
    },
}
_FULL = admission_review(_FULL_POD)
_R, _O = ["request"], ["request", "object"]
_C = [*_O, "spec", "containers", 0]
_FIELDS: list[list[str | int]] = [
    ["apiVersion"],
    ["kind"],
    _R,
    [*_R, "uid"],
    [*_R, "operation"],
    [*_R, "namespace"],
    [*_R, "resource"],
    [*_R, "subResource"],
    _O,
    [*_O, "metadata"],
    [*_O, "metadata", "annotations"],
    [*_O, "metadata", "annotations", "downward.io/inject"],
    [*_O, "spec"],
    [*_O, "spec", "containers"],
    [*_O, "spec", "containers", 0],
    [*_C, "name"],
    [*_C, "env"],
    [*_C, "env", 0],
    [*_C, "env", 0, "name"],
    [*_C, "env", 0, "valueFrom"],
    [*_C, "volumeMounts"],
    [*_C, "volumeMounts", 0],
    [*_C, "volumeMounts", 0, "name"],
    [*_C, "volumeMounts", 0, "mountPath"],
    [*_C, "ports"],
    [*_C, "ports", 0],
    [*_C, "ports", 0, "containerPort"],
    [*_C, "resources"],
    [*_C, "resources", "limits"],
    [*_O, "spec", "initContainers"],
    [*_O, "spec", "initContainers", 0, "name"],
    [*_O, "spec", "volumes"],
    [*_O, "spec", "volumes", 0],
    [*_O, "spec", "volumes", 0, "name"],
    [*_O, "spec", "hostNetwork"],
    [*_O, "spec", "automountServiceAccountToken"],
    [*_O, "metadata", "name"],
    [*_O, "metadata", "generateName"],
    [*_O, "metadata", "labels"],
]


@pytest.mark.parametrize("path", _FIELDS, ids=["/".join(map(str, p)) for p in _FIELDS])
def test_a_wrong_type_in_any_field_we_read_gets_400_or_a_valid_review(
    client: httpx.Client, path: list[str | int]
) -> None:
    for modes in ("env,volume", "all"):
        base = _set(_FULL, [*_O, "metadata", "annotations", "downward.io/inject"], modes)
        for value in _WRONG:
            doc = _set(base, path, value)
            response = _post(client, json.dumps(doc).encode())
            _assert_refused_or_valid(response)
            _count("wrong types")


def test_duplicate_keys_are_refused_or_answered_with_the_last_value(client: httpx.Client) -> None:
    body = json.dumps(REVIEW)
    doubled = body.replace('"uid": ', '"uid": "first", "uid": ', 1).encode()
    response = _post(client, doubled)
    _assert_refused_or_valid(response, uid=REVIEW["request"]["uid"])
    doubled = body.replace('"request": ', '"request": 1, "request": ', 1).encode()
    _assert_refused_or_valid(_post(client, doubled))
    _count("duplicate keys", 2)


@pytest.mark.parametrize(
    "body",
    [
        b'{"apiVersion": "admission.k8s.io/v1", "kind": "\xff\xfe"}',
        json.dumps(REVIEW).encode().replace(b"team-a", b"team-\xc3\x28"),
        json.dumps(REVIEW).encode("utf-16"),
        b"\xef\xbb\xbf" + json.dumps(REVIEW).encode(),
        json.dumps(REVIEW).encode().replace(b"nginx", b"ngi\\ud800nx"),
    ],
    ids=["invalid-bytes", "bad-continuation", "utf-16", "utf-8-bom", "lone-surrogate-escape"],
)
def test_non_utf8_bodies_are_refused_or_answered(client: httpx.Client, body: bytes) -> None:
    _assert_refused_or_valid(_post(client, body))
    _count("non-UTF-8")
    _still_serving(client)


def test_get_on_mutate_gets_405(client: httpx.Client) -> None:
    for path in ("/mutate", "/mutate/namespace-default"):
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            assert client.request(method, path).status_code == 405
            _count("wrong method")


@pytest.mark.parametrize("second", ["application/json", "text/plain"])
def test_two_content_type_headers_get_400(server: RunningServer, second: str) -> None:
    """Which one did the sender mean? Not the last one by chance (it was: text/plain, then
    application/json, was answered)."""
    body = json.dumps(REVIEW).encode()
    for first in ("text/plain", "application/json"):
        extra = f"Content-Type: {second}\r\n"
        head = _head(len(body), extra).replace(b"application/json", first.encode(), 1)
        assert _raw(server, head + body) == [400]
    _count("two content types", 2)


# --- lying headers, slow and vanishing clients ----------------------------------------------------


@pytest.mark.parametrize(
    ("length", "extra"),
    [
        ("-1", ""),
        ("abc", ""),
        ("99999999999999999999999", ""),
        ("10, 20", ""),
        ("10", "Content-Length: 20\r\n"),
        ("10", "Transfer-Encoding: chunked\r\n"),
        (None, "Transfer-Encoding: gzip, chunked\r\n"),
        (None, "Transfer-Encoding: banana\r\n"),
    ],
)
def test_malformed_length_headers_get_a_4xx(
    server: RunningServer, length: str | None, extra: str
) -> None:
    body = json.dumps(REVIEW).encode()
    statuses = _raw(server, _head(length, extra) + body)
    assert all(400 <= s < 500 for s in statuses), statuses
    _count("bad length headers")


def test_a_content_length_shorter_than_the_body_answers_the_first_part_only(
    server: RunningServer,
) -> None:
    body = json.dumps(REVIEW).encode()
    statuses = _raw(server, _head(len(body) - 5) + body)
    assert statuses and all(s < 500 for s in statuses), statuses
    assert statuses[0] == 400  # the first len-5 bytes are not JSON
    _count("short content-length")


def test_a_content_length_longer_than_the_body_gets_408_not_a_hang(
    server: RunningServer,
) -> None:
    body = json.dumps(REVIEW).encode()
    start = time.monotonic()
    statuses = _raw(server, _head(len(body) + 100) + body, timeout=BODY_TIMEOUT + 5)
    assert statuses == [408]
    assert BODY_TIMEOUT - 0.1 < time.monotonic() - start < BODY_TIMEOUT + 3
    _count("long content-length")


def test_a_slow_sender_gets_408_within_the_body_timeout(server: RunningServer) -> None:
    body = json.dumps(REVIEW).encode()
    start = time.monotonic()
    with _connect(server) as sock:
        sock.sendall(_head(len(body)))
        sock.settimeout(0.5)
        data = b""
        for byte in body:  # one byte every 0.5 s: far slower than the timeout allows
            try:
                sock.sendall(bytes([byte]))
                data = sock.recv(4096)
            except TimeoutError:
                continue
            except (ssl.SSLError, ConnectionError):
                break
            if data or time.monotonic() - start > BODY_TIMEOUT + 5:
                break
        data += _read_all(sock, 2)
    assert _statuses(data) == [408], data
    assert time.monotonic() - start < BODY_TIMEOUT + 3
    _count("slow sender")


def test_clients_that_disconnect_mid_body_do_not_hurt_the_server(
    server: RunningServer, client: httpx.Client
) -> None:
    body = json.dumps(REVIEW).encode()
    for cut in (0, 1, len(body) // 2, len(body) - 1):
        for _ in range(10):
            with _connect(server) as sock:
                sock.sendall(_head(len(body)) + body[:cut])
            _count("disconnect mid-body")
    for _ in range(10):  # a TCP reset instead of a close
        tls = _connect(server)
        tls.sendall(_head(len(body)) + body[:100])
        tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        tls.close()
        _count("reset mid-body")
    _still_serving(client)


def _until_closed(sock: ssl.SSLSocket, timeout: float) -> tuple[bytes, float | None]:
    """What the server sends before it closes the connection, and after how many seconds
    it closed it (None: still open after ``timeout``)."""
    sock.settimeout(timeout)
    data, start = b"", time.monotonic()
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        return data, None
    except (ssl.SSLError, ConnectionError):
        pass  # a reset or an abrupt TLS end is a close too
    return data, time.monotonic() - start


def test_a_client_that_never_finishes_its_headers_is_cut_off_at_the_head_deadline(
    server: RunningServer, client: httpx.Client
) -> None:
    """Slowloris on the headers: the head deadline (``--body-timeout``, checked every tenth
    of it) closes the connection, without an answer, and the server keeps serving."""
    with _connect(server) as sock:
        sock.sendall(b"POST /mutate HTTP/1.1\r\nHost: localhost\r\n")
        data, closed_after = _until_closed(sock, timeout=BODY_TIMEOUT + 5)
        _count("unfinished headers")
    assert closed_after is not None, "the connection was still open after the deadline"
    # Cut between the deadline and the deadline plus one check interval (plus scheduling).
    assert BODY_TIMEOUT - 0.1 < closed_after < BODY_TIMEOUT * 1.1 + 1, closed_after
    assert data == b"", data  # closed without a response: no status at all, so no 5xx
    _still_serving(client)


# --- memory ---------------------------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_rss_stays_flat_across_thousands_of_bad_requests(
    server: RunningServer, client: httpx.Client
) -> None:
    rng = random.Random(99)
    good = json.dumps(REVIEW).encode()
    bad = [
        lambda: rng.randbytes(rng.randint(1, 2048)),
        lambda: good[: rng.randint(0, len(good) - 1)],
        lambda: b"[" * 5000,
        lambda: json.dumps(_set(_FULL, rng.choice(_FIELDS), rng.choice(_WRONG))).encode(),
        lambda: b"x" * (LIMIT + 1),
    ]

    def burst(n: int) -> None:
        for _ in range(n):
            _assert_refused_or_valid(_post(client, rng.choice(bad)()))
        _count("RSS burst", n)

    burst(1000)  # warm up: caches, allocator arenas
    before = _rss_kib(server.process.pid)
    burst(3000)
    after = _rss_kib(server.process.pid)
    print(f"\nRSS {before} KiB -> {after} KiB after 3000 bad requests")
    assert after - before < 8 * 1024, (before, after)
    _still_serving(client)


def test_the_server_is_still_alive_and_serving(server: RunningServer, client: httpx.Client) -> None:
    assert server.process.poll() is None
    _still_serving(client)
    assert os.path.exists(f"/proc/{server.process.pid}")
