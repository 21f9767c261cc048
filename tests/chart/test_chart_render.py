"""The chart lints, renders byte-stably, and every rendered document is valid Kubernetes."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.chart.rendering import (
    CASE_IDS,
    CASES,
    CHART,
    CI_DIR,
    NAMESPACE,
    SCENARIOS,
    SCHEMA_VERSIONS,
    Doc,
    Renderer,
    Scenario,
    helm_run,
    template_args,
)

# Custom resources: kubernetes-validate only knows built-in kinds, so these are checked here.
CRD_KINDS = {
    ("cert-manager.io/v1", "Certificate"),
    ("cert-manager.io/v1", "Issuer"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}
LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/component",
    "helm.sh/chart",
)
CLUSTER_SCOPED = {
    "ClusterRole",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "PriorityClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}


def scenario_id(scenario: Scenario) -> str:
    return scenario.name


@pytest.mark.parametrize(("scenario", "kube_version"), CASES, ids=CASE_IDS)
def test_helm_lint_strict_passes(helm: str, scenario: Scenario, kube_version: str) -> None:
    args = ["lint", "--strict", str(CHART), "--namespace", NAMESPACE]
    args += ["--kube-version", kube_version]
    if scenario.values_file is not None:
        args += ["--values", str(scenario.values_file)]
    result = helm_run(helm, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout


def test_every_ci_file_is_a_scenario() -> None:
    names = {path.name for path in CI_DIR.iterdir()}
    scenario_files = {s.values_file.name for s in SCENARIOS if s.values_file is not None}
    assert names == scenario_files
    assert {"self-signed", "cert-manager", "provided", "namespace-defaults", "old-cluster"} <= {
        s.name for s in SCENARIOS
    }


def test_old_cluster_scenario_is_rendered_for_kubernetes_1_27() -> None:
    (old,) = [s for s in SCENARIOS if s.name == "old-cluster"]
    assert "1.27" in old.kube_versions
    assert "--kube-version 1.27" in old.values_file.read_text()  # type: ignore[union-attr]


@pytest.mark.parametrize(("scenario", "kube_version"), CASES, ids=CASE_IDS)
def test_every_document_validates_against_kubernetes_schemas(
    chart: Renderer, scenario: Scenario, kube_version: str
) -> None:
    docs = chart.scenario(scenario, kube_version)
    assert docs
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            check_custom_resource(doc)
            continue
        for version in sorted({*SCHEMA_VERSIONS, kube_version}):
            if _version(version) < GA_SINCE.get(doc["kind"], (0, 0)):
                continue  # rendered only for clusters that have the kind
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} on {version}: {path}: {exc}")


# Kinds the chart renders only from the Kubernetes version whose schemas first hold them.
GA_SINCE = {"ValidatingAdmissionPolicy": (1, 30), "ValidatingAdmissionPolicyBinding": (1, 30)}


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def check_custom_resource(doc: Doc) -> None:
    """apiVersion, kind and the fields each CRD's schema requires (cert-manager v1, prom-op v1)."""
    name = f"{doc['kind']}/{doc['metadata'].get('name')}"
    assert doc["metadata"]["name"], name
    assert doc["metadata"]["namespace"], name
    spec = doc["spec"]
    if doc["kind"] == "Certificate":
        assert spec["secretName"], name
        assert spec["issuerRef"]["name"], name
        assert spec["issuerRef"]["kind"] in {"Issuer", "ClusterIssuer"}, name
        assert spec.get("dnsNames") or spec.get("commonName"), name
    elif doc["kind"] == "Issuer":
        issuer_types = {"selfSigned", "ca", "acme", "vault", "venafi"} & set(spec)
        assert len(issuer_types) == 1, name
        if "ca" in spec:
            assert spec["ca"]["secretName"], name
    elif doc["kind"] == "ServiceMonitor":
        assert spec["selector"]["matchLabels"], name
        assert spec["endpoints"], name
        for endpoint in spec["endpoints"]:
            assert endpoint["port"], name


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_helm_template_is_byte_stable(helm: str, scenario: Scenario) -> None:
    """No random or time-based output: Argo CD renders the chart on every sync."""
    args = template_args(scenario.values_file, scenario.kube_versions[-1])
    first, second = helm_run(helm, *args), helm_run(helm, *args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout


def sources(text: str) -> dict[str, list[Doc]]:
    """Rendered documents grouped by the template file that produced them."""
    grouped: dict[str, list[Doc]] = {}
    for chunk in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        match = re.search(r"^# Source: downward-webhook/(templates/\S+)$", chunk, re.MULTILINE)
        if match is None:
            continue
        docs = [doc for doc in yaml.safe_load_all(chunk) if doc]
        grouped.setdefault(match.group(1), []).extend(docs)
    return grouped


def test_every_template_file_holds_one_resource_named_component_kind(chart: Renderer) -> None:
    seen: dict[str, set[str]] = {}
    for scenario, kube_version in CASES:
        text = chart.text(scenario.values_file, kube_version)
        for path, docs in sources(text).items():
            assert len(docs) == 1, f"{path} renders {len(docs)} resources"
            seen.setdefault(path, set()).add(docs[0]["kind"])
    templates = {str(p.relative_to(CHART)) for p in (CHART / "templates").rglob("*.yaml")}
    assert set(seen) == templates, f"never rendered: {templates - set(seen)}"
    for path, kind_set in seen.items():
        (kind,) = kind_set
        stem = path.rsplit("/", 1)[-1].removesuffix(".yaml")
        assert re.fullmatch(rf"[a-z0-9]+(-[a-z0-9]+)*-{kind.lower()}", stem), (path, kind)


def test_helpers_are_namespaced() -> None:
    text = (CHART / "templates" / "_helpers.tpl").read_text()
    names = re.findall(r'define\s+"([^"]+)"', text)
    assert names
    assert all(name.startswith("downward-webhook.") for name in names), names


@pytest.mark.parametrize(("scenario", "kube_version"), CASES, ids=CASE_IDS)
def test_every_resource_has_the_standard_labels_and_a_namespace(
    chart: Renderer, scenario: Scenario, kube_version: str
) -> None:
    for doc in chart.scenario(scenario, kube_version):
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        labels: dict[str, Any] = doc["metadata"].get("labels", {})
        for key in LABELS:
            assert labels.get(key), f"{name} lacks label {key}"
        assert labels["app.kubernetes.io/instance"] == "dw", name
        if doc["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in doc["metadata"], name
        else:
            assert doc["metadata"]["namespace"], name


def test_image_defaults_to_the_chart_app_version(chart: Renderer) -> None:
    chart_yaml = yaml.safe_load((CHART / "Chart.yaml").read_text())
    docs = chart.docs()
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/downward-io/downward-webhook:{chart_yaml['appVersion']}"


def test_image_digest_replaces_the_tag(chart: Renderer) -> None:
    digest = "sha256:" + "ab" * 32
    docs = chart.docs(sets=(f"image.digest={digest}",))
    images = {
        c["image"]
        for d in docs
        if d["kind"] in {"Deployment", "CronJob", "Pod"}
        for c in _all_containers(d)
    }
    assert images == {f"ghcr.io/downward-io/downward-webhook@{digest}"}


def _all_containers(doc: Doc) -> list[Doc]:
    if doc["kind"] == "Deployment":
        spec = doc["spec"]["template"]["spec"]
    elif doc["kind"] == "CronJob":
        spec = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    else:
        spec = doc["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def test_notes_tell_how_to_delete_the_self_signed_secret(helm: str) -> None:
    result = helm_run(
        helm, "install", "dw", str(CHART), "--namespace", NAMESPACE, "--dry-run=client"
    )
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert f"kubectl -n {NAMESPACE} delete secret dw-downward-webhook-tls" in notes
    assert "downward.io/inject" in notes


def test_notes_without_native_sidecars_say_pods_meant_to_end_get_no_ambassador(helm: str) -> None:
    """The server skips the ambassador where restartPolicy is not Always (a reason code)."""
    from webhook.core.reasons import Reason

    args = ["install", "dw", str(CHART), "--namespace", NAMESPACE, "--dry-run=client"]
    result = helm_run(helm, *args, "--set", "ambassador.nativeSidecar=false")
    assert result.returncode == 0, result.stderr
    notes = " ".join(result.stdout.split("NOTES:", 1)[1].split())
    assert "Pods whose restartPolicy is not Always (Jobs, CronJobs) get no ambassador" in notes
    assert f"with the warning {Reason.AMBASSADOR_NOT_ALWAYS.code}" in notes
    assert "keeps Jobs running" not in notes
