"""Pod security (restricted profile, no stray API tokens), availability settings and RBAC."""

from __future__ import annotations

import pytest

from tests.chart.rendering import (
    CASE_IDS,
    CASES,
    CI_DIR,
    NAMESPACE,
    Doc,
    Renderer,
    Scenario,
    containers,
    kinds,
    one,
    pod_specs,
    server_container,
)

FULLNAME = "dw-downward-webhook"
RBAC_KINDS = ("Role", "ClusterRole")
WRITE_OR_READ_BY_NAME = {"get", "update", "patch"}


def effective(container: Doc, pod: Doc, key: str) -> object:
    """A security setting as Kubernetes applies it: the container's, else the pod's."""
    value = container.get("securityContext", {}).get(key)
    return value if value is not None else pod.get("securityContext", {}).get(key)


# ---- security context ----------------------------------------------------------------------


@pytest.mark.parametrize(("scenario", "kube_version"), CASES, ids=CASE_IDS)
def test_every_container_meets_the_restricted_profile(
    chart: Renderer, scenario: Scenario, kube_version: str
) -> None:
    docs = chart.scenario(scenario, kube_version)
    specs = list(pod_specs(docs))
    assert specs
    for owner, pod in specs:
        assert pod["securityContext"]["runAsNonRoot"] is True, owner
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, owner
        for container in containers(pod):
            where = f"{owner} container {container['name']}"
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context.get("privileged", False) is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert "add" not in context["capabilities"], where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            run_as_user = effective(container, pod, "runAsUser")
            if scenario.name != "overrides":  # overrides leaves the UID to the platform
                assert isinstance(run_as_user, int), where
                assert run_as_user > 0, where


def test_uid_can_be_left_to_the_platform(chart: Renderer) -> None:
    """OpenShift assigns UIDs: runAsUser null omits it, runAsNonRoot stays (image USER 65532)."""
    docs = chart.docs(CI_DIR / "overrides-values.yaml", "1.35")
    for _, pod in pod_specs(docs):
        assert "runAsUser" not in pod["securityContext"]
        assert "fsGroup" not in pod["securityContext"]
        for container in containers(pod):
            assert "runAsUser" not in container["securityContext"]
            assert container["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize(("scenario", "kube_version"), CASES, ids=CASE_IDS)
def test_every_container_has_requests_and_limits(
    chart: Renderer, scenario: Scenario, kube_version: str
) -> None:
    for owner, pod in pod_specs(chart.scenario(scenario, kube_version)):
        for container in containers(pod):
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), (
                    owner,
                    container["name"],
                    kind,
                )


def test_only_the_certificate_containers_hold_an_api_token(chart: Renderer) -> None:
    docs = chart.docs()
    assert one(docs, "ServiceAccount", FULLNAME)["automountServiceAccountToken"] is False
    deployment = one(docs, "Deployment")["spec"]["template"]["spec"]
    cronjob = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    for pod in (deployment, cronjob):
        assert pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == FULLNAME
        (token,) = [v for v in pod["volumes"] if v["name"] == "kube-api-access"]
        sources = token["projected"]["sources"]
        assert any("serviceAccountToken" in source for source in sources)
    holders = {
        container["name"]
        for pod in (deployment, cronjob)
        for container in containers(pod)
        if any(m["name"] == "kube-api-access" for m in container.get("volumeMounts", []))
    }
    assert holders == {"certs"}
    assert "kube-api-access" not in {m["name"] for m in server_container(docs)["volumeMounts"]}


@pytest.mark.parametrize("values", ["cert-manager-values.yaml", "provided-values.yaml"])
def test_no_token_is_mounted_without_self_signed_certificates(chart: Renderer, values: str) -> None:
    docs = chart.docs(CI_DIR / values, "1.35")
    deployment = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert deployment["automountServiceAccountToken"] is False
    assert "kube-api-access" not in {v["name"] for v in deployment["volumes"]}


# ---- availability --------------------------------------------------------------------------


def test_server_runs_two_spread_replicas_with_a_disruption_budget(chart: Renderer) -> None:
    docs = chart.docs()
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    constraints = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in constraints} == {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }
    for constraint in constraints:
        assert constraint["labelSelector"]["matchLabels"].items() <= pod_labels.items()


def test_probes_are_https_gets_of_healthz_and_readyz(chart: Renderer) -> None:
    container = server_container(chart.docs())
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get == {"path": path, "port": "https", "scheme": "HTTPS"}, probe
    assert {"name": "https", "containerPort": 8443, "protocol": "TCP"} in container["ports"]


@pytest.mark.parametrize(
    ("kube_version", "sets", "pre_stop"),
    [
        ("1.35", (), {"sleep": {"seconds": 5}}),
        ("1.29", (), {"exec": {"command": ["sleep", "5"]}}),
        ("1.35", ("server.preStopSleepSeconds=15", "server.gracefulTimeoutSeconds=40"), None),
        ("1.35", ("server.preStopSleepSeconds=0",), None),
    ],
)
def test_termination_grace_covers_pre_stop_and_graceful_shutdown(
    chart: Renderer, kube_version: str, sets: tuple[str, ...], pre_stop: Doc | None
) -> None:
    docs = chart.docs(kube_version=kube_version, sets=sets)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    container = server_container(docs)
    graceful = int(
        next(a for a in container["args"] if a.startswith("--graceful-timeout=")).split("=")[1]
    )
    hook = container.get("lifecycle", {}).get("preStop")
    if pre_stop is not None:
        assert hook == pre_stop
    sleep = 0
    if hook is not None:
        sleep = hook["sleep"]["seconds"] if "sleep" in hook else int(hook["exec"]["command"][1])
    assert ("server.preStopSleepSeconds=0" in sets) == (hook is None)
    assert pod["terminationGracePeriodSeconds"] > graceful + sleep


# ---- RBAC ----------------------------------------------------------------------------------


def rbac_rules(docs: list[Doc]) -> list[tuple[Doc, Doc]]:
    return [(doc, rule) for doc in docs if doc["kind"] in RBAC_KINDS for rule in doc["rules"]]


def component(doc: Doc) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


@pytest.mark.parametrize(("scenario", "kube_version"), CASES, ids=CASE_IDS)
def test_rbac_has_no_wildcards(chart: Renderer, scenario: Scenario, kube_version: str) -> None:
    for doc, rule in rbac_rules(chart.scenario(scenario, kube_version)):
        for key in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
            assert not any("*" in item for item in rule.get(key, [])), (doc["metadata"], rule)


@pytest.mark.parametrize(("scenario", "kube_version"), CASES, ids=CASE_IDS)
def test_own_rbac_names_every_object_it_reads_or_changes(
    chart: Renderer, scenario: Scenario, kube_version: str
) -> None:
    """get/update/patch only by resourceNames; only `create` (not nameable) goes without."""
    for doc, rule in rbac_rules(chart.scenario(scenario, kube_version)):
        if component(doc) == "ambassador":
            continue  # the shipped read-only role for app teams, checked below
        if component(doc) == "audit":
            continue  # reads every pod by nature; its exact rules: tests/chart/test_chart_audit.py
        verbs = set(rule["verbs"])
        if verbs & WRITE_OR_READ_BY_NAME:
            assert rule.get("resourceNames"), (doc["metadata"]["name"], rule)
        else:
            assert verbs == {"create"}, (doc["metadata"]["name"], rule)
        assert not verbs & {"list", "watch", "delete", "deletecollection", "escalate", "bind"}


@pytest.mark.parametrize(("scenario", "kube_version"), CASES, ids=CASE_IDS)
def test_no_cluster_wide_secret_access(
    chart: Renderer, scenario: Scenario, kube_version: str
) -> None:
    for doc, rule in rbac_rules(chart.scenario(scenario, kube_version)):
        if doc["kind"] == "ClusterRole":
            assert "secrets" not in rule["resources"], doc["metadata"]["name"]
        if "secrets" in rule["resources"]:
            assert doc["metadata"]["namespace"] == NAMESPACE


def test_certificate_rbac_is_limited_to_the_release_secret_and_webhook(chart: Renderer) -> None:
    docs = chart.docs()
    role = one(docs, "Role", f"{FULLNAME}-certs")
    by_name, create = role["rules"]
    assert by_name == {
        "apiGroups": [""],
        "resources": ["secrets"],
        "resourceNames": [f"{FULLNAME}-tls"],
        "verbs": ["get", "update"],
    }
    assert create == {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}
    cluster_role = one(docs, "ClusterRole", f"{FULLNAME}-certs")
    assert cluster_role["rules"] == [
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["mutatingwebhookconfigurations"],
            "resourceNames": [one(docs, "MutatingWebhookConfiguration")["metadata"]["name"]],
            "verbs": ["get", "patch"],
        }
    ]
    subject = {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}
    for kind, role_kind in (("RoleBinding", "Role"), ("ClusterRoleBinding", "ClusterRole")):
        binding = one([d for d in docs if component(d) == "certs"], kind)
        assert binding["subjects"] == [subject]
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind,
            "name": f"{FULLNAME}-certs",
        }


def test_helm_test_may_only_create_pods_in_the_test_namespace(chart: Renderer) -> None:
    docs = chart.docs(CI_DIR / "namespace-defaults-values.yaml", "1.35")
    tests = [d for d in docs if component(d) == "test"]
    assert {d["kind"] for d in tests} == {"ServiceAccount", "Role", "RoleBinding", "Pod"}
    for doc in tests:
        assert doc["metadata"]["annotations"]["helm.sh/hook"] == "test"
    role = one(tests, "Role")
    assert role["metadata"]["namespace"] == "downward-test"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]
    binding = one(tests, "RoleBinding")
    assert binding["metadata"]["namespace"] == "downward-test"
    (subject,) = binding["subjects"]
    pod = one(tests, "Pod")
    assert subject["name"] == pod["spec"]["serviceAccountName"]
    assert subject["namespace"] == pod["metadata"]["namespace"] == NAMESPACE


def test_ambassador_cluster_role_is_read_only_and_never_reads_secrets(chart: Renderer) -> None:
    docs = chart.docs()
    role = one(docs, "ClusterRole", f"{FULLNAME}-ambassador-read-only")
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}
        assert "secrets" not in rule["resources"]
    assert {"pods", "configmaps", "services"} <= {
        r for rule in role["rules"] for r in rule["resources"]
    }
    assert [d for d in kinds(docs, "ClusterRoleBinding") if component(d) == "ambassador"] == []
    off = chart.docs(CI_DIR / "overrides-values.yaml", "1.35")
    assert [d for d in kinds(off, "ClusterRole") if component(d) == "ambassador"] == []
