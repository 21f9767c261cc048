"""Defaults for a webhook that fails closed: autoscaling, priority, and who owns caBundle."""

from __future__ import annotations

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.chart.rendering import (
    CASE_IDS,
    CASES,
    CI_DIR,
    SCHEMA_VERSIONS,
    Renderer,
    Scenario,
    helm_run,
    kinds,
    one,
    template_args,
)

FULLNAME = "dw-downward-webhook"
HPA_ON = ("autoscaling.enabled=true",)


def test_autoscaling_is_off_by_default_and_the_deployment_sets_replicas(chart: Renderer) -> None:
    docs = chart.docs()

    assert kinds(docs, "HorizontalPodAutoscaler") == []
    assert one(docs, "Deployment")["spec"]["replicas"] == 2


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_autoscaling_renders_a_valid_v2_cpu_autoscaler_and_drops_replicas(
    chart: Renderer, version: str
) -> None:
    docs = chart.docs(kube_version=version, sets=HPA_ON)

    hpa = one(docs, "HorizontalPodAutoscaler", FULLNAME)
    kubernetes_validate.validate(hpa, version, strict=True)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": one(docs, "Deployment")["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]
    assert "replicas" not in one(docs, "Deployment")["spec"]


def test_autoscaling_values_reach_the_autoscaler(chart: Renderer) -> None:
    docs = chart.docs(CI_DIR / "autoscaling-values.yaml", "1.35")

    spec = one(docs, "HorizontalPodAutoscaler")["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 8)
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


def test_a_minimum_above_the_maximum_fails_with_one_message(helm: str) -> None:
    sets = (*HPA_ON, "autoscaling.minReplicas=6", "autoscaling.maxReplicas=3")
    result = helm_run(helm, *template_args(sets=sets))

    assert result.returncode != 0
    assert "autoscaling.minReplicas must not be above autoscaling.maxReplicas" in result.stderr


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_the_server_pods_get_the_charts_own_priority_class_by_default(
    chart: Renderer, version: str
) -> None:
    docs = chart.docs(kube_version=version)

    priority = one(docs, "PriorityClass", f"{FULLNAME}-critical")
    kubernetes_validate.validate(priority, version, strict=True)
    assert priority["value"] == 1000000
    assert priority["globalDefault"] is False
    assert priority["preemptionPolicy"] == "PreemptLowerPriority"
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == f"{FULLNAME}-critical"


def test_a_named_priority_class_is_used_as_is_and_none_is_created(chart: Renderer) -> None:
    docs = chart.docs(CI_DIR / "overrides-values.yaml", "1.35")

    assert kinds(docs, "PriorityClass") == []
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == "system-cluster-critical"


def test_without_the_charts_priority_class_the_cluster_default_applies(chart: Renderer) -> None:
    docs = chart.docs(sets=("priorityClass.create=false",))

    assert kinds(docs, "PriorityClass") == []
    assert "priorityClassName" not in one(docs, "Deployment")["spec"]["template"]["spec"]


def test_drop_old_cas_reaches_both_certificate_containers(chart: Renderer) -> None:
    on = chart.docs(CI_DIR / "autoscaling-values.yaml", "1.35")
    off = chart.docs()

    init = one(on, "Deployment")["spec"]["template"]["spec"]["initContainers"][0]
    job = one(on, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert "--drop-old-cas" in init["args"] and "--drop-old-cas" in job["args"]
    off_init = one(off, "Deployment")["spec"]["template"]["spec"]["initContainers"][0]
    assert "--drop-old-cas" not in off_init["args"]


@pytest.mark.parametrize(("scenario", "kube_version"), CASES, ids=CASE_IDS)
def test_the_chart_renders_ca_bundle_only_in_provided_mode(
    chart: Renderer, scenario: Scenario, kube_version: str
) -> None:
    """Elsewhere `certs ensure` or cert-manager owns the field; the chart must not fight it."""
    docs = chart.scenario(scenario, kube_version)
    provided = scenario.name == "provided"

    for entry in one(docs, "MutatingWebhookConfiguration")["webhooks"]:
        assert ("caBundle" in entry["clientConfig"]) is provided, entry["name"]
