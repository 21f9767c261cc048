"""The serving certificate's expiry, and what ``serve`` keeps out of its memory."""

from __future__ import annotations

import inspect
import logging
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509

from tests.support.server import encrypted
from webhook.certs.files import write_bundle
from webhook.certs.generate import generate_bundle
from webhook.server import tls
from webhook.server.tls import CertificateError, CertificateReloader, _not_after


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


def _pair(tmp_path: Path, name: str = "a") -> tuple[Path, Path]:
    write_bundle(generate_bundle("downward-webhook", "downward", days=10), tmp_path / name)
    return tmp_path / name / "tls.crt", tmp_path / name / "tls.key"


def _spoil(tmp_path: Path, case: str) -> tuple[Path, Path, str]:
    """A certificate and key broken as ``case`` says, and what the error must say."""
    cert, key = _pair(tmp_path)
    if case == "encrypted-key":
        key.write_bytes(encrypted(key))
        return cert, key, f"the key in {key} is encrypted: give an unencrypted key"
    if case in ("empty-cert", "garbage-cert"):
        cert.write_bytes(b"" if case == "empty-cert" else b"garbage\n")
        return cert, key, f"no PEM certificate in {cert}"
    if case in ("empty-key", "garbage-key"):
        key.write_bytes(b"" if case == "empty-key" else b"garbage\n")
        return cert, key, f"no PEM key in {key}"
    if case == "truncated-cert":
        cert.write_bytes(cert.read_bytes()[:300] + b"\n-----END CERTIFICATE-----\n")
        return cert, key, f"the certificate in {cert} is not valid PEM"
    if case == "truncated-key":
        key.write_bytes(key.read_bytes()[:100] + b"\n-----END PRIVATE KEY-----\n")
        return cert, key, f"the key in {key} is not a valid PEM key"
    _, other_key = _pair(tmp_path, "b")
    key.write_bytes(other_key.read_bytes())
    return cert, key, f"{cert} and {key} are not a matching certificate and key"


CASES = [
    "encrypted-key",
    "empty-cert",
    "garbage-cert",
    "empty-key",
    "garbage-key",
    "truncated-cert",
    "truncated-key",
    "mismatched",
]


@pytest.mark.parametrize("case", CASES)
def test_a_bad_certificate_or_key_says_what_is_wrong_with_which_file(
    tmp_path: Path, case: str
) -> None:
    cert, key, message = _spoil(tmp_path, case)
    with pytest.raises(CertificateError) as refused:
        CertificateReloader(cert, key)
    assert str(refused.value).startswith(message), refused.value


@pytest.mark.parametrize("case", CASES)
def test_a_renewed_bad_pair_is_not_loaded_and_the_old_one_keeps_serving(
    tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The reloader never prompts for a pass phrase (it would block the running server) and
    never raises: it logs one line and keeps the context it has."""
    good_cert, good_key = _pair(tmp_path, "good")
    cert, key, message = _spoil(tmp_path, case)
    spoiled = cert.read_bytes(), key.read_bytes()
    cert.write_bytes(good_cert.read_bytes())
    key.write_bytes(good_key.read_bytes())
    reloader = CertificateReloader(cert, key)
    before = reloader._current
    cert.write_bytes(spoiled[0])
    key.write_bytes(spoiled[1])

    with caplog.at_level(logging.WARNING, logger="downward_webhook.tls"):
        assert reloader.reload_if_changed() is False

    assert reloader._current is before
    (record,) = caplog.records
    logged = record.getMessage()
    assert logged.startswith(f"certificate not reloaded, keeping the current one: {message}")
    assert "\n" not in logged
