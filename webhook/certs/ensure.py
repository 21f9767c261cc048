"""Keep the webhook's certificate Secret and the ``caBundle`` that trusts it in step.

``certs ensure`` runs in every replica (an init container), so several may run at once.
Every write carries the ``resourceVersion`` it read (optimistic concurrency): a 409
Conflict or AlreadyExists only means another replica wrote first, so we read again and
converge on what is stored, a bounded number of times.

Rotation order matters. The API server verifies the webhook's certificate against the
``caBundle``, and the pods keep serving the old certificate until the kubelet refreshes the
mounted Secret (up to a minute or more). So the new CA is *added* to the ``caBundle`` before
the Secret is replaced, and the new Secret remembers the CAs trusted until then (annotation
``downward.io/previous-cas``: the old Secret's CA and the old ``caBundle``). The ``caBundle``
is then set to exactly the stored CA plus those previous CAs that have not expired: every
replica computes the same value from the same Secret, so racing replicas end with the same
``caBundle``. A CA's key is never kept, so trusting a previous CA until it expires lets
nobody sign anything new.

After a leak (a CA's key copied out of the Secret), trusting it "until it expires" is what
must stop: with ``drop_old_cas`` the Secret forgets its previous CAs and the ``caBundle``
holds the stored CA alone. Delete the Secret first when the current CA is the leaked one.
``caBundle`` is written by ``cabundle`` (server-side apply under our own field manager).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from webhook.certs.cabundle import CaBundleOutcome, NotConvergedError, update_ca_bundle
from webhook.certs.files import CA_FILE, CERT_FILE, KEY_FILE
from webhook.certs.generate import CertBundle, generate_bundle
from webhook.certs.kube import CertsError, Conflict, KubeApiError, KubeApis, NotFound, connect
from webhook.certs.pem import ca_bundle, not_after, renewal_reason
from webhook.certs.secret import StoredSecret, read_secret, secret_body, write_secret

__all__ = [
    "CaBundleOutcome",
    "CertsError",
    "EnsureResult",
    "EnsureTarget",
    "KubeApiError",
    "KubeApis",
    "NotConvergedError",
    "SecretAction",
    "connect",
    "ensure_certificates",
]

log = logging.getLogger(__name__)

# Every conflict means another writer succeeded, and a replica writes the caBundle at most
# twice (the pre-trust of its fresh CA, then the final bundle), so one of N replicas starting
# together sees at most 2(N-1) conflicts in a loop: 10 attempts converge for up to 5 replicas
# starting at once (the chart starts replicaCount, default 2). The bound is against a writer
# that never stops (another controller fighting over the field), not against our replicas.
MAX_ATTEMPTS = 10

SecretAction = Literal["created", "renewed", "kept"]


@dataclass(frozen=True)
class EnsureTarget:
    """Where the certificate lives and what it is for."""

    namespace: str
    secret: str
    service: str
    webhook_config: str
    validity_days: int = 365
    renew_before: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        # Otherwise every run would find the new certificate inside the renewal window.
        if self.renew_before >= timedelta(days=self.validity_days):
            raise ValueError(
                f"renew-before ({self.renew_before.days} days) must be shorter than the "
                f"validity ({self.validity_days} days)"
            )


@dataclass(frozen=True)
class EnsureResult:
    """What ``ensure_certificates`` did, and the certificate now stored."""

    secret: SecretAction
    reason: str
    ca_bundle_updated: bool
    webhook_config_found: bool
    bundle: CertBundle

    @property
    def not_after(self) -> datetime:
        return not_after(self.bundle.tls_crt)


@dataclass(frozen=True)
class _SecretOutcome:
    action: SecretAction
    reason: str
    bundle: CertBundle
    previous_cas: bytes


def ensure_certificates(
    apis: KubeApis,
    target: EnsureTarget,
    *,
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    drop_old_cas: bool = False,
) -> EnsureResult:
    """Get or create the certificate Secret, then point every webhook's ``caBundle`` at it.

    ``drop_old_cas`` trusts the stored CA alone: the previous CAs are forgotten (in the
    Secret too, so a later run without it does not bring them back).
    """
    now = now or datetime.now(UTC)
    outcome, pre_trusted = _ensure_secret(apis, target, now, max_attempts, drop_old_cas)
    wanted = ca_bundle([outcome.bundle.ca_crt, outcome.previous_cas], now=now)
    published = update_ca_bundle(apis, target.webhook_config, lambda _: wanted, max_attempts)
    if published == "missing":
        log.warning("webhook configuration %s not found; caBundle not set", target.webhook_config)
    log.info("Secret %s/%s %s: %s", target.namespace, target.secret, outcome.action, outcome.reason)
    return EnsureResult(
        secret=outcome.action,
        reason=outcome.reason,
        ca_bundle_updated=pre_trusted or published == "updated",
        webhook_config_found=published != "missing",
        bundle=outcome.bundle,
    )


def _ensure_secret(
    apis: KubeApis, target: EnsureTarget, now: datetime, attempts: int, drop_old: bool
) -> tuple[_SecretOutcome, bool]:
    fresh: CertBundle | None = None
    pre_trusted = lost_race = False
    for _ in range(attempts):
        stored = read_secret(apis, target.namespace, target.secret)
        keep, reason = _check(stored, target, now)
        try:
            if stored is not None and keep is not None:
                why = "another replica stored it first" if lost_race else reason
                return _kept(apis, target, stored, keep, why, drop_old), pre_trusted
            fresh = fresh or generate_bundle(
                target.service, target.namespace, days=target.validity_days, now=now
            )
            updated, previous = _pre_trust(apis, target, fresh, stored, now, attempts)
            pre_trusted |= updated
            previous = b"" if drop_old else previous
            body = secret_body(target.namespace, target.secret, fresh, previous, stored)
            write_secret(apis, target.namespace, target.secret, body, create=stored is None)
        except (Conflict, NotFound):
            log.info(
                "Secret %s/%s changed meanwhile; reading again", target.namespace, target.secret
            )
            lost_race = True
            continue
        action: SecretAction = "created" if stored is None else "renewed"
        return _SecretOutcome(action, reason, fresh, previous), pre_trusted
    raise NotConvergedError(
        f"Secret {target.namespace}/{target.secret}: still conflicting after {attempts} attempts"
    )


def _kept(
    apis: KubeApis,
    target: EnsureTarget,
    stored: StoredSecret,
    bundle: CertBundle,
    reason: str,
    drop_old: bool,
) -> _SecretOutcome:
    """Keep the stored bundle; with ``drop_old``, first make the Secret forget its previous CAs.

    Raises ``Conflict`` or ``NotFound`` when the Secret changed since it was read.
    """
    if drop_old and stored.previous_cas:
        body = secret_body(target.namespace, target.secret, bundle, b"", stored)
        write_secret(apis, target.namespace, target.secret, body, create=False)
        log.info("Secret %s/%s: previous CAs forgotten", target.namespace, target.secret)
    return _SecretOutcome("kept", reason, bundle, b"" if drop_old else stored.previous_cas)


def _check(
    stored: StoredSecret | None, target: EnsureTarget, now: datetime
) -> tuple[CertBundle | None, str]:
    """The stored bundle if it is fit to keep, and why it is kept or must be replaced."""
    if stored is None:
        return None, "no Secret existed"
    if stored.bundle is None:
        return None, f"its data lacks {CA_FILE}, {CERT_FILE} or {KEY_FILE} in base64"
    reason = renewal_reason(
        stored.bundle, target.service, target.namespace, now=now, renew_before=target.renew_before
    )
    return (stored.bundle, "it is valid") if reason is None else (None, reason)


def _pre_trust(
    apis: KubeApis,
    target: EnsureTarget,
    fresh: CertBundle,
    stored: StoredSecret | None,
    now: datetime,
    attempts: int,
) -> tuple[bool, bytes]:
    """Add the fresh CA to the caBundle before the Secret changes.

    Returns whether the caBundle changed, and the CAs trusted until now (the stored Secret's
    and the caBundle's, unexpired): the server pods may still serve a certificate from any of
    them until the kubelet refreshes the mounted Secret, so they stay trusted as "previous".
    """
    old = [stored.bundle.ca_crt] if stored and stored.bundle else []
    current: list[bytes] = []

    def merged(read: Sequence[bytes]) -> bytes:
        current[:] = read
        return ca_bundle([fresh.ca_crt, *old, *read], now=now)

    updated = update_ca_bundle(apis, target.webhook_config, merged, attempts) == "updated"
    return updated, ca_bundle([*old, *current], now=now, exclude=[fresh.ca_crt])
