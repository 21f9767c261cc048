"""Typo'd annotation keys are findings that name the key that was meant, with or without inject."""

from __future__ import annotations

import random
import string

import pytest

from webhook.core.admission import Settings, mutate
from webhook.core.annotations import KNOWN_KEYS
from webhook.core.model import Container, ObjectMeta, Pod, PodSpec
from webhook.core.reasons import Reason
from webhook.core.spelling import distance_within, meant, misspelled_keys, near

ALPHABET = string.ascii_lowercase + string.digits + "-./_"


def reference_osa(a: str, b: str) -> int:
    """Optimal string alignment distance, the textbook full table (no shortcuts)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def one_edit(key: str, rng: random.Random) -> str:
    kind = rng.randrange(4)
    i = rng.randrange(len(key))
    if kind == 0:
        return key[:i] + rng.choice(ALPHABET) + key[i + 1 :]
    if kind == 1:
        return key[:i] + key[i + 1 :]
    if kind == 2:
        return key[:i] + rng.choice(ALPHABET) + key[i:]
    i = min(i, len(key) - 2)
    return key[:i] + key[i + 1] + key[i] + key[i + 2 :]


def pod(annotations: dict[str, str]) -> Pod:
    return Pod(
        spec=PodSpec(containers=[Container(name="app")]),
        metadata=ObjectMeta(annotations=annotations),
    )


def test_the_early_exit_distance_agrees_with_the_full_table() -> None:
    rng = random.Random(12)
    for _ in range(3000):
        a = "".join(rng.choice("abcd") for _ in range(rng.randrange(0, 9)))
        b = "".join(rng.choice("abcd") for _ in range(rng.randrange(0, 9)))
        full = reference_osa(a, b)
        assert distance_within(a, b) == (full if full <= 2 else None), (a, b)


def test_every_key_two_edits_away_passes_the_prefilter_and_is_named() -> None:
    rng = random.Random(7)
    for key in sorted(KNOWN_KEYS):
        for _ in range(150):
            typo = one_edit(one_edit(key, rng), rng)
            if rng.random() < 0.3:
                typo = typo.upper()
            assert near(typo), typo  # any two edits, also those OSA counts as three
            if min(reference_osa(typo.lower(), k) for k in KNOWN_KEYS) <= 2:
                assert meant(typo) is not None, typo


def test_every_key_one_edit_away_over_the_whole_alphabet_passes_the_prefilter() -> None:
    for key in sorted(KNOWN_KEYS):
        variants = {key[:i] + key[i + 1 :] for i in range(len(key))}
        for i in range(len(key) + 1):
            for c in ALPHABET:
                variants.add(key[:i] + c + key[i:])
                variants.add(key[:i] + c + key[i + 1 :])
        assert all(near(v) for v in variants)


@pytest.mark.parametrize(
    ("key", "meant_key"),
    [
        ("downward.io/inejct", "downward.io/inject"),
        ("downwrd.io/inject", "downward.io/inject"),
        ("Downward.io/inject", "downward.io/inject"),
        ("downward.io/Inject", "downward.io/inject"),
        ("downward.io/env-prefx", "downward.io/env-prefix"),
        ("downward.io/ambassador-readonly", "downward.io/ambassador-read-only"),
        ("downward-io/containers", "downward.io/containers"),
    ],
)
def test_a_typo_names_the_key_that_was_meant(key: str, meant_key: str) -> None:
    (finding,) = misspelled_keys([key])
    assert finding.reason is Reason.MISSPELLED_ANNOTATION and finding.invalid
    assert finding.message == (f'"{key}": unknown annotation (did you mean {meant_key}?); ignored')


def test_a_key_of_ours_far_from_every_known_key_is_unknown() -> None:
    (finding,) = misspelled_keys(["DOWNWARD.IO/sidecar-image-pull-policy"])
    assert finding.reason is Reason.UNKNOWN_ANNOTATION
    assert finding.message == '"DOWNWARD.IO/sidecar-image-pull-policy": unknown annotation; ignored'


@pytest.mark.parametrize(
    "key",
    [
        "linkerd.io/inject",
        "sidecar.istio.io/inject",
        "prometheus.io/scrape",
        "kubectl.kubernetes.io/restartedAt",
        "kubectl.kubernetes.io/default-container",
        "cluster-autoscaler.kubernetes.io/safe-to-evict",
        "software.example.com/owner",  # passes the prefilter, but is far from every key
        *sorted(KNOWN_KEYS),
    ],
)
def test_other_keys_and_our_own_are_not_findings(key: str) -> None:
    assert misspelled_keys([key]) == []


def test_linkerd_and_istio_keys_do_not_even_reach_the_distance() -> None:
    assert not near("linkerd.io/inject")
    assert not near("sidecar.istio.io/inject")
    assert not near("prometheus.io/path")


def test_a_typo_alone_is_a_warning_and_nothing_is_injected() -> None:
    decision = mutate(pod({"downward.io/inejct": "env"}), Settings())
    message = '"downward.io/inejct": unknown annotation (did you mean downward.io/inject?); ignored'
    assert decision.outcome == "ignored" and decision.modes == ()
    assert decision.warnings == [message]
    # Only the finding goes on the pod (a Deployment's pods: the warning went to the
    # controller), with no status: the pod never asked for injection.
    assert decision.patch.operations == [
        {"op": "add", "path": "/metadata/annotations/downward.io~1warnings", "value": message}
    ]


def test_a_typo_alone_is_denied_in_strict_mode() -> None:
    decision = mutate(pod({"Downward.io/inject": "env"}), Settings(strict=True))
    assert decision.outcome == "denied"
    assert decision.denial == (
        "downward-webhook (strict mode): "
        '"Downward.io/inject": unknown annotation (did you mean downward.io/inject?)'
    )


def test_a_typo_next_to_inject_is_a_warning_and_injection_goes_on() -> None:
    decision = mutate(
        pod({"downward.io/inject": "env", "downward.io/env-prefx": "APP_"}), Settings()
    )
    assert decision.outcome == "injected"
    assert decision.findings[0].reason is Reason.MISSPELLED_ANNOTATION


def test_two_hundred_unrelated_keys_give_no_finding() -> None:
    keys = {f"team{i}.example.com/setting-{i}": "x" for i in range(200)}
    assert misspelled_keys(keys) == []
