"""docs/chart.md on the webhook entries, checked against the rendered chart.

The Flux example's JSON Pointers and the table of entry order ("GitOps", "Flux"), and the
claim of "Namespace-wide injection" that on 1.28+ each pod is sent to at most one entry (the
entries' real namespaceSelector and CEL matchConditions, evaluated with cel-python).
"""

from __future__ import annotations

import re
from typing import Any

import celpy
import pytest
import yaml
from celpy.adapter import json_to_cel

from tests.chart.rendering import ROOT, Doc, Renderer, one

CHART_MD = (ROOT / "docs" / "chart.md").read_text()
NS_DEFAULTS = ("namespaceDefaults.enabled=true",)
# The rows of the entry-order table, and the render each one describes.
ROWS = {
    "defaults, Kubernetes 1.28+": ("1.28", ()),
    "`namespaceDefaults.enabled`, 1.28+": ("1.28", NS_DEFAULTS),
    "defaults, before 1.28": ("1.27", ()),
    "`namespaceDefaults.enabled`, before 1.28": ("1.27", NS_DEFAULTS),
}
RENDERS = [
    *ROWS.values(),
    ("1.35", ()),
    ("1.35", NS_DEFAULTS),
    ("1.35", ("webhook.typoWarnings=false",)),
    ("1.35", ("webhook.matchConditions=false", *NS_DEFAULTS)),
]


def entries(chart: Renderer, kube_version: str, sets: tuple[str, ...]) -> list[Doc]:
    config = one(chart.docs(kube_version=kube_version, sets=sets), "MutatingWebhookConfiguration")
    found: list[Doc] = config["webhooks"]
    return found


def flux_paths() -> list[str]:
    (block,) = [
        b for b in re.findall(r"```yaml\n(.*?)```", CHART_MD, re.S) if "driftDetection" in b
    ]
    release = yaml.safe_load(block)
    (rule,) = release["spec"]["driftDetection"]["ignore"]
    assert rule["target"] == {
        "group": "admissionregistration.k8s.io",
        "kind": "MutatingWebhookConfiguration",
    }
    paths: list[str] = rule["paths"]
    return paths


def order_table() -> dict[str, list[str]]:
    header = "| values | `/webhooks/0` | `/webhooks/1` | `/webhooks/2` |"
    lines = CHART_MD.split(header, 1)[1].strip().splitlines()[1:]
    rows: dict[str, list[str]] = {}
    for line in lines:
        if not line.startswith("|"):
            break
        label, *cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[label] = [cell.strip("`") for cell in cells if cell]
    return rows


@pytest.mark.parametrize(("kube_version", "sets"), RENDERS)
def test_the_flux_example_ignores_the_ca_bundle_of_every_rendered_entry(
    chart: Renderer, kube_version: str, sets: tuple[str, ...]
) -> None:
    paths = flux_paths()
    for index, _ in enumerate(entries(chart, kube_version, sets)):
        assert f"/webhooks/{index}/clientConfig/caBundle" in paths


def test_the_flux_example_lists_no_more_paths_than_the_most_entries(chart: Renderer) -> None:
    most = max(len(entries(chart, version, sets)) for version, sets in RENDERS)
    assert flux_paths() == [f"/webhooks/{i}/clientConfig/caBundle" for i in range(most)]


def test_the_entry_order_table_is_the_rendered_order(chart: Renderer) -> None:
    table = order_table()
    assert set(table) == set(ROWS)
    for label, (kube_version, sets) in ROWS.items():
        assert table[label] == [e["name"] for e in entries(chart, kube_version, sets)], label


# ---- which entries a pod is sent to ----------------------------------------------------------

_ENV = celpy.Environment()
PODS: dict[str, dict[str, str] | None] = {
    "annotated": {"downward.io/inject": "env"},
    "opted out": {"downward.io/inject": "none"},
    "typo key": {"downward.io/inejct": "env"},
    "other annotations": {"team": "shop"},
    "no annotations": None,
}


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        inside = labels.get(expression["key"]) in expression["values"]
        if inside is (expression["operator"] == "NotIn"):
            return False
    return True


def sent_to(entry_list: list[Doc], annotations: dict[str, str] | None, labelled: bool) -> list[str]:
    labels = {"kubernetes.io/metadata.name": "shop"}
    if labelled:
        labels["downward.io/inject"] = "enabled"
    meta: dict[str, Any] = {} if annotations is None else {"annotations": annotations}
    activation = {"object": json_to_cel({"metadata": meta})}
    names = []
    for entry in entry_list:
        conditions = entry.get("matchConditions", [])
        if _selects(entry["namespaceSelector"], labels) and all(
            bool(_ENV.program(_ENV.compile(c["expression"])).evaluate(activation))
            for c in conditions
        ):
            names.append(entry["name"])
    return names


@pytest.mark.parametrize("sets", [(), NS_DEFAULTS], ids=["defaults", "namespace defaults"])
def test_on_1_28_and_later_each_pod_is_sent_to_at_most_one_entry(
    chart: Renderer, sets: tuple[str, ...]
) -> None:
    entry_list = entries(chart, "1.28", sets)
    expected = {
        ("annotated", False): ["inject.downward.io"],
        ("annotated", True): ["inject.downward.io"],
        ("opted out", True): ["inject.downward.io"],
        ("typo key", False): ["spelling.downward.io"],
        ("typo key", True): ["namespace-default.downward.io"] if sets else ["spelling.downward.io"],
        ("no annotations", True): ["namespace-default.downward.io"] if sets else [],
    }
    for pod, pod_annotations in PODS.items():
        for labelled in (False, True):
            names = sent_to(entry_list, pod_annotations, labelled)
            assert len(names) <= 1, (pod, labelled, names)
            if (pod, labelled) in expected:
                assert names == expected[pod, labelled], (pod, labelled)


def test_before_1_28_a_pod_in_a_labelled_namespace_is_sent_to_both_entries(
    chart: Renderer,
) -> None:
    entry_list = entries(chart, "1.27", NS_DEFAULTS)
    both = ["inject.downward.io", "namespace-default.downward.io"]
    assert sent_to(entry_list, None, labelled=True) == both
    assert sent_to(entry_list, None, labelled=False) == ["inject.downward.io"]
