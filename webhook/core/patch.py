"""Patch: turn a ``Plan`` into RFC 6902 operations, as data and as JSON.

The API server applies the patch with evanphx/json-patch, which will not append to a list
that is not there: objects arrive without empty fields, so a missing ``env``, ``volumeMounts``,
``volumes``, ``initContainers`` or ``annotations`` is created whole rather than appended to.
Every operation is an ``add``; an unchanged pod gives an empty patch. Injected env vars are
inserted at the front, one index after another, so a user's later ``$(POD_NAME)`` can refer
to them.

A patch is made of pieces: the operations for one thing (a container's env vars, its mount,
the volumes, the ambassador), each with its JSON encoded once. The planner hands out the same
(cached) values for every pod of a workload, so a piece is cached by what it adds and where,
and the JSON of a whole patch is a join of encoded pieces, not an encoding of every
operation. A cached piece is used only if what it was made from is equal to what is asked
(identical, in the usual case), so a cache can never give a wrong patch, only a slower one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import msgspec

from webhook.core.keys import INJECTED, WARNINGS
from webhook.core.plan import ContainerPlan, Plan
from webhook.types import JSONObject, Patch, PatchOp

__all__ = ["JsonPatch", "Piece", "escape", "render"]


def escape(token: str) -> str:
    """Escape one JSON Pointer reference token (RFC 6901): ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return token.replace("~", "~0").replace("/", "~1")


class Piece(NamedTuple):
    """Some operations, and their JSON: encoded, comma-separated, without the brackets."""

    ops: tuple[PatchOp, ...]
    json: bytes


class JsonPatch(msgspec.Struct, frozen=True, gc=False):
    """A rendered patch. Its operations are shared with the cache: read them, never change
    them (``copy.deepcopy`` first, as ``downward-webhook render`` does)."""

    pieces: tuple[Piece, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.pieces)

    @property
    def operations(self) -> Patch:
        return [op for piece in self.pieces for op in piece.ops]

    def encode(self) -> bytes:
        return b"[" + b",".join([p.json for p in self.pieces]) + b"]"


_encode = msgspec.json.encode
_Key = tuple[object, ...]
_PIECES: dict[_Key, tuple[tuple[object, ...], Piece]] = {}
_MAX_PIECES = 4096
_MAX_BYTES = 2 * 1024 * 1024  # of JSON; the operations as Python objects take a few times more
_cached_bytes = 0


def _add(path: str, value: object) -> PatchOp:
    return {"op": "add", "path": path, "value": value}


def _piece(
    key: _Key, made_of: tuple[object, ...], build: Callable[..., list[PatchOp]], *args: object
) -> Piece:
    """The cached piece for ``key`` if it was made of values equal to ``made_of``, else
    ``build(*args)``. Keys carry the ``id`` of the values (cheap to hash); the comparison of
    ``made_of`` is by identity first, so the usual hit costs a dict lookup and a tuple compare."""
    hit = _PIECES.get(key)
    if hit is not None and hit[0] == made_of:
        return hit[1]
    global _cached_bytes
    ops = tuple(build(*args))
    piece = Piece(ops, _encode(ops)[1:-1])
    if len(_PIECES) >= _MAX_PIECES or _cached_bytes > _MAX_BYTES:
        _PIECES.clear()  # a new start; bounded memory matters more than the odd miss
        _cached_bytes = 0
    _PIECES[key] = (made_of, piece)
    _cached_bytes += len(piece.json)
    return piece


def _create_or_append_ops(path: str, values: Sequence[JSONObject], exists: bool) -> list[PatchOp]:
    """Append each value to the list at ``path``, or create the list if it is not there."""
    if exists:
        return [_add(f"{path}/-", v) for v in values]
    return [_add(path, list(values))]


def _create_or_append(path: str, values: Sequence[JSONObject], exists: bool) -> Piece:
    made_of = tuple(values)
    key = (path, exists, *map(id, made_of))
    return _piece(key, made_of, _create_or_append_ops, path, made_of, exists)


def _container_ops(c: ContainerPlan) -> list[PatchOp]:
    ops: list[PatchOp] = []
    if c.env and c.has_env:
        # One ``add`` per env var, at the front of the existing list, in order.
        ops.extend(_add(f"{c.pointer}/env/{i}", var) for i, var in enumerate(c.env))
    elif c.env:
        ops.extend(_create_or_append_ops(f"{c.pointer}/env", c.env, exists=False))
    if c.mount is not None:
        ops.extend(_create_or_append_ops(f"{c.pointer}/volumeMounts", (c.mount,), c.has_mounts))
    return ops


def _container(c: ContainerPlan) -> Piece:
    """A container's env vars and mount: one piece (the planner shares the env block and the
    mount between the pods of a workload, so the same container gets the same piece)."""
    key = ("container", c.pointer, id(c.env), c.has_env, id(c.mount), c.has_mounts)
    return _piece(key, (c.env, c.mount), _container_ops, c)


def _status_ops(items: tuple[tuple[str, str], ...], has_annotations: bool) -> list[PatchOp]:
    """Our annotations (``downward.io/injected``, ``downward.io/warnings``): one ``add`` each,
    or, when the pod has no annotations map, one ``add`` that creates it with all of them."""
    if has_annotations:
        return [_add(f"/metadata/annotations/{escape(k)}", v) for k, v in items]
    return [_add("/metadata/annotations", dict(items))]


def _status(plan: Plan, warnings: str | None) -> Piece | None:
    items: list[tuple[str, str]] = []
    if plan.injected is not None:
        items.append((INJECTED, plan.injected))
    if warnings is not None:
        items.append((WARNINGS, warnings))
    if not items:
        return None
    key = ("status", *items, plan.has_annotations)
    made = tuple(items)
    return _piece(key, made, _status_ops, made, plan.has_annotations)


def _ambassador(container: JSONObject, has_init_containers: bool) -> Piece:
    # A native sidecar goes to initContainers[0], which shifts the indices of the init
    # containers addressed before it: that is why this piece comes last.
    if container.get("restartPolicy") != "Always":
        path = "/spec/containers/-"
    elif has_init_containers:
        path = "/spec/initContainers/0"
    else:
        return _create_or_append("/spec/initContainers", (container,), exists=False)
    return _piece((path, id(container)), (container,), _one_op, path, container)


def _one_op(path: str, value: object) -> list[PatchOp]:
    return [_add(path, value)]


def render(plan: Plan, warnings: str | None = None) -> JsonPatch:
    """The JSON Patch for ``plan``, in an order that applies top to bottom; ``warnings`` is
    the ``downward.io/warnings`` value to add, if any (``webhook.core.admission`` makes it)."""
    pieces: list[Piece] = []
    status = _status(plan, warnings)
    if status is not None:
        pieces.append(status)
    if plan.volumes:
        pieces.append(_create_or_append("/spec/volumes", plan.volumes, plan.has_volumes))
    pieces.extend([_container(c) for c in plan.containers])
    if plan.ambassador is not None:
        pieces.append(_ambassador(plan.ambassador, plan.has_init_containers))
    return JsonPatch(tuple(pieces))
