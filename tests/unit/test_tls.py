"""The serving certificate's expiry, and what ``serve`` keeps out of its memory."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from webhook.certs.files import write_bundle
from webhook.certs.generate import generate_bundle
from webhook.server.tls import _not_after


@pytest.mark.parametrize("days", [1, 90, 365, 3650])
def test_expiry_read_by_the_ssl_module_equals_cryptography(tmp_path: Path, days: int) -> None:
    write_bundle(generate_bundle("downward-webhook", "downward", days=days), tmp_path)
    cert = tmp_path / "tls.crt"
    expected = x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc
    assert _not_after(cert) == expected


def test_expiry_falls_back_to_cryptography_without_the_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bundle(generate_bundle("downward-webhook", "downward", days=30), tmp_path)
    cert = tmp_path / "tls.crt"
    monkeypatch.delattr(ssl._ssl, "_test_decode_cert", raising=False)  # type: ignore[attr-defined]
    expected = x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc
    assert _not_after(cert) == expected


def test_serve_loads_neither_the_kubernetes_client_nor_cryptography(tmp_path: Path) -> None:
    write_bundle(generate_bundle("downward-webhook", "downward", days=30), tmp_path)
    script = f"""
import sys
from pathlib import Path
from webhook import cli
from webhook.core.admission import Settings
from webhook.server.run import ServeConfig, build_server
cli._parser()  # every command builds the whole parser, certs subcommands included
config = ServeConfig(tls_cert=Path("{tmp_path}/tls.crt"), tls_key=Path("{tmp_path}/tls.key"))
server = build_server(Settings(), config)
server.config.load()  # what uvicorn does on start: imports the protocol implementations
print(sorted({{m.split(".")[0] for m in sys.modules}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    assert "'kubernetes'" not in out and "'cryptography'" not in out and "'websockets'" not in out
    assert "'uvicorn'" in out and "'msgspec'" in out
