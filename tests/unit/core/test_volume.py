"""``webhook.core.volume``: the downwardAPI volume and its mount."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.kube import schema_errors, validation_errors
from webhook.core.divisors import CPU_DIVISORS, DEFAULT_CPU, DEFAULT_MEMORY, MEMORY_DIVISORS
from webhook.core.volume import VOLUME_NAME, build_mount, build_volume

METADATA = {
    "name": "metadata.name",
    "namespace": "metadata.namespace",
    "uid": "metadata.uid",
    "labels": "metadata.labels",
    "annotations": "metadata.annotations",
}
RESOURCES = {
    "cpu_request": "requests.cpu",
    "cpu_limit": "limits.cpu",
    "memory_request": "requests.memory",
    "memory_limit": "limits.memory",
}


def _items(volume: dict[str, Any]) -> dict[str, dict[str, Any]]:
    items: list[dict[str, Any]] = volume["downwardAPI"]["items"]
    by_path = {item["path"]: item for item in items}
    assert len(by_path) == len(items), "item paths are unique"
    return by_path


def test_the_volume_has_the_metadata_files_then_four_files_per_container() -> None:
    volume = build_volume(["app", "sidecar"], 0o644, DEFAULT_CPU, DEFAULT_MEMORY)
    assert volume["name"] == VOLUME_NAME == "downward-podinfo"
    paths = list(_items(volume))
    assert paths[:5] == list(METADATA)
    assert paths[5:] == [f"containers/{c}/{f}" for c in ("app", "sidecar") for f in RESOURCES]


def test_metadata_files_read_their_field_and_nothing_the_volume_cannot_hold() -> None:
    items = _items(build_volume([], 0o644, DEFAULT_CPU, DEFAULT_MEMORY))
    assert {p: i["fieldRef"] for p, i in items.items()} == {
        p: {"apiVersion": "v1", "fieldPath": f} for p, f in METADATA.items()
    }


@pytest.mark.parametrize(("cpu", "memory"), [("1m", "1"), ("1", "1Mi"), ("1", "1G")])
def test_resource_files_name_their_container_and_use_the_divisors(cpu: str, memory: str) -> None:
    volume = build_volume(["app"], 0o644, CPU_DIVISORS[cpu], MEMORY_DIVISORS[memory])
    items = _items(volume)
    for file, resource in RESOURCES.items():
        ref = items[f"containers/app/{file}"]["resourceFieldRef"]
        divisor = cpu if resource.endswith("cpu") else memory
        assert ref == {"containerName": "app", "resource": resource, "divisor": divisor}


@pytest.mark.parametrize("mode", [0o644, 0o440, 0o400, 0])
def test_the_mode_is_the_default_mode_of_the_files(mode: int) -> None:
    assert (
        build_volume(["app"], mode, DEFAULT_CPU, DEFAULT_MEMORY)["downwardAPI"]["defaultMode"]
        == mode
    )


def test_the_containers_keep_their_order_and_a_name_may_be_long() -> None:
    long = "c" * 200  # admission runs before validation: any string may come
    paths = list(_items(build_volume(["b", long, "a"], 0o644, DEFAULT_CPU, DEFAULT_MEMORY)))
    assert [p.split("/")[1] for p in paths[5:]][::4] == ["b", long, "a"]


def test_the_mount_is_read_only_at_the_path() -> None:
    assert build_mount("/etc/podinfo") == {
        "name": VOLUME_NAME,
        "mountPath": "/etc/podinfo",
        "readOnly": True,
    }


def test_a_pod_with_the_volume_and_mounts_is_valid_for_the_api_server() -> None:
    names = ["app", "sidecar"]
    volume = build_volume(names, 0o440, CPU_DIVISORS["1"], MEMORY_DIVISORS["1Ki"])
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {"name": n, "image": "nginx", "volumeMounts": [build_mount("/etc/podinfo")]}
                for n in names
            ],
            "volumes": [volume],
        },
    }
    assert validation_errors(pod) == []
    assert schema_errors(pod) == []
