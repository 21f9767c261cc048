"""Notices: the findings the planner gathers for a whole pod, one per kind of trouble.

Repeated findings are merged (``docs/findings.md``, Aggregation): one ``env-conflict`` per set
of conflicting names, listing the containers that have it; one ``mount-conflict`` or
``volume-not-mountable``; one ``no-limit`` naming which containers lack which limit, less what
pod-level limits (PodLevelResources) cover for the Downward API.
"""

from __future__ import annotations

import msgspec

from webhook.core.model import Container, PodSpec
from webhook.core.reasons import Finding, Reason, listing

__all__ = ["env_conflicts", "missing_limits", "mount_conflicts", "no_limit"]


def env_conflicts(conflicts: dict[str, list[str]]) -> list[Finding]:
    """One finding per set of conflicting names, listing the containers that have it."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for container, names in conflicts.items():
        groups.setdefault(tuple(names), []).append(container)
    return [
        Finding.of(
            Reason.ENV_CONFLICT,
            containers=listing("container", containers),
            names=listing("env var", names),
        )
        for names, containers in groups.items()
    ]


def mount_conflicts(conflicts: list[str], path: str, mounted: bool) -> list[Finding]:
    if not conflicts:
        return []
    reason = Reason.MOUNT_CONFLICT if mounted else Reason.VOLUME_NOT_MOUNTABLE
    return [Finding.of(reason, containers=listing("container", conflicts), path=path)]


def missing_limits(container: Container, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The ones of ``kinds`` the container has no limit for, in the order of ``kinds``."""
    resources = container.resources
    limits = resources.limits if resources is not None else None
    if limits is None:
        return kinds
    have = limits.kinds()
    if have.issuperset(kinds):  # the usual case, and the one every review meets
        return ()
    return tuple([k for k in kinds if k not in have])


#: The resources a pod-level limit covers for the Downward API (PodLevelResources).
_POD_LEVEL = ("cpu", "memory")


def _pod_level_limits(spec: PodSpec) -> frozenset[str]:
    limits = spec.resources.limits if spec.resources else None
    if not limits:
        return frozenset()
    return frozenset(
        k
        for k in _POD_LEVEL
        if k in limits and msgspec.json.decode(getattr(limits, k)) not in ("0", 0)
    )


def no_limit(missing: dict[str, list[str]], spec: PodSpec) -> list[Finding]:
    """One finding for the pod: which containers lack which limit, pod-level limits aside."""
    if not any(missing.values()):
        return []
    covered = _pod_level_limits(spec)
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, kinds in missing.items():
        lacking = tuple(k for k in dict.fromkeys(kinds) if k not in covered)
        if lacking:
            groups.setdefault(lacking, []).append(name)
    parts = [
        f"{listing('container', names)} {'has' if len(names) == 1 else 'have'}"
        f" no {', '.join(kinds)} limit"
        for kinds, names in groups.items()
    ]
    return [Finding.of(Reason.NO_LIMIT, missing="; ".join(parts))] if parts else []
