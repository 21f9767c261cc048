"""The serving certificate's expiry, and what ``serve`` keeps out of its memory."""

from __future__ import annotations

import inspect
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509

from webhook.certs.files import write_bundle
from webhook.certs.generate import generate_bundle
from webhook.server import tls
from webhook.server.tls import CertificateError, _not_after


def _expected(pem: bytes) -> datetime:
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc


# 1 day to 30 years: UTCTime up to 2049, GeneralizedTime from 2050 on (RFC 5280 4.1.2.5).
@pytest.mark.parametrize("days", [1, 90, 365, 3650, 30 * 365])
def test_expiry_read_from_the_der_equals_cryptography(tmp_path: Path, days: int) -> None:
    write_bundle(generate_bundle("downward-webhook", "downward", days=days), tmp_path)
    cert = tmp_path / "tls.crt"
    assert _not_after(cert) == _expected(cert.read_bytes())


def test_expiry_is_the_served_certificate_s_in_a_chain_file(tmp_path: Path) -> None:
    write_bundle(generate_bundle("downward-webhook", "downward", days=10), tmp_path / "a")
    write_bundle(generate_bundle("downward-webhook", "downward", days=20), tmp_path / "b")
    leaf, ca = (tmp_path / "a/tls.crt").read_bytes(), (tmp_path / "b/ca.crt").read_bytes()
    chain = tmp_path / "chain.crt"
    chain.write_bytes(b"# a comment before the certificates\n" + leaf + ca)
    assert _not_after(chain) == _expected(leaf) != _expected(ca)


def test_a_file_without_a_certificate_is_a_certificate_error(tmp_path: Path) -> None:
    bad = tmp_path / "tls.crt"
    bad.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(CertificateError, match="expiry date"):
        _not_after(bad)
    bad.write_text("not PEM at all")
    with pytest.raises(CertificateError, match="expiry date"):
        _not_after(bad)


def test_the_expiry_date_does_not_use_private_ssl_apis() -> None:
    source = inspect.getsource(tls)
    assert "_ssl" not in source.replace("ssl_", "") and "_test_decode_cert" not in source


def test_serve_loads_neither_the_kubernetes_client_nor_cryptography(tmp_path: Path) -> None:
    write_bundle(generate_bundle("downward-webhook", "downward", days=30), tmp_path)
    script = f"""
import sys
from datetime import datetime
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
