"""The injection guarantee: the ValidatingAdmissionPolicy's real CEL, evaluated on pods.

The expressions are read from the chart as the real `helm template` renders it and evaluated
with cel-python (``celpy``), applying them the way the API server applies a policy: every
``matchCondition`` true, then every ``validation`` true, else the pod is denied. celpy has
no Kubernetes string extension, so the three functions the policy uses are registered here
with cel-go's semantics (``ext/strings.go``): ``split`` (Go's ``strings.Split``), ``trim``
(Go's ``strings.TrimSpace``: Unicode white space) and ``lowerAscii`` (only A-Z change).
``has()``, ``in``, ``exists`` and ``[]`` are celpy's own. The real API server's word is
still needed for type checking; docs/guarantee.md shows how to see it on a cluster.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import celpy  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from celpy import celtypes

from tests.chart.rendering import NAMESPACE, ROOT, Doc, Renderer, kinds, one
from webhook.core.parsers import parse_modes
from webhook.core.reasons import Finding

POLICY = "ValidatingAdmissionPolicy"
BINDING = "ValidatingAdmissionPolicyBinding"
NS_DEFAULTS = ("namespaceDefaults.enabled=true",)

# Go's unicode.IsSpace, which strings.TrimSpace uses (Python's str.strip() also strips
# U+001C..U+001F, which Go does not).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
_GO_SPACE += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _split(text: celtypes.StringType, sep: celtypes.StringType) -> celtypes.ListType:
    return celtypes.ListType([celtypes.StringType(part) for part in str(text).split(str(sep))])


def _trim(text: celtypes.StringType) -> celtypes.StringType:
    return celtypes.StringType(str(text).strip(_GO_SPACE))


def _lower_ascii(text: celtypes.StringType) -> celtypes.StringType:
    upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return celtypes.StringType(str(text).translate(str.maketrans(upper, upper.lower())))


_FUNCTIONS = {"split": _split, "trim": _trim, "lowerAscii": _lower_ascii}
_ENV = celpy.Environment()


def evaluate(expression: str, pod: Doc, namespace: Doc) -> bool:
    program = _ENV.program(_ENV.compile(expression), functions=_FUNCTIONS)
    result = program.evaluate(
        {"object": celpy.json_to_cel(pod), "namespaceObject": celpy.json_to_cel(namespace)}
    )
    assert isinstance(result, celtypes.BoolType), f"{expression!r} gave {result!r}"
    return bool(result)


def admitted(policy: Doc, pod: Doc, namespace: Doc) -> bool:
    """What the API server decides: out of scope (a condition false) or every validation true."""
    spec = policy["spec"]
    if not all(evaluate(c["expression"], pod, namespace) for c in spec["matchConditions"]):
        return True
    return all(evaluate(v["expression"], pod, namespace) for v in spec["validations"])


def pod(annotations: dict[str, str] | None = None) -> Doc:
    metadata: dict[str, Any] = {"generateName": "web-", "namespace": "apps"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {"containers": []}}


def namespace(labelled: bool) -> Doc:
    labels = {"kubernetes.io/metadata.name": "apps"}
    if labelled:
        labels["downward.io/inject"] = "enabled"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps", "labels": labels}}


INJECTED = {"downward.io/injected": "env"}
# (case, pod annotations, namespace labelled, namespace defaults on, admitted)
CASES = [
    ("annotated, not injected", {"downward.io/inject": "env"}, False, False, False),
    ("annotated all, not injected", {"downward.io/inject": "all"}, False, False, False),
    ("annotated, injected", {"downward.io/inject": "env", **INJECTED}, False, False, True),
    (
        "annotated, injected none",
        {"downward.io/inject": "env", "downward.io/injected": "none"},
        False,
        False,
        True,
    ),
    ("bad mode still asks", {"downward.io/inject": "envv"}, False, False, False),
    ("empty value still asks", {"downward.io/inject": " "}, False, False, False),
    ("none", {"downward.io/inject": "none"}, False, False, True),
    ("spaced upper FALSE", {"downward.io/inject": " FALSE "}, False, False, True),
    ("none,env opts out", {"downward.io/inject": "none,env"}, False, False, True),
    ("env, None opts out", {"downward.io/inject": "env, None"}, False, False, True),
    ("no annotations at all", None, False, False, True),
    ("other annotations only", {"a": "b"}, False, False, True),
    ("labelled namespace, defaults on", {}, True, True, False),
    ("labelled namespace, defaults on, no annotations map", None, True, True, False),
    ("labelled namespace, defaults on, injected", dict(INJECTED), True, True, True),
    (
        "labelled namespace, defaults on, opted out",
        {"downward.io/inject": "none"},
        True,
        True,
        True,
    ),
    ("labelled namespace, defaults off", {}, True, False, True),
    ("unlabelled namespace, defaults on", {}, False, True, True),
    (
        "mirror pod",
        {"downward.io/inject": "env", "kubernetes.io/config.mirror": "x"},
        False,
        False,
        True,
    ),
    ("mirror pod, labelled namespace", {"kubernetes.io/config.mirror": "x"}, True, True, True),
]


@pytest.mark.parametrize(
    ("annotations", "labelled", "defaults", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_policy_denies_exactly_the_pods_that_ask_and_were_never_reviewed(
    chart: Renderer,
    annotations: dict[str, str] | None,
    labelled: bool,
    defaults: bool,
    expected: bool,
) -> None:
    sets = NS_DEFAULTS if defaults else ()
    policy = one(chart.docs(kube_version="1.30.0", sets=sets), POLICY)

    assert admitted(policy, pod(annotations), namespace(labelled)) is expected


OPT_OUT_VALUES = [
    "none",
    "false",
    "NONE",
    " False ",
    "none,env",
    "env,none",
    "env, FALSE ,volume",
    "\tnone\n",
    "\xa0none",
    "env",
    "all",
    "",
    " ",
    ",",
    "nonee",
    "no ne",
    "\uff4e\uff4f\uff4e\uff45",  # fullwidth "none": not an opt-out for either
    "env,,volume",
    "none;env",
]


@pytest.mark.parametrize("value", OPT_OUT_VALUES)
def test_policy_and_webhook_agree_on_what_opts_out(chart: Renderer, value: str) -> None:
    policy = one(chart.docs(kube_version="1.30.0"), POLICY)
    (asks,) = [c for c in policy["spec"]["matchConditions"] if c["name"] == "asks-for-injection"]
    findings: list[Finding] = []
    webhook_opts_out = parse_modes(value, findings) is None

    policy_asks = evaluate(asks["expression"], pod({"downward.io/inject": value}), namespace(False))

    assert policy_asks is not webhook_opts_out


@pytest.mark.parametrize("version", ["1.30.0", "1.35.0"])
def test_policy_and_binding_render_for_1_30_and_later_and_validate(
    chart: Renderer, version: str
) -> None:
    docs = chart.docs(kube_version=version)
    policy, binding = one(docs, POLICY), one(docs, BINDING)

    for doc in (policy, binding):
        assert doc["apiVersion"] == "admissionregistration.k8s.io/v1"
        kubernetes_validate.validate(doc, version, strict=True)
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert policy["spec"]["failurePolicy"] == "Fail"
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rules == [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["pods"],
            "operations": ["CREATE"],
            "scope": "Namespaced",
        }
    ]


@pytest.mark.parametrize("version", ["1.27.0", "1.29.0", "1.29.9"])
def test_no_policy_before_kubernetes_1_30(chart: Renderer, version: str) -> None:
    docs = chart.docs(kube_version=version)

    assert kinds(docs, POLICY) == [] and kinds(docs, BINDING) == []


@pytest.mark.parametrize(
    ("value", "version", "rendered"),
    [("false", "1.35.0", False), ("true", "1.30.0", True), ("auto", "1.30.0-gke.1", True)],
)
def test_guarantee_enabled_overrides_the_version_check(
    chart: Renderer, value: str, version: str, rendered: bool
) -> None:
    docs = chart.docs(kube_version=version, sets=(f"guarantee.enabled={value}",))

    assert bool(kinds(docs, POLICY)) is rendered and bool(kinds(docs, BINDING)) is rendered


def test_binding_excludes_the_webhooks_namespaces(chart: Renderer) -> None:
    docs = chart.docs(kube_version="1.35.0", sets=("webhook.excludedNamespaces={kube-system,x}",))
    binding = one(docs, BINDING)
    webhook_entry = one(docs, "MutatingWebhookConfiguration")["webhooks"][0]

    selector = binding["spec"]["matchResources"]["namespaceSelector"]
    assert selector == {"matchExpressions": webhook_entry["namespaceSelector"]["matchExpressions"]}
    assert selector["matchExpressions"][0]["values"] == ["kube-system", "x", NAMESPACE]


def test_denial_message_says_what_happened_and_what_to_check(chart: Renderer) -> None:
    policy = one(chart.docs(kube_version="1.35.0"), POLICY)
    (validation,) = policy["spec"]["validations"]
    message = validation["message"]

    assert "carries no downward.io/injected" in message
    assert "kubectl get mutatingwebhookconfiguration dw-downward-webhook" in message
    assert f"kubectl -n {NAMESPACE} get endpointslices" in message
    assert "namespaceSelector and objectSelector" in message
    assert "\n" not in message


def _json_patches(markdown: str) -> list[list[Doc]]:
    """The JSON patches of the `kubectl patch mutatingwebhookconfiguration` commands."""
    commands = re.findall(
        r"kubectl patch mutatingwebhookconfiguration \S+ --type=json \\\n\s+-p '([^']*)'",
        markdown,
    )
    return [json.loads(command) for command in commands]


def _apply(doc: Doc, patch: list[Doc]) -> Doc:
    """RFC 6902 `replace`, the only operation the procedure uses."""
    result = copy.deepcopy(doc)
    for operation in patch:
        assert operation["op"] == "replace", operation
        *parents, last = operation["path"].lstrip("/").split("/")
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        assert key in node if isinstance(node, dict) else key < len(node), operation
        node[key] = operation["value"]
    return result


def test_the_guarantee_demo_breaks_the_webhook_and_restores_it_exactly(chart: Renderer) -> None:
    """docs/guarantee.md step 3 undoes step 2, without a stale copy that `replace` refuses."""
    markdown = (ROOT / "docs" / "guarantee.md").read_text()
    config = one(chart.docs(kube_version="1.35.0"), "MutatingWebhookConfiguration")
    broken, restored = _json_patches(markdown)

    after_step_2 = _apply(config, broken)
    assert after_step_2["webhooks"][0]["rules"][0]["resources"] != ["pods"]
    assert _apply(after_step_2, restored) == config
    commands = "".join(re.findall(r"```sh\n(.*?)```", markdown, re.S))
    assert "kubectl replace" not in commands and "> /tmp/" not in commands
