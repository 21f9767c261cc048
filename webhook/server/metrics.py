"""Prometheus metrics: requests by outcome, latency, injections by mode, warnings, cert expiry.

Label children are bound once, up front, so the hot path does a dict lookup and an add.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from webhook.core.annotations import MODES
from webhook.core.reasons import Reason

__all__ = ["ENDPOINTS", "OUTCOMES", "Metrics"]

ENDPOINTS = ("mutate", "namespace-default")
OUTCOMES = (
    "injected",
    "unchanged",
    "ignored",
    "denied",
    "bad_request",
    "too_large",
    "timeout",
    "error",
)
_BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    """One registry per server (tests get their own)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        requests = Counter(
            "downward_admission_requests",
            "Admission requests by outcome.",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        latency = Histogram(
            "downward_admission_duration_seconds",
            "Time to answer an admission request, body read to response.",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        injections = Counter(
            "downward_injections",
            "Pods injected, by mode applied.",
            ["mode"],
            registry=self.registry,
        )
        warnings = Counter(
            "downward_warnings",
            "Warnings and denials, by reason code.",
            ["reason"],
            registry=self.registry,
        )
        self.cert_expiry = Gauge(
            "downward_certificate_expiry_timestamp_seconds",
            "notAfter of the serving certificate, as a Unix time.",
            registry=self.registry,
        )
        self.requests = {(e, o): requests.labels(e, o) for e in ENDPOINTS for o in OUTCOMES}
        self.latency = {e: latency.labels(e) for e in ENDPOINTS}
        self.injections = {m: injections.labels(m) for m in MODES}
        self.warnings = {r.code: warnings.labels(r.code) for r in Reason}

    def render(self) -> bytes:
        return generate_latest(self.registry)
