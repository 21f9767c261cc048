"""``webhook.core.plan``: which containers, what to add, what to keep, and idempotence."""

from __future__ import annotations

import copy
from itertools import combinations
from typing import Any

import jsonpatch
import pytest

from webhook.core.ambassador import CONTAINER_NAME, AmbassadorSettings
from webhook.core.annotations import Options
from webhook.core.keys import AMBASSADOR, ENV, INJECTED, MODES, VOLUME
from webhook.core.patch import render
from webhook.core.pieces import Kit
from webhook.core.plan import Plan, plan_injection
from webhook.core.reasons import Reason
from webhook.core.review import pod_from_object

SETTINGS = AmbassadorSettings()
LIMITS = {"limits": {"cpu": "1", "memory": "1Gi"}}


def _container(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "nginx", "resources": LIMITS, **extra}


def _pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "web-", "namespace": "team-a"},
        "spec": {"containers": list(containers) or [_container("app")], **spec},
    }


def _plan(pod: dict[str, Any], *modes: str, **options: Any) -> Plan:
    kit = Kit.of(Options(frozenset(modes), **options), SETTINGS)
    return plan_injection(pod_from_object(pod), kit)


def _reasons(plan: Plan) -> list[Reason]:
    return [f.reason for f in plan.findings]


def _env_names(plan: Plan, pointer: str) -> list[str]:
    [container] = [c for c in plan.containers if c.pointer == pointer]
    return [v["name"] for v in container.env]


def _apply(pod: dict[str, Any], plan: Plan) -> dict[str, Any]:
    patched: dict[str, Any] = jsonpatch.apply_patch(pod, copy.deepcopy(render(plan).operations))
    return patched


# Targets.


def test_by_default_every_container_is_a_target_but_not_init_containers_or_the_ambassador() -> None:
    pod = _pod(
        _container("app"),
        _container(CONTAINER_NAME),
        _container("web"),
        initContainers=[_container("migrate")],
    )
    plan = _plan(pod, ENV)
    assert [c.pointer for c in plan.containers] == ["/spec/containers/0", "/spec/containers/2"]
    assert plan.findings == ()


def test_named_containers_are_the_only_targets_and_init_containers_count_when_named() -> None:
    pod = _pod(_container("app"), _container("web"), initContainers=[_container("migrate")])
    plan = _plan(pod, ENV, containers=("web", "migrate"))
    assert [c.pointer for c in plan.containers] == [
        "/spec/containers/1",
        "/spec/initContainers/0",
    ]


def test_an_unknown_name_and_the_ambassador_are_findings_and_nothing_else_changes() -> None:
    plan = _plan(_pod(), ENV, containers=("app", "nope", CONTAINER_NAME))
    assert _reasons(plan) == [Reason.UNKNOWN_CONTAINER, Reason.AMBASSADOR_NOT_TARGET]
    assert [c.pointer for c in plan.containers] == ["/spec/containers/0"]


def test_no_matching_container_injects_neither_env_nor_volume() -> None:
    plan = _plan(_pod(), ENV, VOLUME, containers=("nope",))
    assert _reasons(plan) == [Reason.UNKNOWN_CONTAINER, Reason.NO_TARGETS]
    # Nothing applied, and the status says so (the guarantee policy relies on it).
    assert (plan.containers, plan.volumes, plan.modes, plan.injected) == ((), (), (), "none")


# Conflicts: the pod's value wins.


def test_an_env_var_the_pod_sets_differently_is_kept_and_reported() -> None:
    pod = _pod(_container("app", env=[{"name": "POD_NAME", "value": "mine"}]))
    plan = _plan(pod, ENV)
    assert "POD_NAME" not in _env_names(plan, "/spec/containers/0")
    assert "POD_NAMESPACE" in _env_names(plan, "/spec/containers/0")
    assert _reasons(plan) == [Reason.ENV_CONFLICT]
    assert '"app"' in plan.findings[0].message and '"POD_NAME"' in plan.findings[0].message


def test_an_env_var_the_pod_already_reads_from_the_same_field_is_no_conflict() -> None:
    same = {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    plan = _plan(_pod(_container("app", env=[same])), ENV)
    assert "POD_NAME" not in _env_names(plan, "/spec/containers/0")
    assert plan.findings == ()


def test_a_volume_of_our_name_that_is_not_ours_is_kept_and_nothing_is_mounted() -> None:
    pod = _pod(volumes=[{"name": "downward-podinfo", "emptyDir": {}}])
    plan = _plan(pod, VOLUME)
    assert _reasons(plan) == [Reason.VOLUME_CONFLICT]
    assert (plan.volumes, plan.containers, plan.modes) == ((), (), ())


def test_a_mount_path_in_use_skips_that_container_only() -> None:
    taken = [{"name": "cfg", "mountPath": "/etc/podinfo/"}]  # the same path, written otherwise
    pod = _pod(
        _container("app", volumeMounts=taken),
        _container("web"),
        volumes=[{"name": "cfg", "emptyDir": {}}],
    )
    plan = _plan(pod, VOLUME)
    assert _reasons(plan) == [Reason.MOUNT_CONFLICT]
    assert [c.pointer for c in plan.containers] == ["/spec/containers/1"]
    assert plan.modes == (VOLUME,)


@pytest.mark.parametrize(
    ("written", "taken"),
    [
        ("/etc/./podinfo", True),
        ("/etc//podinfo", True),
        ("/etc/x/../podinfo", True),
        ("/etc/podinfo/.", True),
        ("/etc/podinfo-data", False),  # holds the name, is another path
        ("/etc/info", False),
    ],
)
def test_a_mount_path_is_ours_once_normalised_whatever_its_spelling(
    written: str, taken: bool
) -> None:
    pod = _pod(
        _container("app", volumeMounts=[{"name": "cfg", "mountPath": written}]),
        volumes=[{"name": "cfg", "emptyDir": {}}],
    )
    plan = _plan(pod, VOLUME)
    assert (_reasons(plan) == [Reason.VOLUME_NOT_MOUNTABLE]) is taken
    assert bool(plan.containers) is not taken


def test_the_ambassador_is_skipped_on_a_host_network_pod_or_a_taken_port() -> None:
    assert _reasons(_plan(_pod(hostNetwork=True), AMBASSADOR)) == [Reason.AMBASSADOR_HOST_NETWORK]
    busy = _pod(_container("app", ports=[{"containerPort": 8001}]))
    plan = _plan(busy, AMBASSADOR)
    assert _reasons(plan) == [Reason.AMBASSADOR_PORT_CONFLICT]
    assert (plan.ambassador, plan.modes) == (None, ())
    assert _plan(busy, AMBASSADOR, ambassador_port=9001).modes == (AMBASSADOR,)


def test_a_missing_limit_read_by_an_env_var_is_a_notice() -> None:
    pod = _pod({"name": "app", "image": "nginx"})
    plan = _plan(pod, ENV)
    assert _reasons(plan) == [Reason.NO_LIMIT]
    assert "cpu, memory" in plan.findings[0].message


def test_a_missing_limit_read_by_a_volume_file_names_every_folder_but_nothing_else() -> None:
    bare = {"name": "x", "image": "nginx"}
    pod = _pod(
        _container("app"),
        {**bare, "name": "idle"},  # not a target, yet it has a folder
        initContainers=[{**bare, "name": "init"}, {**bare, "name": "unnamed"}],
    )
    plan = _plan(pod, VOLUME, containers=("app", "init"))
    assert _reasons(plan) == [Reason.NO_LIMIT]
    assert plan.findings[0].message.startswith(
        'containers "idle", "init" have no cpu, memory limit;'
    )


@pytest.mark.parametrize(
    ("limits", "lacking"),
    [
        ({"cpu": "100m", "memory": "64Mi"}, []),  # the chart's: the usual case
        ({"memory": "64Mi"}, ['container "downward-ambassador" has no cpu limit']),
    ],
)
def test_the_ambassadors_folder_reads_the_limits_its_settings_give(
    limits: dict[str, str], lacking: list[str]
) -> None:
    settings = AmbassadorSettings(resources={"requests": {}, "limits": limits})
    kit = Kit.of(Options(frozenset({VOLUME, AMBASSADOR})), settings)

    def problems(pod: dict[str, Any]) -> list[str]:
        return [f.problem for f in plan_injection(pod_from_object(pod), kit).findings]

    assert problems(_pod()) == lacking
    # The volume comes later, to a pod with our ambassador: the one there is read.
    proxied = _apply(_pod(), _plan(_pod(), AMBASSADOR))
    assert problems(proxied) == []
    proxied["spec"]["initContainers"][0]["resources"] = {"limits": limits}
    assert problems(proxied) == lacking


# Modes and status.


@pytest.mark.parametrize(
    "modes",
    [m for n in range(1, len(MODES) + 1) for m in combinations(MODES, n)],
    ids=",".join,
)
def test_every_set_of_modes_is_applied_and_named_in_canonical_order(modes: tuple[str, ...]) -> None:
    plan = _plan(_pod(), *reversed(modes))
    assert plan.modes == modes
    assert plan.injected == ",".join(modes)


def test_the_status_annotation_is_created_or_added_beside_the_others() -> None:
    bare = _apply(_pod(), _plan(_pod(), ENV))
    assert bare["metadata"]["annotations"] == {INJECTED: "env"}
    pod = _pod()
    pod["metadata"]["annotations"] = {"team": "a"}
    assert _apply(pod, _plan(pod, ENV))["metadata"]["annotations"] == {"team": "a", INJECTED: "env"}


def test_injected_env_vars_come_first_in_the_order_of_the_fields() -> None:
    pod = _pod(_container("app", env=[{"name": "URL", "value": "http://$(POD_IP)"}]))
    env = _apply(pod, _plan(pod, ENV))["spec"]["containers"][0]["env"]
    assert [v["name"] for v in env][:3] == ["POD_NAME", "POD_NAMESPACE", "POD_UID"]
    assert env[-1] == {"name": "URL", "value": "http://$(POD_IP)"}


# Idempotence: a second review of the injected pod plans nothing.


@pytest.mark.parametrize("modes", [(ENV,), (VOLUME,), (AMBASSADOR,), MODES], ids=",".join)
def test_planning_an_injected_pod_again_adds_nothing(modes: tuple[str, ...]) -> None:
    pod = _pod(_container("app"), _container("web"), initContainers=[_container("init")])
    options = {"containers": ("app", "init"), "env_prefix": "X_"}
    first = _plan(pod, *modes, **options)
    assert render(first)
    again = _plan(_apply(pod, first), *modes, **options)
    assert not render(again)
    assert again.modes == first.modes
    assert again.findings == ()


def _folders(pod: dict[str, Any]) -> list[str]:
    """The folders of our volume, sorted: the files do not depend on the items' order."""
    [volume] = [v for v in pod["spec"]["volumes"] if v["name"] == "downward-podinfo"]
    return sorted({i["path"].split("/")[1] for i in volume["downwardAPI"]["items"][5:]})


@pytest.mark.parametrize("status", [True, False], ids=["status", "no-status"])
@pytest.mark.parametrize(
    "late",
    [
        {"containers": [_container("mesh")]},
        {"initContainers": [_container("init")]},  # named in downward.io/containers
    ],
    ids=["container", "init-container"],
)
def test_a_container_added_after_our_review_gets_its_folder_in_our_volume(
    late: dict[str, list[dict[str, Any]]], status: bool
) -> None:
    modes = MODES
    options = {"containers": ("app", "init")} if "initContainers" in late else {}
    injected = _apply(_pod(), _plan(_pod(), *modes, **options))
    if not status:  # then our volume is known by its content
        del injected["metadata"]["annotations"]
    # Another mutating webhook adds a container; the API server calls us again.
    for where, containers in late.items():
        injected["spec"].setdefault(where, []).extend(containers)
    plan = _plan(injected, *modes, **options)
    items = [op for op in render(plan).operations if "/downwardAPI/items/" in op["path"]]
    assert {op["path"] for op in items} == {"/spec/volumes/0/downwardAPI/items/-"}
    assert plan.findings == ()
    twice = _apply(injected, plan)
    # As if the container had been there at the first review; and a third review adds nothing.
    at_once = copy.deepcopy(_pod())
    for where, containers in late.items():
        at_once["spec"].setdefault(where, []).extend(containers)
    assert _folders(twice) == _folders(_apply(at_once, _plan(at_once, *modes, **options)))
    assert not render(_plan(twice, *modes, **options))


def test_a_late_folder_of_a_container_without_limits_is_the_only_one_reported() -> None:
    pod = _pod({"name": "app", "image": "nginx"})
    injected = _apply(pod, _plan(pod, VOLUME))
    injected["spec"]["containers"].append({"name": "mesh", "image": "proxy"})
    plan = _plan(injected, VOLUME)
    assert [f.problem for f in plan.findings] == ['container "mesh" has no cpu, memory limit']


def test_a_volume_of_our_name_without_our_status_or_content_gets_no_folders() -> None:
    theirs = {
        "name": "downward-podinfo",
        "downwardAPI": {
            "items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            ]
        },
    }
    plan = _plan(_pod(volumes=[theirs]), VOLUME)
    assert _reasons(plan) == [Reason.VOLUME_CONFLICT]
    assert (plan.late_folders, plan.containers) == (None, ())


def test_the_plan_never_reads_the_pods_name_or_uid() -> None:
    unnamed = _pod()
    named = copy.deepcopy(unnamed)
    named["metadata"].update(name="web-abc", uid="1234")
    assert _plan(unnamed, *MODES) == _plan(named, *MODES)
