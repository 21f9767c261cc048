"""``webhook.core.notices``: one finding per kind of trouble for the whole pod."""

from __future__ import annotations

from typing import Any

from webhook.core.notices import env_conflicts, missing_limits, mount_conflicts, no_limit
from webhook.core.reasons import Reason
from webhook.core.review import pod_from_object


def _spec(*containers: dict[str, Any], **spec: Any) -> Any:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {},
        "spec": {"containers": list(containers), **spec},
    }
    return pod_from_object(pod).spec


def test_containers_with_the_same_conflicting_names_share_one_finding() -> None:
    found = env_conflicts({"a": ["POD_NAME"], "b": ["POD_NAME"], "c": ["POD_IP", "NODE_NAME"]})
    assert [f.reason for f in found] == [Reason.ENV_CONFLICT] * 2
    assert found[0].message.startswith('containers "a", "b": env var "POD_NAME"')
    assert "POD_IP" in found[1].message and "NODE_NAME" in found[1].message


def test_a_mount_conflict_is_one_finding_and_says_whether_the_volume_was_mounted_elsewhere() -> (
    None
):
    assert mount_conflicts([], "/etc/podinfo", True) == []
    [some] = mount_conflicts(["a", "b"], "/etc/podinfo", True)
    [none] = mount_conflicts(["a"], "/etc/podinfo", False)
    assert (some.reason, none.reason) == (Reason.MOUNT_CONFLICT, Reason.VOLUME_NOT_MOUNTABLE)


def test_missing_limits_are_read_per_container() -> None:
    spec = _spec(
        {"name": "a", "image": "x", "resources": {"limits": {"cpu": "1"}}},
        {"name": "b", "image": "x"},
        {"name": "c", "image": "x", "resources": {"limits": {}}},
        {"name": "d", "image": "x", "resources": {"limits": {"memory": "1Gi", "cpu": "1"}}},
    )
    a, b, c, d = spec.containers
    assert missing_limits(a, ("cpu", "memory")) == ("memory",)
    assert missing_limits(b, ("cpu", "memory")) == ("cpu", "memory")
    assert missing_limits(c, ("memory", "cpu")) == ("memory", "cpu")  # in the order asked
    assert missing_limits(d, ("cpu", "memory")) == ()
    assert missing_limits(d, ("ephemeral-storage", "cpu")) == ("ephemeral-storage",)


def test_one_no_limit_finding_for_the_pod_less_what_pod_level_limits_cover() -> None:
    bare = _spec({"name": "a", "image": "x"}, {"name": "b", "image": "x"})
    [found] = no_limit({"a": ["cpu", "memory"], "b": ["cpu", "memory", "cpu"]}, bare)
    assert found.reason == Reason.NO_LIMIT and found.message.count("no cpu, memory limit") == 1
    covered = _spec(
        {"name": "a", "image": "x"}, resources={"limits": {"cpu": "2", "memory": "1Gi"}}
    )
    assert no_limit({"a": ["cpu", "memory"]}, covered) == []
    zero = _spec({"name": "a", "image": "x"}, resources={"limits": {"cpu": "0", "memory": "1Gi"}})
    [left] = no_limit({"a": ["cpu", "memory"]}, zero)
    assert "no cpu limit" in left.message
    assert no_limit({"a": []}, bare) == []
