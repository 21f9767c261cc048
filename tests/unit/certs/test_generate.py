"""Tests for the pure certificate generation in ``webhook.certs.generate``."""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from webhook.certs.files import write_bundle
from webhook.certs.generate import CertBundle, dns_names, generate_bundle
from webhook.certs.pem import ca_bundle, not_after, renewal_reason

NOW = datetime(2030, 1, 1, tzinfo=UTC)
NAMES = (
    "downward",
    "downward.downward-system",
    "downward.downward-system.svc",
    "downward.downward-system.svc.cluster.local",
    "localhost",
)


@pytest.fixture(scope="module")
def bundle() -> CertBundle:
    return generate_bundle("downward", "downward-system", days=365, now=NOW)


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


@pytest.mark.parametrize("name", NAMES)
def test_the_leaf_verifies_against_its_ca_for_every_dns_name_of_the_service(
    bundle: CertBundle, name: str
) -> None:
    store = Store([_cert(bundle.ca_crt)])
    verifier = PolicyBuilder().store(store).time(NOW).build_server_verifier(x509.DNSName(name))
    chain = verifier.verify(_cert(bundle.tls_crt), [])
    assert chain[-1] == _cert(bundle.ca_crt)


def test_the_leaf_verifies_for_the_loopback_ip_for_local_development(bundle: CertBundle) -> None:
    store = Store([_cert(bundle.ca_crt)])
    ip = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    PolicyBuilder().store(store).time(NOW).build_server_verifier(ip).verify(
        _cert(bundle.tls_crt), []
    )


def test_the_leaf_names_exactly_the_service_names_localhost_and_127_0_0_1(
    bundle: CertBundle,
) -> None:
    sans = _cert(bundle.tls_crt).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert tuple(sans.value.get_values_for_type(x509.DNSName)) == NAMES
    assert sans.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert dns_names("downward", "downward-system") == NAMES


def test_the_ca_may_sign_certificates_but_no_further_cas(bundle: CertBundle) -> None:
    ca = _cert(bundle.ca_crt)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert constraints.critical
    assert (constraints.value.ca, constraints.value.path_length) == (True, 0)
    assert usage.key_cert_sign
    assert ca.issuer == ca.subject


def test_the_leaf_is_no_ca_and_is_for_server_authentication(bundle: CertBundle) -> None:
    leaf = _cert(bundle.tls_crt)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert leaf.issuer == _cert(bundle.ca_crt).subject


def test_the_leaf_is_signed_by_the_ca(bundle: CertBundle) -> None:
    _cert(bundle.tls_crt).verify_directly_issued_by(_cert(bundle.ca_crt))


def test_the_key_is_an_unencrypted_pkcs8_p256_key_that_belongs_to_the_leaf(
    bundle: CertBundle,
) -> None:
    assert bundle.tls_key.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(bundle.tls_key, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    signature = key.sign(b"hello", ec.ECDSA(hashes.SHA256()))
    public = _cert(bundle.tls_crt).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"hello", ec.ECDSA(hashes.SHA256()))


def test_both_certificates_are_valid_from_just_before_now_for_the_given_days(
    bundle: CertBundle,
) -> None:
    for cert in (_cert(bundle.ca_crt), _cert(bundle.tls_crt)):
        assert NOW - timedelta(hours=1) < cert.not_valid_before_utc <= NOW
        assert cert.not_valid_after_utc == NOW + timedelta(days=365)


def test_not_after_reads_the_expiry_of_a_pem_certificate() -> None:
    short = generate_bundle("s", "ns", days=7, now=NOW)
    assert not_after(short.tls_crt) == NOW + timedelta(days=7)
    assert not_after(short.ca_crt).tzinfo is not None


def test_every_bundle_has_a_fresh_ca_and_a_fresh_key(bundle: CertBundle) -> None:
    other = generate_bundle("downward", "downward-system", now=NOW)
    assert other.ca_crt != bundle.ca_crt
    assert other.tls_key != bundle.tls_key
    assert _cert(other.ca_crt).subject != _cert(bundle.ca_crt).subject


def test_less_than_one_day_of_validity_is_rejected() -> None:
    with pytest.raises(ValueError, match="days"):
        generate_bundle("s", "ns", days=0, now=NOW)


def test_the_repr_of_a_bundle_never_shows_the_key(bundle: CertBundle) -> None:
    assert "PRIVATE KEY" not in repr(bundle)


def test_write_bundle_creates_the_folder_and_the_three_files(
    bundle: CertBundle, tmp_path: Path
) -> None:
    out = tmp_path / "a" / "b"
    write_bundle(bundle, out)
    assert (out / "ca.crt").read_bytes() == bundle.ca_crt
    assert (out / "tls.crt").read_bytes() == bundle.tls_crt
    assert (out / "tls.key").read_bytes() == bundle.tls_key
    assert sorted(p.name for p in out.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]


def test_write_bundle_makes_the_key_0600_and_the_certificates_0644(
    bundle: CertBundle, tmp_path: Path
) -> None:
    (tmp_path / "tls.key").write_bytes(b"old")
    (tmp_path / "tls.key").chmod(0o644)
    write_bundle(bundle, tmp_path)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"ca.crt": 0o644, "tls.crt": 0o644, "tls.key": 0o600}


def test_write_bundle_replaces_existing_files_whole(bundle: CertBundle, tmp_path: Path) -> None:
    write_bundle(generate_bundle("x", "y", now=NOW), tmp_path)
    inode = (tmp_path / "tls.crt").stat().st_ino
    write_bundle(bundle, tmp_path)
    assert (tmp_path / "tls.crt").read_bytes() == bundle.tls_crt
    assert (tmp_path / "tls.crt").stat().st_ino != inode  # renamed over, not rewritten in place


def _other_key_bundle(bundle: CertBundle) -> CertBundle:
    other = generate_bundle("downward", "downward-system", now=NOW)
    return CertBundle(ca_crt=bundle.ca_crt, tls_crt=bundle.tls_crt, tls_key=other.tls_key)


def _other_ca_bundle(bundle: CertBundle) -> CertBundle:
    other = generate_bundle("downward", "downward-system", now=NOW)
    return CertBundle(ca_crt=other.ca_crt, tls_crt=bundle.tls_crt, tls_key=bundle.tls_key)


def _garbled_bundle(bundle: CertBundle) -> CertBundle:
    return CertBundle(ca_crt=bundle.ca_crt, tls_crt=b"not a certificate", tls_key=bundle.tls_key)


@pytest.mark.parametrize(
    ("case", "make", "service", "when", "expected"),
    [
        ("valid", lambda b: b, "downward", NOW, None),
        ("other names", lambda b: b, "other", NOW, "does not name other"),
        ("near expiry", lambda b: b, "downward", NOW + timedelta(days=340), "renewal window"),
        ("expired", lambda b: b, "downward", NOW + timedelta(days=400), "renewal window"),
        ("garbled", _garbled_bundle, "downward", NOW, "cannot be read"),
        ("foreign key", _other_key_bundle, "downward", NOW, "key does not belong"),
        ("foreign CA", _other_ca_bundle, "downward", NOW, "not signed by its CA"),
    ],
)
def test_renewal_reason_says_why_a_bundle_must_be_replaced(
    bundle: CertBundle,
    case: str,
    make: Callable[[CertBundle], CertBundle],
    service: str,
    when: datetime,
    expected: str | None,
) -> None:
    reason = renewal_reason(
        make(bundle), service, "downward-system", now=when, renew_before=timedelta(days=30)
    )
    if expected is None:
        assert reason is None, case
    else:
        assert reason is not None and expected in reason, case


def test_ca_bundle_keeps_order_and_drops_duplicates_expired_excluded_and_garbage(
    bundle: CertBundle,
) -> None:
    short = generate_bundle("s", "ns", days=1, now=NOW)
    other = generate_bundle("s", "ns", now=NOW)
    later = NOW + timedelta(days=2)
    pems = [other.ca_crt, b"garbage", short.ca_crt, bundle.ca_crt + other.ca_crt]
    assert ca_bundle(pems, now=later) == other.ca_crt + bundle.ca_crt
    assert ca_bundle(pems, now=later, exclude=[other.ca_crt]) == bundle.ca_crt
    assert ca_bundle([], now=NOW) == b""
