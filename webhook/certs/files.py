"""The files of a certificate bundle: ``ca.crt``, ``tls.crt``, ``tls.key``, written atomically.

The same three names are the keys of the Secret (``certs ensure``) and the files the server
reads (a mounted Secret, or ``certs generate --out-dir``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names alone must not pull in cryptography
    from webhook.certs.generate import CertBundle

__all__ = ["CA_FILE", "CERT_FILE", "KEY_FILE", "write_bundle"]

CA_FILE = "ca.crt"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"


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
