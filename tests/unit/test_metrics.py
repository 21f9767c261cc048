"""The admission metrics: plain counters, exported exactly as prometheus_client's own would be."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from webhook.server.metrics import _BUCKETS, Metrics


def _samples(text: bytes, prefix: str) -> list[str]:
    return [
        line
        for line in text.decode().splitlines()
        if line.startswith(prefix) and "_created" not in line
    ]


def test_latency_histogram_matches_prometheus_client() -> None:
    ours = Metrics()
    registry = CollectorRegistry()
    theirs = Histogram(
        "downward_admission_duration_seconds",
        "Time to answer an admission request, body read to response.",
        ["endpoint"],
        buckets=_BUCKETS,
        registry=registry,
    )
    rng = random.Random(7)
    values = [*_BUCKETS, 0.0, 2.0, *(rng.uniform(0, 0.3) for _ in range(500))]
    for value in values:
        ours.count("mutate", "injected", value)
        theirs.labels("mutate").observe(value)
    theirs.labels("namespace-default")
    name = "downward_admission_duration_seconds"
    samples = _samples(ours.render(), name)
    assert len(samples) == 2 * (len(_BUCKETS) + 3)  # buckets, +Inf, count, sum; per endpoint
    assert samples == _samples(generate_latest(registry), name)


def test_counters_match_prometheus_client() -> None:
    ours = Metrics()
    registry = CollectorRegistry()
    theirs = Counter(
        "downward_injections", "Pods injected, by mode applied.", ["mode"], registry=registry
    )
    for mode, times in (("env", 3), ("volume", 1), ("ambassador", 0)):
        ours.injections[mode] += times
        theirs.labels(mode).inc(times)
    name = "downward_injections_total"
    samples = _samples(ours.render(), name)
    assert len(samples) == 3
    assert samples == _samples(generate_latest(registry), name)


def test_every_outcome_and_endpoint_is_exported_from_zero() -> None:
    text = Metrics().render().decode()
    assert 'downward_admission_requests_total{endpoint="mutate",outcome="timeout"} 0.0' in text
    assert 'downward_warnings_total{reason="unknown-mode"} 0.0' in text
