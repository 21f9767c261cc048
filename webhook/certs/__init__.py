"""Certificates for the webhook's TLS endpoint.

``generate`` makes a self-signed CA and a serving certificate with pure ``cryptography``;
``ensure`` keeps them in a cluster Secret and the CA in the webhook configuration's
``caBundle``; ``commands`` adds ``certs generate`` and ``certs ensure`` to the CLI.
"""

from webhook.certs.generate import CertBundle, generate_bundle, not_after, write_bundle

__all__ = ["CertBundle", "generate_bundle", "not_after", "write_bundle"]
