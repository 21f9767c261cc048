"""Plan: given a pod and its options, decide what to add and what to skip, with a reason each.

The plan only *adds*. Whatever the pod already has wins: an env var, volume or mount path of
the same name is kept and a finding says so, unless it is exactly what we would add, which
is how a second review of an injected pod (``reinvocationPolicy: IfNeeded``) plans nothing.
Nothing here reads ``metadata.name`` or ``metadata.uid``: pods made from ``generateName``
(every Deployment, Job and StatefulSet pod) have neither at admission time.
"""

from __future__ import annotations

import posixpath
from itertools import combinations
from operator import attrgetter

import msgspec

from webhook.core import ambassador as amb
from webhook.core.annotations import Options
from webhook.core.envvars import EnvBlock, env_source
from webhook.core.keys import AMBASSADOR, ENV, INJECTED, MODES, VOLUME
from webhook.core.model import Container, EnvVar, Pod, PodSpec
from webhook.core.notices import env_conflicts, missing_limits, mount_conflicts, no_limit
from webhook.core.pieces import AmbassadorPieces, EnvPieces, Kit, Mount, Template, env_pieces
from webhook.core.placement import ambassador_for
from webhook.core.reasons import Finding, Reason
from webhook.core.volume import VOLUME_NAME
from webhook.types import JSONObject

__all__ = ["NOTHING", "ContainerPlan", "Plan", "plan_injection", "status_plan"]


class ContainerPlan(msgspec.Struct, frozen=True, gc=False):
    """Additions to one container, addressed by its JSON Pointer (``/spec/containers/0``):
    their operations' JSON is ``pointer.join(template)`` (``webhook.core.pieces``)."""

    pointer: str
    template: Template
    #: The env vars it gets, and whether it gets the mount (what the template holds).
    env: tuple[JSONObject, ...] = ()
    mount: bool = False


class Plan(msgspec.Struct, frozen=True, gc=False):
    """Everything to add to one pod; ``patch.render`` turns it into JSON Patch operations.
    What it adds is JSON already (``webhook.core.pieces``); the rest is where it goes."""

    containers: tuple[ContainerPlan, ...] = ()
    volumes: tuple[bytes, ...] = ()
    has_volumes: bool = False
    ambassador: AmbassadorPieces | None = None
    has_init_containers: bool = False
    injected: str | None = None
    has_annotations: bool = False
    modes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()


_POINTERS = tuple(f"/spec/containers/{i}" for i in range(64))


class _Target(msgspec.Struct, frozen=True, gc=False):
    pointer: str
    container: Container
    init: bool


def _targets(spec: PodSpec, options: Options, findings: list[Finding]) -> list[_Target]:
    containers = spec.containers
    inits = spec.initContainers or []
    if options.containers is None:
        return [
            _Target(_POINTERS[i] if i < len(_POINTERS) else f"/spec/containers/{i}", c, False)
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
            _Target(f"/spec/containers/{i}", c, False)
            for i, c in enumerate(containers)
            if c.name in wanted
        ),
        *(
            _Target(f"/spec/initContainers/{i}", c, True)
            for i, c in enumerate(inits)
            if c.name in wanted
        ),
    ]


_name = attrgetter("name")


def _existing_source(var: EnvVar, container: str) -> tuple[object, ...]:
    value_from = msgspec.json.decode(var.valueFrom) if var.valueFrom else None
    return env_source(var.value, value_from, container)


def _plan_env(
    target: _Target,
    block: EnvBlock,
    pieces: EnvPieces | None,
    mount: Mount,
    conflicts: dict[str, list[str]],
) -> tuple[EnvPieces | None, bool]:
    """(the env vars to add, whether the container has one of ours after this review)."""
    name = target.container.name
    own = target.container.env
    if pieces is None:
        return None, False
    if not own or block.names.isdisjoint(map(_name, own)):
        return pieces, True  # nothing in common: add all (the usual case)
    existing = {v.name: v for v in own}
    add: list[JSONObject] = []
    had = False
    for var in block.env:
        have = existing.get(var["name"])
        if have is None:
            add.append(var)
        elif _existing_source(have, name) == env_source(
            var.get("value"), var.get("valueFrom"), name
        ):
            had = True
        else:
            conflicts.setdefault(name, []).append(var["name"])
    return (env_pieces(tuple(add), mount) if add else None), had or bool(add)


def _at(mount_path: str, path: str) -> bool:
    """Whether ``mount_path`` is ``path`` (normalised, as our ``volume-path`` is) once
    normalised; ``posixpath.normpath`` only for a path that has something to normalise."""
    if mount_path == path:
        return True
    clean = mount_path[:1] == "/" and "//" not in mount_path and "/." not in mount_path
    return not (clean and mount_path[-1:] != "/") and posixpath.normpath(mount_path) == path


def _plan_mount(target: _Target, path: str, conflicts: list[str]) -> tuple[bool, bool]:
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


def _volume(
    spec: PodSpec,
    kit: Kit,
    targets: list[_Target],
    with_ambassador: bool,
    prior: frozenset[str],
    findings: list[Finding],
) -> tuple[bool, bytes | None]:
    """(is the volume ours after this review, the volume to add if any, as JSON)."""
    folders = [c.name for c in spec.containers if c.name != amb.CONTAINER_NAME]
    folders += [t.container.name for t in targets if t.init]
    if with_ambassador:
        folders.append(amb.CONTAINER_NAME)
    for existing in spec.volumes or ():
        if existing.name == VOLUME_NAME:
            break
    else:
        return True, kit.volume.encode(folders)
    # Only the downwardAPI source is compared: validation allows one source per volume.
    same = bool(existing.downwardAPI) and (
        msgspec.json.decode(existing.downwardAPI) == kit.volume_source(folders)
    )
    if same or VOLUME in prior:
        return True, None
    findings.append(Finding.of(Reason.VOLUME_CONFLICT, name=VOLUME_NAME))
    return False, None


_NO_PRIOR: frozenset[str] = frozenset({""})
#: Every set of applied modes -> (the modes in canonical order, the status annotation value).
_MODE_SETS: dict[frozenset[str], tuple[tuple[str, ...], str]] = {
    frozenset(subset): (subset, ",".join(subset))
    for size in range(len(MODES) + 1)
    for subset in combinations(MODES, size)  # in the order of MODES
}


def plan_injection(pod: Pod, kit: Kit) -> Plan:
    """Plan the additions of ``kit`` (one set of options, pre-encoded) for ``pod`` (a Pod, or
    a pod template shaped like one)."""
    spec = pod.spec
    options = kit.options
    annotations = pod.metadata.annotations or {}
    prior_text = annotations.get(INJECTED)
    prior = frozenset(m.strip() for m in prior_text.split(",")) if prior_text else _NO_PRIOR
    findings: list[Finding] = []
    targets = _targets(spec, options, findings)
    applied: set[str] = set()

    with_ambassador, ambassador = False, None
    if kit.ambassador is not None:
        with_ambassador, ambassador = ambassador_for(spec, kit, prior, findings)
        if with_ambassador:
            applied.add(AMBASSADOR)

    wants_env, wants_volume = ENV in options.modes, VOLUME in options.modes
    if (wants_env or wants_volume) and not targets:
        findings.append(Finding(Reason.NO_TARGETS))

    block, pieces = (
        (kit.env_api, kit.env_api_pieces) if with_ambassador else (kit.env, kit.env_pieces)
    )
    if block.duplicates:
        findings.extend(
            Finding.of(Reason.DUPLICATE_ENV_NAME, value=k, name=n) for k, n in block.duplicates
        )

    volumes: list[bytes] = []
    with_volume = False
    if wants_volume and targets:
        with_volume, volume = _volume(spec, kit, targets, with_ambassador, prior, findings)
        if volume is not None:
            volumes.append(volume)

    plans: list[ContainerPlan] = []
    # Resources whose limit a container lacks, though an env var or the volume reads it.
    missing: dict[str, list[str]] = {}
    env_clashes: dict[str, list[str]] = {}
    mount_clashes: list[str] = []
    has_env = mounted = False
    for target in targets:
        add_env, got_env = _plan_env(target, block, pieces, kit.mount, env_clashes)
        mount, got_mount = (
            _plan_mount(target, options.volume_path, mount_clashes)
            if with_volume
            else (False, False)
        )
        has_env, mounted = has_env or got_env, mounted or got_mount
        if add_env is not None and block.limits:
            lacking = missing_limits(target.container, block.limits)
            if lacking:
                missing[target.container.name] = list(lacking)
        how = (1 + bool(target.container.volumeMounts)) if mount else 0  # none, create, append
        if add_env is not None:
            into = add_env.templates[bool(target.container.env)][how]
            plans.append(ContainerPlan(target.pointer, into, add_env.vars, mount))
        elif mount:
            plans.append(ContainerPlan(target.pointer, kit.mount_only[how - 1], (), True))
    if env_clashes:
        findings.extend(env_conflicts(env_clashes))
    if mount_clashes:
        findings.extend(mount_conflicts(mount_clashes, options.volume_path, mounted))
    if with_volume and not mounted:
        volumes.clear()  # a volume that no container mounts is not added
    if wants_env and has_env:
        applied.add(ENV)
    if with_volume and mounted:
        applied.add(VOLUME)
    if volumes:
        for container in spec.containers:
            if container.name != amb.CONTAINER_NAME:
                kinds = missing_limits(container, ("cpu", "memory"))
                if kinds:
                    missing.setdefault(container.name, []).extend(kinds)
    if missing:
        findings.extend(no_limit(missing, spec))

    if ambassador is not None:
        volumes.extend(ambassador.volumes)

    modes, injected = _MODE_SETS[frozenset(applied)]
    return Plan(
        containers=tuple(plans),
        volumes=tuple(volumes),
        has_volumes=bool(spec.volumes),
        ambassador=ambassador,
        has_init_containers=bool(spec.initContainers),
        injected=_status(prior_text, injected),
        has_annotations=bool(annotations),
        modes=modes,
        findings=tuple(findings),
    )


#: What the status annotation says when no mode took effect.
NOTHING = "none"


def _status(prior: str | None, injected: str) -> str | None:
    """The ``downward.io/injected`` value to add: the modes that took effect, or ``none``;
    nothing when the pod has the annotation already (ours are add-only: never changed)."""
    if prior is not None:
        return None
    return injected or NOTHING


def status_plan(pod: Pod) -> Plan:
    """A plan that adds nothing but the status annotation (``none``): for a pod that asks for
    injection but gets none at all (over the bounds of ``webhook.core.bounds``)."""
    annotations = pod.metadata.annotations or {}
    return Plan(
        injected=_status(annotations.get(INJECTED), ""),
        has_annotations=bool(annotations),
    )
