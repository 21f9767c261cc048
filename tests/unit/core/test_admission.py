"""``webhook.core.admission``: ``mutate`` decides for one pod, ``admit`` answers one review."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import jsonpatch
import pytest

from tests.support.reviews import admission_review
from webhook.core.admission import MIRROR_ANNOTATION, Decision, Settings, admit, mutate
from webhook.core.keys import INJECT
from webhook.core.reasons import Reason
from webhook.core.review import BadReview, pod_from_object

STRICT = Settings(strict=True)
DEFAULT = Settings()


def _pod(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "nginx",
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
    }
    metadata: dict[str, Any] = {"generateName": "web-", "namespace": "team-a"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [container], **spec},
    }


def _mutate(pod: dict[str, Any], settings: Settings = DEFAULT, **kw: Any) -> Decision:
    return mutate(pod_from_object(pod), settings, **kw)


def _admit(review: dict[str, Any], settings: Settings = DEFAULT, **kw: Any) -> dict[str, Any]:
    body, _request, _decision = admit(json.dumps(review).encode(), settings, **kw)
    response: dict[str, Any] = json.loads(body)
    return response


def test_an_annotated_pod_is_injected_with_the_modes_it_got() -> None:
    decision = _mutate(_pod({INJECT: "volume,env"}))
    assert decision.outcome == "injected"
    assert decision.modes == ("env", "volume")
    assert decision.patch


def test_a_pod_without_the_annotation_is_ignored_unless_the_namespace_defaults() -> None:
    assert _mutate(_pod()).outcome == "ignored"
    assert _mutate(_pod({"team": "a"})).outcome == "ignored"
    defaulted = _mutate(_pod(), default_inject="env")
    assert (defaulted.outcome, defaulted.modes) == ("injected", ("env",))


@pytest.mark.parametrize("value", ["none", "false", "FALSE", " None "])
def test_opting_out_is_ignored_also_against_a_namespace_default(value: str) -> None:
    decision = _mutate(_pod({INJECT: value}), default_inject="env,volume")
    assert (decision.outcome, decision.findings, decision.warnings) == ("ignored", (), [])


def test_opting_out_mixed_with_modes_is_an_opt_out_with_a_warning() -> None:
    decision = _mutate(_pod({INJECT: "env,none"}))
    assert decision.outcome == "ignored"
    assert decision.warnings == [
        'downward.io/inject: "none" mixed with other modes; treated as opt-out'
    ]


def test_a_mirror_pod_is_ignored_whatever_it_asks_for() -> None:
    pod = _pod({INJECT: "sidecar", MIRROR_ANNOTATION: "abc"})
    for settings in (Settings(), STRICT):
        decision = _mutate(pod, settings, default_inject="env")
        assert (decision.outcome, decision.findings) == ("ignored", ())


def test_strict_mode_denies_a_bad_annotation_naming_the_problem_alone() -> None:
    decision = _mutate(_pod({INJECT: "env,sidecar"}), STRICT)
    assert decision.outcome == "denied"
    assert decision.denial == (
        'downward-webhook (strict mode): downward.io/inject: unknown mode "sidecar" '
        "(use env, volume, ambassador, all or none)"
    )
    assert decision.warnings == []
    assert not decision.patch


def test_strict_mode_denies_what_the_plan_finds_invalid_and_warns_its_notices() -> None:
    pod = _pod({INJECT: "env", "downward.io/containers": "x,app"})
    pod["spec"]["containers"][0]["resources"] = {}
    decision = _mutate(pod, STRICT)
    assert decision.outcome == "denied"
    assert decision.denial == (
        'downward-webhook (strict mode): downward.io/containers: no container named "x"'
    )
    assert [f.reason for f in decision.findings if not f.invalid] == [Reason.NO_LIMIT]
    assert decision.warnings == [decision.findings[-1].message]
    assert not decision.patch


def test_strict_mode_names_every_bad_annotation_in_one_sentence() -> None:
    pod = _pod({INJECT: "env", "downward.io/cpu-divisor": "2m", "downward.io/volume-mode": "9"})
    assert _mutate(pod, STRICT).denial == (
        "downward-webhook (strict mode): "
        'downward.io/cpu-divisor: "2m" is not 1m or 1; '
        'downward.io/volume-mode: "9" is not an octal mode 0000-0777'
    )


def test_without_strict_mode_the_same_pod_is_injected_with_warnings() -> None:
    decision = _mutate(_pod({INJECT: "env", "downward.io/cpu-divisor": "2m"}))
    assert decision.outcome == "injected"
    assert decision.denial is None
    assert decision.warnings == ['downward.io/cpu-divisor: "2m" is not 1m or 1; using 1m']


def test_strict_mode_allows_notices() -> None:
    decision = _mutate(_pod({INJECT: "ambassador"}, hostNetwork=True), STRICT)
    assert decision.outcome == "unchanged"
    assert [f.reason for f in decision.findings] == [Reason.AMBASSADOR_HOST_NETWORK]


def test_a_pod_injected_before_is_unchanged() -> None:
    pod = _pod({INJECT: "env,volume"})
    first = _mutate(pod)
    patched = jsonpatch.apply_patch(pod, copy.deepcopy(first.patch.operations))
    again = _mutate(patched)
    assert (again.outcome, again.patch.operations, again.findings) == ("unchanged", [], ())
    assert again.modes == first.modes == ("env", "volume")


# admit: bytes in, bytes out.


def test_admit_echoes_uid_and_api_version_and_encodes_the_patch() -> None:
    review = admission_review(
        _pod({INJECT: "env"}), uid="u-1", api_version="admission.k8s.io/v1beta1"
    )
    answer = _admit(review)
    assert answer["apiVersion"] == "admission.k8s.io/v1beta1"
    response = answer["response"]
    assert (response["uid"], response["allowed"], response["patchType"]) == (
        "u-1",
        True,
        "JSONPatch",
    )
    ops = json.loads(base64.b64decode(response["patch"]))
    path = "/metadata/annotations/downward.io~1injected"
    assert ops[0] == {"op": "add", "path": path, "value": "env"}


def test_admit_uses_the_namespace_default_only_on_that_endpoint() -> None:
    review = admission_review(_pod())
    assert "patch" not in _admit(review, Settings(namespace_default_inject="env"))["response"]
    response = _admit(review, Settings(namespace_default_inject="env"), namespace_default=True)
    assert "patch" in response["response"]


def test_admit_denies_with_a_forbidden_status_in_strict_mode() -> None:
    response = _admit(admission_review(_pod({INJECT: "evn"})), STRICT)["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["message"].startswith("downward-webhook (strict mode): ")
    assert "patch" not in response


@pytest.mark.parametrize(
    ("operation", "sub_resource"), [("UPDATE", None), ("DELETE", None), ("CREATE", "binding")]
)
def test_admit_allows_what_it_does_not_mutate_unchanged(
    operation: str, sub_resource: str | None
) -> None:
    review = admission_review(_pod({INJECT: "env"}), operation=operation, sub_resource=sub_resource)
    body, _request, decision = admit(json.dumps(review).encode(), Settings())
    assert decision.outcome == "ignored"
    response = json.loads(body)["response"]
    assert response["allowed"] is True and "patch" not in response


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"kind": "AdmissionReview"}'])
def test_admit_raises_bad_review_for_what_is_no_review(body: bytes) -> None:
    with pytest.raises(BadReview):
        admit(body, Settings())
