"""Containers: which containers of a pod get the env vars and the mount, and what each has.

``targets_of`` picks them (every container but the ambassador, or the ones
``downward.io/containers`` names, init containers included); ``plan_env`` merges the env vars
with those the container has (an equal one is kept as it is, a different one is a conflict);
``plan_mount`` looks for a mount at the volume's path (ours from an earlier review, or a
conflict). The planner (``webhook.core.plan``) calls them for each pod.
"""

from __future__ import annotations

import posixpath
from operator import attrgetter

import msgspec

from webhook.core import ambassador as amb
from webhook.core.annotations import Options
from webhook.core.envvars import EnvBlock, env_source
from webhook.core.model import Container, EnvVar, PodSpec
from webhook.core.pieces import EnvPieces, Mount, env_pieces
from webhook.core.reasons import Finding, Reason
from webhook.core.volume import VOLUME_NAME
from webhook.types import JSONObject

__all__ = ["Target", "plan_env", "plan_mount", "targets_of"]


_POINTERS = tuple(f"/spec/containers/{i}" for i in range(64))


class Target(msgspec.Struct, frozen=True, gc=False):
    """A container that gets what the options add, by its JSON Pointer."""

    pointer: str
    container: Container
    init: bool


def targets_of(spec: PodSpec, options: Options, findings: list[Finding]) -> list[Target]:
    """The containers, then the init containers, that get the additions; a finding for each
    name in ``downward.io/containers`` that is no container's, or is the ambassador's."""
    containers = spec.containers
    inits = spec.initContainers or []
    if options.containers is None:
        return [
            Target(_POINTERS[i] if i < len(_POINTERS) else f"/spec/containers/{i}", c, False)
            for i, c in enumerate(containers)
            if c.name != amb.CONTAINER_NAME
        ]
    wanted = set(options.containers)
    present = {c.name for c in (*containers, *inits)}  # one set: names x containers is large
    for name in options.containers:
        if name == amb.CONTAINER_NAME:
            findings.append(Finding(Reason.AMBASSADOR_NOT_TARGET))
        elif name not in present:
            findings.append(Finding.of(Reason.UNKNOWN_CONTAINER, value=name))
    wanted.discard(amb.CONTAINER_NAME)
    return [
        *(
            Target(f"/spec/containers/{i}", c, False)
            for i, c in enumerate(containers)
            if c.name in wanted
        ),
        *(
            Target(f"/spec/initContainers/{i}", c, True)
            for i, c in enumerate(inits)
            if c.name in wanted
        ),
    ]


_name = attrgetter("name")


def _existing_source(var: EnvVar, container: str) -> tuple[object, ...]:
    value_from = msgspec.json.decode(var.valueFrom) if var.valueFrom else None
    return env_source(var.value, value_from, container)


def plan_env(
    target: Target,
    block: EnvBlock,
    pieces: EnvPieces | None,
    mount: Mount,
    conflicts: dict[str, list[str]],
) -> tuple[EnvPieces | None, bool]:
    """(the env vars to add, whether the container has env mode's vars after this review).

    A container that gets all of ``block`` has them if the block has any (the planner checks
    ``block.field_names`` once per pod); one that has some of ours already counts only those
    of ``block.field_names``, not the ambassador's ``KUBERNETES_API_URL``."""
    name = target.container.name
    own = target.container.env
    if pieces is None:
        return None, False
    if not own or block.names.isdisjoint(map(_name, own)):
        return pieces, True  # nothing in common: add all (the usual case)
    fields = block.field_names
    existing = {v.name: v for v in own}
    add: list[JSONObject] = []
    had = False  # one of env mode's vars, there already
    for var in block.env:
        have = existing.get(var["name"])
        if have is None:
            add.append(var)
        elif _existing_source(have, name) == env_source(
            var.get("value"), var.get("valueFrom"), name
        ):
            had = had or var["name"] in fields
        else:
            conflicts.setdefault(name, []).append(var["name"])
    got = had or not fields.isdisjoint([var["name"] for var in add])
    return (env_pieces(tuple(add), mount) if add else None), got


def _at(mount_path: str, path: str) -> bool:
    """Whether ``mount_path`` is ``path`` (normalised, as our ``volume-path`` is) once
    normalised; ``posixpath.normpath`` only for a path that has something to normalise."""
    if mount_path == path:
        return True
    clean = mount_path[:1] == "/" and "//" not in mount_path and "/." not in mount_path
    return not (clean and mount_path[-1:] != "/") and posixpath.normpath(mount_path) == path


def plan_mount(target: Target, path: str, conflicts: list[str]) -> tuple[bool, bool]:
    """(whether to add the mount, whether the container mounts our volume after this review)."""
    # Normalising only drops ``.``, ``..`` and slashes: a mount path that normalises to
    # ``path`` holds its last name as it is (cheap to look for, and most mounts lack it).
    last = path.rpartition("/")[2]
    for mount in target.container.volumeMounts or ():
        if last in mount.mountPath and _at(mount.mountPath, path):
            if mount.name != VOLUME_NAME:
                conflicts.append(target.container.name)
                return False, False
            return False, True
    return True, True
