"""Type aliases shared by every layer: the JSON shapes we read and the patches we write."""

from typing import Any, TypeAlias

__all__ = ["JSONObject", "Patch", "PatchOp"]

#: A decoded JSON object (a Kubernetes object or part of one). Kubernetes objects are open
#: ended, so values stay ``Any``; ``webhook.core.review`` checks the parts we touch.
JSONObject: TypeAlias = dict[str, Any]

#: One RFC 6902 operation, e.g. ``{"op": "add", "path": "/spec/volumes/-", "value": {...}}``.
PatchOp: TypeAlias = dict[str, Any]

#: A whole JSON Patch: the ordered list of operations.
Patch: TypeAlias = list[PatchOp]
