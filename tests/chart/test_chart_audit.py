"""The optional audit CronJob: off by default, its own least-privilege RBAC, valid flags."""

from __future__ import annotations

from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.chart.rendering import NAMESPACE, Doc, Renderer, kinds, one
from webhook import cli

NAME = "dw-downward-webhook-audit"
ON = ("audit.enabled=true",)
RESTART = (*ON, "audit.restart=true")
KINDS = ("CronJob", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")


def audit_docs(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d["metadata"]["labels"]["app.kubernetes.io/component"] == "audit"]


def rules(docs: list[Doc]) -> set[tuple[str, str, str]]:
    role = one(docs, "ClusterRole", NAME)
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def container(docs: list[Doc]) -> dict[str, Any]:
    cronjob = one(docs, "CronJob", NAME)
    (found,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = found
    return result


def test_the_audit_is_off_by_default(chart: Renderer) -> None:
    assert audit_docs(chart.docs(kube_version="1.35.0")) == []


def test_enabled_it_renders_a_cronjob_and_its_own_rbac_valid_against_the_schemas(
    chart: Renderer,
) -> None:
    docs = audit_docs(chart.docs(kube_version="1.35.0", sets=ON))

    assert sorted(d["kind"] for d in docs) == sorted(KINDS)
    for doc in docs:
        kubernetes_validate.validate(doc, "1.35.0", strict=True)
    binding = one(docs, "ClusterRoleBinding", NAME)
    assert binding["roleRef"]["name"] == NAME
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    pod = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == NAME
    assert pod["automountServiceAccountToken"] is False
    assert one(docs, "ServiceAccount")["automountServiceAccountToken"] is False


def test_without_restart_the_role_only_reads(chart: Renderer) -> None:
    found = rules(chart.docs(kube_version="1.35.0", sets=ON))

    assert found == {("", "pods", "list"), ("apps", "replicasets", "get"), ("batch", "jobs", "get")}


def test_restart_adds_get_and_patch_on_the_workloads_it_restarts_only(chart: Renderer) -> None:
    found = rules(chart.docs(kube_version="1.35.0", sets=RESTART))

    assert found - rules(chart.docs(kube_version="1.35.0", sets=ON)) == {
        ("apps", "deployments", "get"),
        ("apps", "deployments", "patch"),
        ("apps", "statefulsets", "patch"),
        ("apps", "daemonsets", "patch"),
    }


def test_namespace_defaults_add_get_namespaces_and_the_flag(chart: Renderer) -> None:
    docs = chart.docs(kube_version="1.35.0", sets=(*ON, "namespaceDefaults.enabled=true"))

    assert ("", "namespaces", "get") in rules(docs)
    assert "--namespace-default-inject=env,volume" in container(docs)["args"]


@pytest.mark.parametrize("sets", [ON, RESTART, (*ON, "namespaceDefaults.enabled=true")])
def test_the_cronjob_args_parse_with_the_real_cli(chart: Renderer, sets: tuple[str, ...]) -> None:
    args = container(chart.docs(kube_version="1.35.0", sets=sets))["args"]

    parsed = cli._parser().parse_args(args)

    assert parsed.command == "audit" and parsed.all_namespaces
    assert parsed.exclude_namespace == ["kube-system", "kube-node-lease", NAMESPACE]
    assert parsed.restart is ("audit.restart=true" in sets)
    assert not parsed.dry_run


def test_the_job_never_retries_so_a_restart_is_never_repeated(chart: Renderer) -> None:
    cronjob = one(chart.docs(kube_version="1.35.0", sets=RESTART), "CronJob", NAME)

    assert cronjob["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_audit_container_is_restricted(chart: Renderer) -> None:
    context = container(chart.docs(kube_version="1.35.0", sets=ON))["securityContext"]

    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_a_bad_audit_value_is_refused_by_the_schema(helm: str) -> None:
    from tests.chart.rendering import helm_run, template_args

    result = helm_run(helm, *template_args(sets=("audit.restart=maybe",)))

    assert result.returncode != 0
    assert "audit" in result.stderr and "restart" in result.stderr


def test_kinds_helper_sees_no_audit_cronjob_by_default(chart: Renderer) -> None:
    names = [d["metadata"]["name"] for d in kinds(chart.docs(kube_version="1.35.0"), "CronJob")]

    assert NAME not in names
