"""Plan: given a pod and its options, decide what to add and what to skip, with a reason each.

The plan only *adds*. Whatever the pod already has wins: an env var, volume or mount path of
the same name is kept and a finding says so, unless it is exactly what we would add, which
is how a second review of an injected pod (``reinvocationPolicy: IfNeeded``) plans nothing.
Nothing here reads ``metadata.name`` or ``metadata.uid``: pods made from ``generateName``
(every Deployment, Job and StatefulSet pod) have neither at admission time.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from functools import lru_cache
from itertools import combinations
from typing import NamedTuple

import msgspec

from webhook.core import ambassador as amb
from webhook.core.annotations import Options
from webhook.core.envvars import EnvBlock, env_block, env_source
from webhook.core.keys import AMBASSADOR, ENV, INJECTED, MODES, VOLUME
from webhook.core.model import Container, EnvVar, Pod, PodSpec
from webhook.core.reasons import Finding, Reason
from webhook.core.volume import VOLUME_NAME, build_mount, build_volume
from webhook.core.windows import selects_windows
from webhook.types import JSONObject

__all__ = ["NOTHING", "ContainerPlan", "Plan", "plan_injection", "status_plan"]


class ContainerPlan(msgspec.Struct, frozen=True, gc=False):
    """Additions to one container, addressed by its JSON Pointer (``/spec/containers/0``)."""

    pointer: str
    env: tuple[JSONObject, ...] = ()
    has_env: bool = False
    mount: JSONObject | None = None
    has_mounts: bool = False


class Plan(msgspec.Struct, frozen=True, gc=False):
    """Everything to add to one pod; ``patch.render`` turns it into JSON Patch operations."""

    containers: tuple[ContainerPlan, ...] = ()
    volumes: tuple[JSONObject, ...] = ()
    has_volumes: bool = False
    ambassador: JSONObject | None = None
    has_init_containers: bool = False
    injected: str | None = None
    has_annotations: bool = False
    modes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()


_POINTERS = tuple(f"/spec/containers/{i}" for i in range(64))


class _Target(NamedTuple):
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


def _ambassador(
    spec: PodSpec,
    options: Options,
    prior: frozenset[str],
    settings: amb.AmbassadorSettings,
    findings: list[Finding],
) -> tuple[bool, _Ambassador | None]:
    """(is the ambassador in the pod after this review, the container to add if any)."""
    blocked = _ambassador_unsupported(spec, settings)
    if blocked is not None:
        findings.append(blocked)
        return False, None
    if spec.hostNetwork:
        findings.append(Finding(Reason.AMBASSADOR_HOST_NETWORK))
        return False, None
    everyone = [*spec.containers, *(spec.initContainers or ())]
    if any(c.name == amb.CONTAINER_NAME for c in everyone):
        if AMBASSADOR in prior:
            return True, None
        findings.append(Finding.of(Reason.AMBASSADOR_NAME_CONFLICT, name=amb.CONTAINER_NAME))
        return False, None
    for volume in spec.volumes or ():
        if volume.name in (amb.TMP_VOLUME, amb.TOKEN_VOLUME):
            findings.append(Finding.of(Reason.AMBASSADOR_NAME_CONFLICT, name=volume.name))
            return False, None
    port = options.ambassador_port
    for container in everyone:
        for p in container.ports or ():
            if p.containerPort == port and p.protocol in (None, "TCP"):
                findings.append(
                    Finding.of(
                        Reason.AMBASSADOR_PORT_CONFLICT, container=container.name, port=str(port)
                    )
                )
                return False, None
    own_token = spec.automountServiceAccountToken is False
    return True, _ambassador_container(
        settings, options.ambassador_image, port, options.ambassador_read_only, own_token
    )


def _ambassador_unsupported(spec: PodSpec, settings: amb.AmbassadorSettings) -> Finding | None:
    """Pods the ambassador cannot serve: Windows ones (``webhook.core.windows``), and, without
    native sidecars, pods that are meant to end (``restartPolicy`` absent means ``Always``):
    a plain ``kubectl proxy`` container never exits, so their Job would never complete."""
    how = selects_windows(spec)
    if how is not None:
        return Finding.of(Reason.AMBASSADOR_WINDOWS, how=how)
    policy = spec.restartPolicy
    if not settings.native_sidecar and policy is not None and policy != "Always":
        return Finding.of(Reason.AMBASSADOR_NOT_ALWAYS, value=policy)
    return None


class _Ambassador(NamedTuple):
    container: JSONObject
    volumes: tuple[JSONObject, ...]  # the volumes its mounts need


_AmbassadorKey = tuple[int, str | None, int, bool, bool]
_AMBASSADORS: dict[_AmbassadorKey, tuple[amb.AmbassadorSettings, _Ambassador]] = {}


def _ambassador_container(
    settings: amb.AmbassadorSettings, image: str | None, port: int, read_only: bool, own: bool
) -> _Ambassador:
    """``amb.build_container``, cached per settings object and options (like ``_env_block``).

    ``AmbassadorSettings`` holds a dict, so it is not hashable: the key is its ``id`` and the
    entry keeps the object itself, both to check identity and to keep the id from being reused.
    """
    key = (id(settings), image, port, read_only, own)
    hit = _AMBASSADORS.get(key)
    if hit is not None and hit[0] is settings:
        return hit[1]
    container = amb.build_container(
        settings, image=image, port=port, read_only=read_only, own_token=own
    )
    with_token = any(m["name"] == amb.TOKEN_VOLUME for m in container["volumeMounts"])
    made = _Ambassador(container, tuple(amb.build_volumes(with_token)))
    if len(_AMBASSADORS) >= 256:
        _AMBASSADORS.clear()
    _AMBASSADORS[key] = (settings, made)
    return made


_ENV_BLOCKS: dict[tuple[int, bool, int | None], tuple[Options, EnvBlock]] = {}


def _env_block_for(options: Options, with_env: bool, api_port: int | None) -> EnvBlock:
    """``env_block`` by identity first: ``read_options`` hands out the same cached ``Options``
    for every pod of a workload, and hashing an ``Options`` (all its fields) costs more than
    the lookup it serves. The block is shared between containers and reviews, never changed.
    """
    key = (id(options), with_env, api_port)
    hit = _ENV_BLOCKS.get(key)
    if hit is not None and hit[0] is options:
        return hit[1]
    fields = options.env_fields if with_env else ()
    block = env_block(
        fields, options.env_prefix, options.cpu_divisor, options.memory_divisor, api_port
    )
    if len(_ENV_BLOCKS) >= 256:
        _ENV_BLOCKS.clear()
    _ENV_BLOCKS[key] = (options, block)
    return block


def _existing_source(var: EnvVar, container: str) -> tuple[object, ...]:
    value_from = msgspec.json.decode(var.valueFrom) if var.valueFrom else None
    return env_source(var.value, value_from, container)


def _plan_env(
    target: _Target, env: tuple[JSONObject, ...], names: frozenset[str], findings: list[Finding]
) -> tuple[JSONObject, ...]:
    name = target.container.name
    own = target.container.env
    if not own or names.isdisjoint([v.name for v in own]):
        return env  # nothing in common: add all (the usual case)
    existing = {v.name: v for v in own}
    add: list[JSONObject] = []
    for var in env:
        have = existing.get(var["name"])
        if have is None:
            add.append(var)
        elif _existing_source(have, name) != env_source(
            var.get("value"), var.get("valueFrom"), name
        ):
            findings.append(Finding.of(Reason.ENV_CONFLICT, container=name, name=var["name"]))
    return tuple(add)


_normpath = lru_cache(maxsize=1024)(posixpath.normpath)


def _plan_mount(target: _Target, path: str, findings: list[Finding]) -> JSONObject | None:
    for mount in target.container.volumeMounts or ():
        if _normpath(mount.mountPath) == path:
            if mount.name != VOLUME_NAME:
                findings.append(
                    Finding.of(Reason.MOUNT_CONFLICT, container=target.container.name, path=path)
                )
            return None
    return _mount(path)


_mount = lru_cache(maxsize=64)(build_mount)  # shared, like the env vars: never mutated


def _missing_limits(container: Container, kinds: Iterable[str]) -> list[str]:
    resources = container.resources
    limits = resources.limits if resources else None
    if not limits:
        return list(kinds)
    return [k for k in kinds if k not in limits]


#: The volume is the same for every pod of a workload: shared, so its patch piece is too.
_downward_volume = lru_cache(maxsize=128)(build_volume)


def _volume(
    spec: PodSpec,
    options: Options,
    targets: list[_Target],
    with_ambassador: bool,
    prior: frozenset[str],
    findings: list[Finding],
) -> tuple[bool, JSONObject | None]:
    """(is the volume ours after this review, the volume to add if any)."""
    folders = [c.name for c in spec.containers if c.name != amb.CONTAINER_NAME]
    folders += [t.container.name for t in targets if t.init]
    if with_ambassador:
        folders.append(amb.CONTAINER_NAME)
    ours = _downward_volume(
        tuple(folders), options.volume_mode, options.cpu_divisor, options.memory_divisor
    )
    existing = next((v for v in spec.volumes or () if v.name == VOLUME_NAME), None)
    if existing is None:
        return True, ours
    # Only the downwardAPI source is compared: validation allows one source per volume.
    same = bool(existing.downwardAPI) and (
        msgspec.json.decode(existing.downwardAPI) == ours["downwardAPI"]
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


def plan_injection(pod: Pod, options: Options, settings: amb.AmbassadorSettings) -> Plan:
    """Plan the additions for ``pod`` (a Pod, or a pod template shaped like one)."""
    spec = pod.spec
    annotations = pod.metadata.annotations or {}
    prior_text = annotations.get(INJECTED)
    prior = frozenset(m.strip() for m in prior_text.split(",")) if prior_text else _NO_PRIOR
    findings: list[Finding] = []
    targets = _targets(spec, options, findings)
    applied: set[str] = set()

    with_ambassador, ambassador = False, None
    if AMBASSADOR in options.modes:
        with_ambassador, ambassador = _ambassador(spec, options, prior, settings, findings)
        if with_ambassador:
            applied.add(AMBASSADOR)

    wants_env, wants_volume = ENV in options.modes, VOLUME in options.modes
    if (wants_env or wants_volume) and not targets:
        findings.append(Finding(Reason.NO_TARGETS))

    block = _env_block_for(options, wants_env, options.ambassador_port if with_ambassador else None)
    env, env_limits, env_names = block.env, block.limits, block.names
    if block.duplicates:
        findings.extend(
            Finding.of(Reason.DUPLICATE_ENV_NAME, value=k, name=n) for k, n in block.duplicates
        )

    volumes: list[JSONObject] = []
    with_volume = False
    if wants_volume and targets:
        with_volume, volume = _volume(spec, options, targets, with_ambassador, prior, findings)
        if volume is not None:
            volumes.append(volume)
        if with_volume:
            applied.add(VOLUME)
    if wants_env and targets:
        applied.add(ENV)

    plans: list[ContainerPlan] = []
    # Resources whose limit a container lacks, though an env var or the volume reads it.
    missing: dict[str, list[str]] = {}
    for target in targets:
        add_env = _plan_env(target, env, env_names, findings)
        mount = _plan_mount(target, options.volume_path, findings) if with_volume else None
        if add_env and env_limits:
            missing[target.container.name] = _missing_limits(target.container, env_limits)
        if add_env or mount:
            plans.append(
                ContainerPlan(
                    pointer=target.pointer,
                    env=add_env,
                    has_env=bool(target.container.env),
                    mount=mount,
                    has_mounts=bool(target.container.volumeMounts),
                )
            )
    if volumes:
        for container in spec.containers:
            if container.name != amb.CONTAINER_NAME:
                kinds = _missing_limits(container, ("cpu", "memory"))
                if kinds:
                    missing.setdefault(container.name, []).extend(kinds)
    for name, kinds in missing.items():
        if kinds:
            resources = ", ".join(dict.fromkeys(kinds))
            findings.append(Finding.of(Reason.NO_LIMIT, container=name, resources=resources))

    if ambassador is not None:
        volumes.extend(ambassador.volumes)

    modes, injected = _MODE_SETS[frozenset(applied)]
    return Plan(
        containers=tuple(plans),
        volumes=tuple(volumes),
        has_volumes=bool(spec.volumes),
        ambassador=ambassador.container if ambassador is not None else None,
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
