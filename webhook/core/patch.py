"""Patch: turn a ``Plan`` into RFC 6902 operations, as JSON.

The API server applies the patch with evanphx/json-patch, which will not append to a list
that is not there: objects arrive without empty fields, so a missing ``env``, ``volumeMounts``,
``volumes``, ``initContainers`` or ``annotations`` is created whole rather than appended to.
Every operation is an ``add``; an unchanged pod gives an empty patch. Injected env vars are
inserted at the front, one index after another, so a user's later ``$(POD_NAME)`` can refer
to them.

What a plan adds is JSON already (``webhook.core.pieces``: encoded once per set of options),
so rendering joins byte strings: the operation's head, the JSON Pointer of the place, the
pre-encoded end. Only the pod's own values (the ``downward.io/warnings`` text) are encoded
here. ``tests/unit/core/test_patch.py`` holds the result to the JSON of the same operations
built as data.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from webhook.core.keys import INJECTED, WARNINGS
from webhook.core.pieces import add_op
from webhook.core.plan import Plan
from webhook.types import Patch

__all__ = ["JsonPatch", "escape", "render"]


def escape(token: str) -> str:
    """Escape one JSON Pointer reference token (RFC 6901): ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return token.replace("~", "~0").replace("/", "~1")


class JsonPatch(msgspec.Struct, frozen=True, gc=False):
    """A rendered patch: its operations' JSON, a piece (some operations, comma-separated)
    at a time."""

    pieces: tuple[bytes, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.pieces)

    @property
    def operations(self) -> Patch:
        """The operations as data (decoded anew: change them freely)."""
        ops: Patch = msgspec.json.decode(self.encode())
        return ops

    def encode(self) -> bytes:
        """The JSON array, in one copy of the pieces (a 3-container patch is 10 KB)."""
        pieces = self.pieces
        if not pieces:
            return b"[]"
        parts = [b","] * (2 * len(pieces) + 1)
        parts[0], parts[1::2], parts[-1] = b"[", pieces, b"]"
        return b"".join(parts)


_encode = msgspec.json.encode
_STATUS_PATHS = {k: f"/metadata/annotations/{escape(k)}".encode() for k in (INJECTED, WARNINGS)}


def _create_or_append(path: bytes, values: Sequence[bytes], exists: bool) -> bytes:
    """Append each value (JSON) to the list at ``path``, or create the list."""
    if exists:
        return b",".join([add_op(path + b"/-", v) for v in values])
    return add_op(path, b"[" + b",".join(values) + b"]")


def _status(plan: Plan, warnings: str | None) -> bytes | None:
    """Our annotations (``downward.io/injected``, ``downward.io/warnings``): one ``add`` each,
    or, when the pod has no annotations map, one ``add`` that creates it with all of them."""
    items: dict[str, str] = {}
    if plan.injected is not None:
        items[INJECTED] = plan.injected
    if warnings is not None:
        items[WARNINGS] = warnings
    if not items:
        return None
    if not plan.has_annotations:
        return add_op(b"/metadata/annotations", _encode(items))
    return b",".join([add_op(_STATUS_PATHS[k], _encode(v)) for k, v in items.items()])


def _ambassador(plan: Plan) -> bytes:
    # A native sidecar goes to initContainers[0], which shifts the indices of the init
    # containers addressed before it: that is why this piece comes last.
    ambassador = plan.ambassador
    assert ambassador is not None
    if not ambassador.native:
        return add_op(b"/spec/containers/-", ambassador.container)
    if plan.has_init_containers:
        return add_op(b"/spec/initContainers/0", ambassador.container)
    return _create_or_append(b"/spec/initContainers", (ambassador.container,), exists=False)


def render(plan: Plan, warnings: str | None = None) -> JsonPatch:
    """The JSON Patch for ``plan``, in an order that applies top to bottom; ``warnings`` is
    the ``downward.io/warnings`` value to add, if any (``webhook.core.admission`` makes it)."""
    pieces: list[bytes] = []
    status = _status(plan, warnings)
    if status is not None:
        pieces.append(status)
    if plan.late_folders is not None:  # before any volume is appended: its index holds
        index, items = plan.late_folders
        path = b"/spec/volumes/%d/downwardAPI/items/-" % index
        pieces.append(b",".join([add_op(path, item) for item in items]))
    if plan.volumes:
        pieces.append(_create_or_append(b"/spec/volumes", plan.volumes, plan.has_volumes))
    pieces.extend([c.pointer.encode().join(c.template) for c in plan.containers])
    if plan.ambassador is not None:
        pieces.append(_ambassador(plan))
    return JsonPatch(tuple(pieces))
