"""Properties of ``admit`` over generated pods and annotation values, valid and invalid.

For any pod Kubernetes would accept and any ``downward.io/*`` annotation values (keywords,
near-misses and arbitrary text, unicode and control characters included), the webhook answers
a valid AdmissionReview whose patch applies, only adds, yields a pod that passes Kubernetes'
validation rules, is idempotent, and whose warnings are single printable ASCII lines.

The hypothesis loop applies patches with the ``jsonpatch`` library (fast); a bounded sample
is applied with the real ``kubectl patch`` (evanphx/json-patch, the API server's library).
Budget and seed come from the ``HYPOTHESIS_PROFILE`` (see ``conftest.py``).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import string
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.kube import (
    answer,
    kubectl_patch,
    schema_errors,
    validation_errors,
)
from tests.support.reviews import admission_review
from webhook.core.admission import Settings
from webhook.core.ambassador import AmbassadorSettings
from webhook.core.keys import INJECTED, WARNINGS

JSON = dict[str, Any]

# --- generated pods ---------------------------------------------------------------------------

_OUR_ENV = ["POD_NAME", "POD_NAMESPACE", "NODE_NAME", "CPU_LIMIT_MILLICORES", "KUBERNETES_API_URL"]
_CONTAINER_NAMES = ["app", "web", "sidecar", "worker", "downward-ambassador", "init-db", "a"]
_VOLUME_NAMES = ["data", "downward-podinfo", "downward-ambassador-tmp", "downward-ambassador-token"]
_PATHS = ["/etc/podinfo", "/etc/podinfo/", "/data", "/var/run/secrets/kubernetes.io/serviceaccount"]
_LABEL_KEYS = ["app", "app.kubernetes.io/name", "a-b_c.d", "x.y/Z_9", "team", "1abc"]

_text = st.text(max_size=40)
_weird_text = st.text(
    st.characters(codec=None, exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(["\x00", "\n", "\r\n", "\t", "\x1b[31m", "é", "日本", "\u202e", " ", ""])


def _env_var(name: str) -> st.SearchStrategy[JSON]:
    plain = st.builds(lambda v: {"name": name, "value": v}, _text)
    reference = st.sampled_from(["$(POD_NAME)", "$(POD_NAMESPACE)-x", "$$(POD_NAME)", "$(NOPE)"])
    ref = st.builds(lambda v: {"name": name, "value": v}, reference)
    field = st.sampled_from(["metadata.name", "spec.nodeName"]).map(
        lambda p: {"name": name, "valueFrom": {"fieldRef": {"fieldPath": p}}}
    )
    secret = st.just({"name": name, "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}})
    return plain | ref | field | secret


@st.composite
def _container(draw: st.DrawFn, name: str, volumes: list[str]) -> JSON:
    c: JSON = {"name": name, "image": "nginx:1.27"}
    env_names = draw(
        st.lists(st.sampled_from([*_OUR_ENV, "MY_VAR", "POD_IP", "X"]), unique=True, max_size=4)
    )
    if env_names or draw(st.booleans()):
        c["env"] = [draw(_env_var(n)) for n in env_names]
    if volumes and draw(st.booleans()):
        paths = draw(
            st.lists(st.sampled_from(_PATHS), unique_by=lambda p: p.rstrip("/"), max_size=2)
        )
        c["volumeMounts"] = [
            {"name": draw(st.sampled_from(volumes)), "mountPath": p} for p in paths
        ]
    if draw(st.booleans()):
        port = draw(st.sampled_from([80, 8001, 8080, 9000]))
        c["ports"] = [{"containerPort": port, "protocol": draw(st.sampled_from(["TCP", "UDP"]))}]
    if draw(st.booleans()):
        c["resources"] = (
            {"limits": {"cpu": "500m", "memory": "128Mi"}}
            if draw(st.booleans())
            else {"requests": {"cpu": "10m"}}
        )
    return c


@st.composite
def pods(draw: st.DrawFn) -> JSON:
    """A pod Kubernetes accepts, with parts that collide with what the webhook adds."""
    volume_names = draw(st.lists(st.sampled_from(_VOLUME_NAMES), unique=True, max_size=3))
    names = draw(st.lists(st.sampled_from(_CONTAINER_NAMES), unique=True, min_size=1, max_size=4))
    split = draw(st.integers(1, len(names)))
    spec: JSON = {
        "containers": [draw(_container(n, volume_names)) for n in names[:split]],
    }
    if names[split:]:
        spec["initContainers"] = [draw(_container(n, volume_names)) for n in names[split:]]
    if volume_names:
        spec["volumes"] = [{"name": v, "emptyDir": {}} for v in volume_names]
    if draw(st.booleans()):
        spec["hostNetwork"] = True
    spec.update(draw(_placement()))
    if draw(st.booleans()):
        spec["restartPolicy"] = draw(st.sampled_from(["Always", "OnFailure", "Never"]))
    if draw(st.booleans()):
        spec["automountServiceAccountToken"] = draw(st.booleans())
    metadata: JSON = {"namespace": "team-a"}
    if draw(st.booleans()):
        metadata["generateName"] = "web-7d9f8-"
    else:
        metadata["name"] = "web"
        metadata["uid"] = "0b7e4b1e-9c1d-4a57-a8b1-8e7e0c2f1d11"
    labels = draw(
        st.dictionaries(st.sampled_from(_LABEL_KEYS), st.sampled_from(["x", "", "v1"]), max_size=3)
    )
    if labels:
        metadata["labels"] = labels
    annotations = draw(_annotations(names))
    if annotations or draw(st.booleans()):
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


_OS = "kubernetes.io/os"


def _os_term(draw: st.DrawFn) -> JSON:
    operator = draw(st.sampled_from(["In", "NotIn", "Exists"]))
    values = (
        []
        if operator == "Exists"
        else draw(st.lists(st.sampled_from(["linux", "windows"]), unique=True, min_size=1))
    )
    expression: JSON = {"key": _OS, "operator": operator}
    if values:
        expression["values"] = values
    return {"matchExpressions": [expression]}


@st.composite
def _placement(draw: st.DrawFn) -> JSON:
    """Where the pod may run: ``spec.os``, a ``nodeSelector``, required node affinity terms
    (ORed; each a ``kubernetes.io/os`` requirement), or nothing (most pods)."""
    spec: JSON = {}
    if draw(st.integers(0, 3)) == 0:
        spec["os"] = {"name": draw(st.sampled_from(["linux", "windows"]))}
    if draw(st.integers(0, 3)) == 0:
        spec["nodeSelector"] = {_OS: draw(st.sampled_from(["linux", "windows"])), "disk": "ssd"}
    if draw(st.integers(0, 3)) == 0:
        terms = [_os_term(draw) for _ in range(draw(st.integers(1, 3)))]
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
            }
        }
    return spec


def _keywords(words: list[str]) -> st.SearchStrategy[str]:
    """Comma lists of keywords with stray case, spaces and empty items."""
    word = st.sampled_from(words) | st.sampled_from(words).map(str.upper)
    return st.lists(word, max_size=4).map(lambda ws: ", ".join(ws)) | st.lists(word).map(",".join)


_VALUES: dict[str, list[str]] = {
    "inject": ["env", "volume", "ambassador", "all", "none", "false", "Env", " env ", "bogus"],
    "env-prefix": ["APP_", "my.", "-x", "1BAD", "A B", "..", "..x", "..APP_", ".", "a=b", "A" * 65],
    "env-fields": [
        "name",
        "namespace",
        "uid",
        "podIP",
        "podIPs",
        "node",
        "hostIP",
        "hostIPs",
        "serviceAccount",
        "cpuRequest",
        "cpuLimit",
        "memoryRequest",
        "memoryLimit",
        "ephemeralStorageRequest",
        "ephemeralStorageLimit",
        "default",
        "label:app",
        "label:app.kubernetes.io/name",
        "annotation:team",
        "label:a-b_c.d",
        "label:bad key",
        "annotation:",
        "nope",
    ],
    "cpu-divisor": ["1m", "1", "2", "1k", " 1m "],
    "memory-divisor": ["1", "1Ki", "1Mi", "1Gi", "1k", "1M", "1G", "1Ti", "1m"],
    "volume-path": ["/etc/podinfo", "/data", "/podinfo/", "/", "//x", "/a/../b", "rel", "/x\n"],
    "volume-mode": ["0644", "644", "0o600", "0777", "0800", "1000", "abc"],
    "ambassador-port": ["8001", "9000", "80", "65535", "65536", "0x10", "-1"],
    "ambassador-image": [
        "registry.k8s.io/kubectl:v1.35.0",
        "bitnami/kubectl",
        "Bad Image",
        "r.example:5000/k@sha256:" + "a" * 64,
    ],
    "ambassador-read-only": ["true", "false", "TRUE", "yes", ""],
    "injected": ["env", "volume", "env,volume", "ambassador", "junk"],
}


@st.composite
def _annotations(draw: st.DrawFn, containers: list[str]) -> dict[str, str]:
    annotations: dict[str, str] = {}
    for key, words in _VALUES.items():
        if draw(st.integers(0, 2)) and key != "inject":
            continue
        if key == "inject":
            mode = st.sampled_from(["env", "volume", "ambassador", "all", " Env", "VOLUME "])
            modes = st.lists(mode, min_size=1, max_size=3).map(", ".join)
            value = draw(modes | modes | _keywords(words) | _weird_text)
        elif key == "env-fields":
            value = draw(_keywords(words) | _weird_text)
        else:
            value = draw(st.sampled_from(words) | st.sampled_from(words) | _weird_text)
        annotations["downward.io/" + key] = value
    if draw(st.booleans()):
        targets = draw(st.lists(st.sampled_from([*containers, "ghost", " app "]), max_size=3))
        annotations["downward.io/containers"] = draw(st.just(",".join(targets)) | _weird_text)
    if draw(st.integers(0, 4)) == 2:
        annotations["downward.io/unknown"] = draw(_weird_text)
    if draw(st.integers(0, 4)) == 0:
        annotations["team"] = draw(_weird_text)
    # Rare cases compare with a middle value: hypothesis draws the bounds (0, max) far more
    # often than their share.
    if draw(st.integers(0, 9)) == 7:
        del annotations["downward.io/inject"]
    if draw(st.integers(0, 19)) == 7:
        annotations["kubernetes.io/config.mirror"] = "abc"
    return annotations


server_settings = st.builds(
    lambda strict, native, cap: Settings(
        strict=strict, ambassador=AmbassadorSettings(native_sidecar=native), max_containers=cap
    ),
    st.sampled_from([False, False, False, True]),
    st.booleans(),
    st.sampled_from([100, 100, 100, 2, 3]),  # a low cap: some pods (up to 4 containers) over it
)
reviews = st.tuples(
    pods(),
    server_settings,
    st.sampled_from(["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]),
    st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=64),
    st.booleans(),
)

# --- properties -----------------------------------------------------------------------------

CASES = {
    "generated": 0,
    "injected": 0,
    "kubectl": 0,
    "windows": 0,
    "job": 0,
    "over-cap": 0,
    "bad-prefix": 0,
    "capped-warnings": 0,
}


def _answer(review: JSON, s: Settings, namespace_default: bool) -> JSON:
    result: JSON = answer(review, s, namespace_default=namespace_default)
    return result


def _patch_of(response: JSON) -> list[JSON]:
    if "patch" not in response:
        return []
    assert response["patchType"] == "JSONPatch"
    patch: list[JSON] = json.loads(base64.b64decode(response["patch"]))
    return patch


def _contained(before: Any, after: Any, where: str = "") -> None:
    """Every field of ``before`` is in ``after`` with the same value; lists only gain entries."""
    if isinstance(before, dict):
        assert isinstance(after, dict), where
        for key, value in before.items():
            assert key in after, f"{where}/{key} removed"
            _contained(value, after[key], f"{where}/{key}")
    elif isinstance(before, list):
        assert isinstance(after, list), where
        i = 0
        for item in before:  # before must be a subsequence of after, item by item
            while i < len(after) and not _contains(item, after[i]):
                i += 1
            assert i < len(after), f"{where}: entry {item!r} changed or removed"
            i += 1
    else:
        assert before == after and type(before) is type(after), f"{where} changed"


def _contains(before: Any, after: Any) -> bool:
    try:
        _contained(before, after)
    except AssertionError:
        return False
    return True


def _selects_windows(spec: JSON) -> bool:
    """Restated from the README: declared, by nodeSelector, or by any required term."""
    if spec.get("os", {}).get("name") == "windows":
        return True
    if spec.get("nodeSelector", {}).get(_OS) == "windows":
        return True
    required = spec.get("affinity", {}).get("nodeAffinity", {})
    terms = required.get("requiredDuringSchedulingIgnoredDuringExecution", {})
    for term in terms.get("nodeSelectorTerms", []):
        for e in term["matchExpressions"]:
            values = e.get("values", [])
            if e["operator"] == "In" and "windows" in values:
                return True
            if e["operator"] == "NotIn" and "linux" in values and "windows" not in values:
                return True
    return False


def _check_bounds_and_placement(before: JSON, after: JSON, s: Settings, response: JSON) -> None:
    """The status annotation on every patched pod, capped warnings, no ambassador where it
    cannot run or would keep a Job alive, nothing at all over the container cap."""
    warnings = response.get("warnings", [])
    assert len(warnings) <= 21
    if len(warnings) == 21:
        assert re.fullmatch(r"and [0-9]+ more", warnings[-1])
    annotations = after["metadata"].get("annotations", {})
    if after != before:
        # A pod that asks for injection records the status; one that does not (opted out,
        # a typo'd key) can only get its findings, in downward.io/warnings.
        had = before["metadata"].get("annotations", {})
        assert INJECTED in annotations or (
            after["spec"] == before["spec"] and set(annotations) - set(had) == {WARNINGS}
        )
    if WARNINGS in annotations and WARNINGS not in before["metadata"].get("annotations", {}):
        assert annotations[WARNINGS].split("\n") == warnings
    spec = after["spec"]
    prefix = before["metadata"].get("annotations", {}).get("downward.io/env-prefix", "")
    CASES["bad-prefix"] += prefix.strip().startswith("..")
    CASES["windows"] += _selects_windows(spec)
    CASES["job"] += spec.get("restartPolicy", "Always") != "Always"
    CASES["capped-warnings"] += len(warnings) == 21
    everyone = [c["name"] for c in (*spec["containers"], *spec.get("initContainers", []))]
    added = "downward-ambassador" in everyone and "downward-ambassador" not in [
        c["name"]
        for c in (*before["spec"]["containers"], *before["spec"].get("initContainers", []))
    ]
    if added:
        assert not _selects_windows(spec)
        assert s.ambassador.native_sidecar or spec.get("restartPolicy", "Always") == "Always"
    count = len(before["spec"]["containers"]) + len(before["spec"].get("initContainers", []))
    # Our own ambassador, from an earlier review that says so, is not counted against the cap.
    prior = before["metadata"].get("annotations", {}).get(INJECTED, "")
    if "ambassador" in [m.strip() for m in prior.split(",")]:
        inits = before["spec"].get("initContainers", [])
        count -= before["spec"]["containers"][-1]["name"] == "downward-ambassador"
        count -= bool(inits) and inits[0]["name"] == "downward-ambassador"
    CASES["over-cap"] += count > s.max_containers
    if count > s.max_containers and after != before:
        assert after["spec"] == before["spec"]
        if INJECTED in annotations:  # absent only for a pod that does not ask (see above)
            assert annotations[INJECTED] == before["metadata"].get("annotations", {}).get(
                INJECTED, "none"
            )


def _check_review(pod: JSON, s: Settings, api_version: str, uid: str, ns_default: bool) -> JSON:
    review = admission_review(pod, uid=uid, api_version=api_version)
    answer = _answer(review, s, ns_default)
    assert answer["apiVersion"] == api_version
    assert answer["kind"] == "AdmissionReview"
    assert set(answer) == {"apiVersion", "kind", "response"}
    response = answer["response"]
    assert response["uid"] == uid
    assert isinstance(response["allowed"], bool)
    assert set(response) <= {"uid", "allowed", "patchType", "patch", "warnings", "status"}
    if not response["allowed"]:
        assert s.strict and "patch" not in response
        assert response["status"]["code"] == 403
        assert response["status"]["message"].isprintable()
    for warning in response.get("warnings", []):
        assert isinstance(warning, str) and warning
        assert warning.isascii() and warning.isprintable(), repr(warning)
    return response


@settings()
@given(reviews)
def test_every_generated_pod_gets_a_valid_review_whose_patch_applies_adds_only_and_is_idempotent(
    case: tuple[JSON, Settings, str, str, bool],
) -> None:
    pod, s, api_version, uid, ns_default = case
    CASES["generated"] += 1
    assert validation_errors(pod) == [], "the generator made a pod Kubernetes would refuse"
    original = copy.deepcopy(pod)
    response = _check_review(pod, s, api_version, uid, ns_default)
    assert pod == original, "admit changed its input"
    patch = _patch_of(response)
    assert all(op["op"] == "add" for op in patch)
    mutated = jsonpatch.apply_patch(pod, patch)
    if patch:
        CASES["injected"] += 1
    assert validation_errors(mutated) == []
    _contained(original, mutated)  # our status annotations too: added, never changed
    _check_bounds_and_placement(original, mutated, s, response)
    again = _check_review(mutated, s, api_version, uid, ns_default)
    assert "patch" not in again, f"second review patched again: {_patch_of(again)}"


@settings(max_examples=30, derandomize=True)
@given(reviews)
def test_a_sample_of_generated_patches_applies_with_the_real_kubectl_and_passes_the_schemas(
    case: tuple[JSON, Settings, str, str, bool],
) -> None:
    pod, s, api_version, uid, ns_default = case
    response = _check_review(pod, s, api_version, uid, ns_default)
    patch = _patch_of(response)
    CASES["kubectl"] += 1
    mutated = kubectl_patch(pod, patch)
    assert mutated == jsonpatch.apply_patch(pod, patch)
    assert validation_errors(mutated) == []
    assert schema_errors(mutated) == []


@pytest.fixture(scope="module", autouse=True)
def _report_cases() -> Any:
    yield
    print(f"\nproperty cases: {CASES}")
