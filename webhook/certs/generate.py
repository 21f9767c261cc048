"""Self-signed CA and serving certificate for the webhook, in pure ``cryptography``.

Nothing here talks to a cluster or reads the clock: the caller passes ``now``. The only
function that touches files is :func:`write_bundle`.

The API server calls the webhook through its Service, so the serving certificate must name
the Service's DNS names (``NAME.NS.svc`` is what the API server dials). The CA's private key
is never kept: it signs the one leaf and is dropped, so a CA left in a ``caBundle`` after a
rotation cannot sign anything new.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_FILE",
    "CERT_FILE",
    "KEY_FILE",
    "CertBundle",
    "ca_bundle",
    "dns_names",
    "generate_bundle",
    "not_after",
    "renewal_reason",
    "write_bundle",
]

CA_FILE = "ca.crt"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"

# Certificates start a little in the past so that a node whose clock lags the one that
# generated them still accepts them.
_CLOCK_SKEW = timedelta(minutes=5)
_LOCAL_IP = ipaddress.ip_address("127.0.0.1")


@dataclass(frozen=True)
class CertBundle:
    """A CA certificate, a serving certificate signed by it and the serving key (all PEM)."""

    ca_crt: bytes
    tls_crt: bytes
    tls_key: bytes = field(repr=False)  # never shown in logs or tracebacks


def dns_names(service: str, namespace: str) -> tuple[str, ...]:
    """The names the serving certificate must hold for ``service`` in ``namespace``."""
    return (
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
        "localhost",
    )


def generate_bundle(
    service: str, namespace: str, *, days: int = 365, now: datetime | None = None
) -> CertBundle:
    """Make a fresh CA and a serving certificate for the Service, both valid ``days`` days."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    start = _utc(now) - _CLOCK_SKEW
    end = _utc(now) + timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key, start, end)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf_certificate(leaf_key.public_key(), ca_cert, ca_key, service, namespace, start, end)
    return CertBundle(
        ca_crt=ca_cert.public_bytes(serialization.Encoding.PEM),
        tls_crt=leaf.public_bytes(serialization.Encoding.PEM),
        tls_key=leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _ca_certificate(
    key: ec.EllipticCurvePrivateKey, start: datetime, end: datetime
) -> x509.Certificate:
    # A random suffix tells two CAs apart in a caBundle that holds both during a rotation.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "downward-webhook"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"downward-webhook-ca-{secrets.token_hex(4)}"),
        ]
    )
    usage = _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True)
    return (
        _builder(name, name, key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    public_key: ec.EllipticCurvePublicKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    service: str,
    namespace: str,
    start: datetime,
    end: datetime,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{service}.{namespace}.svc")])
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names(service, namespace)]
    sans.append(x509.IPAddress(_LOCAL_IP))
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        _builder(subject, ca_cert.subject, public_key, start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    start: datetime,
    end: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def write_bundle(bundle: CertBundle, out_dir: Path) -> None:
    """Write ``ca.crt``, ``tls.crt`` and ``tls.key`` into ``out_dir``, each atomically.

    The key is written before the certificate so that a reader that sees the new certificate
    finds its key already in place. ``tls.key`` is mode 0600, the certificates 0644.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / CA_FILE, bundle.ca_crt, 0o644)
    _write_atomic(out_dir / KEY_FILE, bundle.tls_key, 0o600)
    _write_atomic(out_dir / CERT_FILE, bundle.tls_crt, 0o644)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    # mkstemp creates the file 0600, so the key is never readable by others, not even briefly.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def not_after(pem: bytes) -> datetime:
    """The expiry (timezone-aware, UTC) of the first certificate in ``pem``."""
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc


def renewal_reason(
    bundle: CertBundle,
    service: str,
    namespace: str,
    *,
    now: datetime,
    renew_before: timedelta,
) -> str | None:
    """Why ``bundle`` must be replaced for the Service, or ``None`` if it is fit to keep.

    Fit means: all three parts parse, the key belongs to the certificate, the certificate is
    signed by the CA, names every DNS name of the Service, and neither it nor the CA expires
    within ``renew_before`` of ``now``.
    """
    try:
        ca = x509.load_pem_x509_certificate(bundle.ca_crt)
        leaf = x509.load_pem_x509_certificate(bundle.tls_crt)
        key = serialization.load_pem_private_key(bundle.tls_key, password=None)
    except (ValueError, TypeError):
        return "its certificate, key or CA cannot be read"
    if _public_der(key.public_key()) != _public_der(leaf.public_key()):
        return "its key does not belong to its certificate"
    if not _issued_by(leaf, ca):
        return "its certificate is not signed by its CA"
    missing = set(dns_names(service, namespace)) - _san_dns_names(leaf)
    if missing:
        return f"its certificate does not name {', '.join(sorted(missing))}"
    expiry = min(leaf.not_valid_after_utc, ca.not_valid_after_utc)
    if expiry - renew_before <= _utc(now):
        return f"it expires at {expiry.isoformat()}, within the renewal window"
    return None


def _public_der(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _issued_by(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _san_dns_names(cert: x509.Certificate) -> set[str]:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return set(sans.get_values_for_type(x509.DNSName))


def ca_bundle(pems: Iterable[bytes], *, now: datetime, exclude: Iterable[bytes] = ()) -> bytes:
    """Join the certificates in ``pems`` into one PEM bundle for a webhook's ``caBundle``.

    Keeps the order of first appearance and drops duplicates, expired certificates, the
    certificates in ``exclude`` and anything that does not parse (a PEM blob that does not
    parse is dropped whole).
    """
    seen = {cert.public_bytes(serialization.Encoding.PEM) for cert in _certificates(exclude)}
    out: list[bytes] = []
    for cert in _certificates(pems):
        pem = cert.public_bytes(serialization.Encoding.PEM)
        if pem not in seen and cert.not_valid_after_utc > _utc(now):
            seen.add(pem)
            out.append(pem)
    return b"".join(out)


def _certificates(pems: Iterable[bytes]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for pem in pems:
        try:
            certs.extend(x509.load_pem_x509_certificates(pem))
        except ValueError:
            continue
    return certs


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)
