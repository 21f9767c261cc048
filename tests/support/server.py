"""Run the real ``downward-webhook serve`` over TLS on loopback, with certificates made by
``downward-webhook certs generate``, for HTTP, load and fault tests."""

from __future__ import annotations

import contextlib
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CLI = [sys.executable, "-m", "webhook.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def generate_certs(out_dir: Path, service: str = "downward-webhook") -> Path:
    subprocess.run(
        [
            *CLI,
            "certs",
            "generate",
            "--service",
            service,
            "--namespace",
            "downward",
            "--out-dir",
            str(out_dir),
        ],
        check=True,
        capture_output=True,
    )
    return out_dir


def encrypted(key: Path, password: bytes = b"secret") -> bytes:
    """The PEM key in ``key``, encrypted with ``password`` (as ``openssl pkcs8 -topk8``)."""
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )


@dataclass
class RunningServer:
    url: str
    certs: Path
    process: subprocess.Popen[bytes]
    log: Path

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.certs / "ca.crt"))
        context.check_hostname = False  # we connect by IP; the chain is still verified
        return context

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTPS client that trusts the server's CA and, like the API server, sends
        ``Content-Type: application/json`` unless told otherwise."""
        headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.url, verify=self.ssl_context(), headers=headers, **kwargs)

    def logs(self) -> str:
        return self.log.read_text()


@contextlib.contextmanager
def running_server(
    tmp: Path, *args: str, certs: Path | None = None, wait: float = 15.0
) -> Iterator[RunningServer]:
    """Start the server on a free port and wait until /readyz answers; stop it afterwards."""
    certs = certs or generate_certs(tmp / "certs")
    port = free_port()
    log = tmp / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *CLI,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--tls-cert",
                str(certs / "tls.crt"),
                "--tls-key",
                str(certs / "tls.key"),
                "--cert-reload-interval",
                "0.2",
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = RunningServer(f"https://127.0.0.1:{port}", certs, process, log)
    try:
        deadline = time.monotonic() + wait
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}: {server.logs()}")
            try:
                with server.client(timeout=1) as c:
                    if c.get("/readyz").status_code == 200:
                        break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready in {wait}s: {server.logs()}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
