"""Patch: turn a ``Plan`` into RFC 6902 operations, as data.

The API server applies the patch with evanphx/json-patch, which will not append to a list
that is not there: objects arrive without empty fields, so a missing ``env``, ``volumeMounts``,
``volumes``, ``initContainers`` or ``annotations`` is created whole rather than appended to.
Every operation is an ``add``; an unchanged pod gives ``[]``. Injected env vars are inserted at
the front, one index after another, so a user's later ``$(POD_NAME)`` can refer to them.
"""

from __future__ import annotations

from collections.abc import Sequence

from webhook.core.annotations import INJECTED
from webhook.core.plan import Plan
from webhook.types import JSONObject, Patch, PatchOp

__all__ = ["escape", "render"]


def escape(token: str) -> str:
    """Escape one JSON Pointer reference token (RFC 6901): ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return token.replace("~", "~0").replace("/", "~1")


def _add(path: str, value: object) -> PatchOp:
    return {"op": "add", "path": path, "value": value}


def _append(ops: Patch, path: str, values: Sequence[JSONObject], exists: bool) -> None:
    if exists:
        ops.extend(_add(f"{path}/-", v) for v in values)
    else:
        ops.append(_add(path, list(values)))


def render(plan: Plan) -> Patch:
    """The JSON Patch for ``plan``, in an order that applies top to bottom."""
    ops: Patch = []
    if plan.injected is not None:
        if plan.has_annotations:
            ops.append(_add(f"/metadata/annotations/{escape(INJECTED)}", plan.injected))
        else:
            ops.append(_add("/metadata/annotations", {INJECTED: plan.injected}))
    if plan.volumes:
        _append(ops, "/spec/volumes", plan.volumes, plan.has_volumes)
    for c in plan.containers:
        if c.env and c.has_env:
            ops.extend(_add(f"{c.pointer}/env/{i}", var) for i, var in enumerate(c.env))
        elif c.env:
            ops.append(_add(f"{c.pointer}/env", list(c.env)))
        if c.mount is not None:
            _append(ops, f"{c.pointer}/volumeMounts", (c.mount,), c.has_mounts)
    # Last: a native sidecar goes to initContainers[0], which shifts the indices of the init
    # containers addressed above.
    if plan.ambassador is not None:
        if plan.ambassador.get("restartPolicy") != "Always":
            ops.append(_add("/spec/containers/-", plan.ambassador))
        elif plan.has_init_containers:
            ops.append(_add("/spec/initContainers/0", plan.ambassador))
        else:
            ops.append(_add("/spec/initContainers", [plan.ambassador]))
    return ops
