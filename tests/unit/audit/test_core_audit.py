"""The audit's decision (``webhook.core.audit.assess``), pure: pods in, reasons out."""

from __future__ import annotations

import pytest

from tests.unit.audit.pods import Obj, injected, pod
from webhook.core.admission import Settings
from webhook.core.audit import (
    INCOMPLETE,
    NOT_INJECTED,
    STALE,
    AuditSettings,
    Verdict,
    assess,
)
from webhook.core.review import pod_from_object

PLAIN = AuditSettings()
DEFAULTS = AuditSettings(Settings(namespace_default_inject="env"), namespace_defaults=True)


def verdict(obj: Obj, settings: AuditSettings = PLAIN, labelled: bool = False) -> Verdict | None:
    return assess(pod_from_object(obj), settings, labelled=labelled)


def test_an_annotated_pod_the_webhook_never_saw_is_not_injected_and_incomplete() -> None:
    found = verdict(pod("a", annotations={"downward.io/inject": "env,volume"}))

    assert found == Verdict((NOT_INJECTED, INCOMPLETE), ("env", "volume"), None)


def test_a_pod_the_webhook_injected_needs_nothing() -> None:
    obj = injected(pod("a", annotations={"downward.io/inject": "env,volume"}))
    assert obj["metadata"]["annotations"]["downward.io/injected"] == "env,volume"

    assert verdict(obj) is None


def test_a_pod_recorded_as_none_that_would_get_nothing_needs_nothing() -> None:
    # An unknown mode: nothing applies, the webhook writes "none" and a finding says why.
    obj = pod("a", annotations={"downward.io/inject": "envv", "downward.io/injected": "none"})

    assert verdict(obj) is None


def test_a_pod_whose_annotation_now_asks_for_more_is_incomplete() -> None:
    obj = injected(pod("a", annotations={"downward.io/inject": "env"}))
    obj["metadata"]["annotations"]["downward.io/inject"] = "env,volume"

    assert verdict(obj) == Verdict((INCOMPLETE,), ("env", "volume"), "env")


def test_a_pod_whose_injected_lists_a_mode_no_longer_asked_for_is_stale() -> None:
    obj = injected(pod("a", annotations={"downward.io/inject": "env,volume"}))
    obj["metadata"]["annotations"]["downward.io/inject"] = "env"

    assert verdict(obj) == Verdict((STALE,), ("env",), "env,volume")


def test_a_pod_that_now_opts_out_but_was_injected_is_stale() -> None:
    obj = injected(pod("a", annotations={"downward.io/inject": "env"}))
    obj["metadata"]["annotations"]["downward.io/inject"] = " None "

    assert verdict(obj) == Verdict((STALE,), (), "env")


@pytest.mark.parametrize("value", ["none", " FALSE ", "none,env"])
def test_a_pod_that_opts_out_needs_nothing(value: str) -> None:
    assert verdict(pod("a", annotations={"downward.io/inject": value})) is None


def test_a_pod_without_annotations_needs_nothing_without_namespace_defaults() -> None:
    assert verdict(pod("a"), PLAIN, labelled=True) is None


def test_namespace_defaults_make_a_bare_pod_in_a_labelled_namespace_ask() -> None:
    found = verdict(pod("a"), DEFAULTS, labelled=True)

    assert found == Verdict((NOT_INJECTED, INCOMPLETE), ("env",), None)


def test_namespace_defaults_ignore_an_unlabelled_namespace() -> None:
    assert verdict(pod("a"), DEFAULTS, labelled=False) is None


def test_a_pod_injected_by_the_namespace_default_needs_nothing() -> None:
    obj = injected(pod("a"), default="env")

    assert verdict(obj, DEFAULTS, labelled=True) is None


def test_a_mirror_pod_needs_nothing() -> None:
    annotations = {"downward.io/inject": "env", "kubernetes.io/config.mirror": "abc"}

    assert verdict(pod("a", annotations=annotations)) is None


def test_strict_mode_does_not_hide_what_is_missing() -> None:
    settings = AuditSettings(Settings(strict=True))
    obj = pod("a", annotations={"downward.io/inject": "env", "downward.io/env-prefix": "9"})

    found = verdict(obj, settings)

    assert found is not None and found.reasons == (NOT_INJECTED, INCOMPLETE)
