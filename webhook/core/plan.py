"""Plan: given a pod and its options, decide what to add and what to skip, with a reason each.

The plan only *adds*. Whatever the pod already has wins: an env var, volume or mount path of
the same name is kept and a finding says so, unless it is exactly what we would add, which
is how a second review of an injected pod (``reinvocationPolicy: IfNeeded``) plans nothing.
Nothing here reads ``metadata.name`` or ``metadata.uid``: pods made from ``generateName``
(every Deployment, Job and StatefulSet pod) have neither at admission time.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import combinations
from typing import NamedTuple

import msgspec

from webhook.core import ambassador as amb
from webhook.core.annotations import Options
from webhook.core.envvars import EnvBlock, env_block, env_source
from webhook.core.keys import AMBASSADOR, ENV, INJECTED, MODES, VOLUME
from webhook.core.model import Container, EnvVar, Handler, Pod, PodSpec
from webhook.core.reasons import Finding, Reason, listing
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
    existing = next((c for c in everyone if c.name == amb.CONTAINER_NAME), None)
    if existing is not None:
        # Ours from an earlier review: the status says so, or it runs exactly our proxy (a
        # pod whose hand-written status leaves it out must still re-review to ``[]``).
        ours = amb.proxy_command(options.ambassador_port, options.ambassador_read_only)
        if AMBASSADOR in prior or existing.command == ours:
            return True, None
        findings.append(Finding.of(Reason.AMBASSADOR_NAME_CONFLICT, name=amb.CONTAINER_NAME))
        return False, None
    for volume in spec.volumes or ():
        if volume.name in (amb.TMP_VOLUME, amb.TOKEN_VOLUME):
            findings.append(Finding.of(Reason.AMBASSADOR_NAME_CONFLICT, name=volume.name))
            return False, None
    port = options.ambassador_port
    if _proxy_or_port_taken(everyone, port, findings):
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


# ---- what the pod already runs: a kubectl proxy, ports in use -------------------------------

#: ``--port=N``, ``--port N``, ``--metrics-port=N``: any flag whose name ends in ``port``.
_PORT_FLAG = re.compile(r"--?[A-Za-z0-9-]*port(?:=(.*))?", re.IGNORECASE)


def _words(parts: tuple[str, ...]) -> list[str]:
    """Command and args, split on blanks too (``sh -c "kubectl proxy --port=8001"``)."""
    return [word for part in parts for word in part.split()]


def _said(container: Container) -> tuple[str, ...]:
    return (*(container.command or ()), *(container.args or ()))


def _runs_kubectl_proxy(container: Container) -> bool:
    parts = _said(container)
    return bool(parts) and _mentions_kubectl_proxy(parts)


@lru_cache(maxsize=1024)  # by command and args: the same for every pod of a workload
def _mentions_kubectl_proxy(parts: tuple[str, ...]) -> bool:
    if not any("kubectl" in part for part in parts):
        return False
    words = _words(parts)
    return any(
        posixpath.basename(word) == "kubectl" and "proxy" in words[i + 1 :]
        for i, word in enumerate(words)
    )


@lru_cache(maxsize=1024)
def _arg_ports(parts: tuple[str, ...]) -> frozenset[int]:
    """The ports named by ``--...port`` flags in command and args."""
    if "port" not in " ".join(parts).lower():
        return frozenset()
    return frozenset(_flag_ports(_words(parts)))


def _flag_ports(words: list[str]) -> Iterator[int]:
    for i, word in enumerate(words):
        match = _PORT_FLAG.fullmatch(word)
        if match is None:
            continue
        value = match.group(1) if match.group(1) is not None else "".join(words[i + 1 : i + 2])
        if value.isascii() and value.isdigit():
            yield int(value)


def _handler_uses(handler: Handler | None, port: int) -> bool:
    if handler is None:
        return False
    http, tcp, grpc = handler.httpGet, handler.tcpSocket, handler.grpc
    return (
        (http is not None and http.port == port)
        or (tcp is not None and tcp.port == port)
        or (grpc is not None and grpc.port == port)
    )


def _port_use(container: Container, port: int) -> str | None:
    """Where the container is seen to listen on ``port``: ports, a probe, a handler, args."""
    for p in container.ports or ():
        if p.containerPort == port and p.protocol in (None, "TCP"):
            return "ports"
    if (
        _handler_uses(container.livenessProbe, port)
        or _handler_uses(container.readinessProbe, port)
        or _handler_uses(container.startupProbe, port)
    ):
        return "probe"
    lifecycle = container.lifecycle
    if lifecycle is not None and (
        _handler_uses(lifecycle.postStart, port) or _handler_uses(lifecycle.preStop, port)
    ):
        return "lifecycle handler"
    parts = _said(container)
    if parts and port in _arg_ports(parts):
        return "args"
    return None


def _proxy_or_port_taken(everyone: list[Container], port: int, findings: list[Finding]) -> bool:
    """A container (or init container) already runs ``kubectl proxy``, or uses the port."""
    for container in everyone:
        if _runs_kubectl_proxy(container):
            findings.append(Finding.of(Reason.AMBASSADOR_PROXY_PRESENT, container=container.name))
            return True
    for container in everyone:
        use = _port_use(container, port)
        if use is not None:
            findings.append(
                Finding.of(
                    Reason.AMBASSADOR_PORT_CONFLICT,
                    container=container.name,
                    port=str(port),
                    use=use,
                )
            )
            return True
    return False


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
    target: _Target,
    env: tuple[JSONObject, ...],
    names: frozenset[str],
    conflicts: dict[str, list[str]],
) -> tuple[tuple[JSONObject, ...], bool]:
    """(the env vars to add, whether the container has one of ours after this review)."""
    name = target.container.name
    own = target.container.env
    if not own or names.isdisjoint([v.name for v in own]):
        return env, bool(env)  # nothing in common: add all (the usual case)
    existing = {v.name: v for v in own}
    add: list[JSONObject] = []
    had = False
    for var in env:
        have = existing.get(var["name"])
        if have is None:
            add.append(var)
        elif _existing_source(have, name) == env_source(
            var.get("value"), var.get("valueFrom"), name
        ):
            had = True
        else:
            conflicts.setdefault(name, []).append(var["name"])
    return tuple(add), had or bool(add)


def _env_conflicts(conflicts: dict[str, list[str]]) -> list[Finding]:
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


_normpath = lru_cache(maxsize=1024)(posixpath.normpath)


def _plan_mount(target: _Target, path: str, conflicts: list[str]) -> tuple[JSONObject | None, bool]:
    """(the mount to add, whether the container mounts our volume after this review)."""
    for mount in target.container.volumeMounts or ():
        if _normpath(mount.mountPath) == path:
            if mount.name != VOLUME_NAME:
                conflicts.append(target.container.name)
                return None, False
            return None, True
    return _mount(path), True


def _mount_conflicts(conflicts: list[str], path: str, mounted: bool) -> list[Finding]:
    if not conflicts:
        return []
    reason = Reason.MOUNT_CONFLICT if mounted else Reason.VOLUME_NOT_MOUNTABLE
    return [Finding.of(reason, containers=listing("container", conflicts), path=path)]


_mount = lru_cache(maxsize=64)(build_mount)  # shared, like the env vars: never mutated


def _missing_limits(container: Container, kinds: Iterable[str]) -> list[str]:
    resources = container.resources
    limits = resources.limits if resources else None
    if not limits:
        return list(kinds)
    return [k for k in kinds if k not in limits]


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


def _no_limit(missing: dict[str, list[str]], spec: PodSpec) -> list[Finding]:
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

    plans: list[ContainerPlan] = []
    # Resources whose limit a container lacks, though an env var or the volume reads it.
    missing: dict[str, list[str]] = {}
    env_conflicts: dict[str, list[str]] = {}
    mount_conflicts: list[str] = []
    has_env = mounted = False
    for target in targets:
        add_env, got_env = _plan_env(target, env, env_names, env_conflicts)
        mount, got_mount = (
            _plan_mount(target, options.volume_path, mount_conflicts)
            if with_volume
            else (None, False)
        )
        has_env, mounted = has_env or got_env, mounted or got_mount
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
    findings.extend(_env_conflicts(env_conflicts))
    findings.extend(_mount_conflicts(mount_conflicts, options.volume_path, mounted))
    if with_volume and not mounted:
        volumes.clear()  # a volume that no container mounts is not added
    if wants_env and has_env:
        applied.add(ENV)
    if with_volume and mounted:
        applied.add(VOLUME)
    if volumes:
        for container in spec.containers:
            if container.name != amb.CONTAINER_NAME:
                kinds = _missing_limits(container, ("cpu", "memory"))
                if kinds:
                    missing.setdefault(container.name, []).extend(kinds)
    findings.extend(_no_limit(missing, spec))

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
