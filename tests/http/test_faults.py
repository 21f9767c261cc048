"""Faults under load against the real TLS server: certificate swaps, SIGTERM, bad certificates.

* 32 concurrent clients for several seconds while the certificate is replaced on disk twice
  (an atomic ``os.replace`` of both files, and the kubelet's ``..data`` symlink swap): zero
  failed requests, and new connections after each swap see the new certificate.
* SIGTERM with requests in flight: they finish, then the server exits 0.
* A missing certificate, a missing key or a mismatched pair: the server refuses to start with
  one clear line on stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.support.kube import minimal_pod
from tests.support.reviews import admission_review
from tests.support.server import (
    CLI,
    RunningServer,
    encrypted,
    free_port,
    generate_certs,
    running_server,
)

CLIENTS = 32
RUN_SECONDS = 8.0  # per swap style; two styles, so about 16 s of load in all
POD: dict[str, Any] = minimal_pod("all")
BODY = json.dumps(admission_review(POD)).encode()
FIGURES: dict[str, int] = {}


def _der(pem: Path) -> bytes:
    return x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(Encoding.DER)


def _trust_all(*bundles: Path) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for bundle in bundles:
        context.load_verify_locations(cafile=str(bundle / "ca.crt"))
    context.check_hostname = False
    return context


def _served_cert(server: RunningServer, context: ssl.SSLContext) -> bytes:
    host, port = server.url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        cert = tls.getpeercert(binary_form=True)
    assert cert is not None
    return cert


class Load:
    """``CLIENTS`` threads posting reviews; each opens a new connection every 25 requests."""

    def __init__(self, server: RunningServer, context: ssl.SSLContext) -> None:
        self.server, self.context = server, context
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run) for _ in range(CLIENTS)]

    def _run(self) -> None:
        while not self.stop.is_set():
            with httpx.Client(base_url=self.server.url, verify=self.context, timeout=10) as c:
                for _ in range(25):
                    if self.stop.is_set():
                        return
                    self._one(c)

    def _one(self, client: httpx.Client) -> None:
        try:
            response = client.post(
                "/mutate", content=BODY, headers={"content-type": "application/json"}
            )
            good = response.status_code == 200 and "patch" in response.json()["response"]
            problem = "" if good else f"HTTP {response.status_code}: {response.text[:100]}"
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        with self.lock:
            if problem:
                self.failures.append(problem)
            else:
                self.ok += 1

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)


def _atomic_replace(live: Path, new: Path) -> None:
    """Write both files next to the live ones, then rename each over its target."""
    for name in ("tls.crt", "tls.key"):
        shutil.copy(new / name, live / f".{name}.tmp")
        os.replace(live / f".{name}.tmp", live / name)


def _kubelet_dir(root: Path, first: Path) -> Path:
    """A Secret volume as the kubelet lays it out: tls.crt -> ..data/tls.crt, ..data -> ..ts."""
    root.mkdir()
    shutil.copy(first / "ca.crt", root / "ca.crt")  # the client trusts it; not read by the server
    _kubelet_swap(root, first, "..2026_01_01_00_00_00.000000001")
    for name in ("tls.crt", "tls.key"):
        (root / name).symlink_to(Path("..data") / name)
    return root


def _kubelet_swap(root: Path, new: Path, stamp: str | None = None) -> None:
    stamp = stamp or f"..{time.time_ns()}"
    (root / stamp).mkdir()
    for name in ("tls.crt", "tls.key"):
        shutil.copy(new / name, root / stamp / name)
    (root / "..data_tmp").symlink_to(stamp)
    os.replace(root / "..data_tmp", root / "..data")  # rename(2): atomic


@pytest.mark.parametrize("style", ["atomic-rename", "kubelet-symlink"])
def test_certificates_replaced_twice_under_load_drop_no_request(tmp_path: Path, style: str) -> None:
    bundles = [generate_certs(tmp_path / f"bundle{i}") for i in range(3)]
    if style == "atomic-rename":
        live = tmp_path / "live"
        live.mkdir()
        for name in ("ca.crt", "tls.crt", "tls.key"):
            shutil.copy(bundles[0] / name, live / name)

        def swap(new: Path) -> None:
            _atomic_replace(live, new)
    else:
        live = _kubelet_dir(tmp_path / "secret", bundles[0])

        def swap(new: Path) -> None:
            _kubelet_swap(live, new)

    context = _trust_all(*bundles)
    with running_server(tmp_path, certs=live) as server, Load(server, context) as load:
        assert _served_cert(server, context) == _der(bundles[0] / "tls.crt")
        for new in bundles[1:]:
            time.sleep(RUN_SECONDS / 3)
            swap(new)
            _wait_for_cert(lambda: _served_cert(server, context), _der(new / "tls.crt"))
        time.sleep(RUN_SECONDS / 3)
    FIGURES[f"requests under load ({style})"] = load.ok
    print(f"\n{style}: {load.ok} requests, {len(load.failures)} failed")
    assert load.failures == [], load.failures[:5]
    assert load.ok > 1000
    assert "certificate reloaded" in server.logs()


def _wait_for_cert(served: Callable[[], bytes], expected: bytes, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while served() != expected:
        assert time.monotonic() < deadline, "new connections still see the old certificate"
        time.sleep(0.1)


def test_sigterm_lets_in_flight_requests_finish_and_exits_zero(tmp_path: Path) -> None:
    with running_server(tmp_path, "--graceful-timeout", "10") as server:
        context = server.ssl_context()
        host, port = server.url.removeprefix("https://").split(":")
        head = (
            f"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n"
        ).encode()
        in_flight = []
        for _ in range(8):  # headers and half the body sent: the request is in flight
            tls = context.wrap_socket(socket.create_connection((host, int(port)), timeout=10))
            tls.sendall(head + BODY[: len(BODY) // 2])
            in_flight.append(tls)
        with Load(server, context) as load:
            time.sleep(1.0)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            answers = []
            for tls in in_flight:
                tls.sendall(BODY[len(BODY) // 2 :])
                data = b""
                while not (data.endswith(b"0\r\n\r\n") or data.rstrip().endswith(b"}")):
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                tls.close()
                answers.append(data)
            code = server.process.wait(timeout=15)
    FIGURES["requests under load (SIGTERM)"] = load.ok
    assert code == 0, server.logs()[-2000:]
    for data in answers:
        assert data.startswith(b"HTTP/1.1 200"), data[:200]
        review = json.loads(_body(data))
        assert "patch" in review["response"]
    # After SIGTERM new connections are refused; nothing may come back as a 5xx.
    assert not [f for f in load.failures if f.startswith("HTTP 5")], load.failures[:5]
    assert load.ok > 0


def _body(response: bytes) -> bytes:
    """The body of a raw HTTP/1.1 response, de-chunked if it was sent chunked."""
    head, body = response.split(b"\r\n\r\n", 1)
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    out = b""
    while body:
        size, _, body = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, body = out + body[:n], body[n + 2 :]
    return out


def _serve(cert: Path, key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *CLI,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-cert", "file not found"),
        ("missing-key", "file not found"),
        ("mismatched-pair", "not a matching certificate and key"),
        ("key-as-cert", "no PEM certificate in {a}/tls.key"),
        ("empty-cert", "no PEM certificate in {tmp}/empty.crt"),
        ("encrypted-key", "the key in {tmp}/encrypted.key is encrypted: give an unencrypted key"),
    ],
)
def test_the_server_refuses_to_start_with_one_clear_line_on_a_bad_certificate(
    tmp_path: Path, case: str, expected: str
) -> None:
    a, b = generate_certs(tmp_path / "a"), generate_certs(tmp_path / "b")
    cert, key = a / "tls.crt", a / "tls.key"
    if case == "missing-cert":
        cert = tmp_path / "nope.crt"
    elif case == "missing-key":
        key = tmp_path / "nope.key"
    elif case == "mismatched-pair":
        key = b / "tls.key"
    elif case == "key-as-cert":
        cert = a / "tls.key"
    elif case == "encrypted-key":
        key = tmp_path / "encrypted.key"
        key.write_bytes(encrypted(a / "tls.key"))
    else:
        cert = tmp_path / "empty.crt"
        cert.write_text("")
    result = _serve(cert, key)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("downward-webhook: cannot start:"), lines[0]
    assert expected.format(a=a, tmp=tmp_path) in lines[0]
    assert "Traceback" not in result.stderr and "pass phrase" not in result.stderr


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    print(f"\nfault figures: {FIGURES}")
