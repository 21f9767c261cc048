"""``webhook.core.containers``: which containers are targets, their env vars and their mount.

``test_plan.py`` checks the same rules through whole plans; here each function alone, on
the edges a plan hides: pointers past the 64 made in advance, names that appear twice, env
vars partly there already, mount paths that only normalise to ours.
"""

from __future__ import annotations

from typing import Any

import pytest

from webhook.core.ambassador import CONTAINER_NAME, AmbassadorSettings
from webhook.core.annotations import Options
from webhook.core.containers import Target, plan_env, plan_mount, targets_of
from webhook.core.envvars import CATALOG
from webhook.core.model import PodSpec
from webhook.core.pieces import Kit
from webhook.core.reasons import Finding, Reason
from webhook.core.review import pod_from_object
from webhook.core.volume import VOLUME_NAME


def _spec(containers: list[dict[str, Any]], **extra: Any) -> PodSpec:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": "team-a"},
        "spec": {"containers": containers, **extra},
    }
    return pod_from_object(pod).spec


def _named(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "image": "nginx"} for name in names]


def test_every_container_but_the_ambassador_by_pointer_past_the_prepared_ones() -> None:
    names = [f"c{i}" for i in range(70)]
    spec = _spec(_named(*names[:3], CONTAINER_NAME, *names[3:]))
    findings: list[Finding] = []
    targets = targets_of(spec, Options(frozenset({"env"})), findings)
    assert [t.container.name for t in targets] == names
    assert targets[2].pointer == "/spec/containers/2"
    assert targets[3].pointer == "/spec/containers/4"  # the ambassador at 3 is skipped
    assert targets[-1].pointer == "/spec/containers/70"
    assert findings == [] and not any(t.init for t in targets)


def test_named_targets_come_in_the_pods_order_containers_first() -> None:
    spec = _spec(_named("a", "b"), initContainers=_named("init"))
    findings: list[Finding] = []
    options = Options(frozenset({"env"}), containers=("init", "b", "nope", CONTAINER_NAME))
    targets = targets_of(spec, options, findings)
    assert [(t.pointer, t.init) for t in targets] == [
        ("/spec/containers/1", False),
        ("/spec/initContainers/0", True),
    ]
    assert [f.reason for f in findings] == [Reason.UNKNOWN_CONTAINER, Reason.AMBASSADOR_NOT_TARGET]


def _target(**container: Any) -> Target:
    spec = _spec([{"name": "app", "image": "nginx", **container}])
    return Target("/spec/containers/0", spec.containers[0], False)


KIT = Kit.of(Options(frozenset({"env", "volume"}), env_fields=()), AmbassadorSettings())
FULL_KIT = Kit.of(Options(frozenset({"env", "volume"})), AmbassadorSettings())


def test_a_container_without_our_env_vars_gets_them_all() -> None:
    conflicts: dict[str, list[str]] = {}
    target = _target(env=[{"name": "OTHER", "value": "1"}])
    pieces, has = plan_env(target, FULL_KIT.env, FULL_KIT.env_pieces, FULL_KIT.mount, conflicts)
    assert pieces is FULL_KIT.env_pieces and has and conflicts == {}


def test_an_equal_env_var_is_kept_a_different_one_is_a_conflict_the_rest_added() -> None:
    first, second, *rest = FULL_KIT.env.env
    env = [first, {"name": second["name"], "value": "mine"}]
    conflicts: dict[str, list[str]] = {}
    pieces, has = plan_env(
        _target(env=env), FULL_KIT.env, FULL_KIT.env_pieces, FULL_KIT.mount, conflicts
    )
    assert pieces is not None and list(pieces.vars) == rest and has
    assert conflicts == {"app": [second["name"]]}


def test_no_env_fields_add_nothing() -> None:
    assert plan_env(_target(), KIT.env, KIT.env_pieces, KIT.mount, {}) == (None, False)


def test_the_ambassadors_url_alone_does_not_make_env_mode_take_effect() -> None:
    proxied = Kit.of(
        Options(frozenset({"env", "ambassador"}), env_fields=(CATALOG["name"],)),
        AmbassadorSettings(),
    )
    block, pieces = proxied.env_api, proxied.env_api_pieces
    add, has = plan_env(_target(), KIT.env_api, KIT.env_api_pieces, KIT.mount, {})
    assert add is None and not has  # no env-fields, no ambassador: nothing at all
    assert plan_env(_target(), block, pieces, proxied.mount, {}) == (pieces, True)
    taken = _target(env=[{"name": "POD_NAME", "value": "mine"}])
    conflicts: dict[str, list[str]] = {}
    add, has = plan_env(taken, block, pieces, proxied.mount, conflicts)
    assert add is not None and [v["name"] for v in add.vars] == ["KUBERNETES_API_URL"]
    assert not has and conflicts == {"app": ["POD_NAME"]}
    ours = _target(
        env=[{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    )
    assert plan_env(ours, block, pieces, proxied.mount, {})[1]


@pytest.mark.parametrize(
    "path", ["/etc/podinfo", "/etc//podinfo/", "/etc/./podinfo", "/x/../etc/podinfo"]
)
def test_a_mount_at_our_path_once_normalised_is_ours_or_a_conflict(path: str) -> None:
    ours = _target(volumeMounts=[{"name": VOLUME_NAME, "mountPath": path}])
    conflicts: list[str] = []
    assert plan_mount(ours, "/etc/podinfo", conflicts) == (False, True)
    theirs = _target(volumeMounts=[{"name": "config", "mountPath": path}])
    assert plan_mount(theirs, "/etc/podinfo", conflicts) == (False, False)
    assert conflicts == ["app"]


def test_mounts_elsewhere_leave_the_path_free() -> None:
    mounts = [{"name": "a", "mountPath": "/etc/podinfo-2"}, {"name": "b", "mountPath": "/podinfo"}]
    conflicts: list[str] = []
    assert plan_mount(_target(volumeMounts=mounts), "/etc/podinfo", conflicts) == (True, True)
    assert conflicts == []
