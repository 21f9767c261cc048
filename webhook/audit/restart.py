"""Restart: what ``kubectl rollout restart`` does, for the workloads the audit found.

kubectl sets ``spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]`` to the
time in RFC 3339 with seconds (Go's ``time.RFC3339``) and sends the change as a
strategic-merge patch; the controller then replaces the pods, each reviewed by the webhook on
creation. Only Deployments, StatefulSets and DaemonSets can be restarted that way; a paused
Deployment is refused, as kubectl refuses it. Bare pods, Jobs, CronJobs and other kinds are
listed with what to do instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from webhook.audit.kube import AuditError, Cluster, NotFound
from webhook.audit.scan import Workload

__all__ = ["RESTARTABLE", "RESTARTED_AT", "restart", "restarted_at"]

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RESTARTABLE = frozenset({"Deployment", "StatefulSet", "DaemonSet"})

_CANNOT = {
    "Pod": "a bare pod: delete it and create it again",
    "Job": "a Job's pods are not restarted: run the Job again",
    "CronJob": "the CronJob's next Job will be reviewed by the webhook",
    "ReplicaSet": "a ReplicaSet without a Deployment: delete its pods to have them recreated",
}


def restarted_at(now: datetime) -> str:
    """``now`` as kubectl writes it: RFC 3339, whole seconds, ``Z`` for UTC."""
    text = now.isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def restart(
    cluster: Cluster, workloads: Iterable[Workload], now: datetime, *, dry_run: bool
) -> None:
    """Set ``action`` and ``note`` on each workload; patch the restartable ones."""
    stamp = restarted_at(now)
    for workload in workloads:
        if workload.kind not in RESTARTABLE:
            workload.action = "cannot-restart"
            workload.note = _CANNOT.get(workload.kind, f"{workload.kind} cannot be restarted")
            continue
        try:
            _restart_one(cluster, workload, stamp, dry_run=dry_run)
        except NotFound:
            workload.action, workload.note = "failed", "not found: deleted since the scan?"
        except AuditError as exc:
            workload.action, workload.note = "failed", str(exc)


def _restart_one(cluster: Cluster, workload: Workload, stamp: str, *, dry_run: bool) -> None:
    if workload.kind == "Deployment":
        deployment = cluster.get("Deployment", workload.namespace, workload.name)
        if (deployment.get("spec") or {}).get("paused"):
            workload.action = "cannot-restart"
            workload.note = "the Deployment is paused (run kubectl rollout resume first)"
            return
    if dry_run:
        workload.action = "would-restart"
        workload.note = f"{RESTARTED_AT}={stamp}"
        return
    cluster.patch_template_annotations(
        workload.kind, workload.namespace, workload.name, {RESTARTED_AT: stamp}
    )
    workload.action, workload.note = "restarted", f"{RESTARTED_AT}={stamp}"
