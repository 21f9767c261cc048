"""Scan: page through the pods, ask the core about each, group those that need attention.

Only what is reported is kept: per owning workload a count of pods, a count per reason and a
few example pod names, so a cluster of 100,000 pods costs one page of 500 at a time plus one
small record per workload that needs attention. Owners are followed the way controllers set
them (``ownerReferences`` with ``controller: true``): a ReplicaSet up to its Deployment, a Job
up to its CronJob (one ``get`` each, cached); a StatefulSet, DaemonSet or any other kind is
the owner itself; a pod without a controller is its own workload (kind ``Pod``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import msgspec

from webhook.audit.kube import Cluster, NotFound
from webhook.core.audit import AuditSettings, Verdict, assess, unreadable
from webhook.core.keys import INJECT
from webhook.core.review import BadReview, decode_pod

__all__ = ["EXAMPLES", "Report", "Workload", "scan"]

#: How many pod names each workload keeps, as examples.
EXAMPLES = 5
_INJECT_KEY = f'"{INJECT}"'.encode()
_FINISHED = frozenset({"Succeeded", "Failed"})
_LIFTED = {"ReplicaSet": "Deployment", "Job": "CronJob"}  # owner kind -> its owner's kind


class _OwnerRef(msgspec.Struct, frozen=True, gc=False):
    kind: str = ""
    name: str = ""
    controller: bool | None = None


class _Meta(msgspec.Struct, frozen=True, gc=False):
    name: str = ""
    namespace: str = ""
    ownerReferences: list[_OwnerRef] | None = None
    deletionTimestamp: str | None = None


class _Status(msgspec.Struct, frozen=True, gc=False):
    phase: str | None = None


class _Head(msgspec.Struct, frozen=True, gc=False):
    """The parts of a pod the shell reads (the core reads the rest)."""

    metadata: _Meta = _Meta()
    status: _Status = _Status()


_head_decoder = msgspec.json.Decoder(_Head)


@dataclass
class Workload:
    """One owning workload and its pods that need attention."""

    kind: str
    namespace: str
    name: str
    pods: int = 0
    examples: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    #: Set by ``restart``: restarted, would-restart, cannot-restart or failed.
    action: str | None = None
    note: str = ""

    def add(self, pod: str, verdict: Verdict) -> None:
        self.pods += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(pod)
        self.reasons.update(verdict.reasons)


@dataclass
class Report:
    scanned: int = 0
    pages: int = 0
    workloads: dict[tuple[str, str, str], Workload] = field(default_factory=dict)

    @property
    def pods(self) -> int:
        return sum(w.pods for w in self.workloads.values())

    def sorted(self) -> list[Workload]:
        return [self.workloads[key] for key in sorted(self.workloads, key=_order)]


def _order(key: tuple[str, str, str]) -> tuple[str, str, str]:
    kind, namespace, name = key
    return namespace, kind, name


@dataclass
class _Owners:
    """Owner lookups, cached: every pod of a ReplicaSet or Job asks about the same object."""

    cluster: Cluster
    cache: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)

    def of(self, head: _Head) -> tuple[str, str]:
        owner = _controller(head.metadata.ownerReferences)
        if owner is None:
            return "Pod", head.metadata.name
        if owner.kind not in _LIFTED:
            return owner.kind, owner.name
        key = (owner.kind, head.metadata.namespace, owner.name)
        if key not in self.cache:
            self.cache[key] = self._lift(owner, head.metadata.namespace)
        return self.cache[key]

    def _lift(self, owner: _OwnerRef, namespace: str) -> tuple[str, str]:
        try:
            obj = self.cluster.get(owner.kind, namespace, owner.name)
        except NotFound:
            return owner.kind, owner.name  # deleted since the list: report what the pod says
        refs = msgspec.convert(
            obj.get("metadata", {}).get("ownerReferences") or [], list[_OwnerRef]
        )
        up = _controller(refs)
        if up is not None and up.kind == _LIFTED[owner.kind]:
            return up.kind, up.name
        return owner.kind, owner.name


def _controller(refs: list[_OwnerRef] | None) -> _OwnerRef | None:
    return next((r for r in refs or () if r.controller), None)


@dataclass
class _Namespaces:
    """Which namespaces carry ``downward.io/inject=enabled`` (read only with defaults on)."""

    cluster: Cluster
    labelled: dict[str, bool] = field(default_factory=dict)

    def __call__(self, name: str) -> bool:
        if name not in self.labelled:
            try:
                labels = self.cluster.get("Namespace", "", name)["metadata"].get("labels") or {}
            except NotFound:
                labels = {}
            self.labelled[name] = labels.get(INJECT) == "enabled"
        return self.labelled[name]


def scan(
    cluster: Cluster,
    settings: AuditSettings,
    *,
    namespace: str | None = None,
    excluded: Collection[str] = (),
    page_size: int = 500,
    progress: Callable[[Report], None] | None = None,
) -> Report:
    """Every pod (in ``namespace``, or all) that needs attention, grouped by workload."""
    report, owners, labelled = Report(), _Owners(cluster), _Namespaces(cluster)
    for page in cluster.pod_pages(namespace, page_size):
        report.pages += 1
        for raw in page.items or ():
            report.scanned += 1
            _one(raw, report, owners, labelled, settings, excluded)
        if progress is not None:
            progress(report)
    return report


def _one(
    raw: msgspec.Raw,
    report: Report,
    owners: _Owners,
    labelled: _Namespaces,
    settings: AuditSettings,
    excluded: Collection[str],
) -> None:
    head = _head_decoder.decode(raw)
    meta = head.metadata
    if meta.namespace in excluded or head.status.phase in _FINISHED or meta.deletionTimestamp:
        return  # never reviewed by design, or past helping: a restart would not change them
    verdict = _verdict(raw, settings, labelled, meta.namespace)
    if verdict is None:
        return
    kind, name = owners.of(head)
    key = (kind, meta.namespace, name)
    workload = report.workloads.get(key) or Workload(kind, meta.namespace, name)
    report.workloads[key] = workload
    workload.add(meta.name, verdict)


def _verdict(
    raw: msgspec.Raw, settings: AuditSettings, labelled: _Namespaces, namespace: str
) -> Verdict | None:
    ns_labelled = settings.namespace_defaults and labelled(namespace)
    try:
        pod = decode_pod(raw)
    except BadReview:
        # The API server validated this pod, so this is rare; report it only if it asks.
        asks = ns_labelled or _INJECT_KEY in bytes(raw)
        return unreadable() if asks else None
    return assess(pod, settings, labelled=ns_labelled)
