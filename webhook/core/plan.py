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
from itertools import combinations
from typing import NamedTuple

import msgspec

from webhook.core import ambassador as amb
from webhook.core.annotations import Options
from webhook.core.envvars import EnvBlock, env_source
from webhook.core.keys import AMBASSADOR, ENV, INJECTED, MODES, VOLUME
from webhook.core.model import Container, EnvVar, Handler, Pod, PodSpec
from webhook.core.pieces import AmbassadorPieces, EnvPieces, Kit, Mount, Template, env_pieces
from webhook.core.reasons import Finding, Reason, listing
from webhook.core.volume import VOLUME_NAME
from webhook.core.windows import selects_windows
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
    kit: Kit,
    ambassadors: tuple[AmbassadorPieces, AmbassadorPieces],
    prior: frozenset[str],
    findings: list[Finding],
) -> tuple[bool, AmbassadorPieces | None]:
    """(is the ambassador in the pod after this review, the container to add if any)."""
    blocked = _ambassador_unsupported(spec, ambassadors[0].native)
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
        if AMBASSADOR in prior or tuple(existing.command or ()) == kit.command:
            return True, None
        findings.append(Finding.of(Reason.AMBASSADOR_NAME_CONFLICT, name=amb.CONTAINER_NAME))
        return False, None
    for volume in spec.volumes or ():
        if volume.name in (amb.TMP_VOLUME, amb.TOKEN_VOLUME):
            findings.append(Finding.of(Reason.AMBASSADOR_NAME_CONFLICT, name=volume.name))
            return False, None
    if _proxy_or_port_taken(everyone, kit.options.ambassador_port, findings):
        return False, None
    return True, ambassadors[spec.automountServiceAccountToken is False]


def _ambassador_unsupported(spec: PodSpec, native_sidecar: bool) -> Finding | None:
    """Pods the ambassador cannot serve: Windows ones (``webhook.core.windows``), and, without
    native sidecars, pods that are meant to end (``restartPolicy`` absent means ``Always``):
    a plain ``kubectl proxy`` container never exits, so their Job would never complete."""
    how = selects_windows(spec)
    if how is not None:
        return Finding.of(Reason.AMBASSADOR_WINDOWS, how=how)
    policy = spec.restartPolicy
    if not native_sidecar and policy is not None and policy != "Always":
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


def _runs_kubectl_proxy(parts: tuple[str, ...]) -> bool:
    words = _words(parts)
    return any(
        posixpath.basename(word) == "kubectl" and "proxy" in words[i + 1 :]
        for i, word in enumerate(words)
    )


def _arg_ports(parts: tuple[str, ...]) -> frozenset[int]:
    """The ports named by ``--...port`` flags in command and args."""
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


def _port_use(container: Container, port: int, said: str) -> str | None:
    """Where the container is seen to listen on ``port``: ports, a probe, a handler, args
    (``said``: its command and args, joined)."""
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
    # Only args with the port's digits in them can name the port: the usual answer, unsplit.
    if str(port) in said and port in _arg_ports(_said(container)):
        return "args"
    return None


def _proxy_or_port_taken(everyone: list[Container], port: int, findings: list[Finding]) -> bool:
    """A container (or init container) already runs ``kubectl proxy``, or uses the port."""
    said = [" ".join(_said(c)) for c in everyone]
    for container, text in zip(everyone, said, strict=True):
        if "kubectl" in text and _runs_kubectl_proxy(_said(container)):
            findings.append(Finding.of(Reason.AMBASSADOR_PROXY_PRESENT, container=container.name))
            return True
    for container, text in zip(everyone, said, strict=True):
        use = _port_use(container, port, text)
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
    if not own or block.names.isdisjoint([v.name for v in own]):
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


def _normpath(path: str) -> str:
    """``posixpath.normpath``, skipped for a path that has nothing to normalise (the usual)."""
    if path[:1] in ("/", "") and "//" not in path and "/." not in path and path[-1:] != "/":
        return path or "."
    return posixpath.normpath(path)


def _plan_mount(target: _Target, path: str, conflicts: list[str]) -> tuple[bool, bool]:
    """(whether to add the mount, whether the container mounts our volume after this review)."""
    for mount in target.container.volumeMounts or ():
        if _normpath(mount.mountPath) == path:
            if mount.name != VOLUME_NAME:
                conflicts.append(target.container.name)
                return False, False
            return False, True
    return True, True


def _mount_conflicts(conflicts: list[str], path: str, mounted: bool) -> list[Finding]:
    if not conflicts:
        return []
    reason = Reason.MOUNT_CONFLICT if mounted else Reason.VOLUME_NOT_MOUNTABLE
    return [Finding.of(reason, containers=listing("container", conflicts), path=path)]


def _missing_limits(container: Container, kinds: Iterable[str]) -> list[str]:
    resources = container.resources
    limits = resources.limits if resources else None
    return limits.lacking(kinds) if limits else list(kinds)


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
    existing = next((v for v in spec.volumes or () if v.name == VOLUME_NAME), None)
    if existing is None:
        return True, kit.volume_json(folders)
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
        with_ambassador, ambassador = _ambassador(spec, kit, kit.ambassador, prior, findings)
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
    env_conflicts: dict[str, list[str]] = {}
    mount_conflicts: list[str] = []
    has_env = mounted = False
    for target in targets:
        add_env, got_env = _plan_env(target, block, pieces, kit.mount, env_conflicts)
        mount, got_mount = (
            _plan_mount(target, options.volume_path, mount_conflicts)
            if with_volume
            else (False, False)
        )
        has_env, mounted = has_env or got_env, mounted or got_mount
        if add_env is not None and block.limits:
            missing[target.container.name] = _missing_limits(target.container, block.limits)
        how = (1 + bool(target.container.volumeMounts)) if mount else 0  # none, create, append
        if add_env is not None:
            into = add_env.templates[bool(target.container.env)][how]
            plans.append(ContainerPlan(target.pointer, into, add_env.vars, mount))
        elif mount:
            plans.append(ContainerPlan(target.pointer, kit.mount_only[how - 1], (), True))
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
