"""Volume mode: the ``downward-podinfo`` downwardAPI volume and its read-only mount.

Files under a downwardAPI volume are refreshed by the kubelet when labels or annotations
change, which env vars cannot do. ``spec.nodeName``, ``spec.serviceAccountName`` and the
``status.*IP*`` fields are not allowed as volume files, so the volume carries only metadata and
the resources of every container, each qualified by ``containerName`` (required in a volume,
since a volume belongs to the pod, not to one container).
"""

from __future__ import annotations

from collections.abc import Iterable

from webhook.core.divisors import Divisor
from webhook.types import JSONObject

__all__ = ["FOLDER_LIMITS", "VOLUME_NAME", "build_mount", "build_volume", "resource_items"]

VOLUME_NAME = "downward-podinfo"

_METADATA_FILES = (
    ("name", "metadata.name"),
    ("namespace", "metadata.namespace"),
    ("uid", "metadata.uid"),
    ("labels", "metadata.labels"),
    ("annotations", "metadata.annotations"),
)
_RESOURCE_FILES = (
    ("cpu_request", "requests.cpu"),
    ("cpu_limit", "limits.cpu"),
    ("memory_request", "requests.memory"),
    ("memory_limit", "limits.memory"),
)
#: The limits a container's folder reads (``cpu_limit``, ``memory_limit``): where the
#: container has none, the file holds the node's allocatable amount.
FOLDER_LIMITS = ("cpu", "memory")


def resource_items(container: str, cpu: Divisor, memory: Divisor) -> tuple[JSONObject, ...]:
    """One container's four items, each qualified by ``containerName``."""
    return tuple(
        {
            "path": f"containers/{container}/{file}",
            "resourceFieldRef": {
                "containerName": container,
                "resource": resource,
                "divisor": cpu.quantity if resource.endswith("cpu") else memory.quantity,
            },
        }
        for file, resource in _RESOURCE_FILES
    )


_METADATA_ITEMS: tuple[JSONObject, ...] = tuple(
    {"path": path, "fieldRef": {"apiVersion": "v1", "fieldPath": field}}
    for path, field in _METADATA_FILES
)


def build_volume(containers: Iterable[str], mode: int, cpu: Divisor, memory: Divisor) -> JSONObject:
    """The volume, with a ``containers/<name>/`` folder for each name in ``containers``."""
    items: list[JSONObject] = list(_METADATA_ITEMS)
    for name in containers:
        items.extend(resource_items(name, cpu, memory))
    return {"name": VOLUME_NAME, "downwardAPI": {"defaultMode": mode, "items": items}}


def build_mount(path: str) -> JSONObject:
    return {"name": VOLUME_NAME, "mountPath": path, "readOnly": True}
