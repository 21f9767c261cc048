"""Pods for the audit tests, as the API server returns them: plain JSON objects.

``injected`` runs the webhook's own ``mutate`` and applies its patch (with ``jsonpatch``), so
an "injected" pod is exactly what the webhook would have stored.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch  # type: ignore[import-untyped]

from webhook.core.admission import Settings, mutate
from webhook.core.review import pod_from_object

Obj = dict[str, Any]


def pod(
    name: str,
    namespace: str = "apps",
    annotations: dict[str, str] | None = None,
    owner: tuple[str, str] | None = None,
    phase: str = "Running",
) -> Obj:
    metadata: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"}
    if annotations is not None:
        metadata["annotations"] = dict(annotations)
    if owner is not None:
        kind, owner_name = owner
        metadata["ownerReferences"] = [
            {"apiVersion": "v1", "kind": kind, "name": owner_name, "uid": "u", "controller": True}
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        "status": {"phase": phase},
    }


def injected(obj: Obj, settings: Settings | None = None, default: str | None = None) -> Obj:
    """``obj`` as the webhook would have stored it."""
    decision = mutate(pod_from_object(obj), settings or Settings(), default_inject=default)
    ops = copy.deepcopy(decision.patch.operations)
    result: Obj = jsonpatch.apply_patch(obj, ops)
    return result
