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


_EnvOps = tuple[Sequence[JSONObject], tuple[PatchOp, ...]]
_ENV_OPS: dict[tuple[str, int], _EnvOps] = {}


def _env_ops(pointer: str, env: Sequence[JSONObject]) -> tuple[PatchOp, ...]:
    """One ``add`` per env var, at the front of an existing list, in order.

    Cached per container pointer and env block (the planner shares one block per set of
    options; the entry keeps the block so its id is not reused). Operations are data that is
    serialized, never mutated, so the dicts can be shared between patches.
    """
    key = (pointer, id(env))
    hit = _ENV_OPS.get(key)
    if hit is not None and hit[0] is env:
        return hit[1]
    ops = tuple(_add(f"{pointer}/env/{i}", var) for i, var in enumerate(env))
    if len(_ENV_OPS) >= 1024:
        _ENV_OPS.clear()
    _ENV_OPS[key] = (env, ops)
    return ops


_INJECTED_PATH = f"/metadata/annotations/{escape(INJECTED)}"


def render(plan: Plan) -> Patch:
    """The JSON Patch for ``plan``, in an order that applies top to bottom."""
    ops: Patch = []
    if plan.injected is not None:
        if plan.has_annotations:
            ops.append(_add(_INJECTED_PATH, plan.injected))
        else:
            ops.append(_add("/metadata/annotations", {INJECTED: plan.injected}))
    if plan.volumes:
        _append(ops, "/spec/volumes", plan.volumes, plan.has_volumes)
    for c in plan.containers:
        if c.env and c.has_env:
            ops.extend(_env_ops(c.pointer, c.env))
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
