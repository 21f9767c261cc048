"""Server-side apply and field ownership of ``caBundle``, for the FAKE API server.

A model of the part of Kubernetes' field management that the certificate modes meet, and
nothing more. Ownership is tracked for one field only, ``clientConfig.caBundle`` of each
webhook entry, keyed like the real server keys it (a manager name and an operation,
``Apply`` or ``Update``). Rules, as Kubernetes documents them for server-side apply:

* an apply that sets a field to the value it already has shares its ownership;
* an apply that changes a field owned by another manager is a 409 conflict naming that
  manager, unless ``force=true``, which takes the field over;
* an apply that no longer sets a field its manager owned gives the field up, and a field
  nobody owns any more is removed;
* an update (PUT) takes the fields it changes, and the manager of a PUT without
  ``fieldManager`` is the User-Agent up to its first ``/`` (``OpenAPI-Generator`` for the
  Python client).

Everything else in an apply is merged (webhook entries by ``name``, maps key by key)
without ownership: the fake never removes a field because an applier dropped it.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.loopback import merge

__all__ = [
    "Manager",
    "Owners",
    "apply_webhook_config",
    "conflict_message",
    "managed_fields",
    "updated_owners",
]

Obj = dict[str, Any]
Manager = tuple[str, str]  # (manager, operation)
Owners = dict[str, set[Manager]]  # webhook entry name -> owners of its caBundle

_API_VERSION = "admissionregistration.k8s.io/v1"


def apply_webhook_config(
    current: Obj, patch: Obj, owners: Owners, manager: str, force: bool
) -> tuple[Obj, Owners] | list[tuple[str, str]]:
    """The object and the caBundle owners after ``patch``, or the conflicts (manager, entry)."""
    merged = copy.deepcopy(current)
    for key in ("labels", "annotations"):
        if key in (patch.get("metadata") or {}):
            merged["metadata"].setdefault(key, {}).update(patch["metadata"][key] or {})
    merged_hooks = {hook["name"]: hook for hook in merged.get("webhooks") or []}
    applied: dict[str, str] = {}
    for hook in patch.get("webhooks") or []:
        target = merged_hooks.get(hook["name"])
        if target is None:
            target = merged_hooks[hook["name"]] = {"name": hook["name"]}
            merged.setdefault("webhooks", []).append(target)
        merge(target, hook)
        if "caBundle" in (hook.get("clientConfig") or {}):
            applied[hook["name"]] = hook["clientConfig"]["caBundle"]
    conflicts = _conflicts(current, applied, owners, manager) if not force else []
    if conflicts:
        return conflicts
    return merged, _applied_owners(merged, current, applied, owners, (manager, "Apply"))


def _ca_bundles(obj: Obj) -> dict[str, str]:
    return {
        hook["name"]: hook["clientConfig"]["caBundle"]
        for hook in obj.get("webhooks") or []
        if "caBundle" in (hook.get("clientConfig") or {})
    }


def _conflicts(
    current: Obj, applied: dict[str, str], owners: Owners, manager: str
) -> list[tuple[str, str]]:
    before = _ca_bundles(current)
    found = []
    for entry, value in applied.items():
        if before.get(entry) == value:
            continue  # same value: shared ownership, never a conflict
        for other in sorted(owners.get(entry, set()) - {(manager, "Apply")}):
            found.append((other[0], entry))
    return found


def _applied_owners(
    merged: Obj, current: Obj, applied: dict[str, str], owners: Owners, me: Manager
) -> Owners:
    before = _ca_bundles(current)
    result: Owners = {}
    for hook in merged.get("webhooks") or []:
        entry = hook["name"]
        held = set(owners.get(entry, set()))
        if entry in applied:
            held = held | {me} if before.get(entry) == applied[entry] else {me}
        elif me in held:
            held.discard(me)
            if not held:  # nobody sets it any more: the server removes the field
                hook.get("clientConfig", {}).pop("caBundle", None)
        if held:
            result[entry] = held
    return result


def updated_owners(old: Obj | None, new: Obj, owners: Owners, manager: Manager) -> Owners:
    """The caBundle owners after a PUT (or a seed) of ``new`` over ``old`` by ``manager``."""
    before = _ca_bundles(old or {})
    result: Owners = {}
    for entry, value in _ca_bundles(new).items():
        if before.get(entry) == value and owners.get(entry):
            result[entry] = set(owners[entry])
        else:
            result[entry] = {manager}
    return result


def managed_fields(owners: Owners) -> list[Obj]:
    """``metadata.managedFields`` for the caBundle owners, in the real server's format."""
    by_manager: dict[Manager, list[str]] = {}
    for entry, held in sorted(owners.items()):
        for manager in held:
            by_manager.setdefault(manager, []).append(entry)
    return [
        {
            "manager": manager,
            "operation": operation,
            "apiVersion": _API_VERSION,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:webhooks": {
                    f'k:{{"name":"{entry}"}}': {"f:clientConfig": {"f:caBundle": {}}}
                    for entry in entries
                }
            },
        }
        for (manager, operation), entries in sorted(by_manager.items())
    ]


def conflict_message(conflicts: list[tuple[str, str]]) -> str:
    """The real server's wording: ``Apply failed with 1 conflict: conflict with "helm" ...``."""
    paths = [
        f'conflict with "{manager}" using {_API_VERSION}: '
        f'.webhooks[name="{entry}"].clientConfig.caBundle'
        for manager, entry in conflicts
    ]
    count = f"{len(paths)} conflict" + ("s" if len(paths) > 1 else "")
    return f"Apply failed with {count}: " + "; ".join(paths)
