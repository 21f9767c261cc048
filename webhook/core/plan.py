"""Plan: given a pod and its options, decide what to add and what to skip, with a reason each.

The plan only *adds*. Whatever the pod already has wins: an env var, volume or mount path of
the same name is kept and a finding says so, unless it is exactly what we would add, which
is how a second review of an injected pod (``reinvocationPolicy: IfNeeded``) plans nothing.
Nothing here reads ``metadata.name`` or ``metadata.uid``: pods made from ``generateName``
(every Deployment, Job and StatefulSet pod) have neither at admission time.
"""

from __future__ import annotations

from itertools import combinations

import msgspec

from webhook.core import ambassador as amb
from webhook.core.containers import Target, plan_env, plan_mount, targets_of
from webhook.core.keys import AMBASSADOR, ENV, INJECTED, MODES, VOLUME
from webhook.core.model import Pod, PodSpec
from webhook.core.notices import env_conflicts, missing_limits, mount_conflicts, no_limit
from webhook.core.pieces import AmbassadorPieces, Kit, Template
from webhook.core.placement import ambassador_for
from webhook.core.reasons import Finding, Reason
from webhook.core.volume import FOLDER_LIMITS, VOLUME_NAME
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
    #: Our volume's index in ``spec.volumes`` and the items (JSON) of the folders it lacks:
    #: those of containers added after it was (a re-review), appended to its items.
    late_folders: tuple[int, tuple[bytes, ...]] | None = None
    ambassador: AmbassadorPieces | None = None
    has_init_containers: bool = False
    injected: str | None = None
    has_annotations: bool = False
    modes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()


#: Folders our volume lacks (containers added since it was made), to add: (its index in
#: ``spec.volumes``, the folders' container names).
_Late = tuple[int, list[str]]


def _volume(
    spec: PodSpec,
    kit: Kit,
    targets: list[Target],
    with_ambassador: bool,
    prior: frozenset[str],
    findings: list[Finding],
) -> tuple[bool, bytes | None, _Late | None]:
    """(is the volume ours after this review, the volume to add if any, as JSON, the folders
    to add to ours if it lacks some). A folder for every container in ``spec.containers``
    (targets or not), every init container named in ``downward.io/containers`` (the targets
    among them) and the ambassador."""
    folders = [c.name for c in spec.containers if c.name != amb.CONTAINER_NAME]
    folders += [t.container.name for t in targets if t.init]
    if with_ambassador:
        folders.append(amb.CONTAINER_NAME)
    volumes = spec.volumes or ()
    for existing in volumes:
        if existing.name == VOLUME_NAME:
            break
    else:
        return True, kit.volume.encode(folders), None
    # Only the downwardAPI source is compared: validation allows one source per volume.
    source = msgspec.json.decode(existing.downwardAPI) if existing.downwardAPI else None
    if source is not None and source == kit.volume_source(folders):
        return True, None, None  # a re-review of an unchanged pod
    # A container added after our review (another webhook's, then ``reinvocationPolicy:
    # IfNeeded``): our volume, by the status or by being what we make for its own folders,
    # gets the folders it lacks.
    have = _folder_names(source)
    if have is not None and (VOLUME in prior or source == kit.volume_source(have)):
        lacking = [name for name in folders if name not in have]
        if not lacking:
            return True, None, None
        index = next(i for i, volume in enumerate(volumes) if volume is existing)
        return True, None, (index, lacking)
    if VOLUME in prior:
        return True, None, None
    findings.append(Finding.of(Reason.VOLUME_CONFLICT, name=VOLUME_NAME))
    return False, None, None


def _folder_names(source: object) -> list[str] | None:
    """The container names of the ``containers/<name>/`` folders of a ``downwardAPI`` source,
    in their order; ``None`` for a source without a list of items."""
    items = source.get("items") if isinstance(source, dict) else None
    if not isinstance(items, list):
        return None
    names: dict[str, None] = {}
    for item in items:
        path = item.get("path") if isinstance(item, dict) else None
        if isinstance(path, str) and path.startswith("containers/"):
            names[path.split("/", 2)[1]] = None
    return list(names)


def _folder_limits(
    spec: PodSpec,
    targets: list[Target],
    ambassador: AmbassadorPieces | None,
    with_ambassador: bool,
    missing: dict[str, list[str]],
    only: list[str] | None = None,
) -> None:
    """Add to ``missing`` the limits that the volume's folders (``_volume``) read and their
    containers lack, the ambassador's too (the chart's resources, or those of the one the pod
    has already); ``only`` the folders of those names, when only they are added."""
    for container in spec.containers:
        name = container.name
        if name != amb.CONTAINER_NAME and (only is None or name in only):
            kinds = missing_limits(container, FOLDER_LIMITS)
            if kinds:
                missing.setdefault(name, []).extend(kinds)
    for target in targets:
        if target.init and (only is None or target.container.name in only):
            kinds = missing_limits(target.container, FOLDER_LIMITS)
            if kinds:
                missing.setdefault(target.container.name, []).extend(kinds)
    if with_ambassador and (only is None or amb.CONTAINER_NAME in only):
        kinds = _ambassador_lacks(spec) if ambassador is None else ambassador.lacks
        if kinds:
            missing.setdefault(amb.CONTAINER_NAME, []).extend(kinds)


def _ambassador_lacks(spec: PodSpec) -> tuple[str, ...]:
    """The limits of ``FOLDER_LIMITS`` that the ambassador the pod has already lacks."""
    for container in (*spec.containers, *(spec.initContainers or ())):
        if container.name == amb.CONTAINER_NAME:
            return missing_limits(container, FOLDER_LIMITS)
    return ()


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
    targets = targets_of(spec, options, findings)
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
    late: _Late | None = None
    if wants_volume and targets:
        with_volume, volume, late = _volume(spec, kit, targets, with_ambassador, prior, findings)
        if volume is not None:
            volumes.append(volume)

    plans: list[ContainerPlan] = []
    # Resources whose limit a container lacks, though an env var or the volume reads it.
    missing: dict[str, list[str]] = {}
    env_clashes: dict[str, list[str]] = {}
    mount_clashes: list[str] = []
    has_env = mounted = False
    for target in targets:
        add_env, got_env = plan_env(target, block, pieces, kit.mount, env_clashes)
        mount, got_mount = (
            plan_mount(target, options.volume_path, mount_clashes)
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
    if wants_env and has_env and block.field_names:  # not the ambassador's URL alone
        applied.add(ENV)
    if with_volume and mounted:
        applied.add(VOLUME)
    if volumes:  # the volume is added: every folder's limit files are read
        _folder_limits(spec, targets, ambassador, with_ambassador, missing)
    elif late is not None:  # only the late folders are
        _folder_limits(spec, targets, ambassador, with_ambassador, missing, late[1])
    if missing:
        findings.extend(no_limit(missing, spec))

    if ambassador is not None:
        volumes.extend(ambassador.volumes)

    modes, injected = _MODE_SETS[frozenset(applied)]
    return Plan(
        containers=tuple(plans),
        volumes=tuple(volumes),
        has_volumes=bool(spec.volumes),
        late_folders=(late[0], kit.volume_items(late[1])) if late is not None else None,
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
