"""Prometheus metrics: requests by outcome, latency, injections by mode, warnings, cert expiry.

The admission counters are plain ints, counted by the hot path in the event loop's thread;
``prometheus_client`` turns them into metric families when ``/metrics`` is scraped (a custom
collector, the library's documented way to export values it does not own). Its own
``Counter`` and ``Histogram`` take a lock per update, which cost about 1.5 µs per review for
no use here: the event loop is the only writer, and the scrape runs in that same loop.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from webhook.core.keys import MODES
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


class Latency:
    """One histogram child: a count per bucket (not cumulative) and the sum of observations."""

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        # ``le`` buckets: a value equal to a bound belongs to that bound's bucket.
        self.counts[bisect_left(_BUCKETS, seconds)] += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        bounds = [*map(floatToGoString, _BUCKETS), "+Inf"]
        total, out = 0, []
        for bound, count in zip(bounds, self.counts, strict=True):
            total += count
            out.append((bound, float(total)))
        return out


class Metrics(Collector):
    """One registry per server (tests get their own)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = dict.fromkeys(((e, o) for e in ENDPOINTS for o in OUTCOMES), 0)
        self.latency = {e: Latency() for e in ENDPOINTS}
        self.injections = dict.fromkeys(MODES, 0)
        self.warnings = dict.fromkeys((r.code for r in Reason), 0)
        self.registry.register(self)
        self.cert_expiry = Gauge(
            "downward_certificate_expiry_timestamp_seconds",
            "notAfter of the serving certificate, as a Unix time.",
            registry=self.registry,
        )

    def count(self, endpoint: str, outcome: str, seconds: float) -> None:
        self.requests[endpoint, outcome] += 1
        self.latency[endpoint].observe(seconds)

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "downward_admission_requests",
            "Admission requests by outcome.",
            labels=["endpoint", "outcome"],
        )
        for (endpoint, outcome), value in self.requests.items():
            requests.add_metric([endpoint, outcome], value)
        yield requests
        latency = HistogramMetricFamily(
            "downward_admission_duration_seconds",
            "Time to answer an admission request, body read to response.",
            labels=["endpoint"],
        )
        for endpoint, child in self.latency.items():
            latency.add_metric([endpoint], child.cumulative(), child.sum)
        yield latency
        injections = CounterMetricFamily(
            "downward_injections", "Pods injected, by mode applied.", labels=["mode"]
        )
        for mode, value in self.injections.items():
            injections.add_metric([mode], value)
        yield injections
        warnings = CounterMetricFamily(
            "downward_warnings", "Warnings and denials, by reason code.", labels=["reason"]
        )
        for code, value in self.warnings.items():
            warnings.add_metric([code], value)
        yield warnings

    def render(self) -> bytes:
        return generate_latest(self.registry)
