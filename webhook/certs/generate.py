"""Self-signed CA and serving certificate for the webhook, in pure ``cryptography``.

Nothing here talks to a cluster, touches a file or reads a certificate: the caller passes
``now`` (or takes the clock's); writing a bundle out is ``files``, judging one ``pem``.

The API server calls the webhook through its Service, so the serving certificate must name
the Service's DNS names (``NAME.NS.svc`` is what the API server dials). The CA's private key
is never kept: it signs the one leaf and is dropped, so a CA left in a ``caBundle`` after a
rotation cannot sign anything new.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertBundle", "dns_names", "generate_bundle"]

# Certificates start a little in the past so that a node whose clock lags the one that
# generated them still accepts them.
_CLOCK_SKEW = timedelta(minutes=5)
_LOCAL_IP = ipaddress.ip_address("127.0.0.1")
_MAX_COMMON_NAME = 64


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
    # Clients check the SANs, not the CN, but X.509 bounds a CN at 64 characters (ub-common-name)
    # and a Service and a namespace name may each be 63: then the CN is the Service name alone.
    common_name = f"{service}.{namespace}.svc"
    if len(common_name) > _MAX_COMMON_NAME:
        common_name = service
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
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


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)
