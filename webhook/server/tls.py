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
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["CertificateError", "CertificateReloader"]

log = logging.getLogger("downward_webhook.tls")


class CertificateError(RuntimeError):
    """The certificate or key cannot be used (missing, unreadable, or not a matching pair)."""


def _new_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise CertificateError(f"cannot read {exc.filename}: file not found") from None
    except ssl.SSLError as exc:
        raise CertificateError(
            f"{cert} and {key} are not a matching certificate and key ({exc.reason})"
        ) from None
    except OSError as exc:
        raise CertificateError(f"cannot read certificate or key: {exc}") from None
    return context


def _not_after(cert: Path) -> datetime:
    """The certificate's notAfter, for the expiry metric.

    Read with the certificate decoder of Python's own ssl module (the OpenSSL that serves
    the TLS), not with ``cryptography``: importing that costs ``serve`` about 8 MB of RSS, a
    tenth of its memory, for one date. The decoder is an underscored part of the ``_ssl``
    extension (CPython's tests use it); should a Python version drop it, ``cryptography``
    (a dependency anyway, for ``certs``) is the fallback. A test compares the two.
    """
    decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    try:
        seconds = ssl.cert_time_to_seconds(decode(str(cert))["notAfter"])  # type: ignore[misc]
        return datetime.fromtimestamp(seconds, UTC)
    except (TypeError, KeyError, ValueError, ssl.SSLError):
        from cryptography import x509

        return x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc


class CertificateReloader:
    """Owns the server's ``SSLContext`` and swaps certificates in when the files change."""

    def __init__(
        self, cert: Path, key: Path, on_load: Callable[[datetime], None] | None = None
    ) -> None:
        self.cert, self.key = Path(cert), Path(key)
        self._on_load = on_load
        self._digest = self._read_digest()
        self._current = _new_context(self.cert, self.key)
        self._notify()
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

    def _notify(self) -> None:
        if self._on_load is not None:
            self._on_load(_not_after(self.cert))

    def reload_if_changed(self) -> bool:
        """Load the files again if their digest changed. False if unchanged or not usable."""
        try:
            digest = self._read_digest()
            if digest == self._digest:
                return False
            self._current = _new_context(self.cert, self.key)
        except CertificateError as exc:
            # Usually a half-written pair (cert renewed, key not yet): keep serving the old one.
            log.warning("certificate not reloaded, keeping the current one: %s", exc)
            return False
        self._digest = digest
        self._notify()
        log.info("certificate reloaded from %s", self.cert)
        return True

    async def watch(self, interval: float) -> None:
        """Check the files every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self.reload_if_changed()
