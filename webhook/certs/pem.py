"""Reading PEM certificates: an expiry, whether a bundle is fit to keep, a ``caBundle``.

Pure like ``generate``: bytes and the caller's ``now`` in, answers out. Judging a bundle or
joining a ``caBundle`` turns what cannot be read into a reason, or drops it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from webhook.certs.generate import CertBundle, dns_names

__all__ = ["ca_bundle", "not_after", "renewal_reason"]


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


def _utc(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=UTC)
