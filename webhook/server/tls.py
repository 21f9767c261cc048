"""TLS for the server: TLS 1.2 or later, and certificates picked up again from disk.

Mounted Secrets give no file events (the kubelet swaps a symlink), so the reloader compares
digests of the certificate and key files on a timer. A new pair is loaded into a *fresh*
``SSLContext`` first; only if the pair loads and matches does it become current. New
handshakes switch to the current context from the SNI callback (which OpenSSL calls on every
ClientHello, with or without a server name), so a swap is atomic: in-flight connections keep
the context they started with, and no handshake ever sees a certificate without its key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["CertificateError", "CertificateReloader"]

log = logging.getLogger("downward_webhook.tls")


class CertificateError(RuntimeError):
    """The certificate or key cannot be used (missing, unreadable, or not a matching pair)."""


class _Encrypted(Exception):
    """Raised by the password callback: OpenSSL asks for one only for an encrypted key."""


def _no_password() -> bytes:
    # Without a callback OpenSSL would prompt on the terminal ("Enter PEM pass phrase:"),
    # which at startup waits for a user who is not there, and in a reload blocks the server.
    raise _Encrypted


def _new_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert, key, password=_no_password)
    except _Encrypted:
        raise CertificateError(f"the key in {key} is encrypted: give an unencrypted key") from None
    except FileNotFoundError as exc:
        raise CertificateError(f"cannot read {exc.filename}: file not found") from None
    except ssl.SSLError as exc:
        raise CertificateError(_what_is_wrong(cert, key, exc)) from None
    except OSError as exc:
        raise CertificateError(f"cannot read certificate or key: {exc}") from None
    return context


_PEM_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----")


def _what_is_wrong(cert: Path, key: Path, exc: ssl.SSLError) -> str:
    """Why OpenSSL refused the pair, in words: it says only "PEM lib" for most of it."""
    try:
        cert_pem, key_pem = cert.read_bytes(), key.read_bytes()
    except OSError as read_error:
        return f"cannot read certificate or key: {read_error}"
    if ssl.PEM_HEADER.encode() not in cert_pem:
        return f"no PEM certificate in {cert}"
    if _PEM_KEY.search(key_pem) is None:
        return f"no PEM key in {key}"
    if exc.reason is None:  # "PEM lib": one of the two has PEM armour but no valid content
        try:
            ssl.create_default_context(cadata=cert_pem.decode("latin-1"))
        except (ssl.SSLError, ValueError):
            return f"the certificate in {cert} is not valid PEM (truncated or corrupt?)"
        return f"the key in {key} is not a valid PEM key (truncated or corrupt?)"
    return f"{cert} and {key} are not a matching certificate and key ({exc.reason})"


def _element(der: bytes, at: int) -> tuple[int, int, int]:
    """The DER element at ``at``: (tag, where its value starts, where it ends)."""
    tag, length, at = der[at], der[at + 1], at + 2
    if length & 0x80:  # long form: the next (length & 0x7f) bytes are the length
        size = length & 0x7F
        length, at = int.from_bytes(der[at : at + size], "big"), at + size
    if at + length > len(der):
        raise ValueError("truncated DER")
    return tag, at, at + length


def _validity_end(der: bytes) -> datetime:
    """notAfter of a DER certificate (RFC 5280 4.1: Certificate, tbsCertificate, validity)."""
    _, tbs, _ = _element(der, 0)  # Certificate ::= SEQUENCE { tbsCertificate, ... }
    _, at, _ = _element(der, tbs)  # TBSCertificate ::= SEQUENCE { [0] version OPTIONAL,
    tag, _, end = _element(der, at)  #   serialNumber, signature, issuer, validity, ... }
    if tag == 0xA0:
        at = end
    for _ in range(3):  # serialNumber, signature, issuer
        at = _element(der, at)[2]
    _, at, _ = _element(der, at)  # Validity ::= SEQUENCE { notBefore, notAfter }
    tag, start, end = _element(der, _element(der, at)[2])
    text = der[start:end].decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: years 1950-2049
        year = int(text[:2])
        text = f"{2000 + year if year < 50 else 1900 + year}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise ValueError(f"notAfter has DER tag {tag:#x}")
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def _not_after(cert: Path) -> datetime:
    """The notAfter of the file's first certificate (the served one), for the expiry metric.

    Read from the certificate's DER (``ssl.PEM_cert_to_DER_cert``, then the fixed path of
    RFC 5280 to the date), not with ``cryptography``: importing that costs ``serve`` 8.4 MB of
    RSS, a seventh of its memory, for one date. OpenSSL has already parsed the same
    certificate when this runs (``load_cert_chain``); ``tests/unit/test_tls.py`` compares the
    date with cryptography's.
    """
    try:
        pem = cert.read_bytes().decode("latin-1")
        first = pem[pem.index(ssl.PEM_HEADER) : pem.index(ssl.PEM_FOOTER) + len(ssl.PEM_FOOTER)]
        return _validity_end(ssl.PEM_cert_to_DER_cert(first))
    except OSError as exc:
        raise CertificateError(f"cannot read certificate: {exc}") from None
    except (ValueError, IndexError) as exc:
        raise CertificateError(f"cannot read the expiry date of {cert}: {exc}") from None


class CertificateReloader:
    """Owns the server's ``SSLContext`` and swaps certificates in when the files change."""

    def __init__(
        self, cert: Path, key: Path, on_load: Callable[[datetime], None] | None = None
    ) -> None:
        self.cert, self.key = Path(cert), Path(key)
        self._on_load = on_load
        self._digest = self._read_digest()
        self._current = _new_context(self.cert, self.key)
        self._notify(_not_after(self.cert))
        # The listening context: it answers the ClientHello, then hands over to the current one.
        self.context = _new_context(self.cert, self.key)
        self.context.sni_callback = self._select

    def _select(self, conn: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        current = self._current
        if conn.context is not current:
            conn.context = current

    def _read_digest(self) -> bytes:
        digest = hashlib.sha256()
        try:
            digest.update(self.cert.read_bytes())
            digest.update(b"\0")
            digest.update(self.key.read_bytes())
        except FileNotFoundError as exc:
            raise CertificateError(f"cannot read {exc.filename}: file not found") from None
        except OSError as exc:
            raise CertificateError(f"cannot read certificate or key: {exc}") from None
        return digest.digest()

    def _notify(self, not_after: datetime) -> None:
        if self._on_load is not None:
            self._on_load(not_after)

    def reload_if_changed(self) -> bool:
        """Load the files again if their digest changed. False if unchanged or not usable."""
        try:
            digest = self._read_digest()
            if digest == self._digest:
                return False
            context = _new_context(self.cert, self.key)
            not_after = _not_after(self.cert)
        except CertificateError as exc:
            # Usually a half-written pair (cert renewed, key not yet): keep serving the old one.
            log.warning("certificate not reloaded, keeping the current one: %s", exc)
            return False
        self._current = context
        self._digest = digest
        self._notify(not_after)
        log.info("certificate reloaded from %s", self.cert)
        return True

    async def watch(self, interval: float) -> None:
        """Check the files every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self.reload_if_changed()
