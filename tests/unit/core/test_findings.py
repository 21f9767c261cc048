"""What the user is told, and that ``downward.io/injected`` says only what took effect."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from webhook.core.admission import Decision, Settings, mutate
from webhook.core.model import Pod, pod_decoder
from webhook.core.reasons import Reason

LIMITS = {"limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"}}


def assert_nothing_but_the_status(decision: Decision) -> None:
    """Nothing injected: the patch only records ``downward.io/injected: none`` and the
    findings in ``downward.io/warnings`` (what the guarantee policy and users read)."""
    assert decision.modes == ()
    paths = [op["path"] for op in decision.patch.operations]
    assert paths and all(p.startswith("/metadata/annotations") for p in paths)
    values = {op["path"]: op["value"] for op in decision.patch.operations}
    injected = values.get("/metadata/annotations/downward.io~1injected") or values.get(
        "/metadata/annotations", {}
    ).get("downward.io/injected")
    assert injected == "none"


def container(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "nginx", "resources": LIMITS, **extra}


def review(inject: str, *containers: dict[str, Any], **spec: Any) -> Decision:
    pod: Pod = pod_decoder.decode(
        msgspec.json.encode(
            {
                "metadata": {"annotations": {"downward.io/inject": inject}},
                "spec": {"containers": list(containers), **spec},
            }
        )
    )
    return mutate(pod, Settings())


def injected(decision: Decision) -> str | None:
    for op in decision.patch.operations:
        if op["path"] == "/metadata/annotations/downward.io~1injected":
            value: str = op["value"]
            return value
    return None


def reasons(decision: Decision) -> list[Reason]:
    return [f.reason for f in decision.findings]


# ---- the status annotation -------------------------------------------------------------------


def test_a_volume_no_container_can_mount_is_not_added_nor_reported() -> None:
    taken = [{"name": "podinfo", "mountPath": "/etc/podinfo"}]
    decision = review(
        "env,volume",
        container("a", volumeMounts=taken),
        container("b", volumeMounts=taken),
        volumes=[{"name": "podinfo", "emptyDir": {}}],
    )
    assert injected(decision) == "env"
    assert not any(op["path"].startswith("/spec/volumes") for op in decision.patch.operations)
    assert decision.warnings == [
        'containers "a", "b": mount path "/etc/podinfo" already in use in every target'
        " container; downward volume not added"
    ]


def test_a_volume_one_container_can_mount_is_added_and_the_other_is_named() -> None:
    taken = [{"name": "podinfo", "mountPath": "/etc/podinfo"}]
    decision = review(
        "volume",
        container("a", volumeMounts=taken),
        container("b"),
        volumes=[{"name": "podinfo", "emptyDir": {}}],
    )
    assert injected(decision) == "volume"
    ops = {op["path"]: op["value"] for op in decision.patch.operations}
    assert "/spec/containers/1/volumeMounts" in ops
    assert "/spec/containers/0/volumeMounts/-" not in ops
    assert reasons(decision) == [Reason.MOUNT_CONFLICT]


def test_env_counts_only_where_a_container_got_the_vars() -> None:
    own = [{"name": n, "value": "mine"} for n in ("POD_NAME", "POD_NAMESPACE")]
    decision = review("env", container("a", env=own), container("b", env=own))
    assert injected(decision) == "env"  # the other vars of ours were added
    assert decision.warnings == [
        'containers "a", "b": env vars "POD_NAME", "POD_NAMESPACE" already set;'
        " kept the pod's value"
    ]


def test_env_that_every_container_already_sets_differently_is_not_reported_as_injected() -> None:
    decision = mutate(
        pod_decoder.decode(
            msgspec.json.encode(
                {
                    "metadata": {
                        "annotations": {
                            "downward.io/inject": "env",
                            "downward.io/env-fields": "name",
                        }
                    },
                    "spec": {
                        "containers": [container("a", env=[{"name": "POD_NAME", "value": "x"}])]
                    },
                }
            )
        ),
        Settings(),
    )
    assert_nothing_but_the_status(decision)
    assert reasons(decision) == [Reason.ENV_CONFLICT]


def _annotated(annotations: dict[str, str], *containers: dict[str, Any]) -> Pod:
    body = {"metadata": {"annotations": annotations}, "spec": {"containers": list(containers)}}
    pod: Pod = pod_decoder.decode(msgspec.json.encode(body))
    return pod


def test_empty_env_fields_are_a_finding_and_env_is_not_reported_with_the_ambassador() -> None:
    pod = _annotated(
        {"downward.io/inject": "env,ambassador", "downward.io/env-fields": " "}, container("a")
    )
    decision = mutate(pod, Settings())
    assert injected(decision) == "ambassador"  # its KUBERNETES_API_URL is not env mode
    assert decision.modes == ("ambassador",)
    assert decision.warnings == [
        "downward.io/env-fields: no field given; env mode adds no env vars"
    ]
    denied = mutate(pod, Settings(strict=True))
    assert denied.outcome == "denied"
    assert denied.denial == "downward-webhook (strict mode): downward.io/env-fields: no field given"


def test_env_is_not_reported_where_only_the_ambassadors_url_was_added() -> None:
    own = {"name": "POD_NAME", "value": "mine"}
    pod = _annotated(
        {"downward.io/inject": "env,ambassador", "downward.io/env-fields": "name"},
        container("a", env=[own]),
    )
    decision = mutate(pod, Settings())
    assert injected(decision) == "ambassador"
    assert reasons(decision) == [Reason.ENV_CONFLICT]


# ---- the ambassador and what is already there -----------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"command": ["kubectl", "proxy"]},
        {"command": ["/usr/local/bin/kubectl"], "args": ["proxy", "--port=9000"]},
        {"command": ["sh", "-c", "exec kubectl proxy --accept-hosts=.*"]},
    ],
)
def test_a_kubectl_proxy_already_there_skips_the_ambassador(extra: dict[str, Any]) -> None:
    decision = review("ambassador", container("app"), container("proxy", **extra))
    assert_nothing_but_the_status(decision)
    assert decision.warnings == ['ambassador skipped; container "proxy" already runs kubectl proxy']


def test_a_kubectl_proxy_in_an_init_container_counts_too() -> None:
    init = container("proxy", command=["kubectl", "proxy"], restartPolicy="Always")
    decision = review("ambassador", container("app"), initContainers=[init])
    assert reasons(decision) == [Reason.AMBASSADOR_PROXY_PRESENT]


@pytest.mark.parametrize(
    ("extra", "use"),
    [
        ({"livenessProbe": {"tcpSocket": {"port": 8001}}}, "probe"),
        ({"startupProbe": {"grpc": {"port": 8001}}}, "probe"),
        ({"lifecycle": {"preStop": {"httpGet": {"port": 8001}}}}, "lifecycle handler"),
        ({"args": ["--port=8001"]}, "args"),
        ({"args": ["--port", "8001"]}, "args"),
        ({"command": ["server", "--listen-port=8001"]}, "args"),
        ({"ports": [{"containerPort": 8001}]}, "ports"),
    ],
)
def test_a_port_in_use_anywhere_skips_the_ambassador(extra: dict[str, Any], use: str) -> None:
    decision = review("ambassador", container("app", **extra))
    assert_nothing_but_the_status(decision)
    assert decision.warnings == [
        f'ambassador skipped; container "app" already uses port 8001 ({use})'
    ]


@pytest.mark.parametrize(
    "extra",
    [
        {"readinessProbe": {"httpGet": {"port": "http"}}},  # a name: covered by ports
        {"args": ["--port=8080", "--replicas", "8001"]},
        {"ports": [{"containerPort": 8001, "protocol": "UDP"}]},
    ],
)
def test_other_ports_leave_the_ambassador_alone(extra: dict[str, Any]) -> None:
    decision = review("ambassador", container("app", **extra))
    assert decision.modes == ("ambassador",)
    assert decision.findings == ()


# ---- no limit: one finding per pod ----------------------------------------------------------


def test_one_no_limit_finding_lists_every_container_and_resource() -> None:
    decision = review(
        "env",
        {"name": "app"},
        {"name": "sidecar"},
        {"name": "db", "resources": {"limits": {"cpu": "1"}}},
    )
    assert decision.warnings == [
        'containers "app", "sidecar" have no cpu, memory limit; container "db" has no memory'
        " limit; the injected limits report the node's allocatable amount"
    ]


def test_many_containers_without_limits_give_one_short_finding() -> None:
    decision = review("env", *({"name": f"c{i}"} for i in range(60)))
    (warning,) = decision.warnings
    assert warning.startswith('containers "c0", "c1", "c2" and 57 more have no cpu, memory limit')


def test_pod_level_limits_cover_containers_without_their_own() -> None:
    decision = review(
        "env,volume",
        {"name": "app"},
        {"name": "sidecar"},
        resources={"limits": {"cpu": "2", "memory": "1Gi"}},
    )
    assert decision.modes == ("env", "volume")
    assert decision.findings == ()


def test_pod_level_limits_cover_only_the_resources_they_name() -> None:
    decision = review("env", {"name": "app"}, resources={"limits": {"memory": "1Gi"}})
    assert decision.warnings == [
        'container "app" has no cpu limit; the injected limits report the node\'s'
        " allocatable amount"
    ]


def test_a_zero_pod_level_limit_covers_nothing() -> None:
    decision = review("env", {"name": "app"}, resources={"limits": {"cpu": "0", "memory": 0}})
    assert reasons(decision) == [Reason.NO_LIMIT]
