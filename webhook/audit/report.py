"""Report: the audit's result as a table for people or as JSON for scripts.

The JSON shape is stable (documented in docs/audit.md)::

    {"apiVersion": "downward.io/audit/v1", "scannedPods": 1200, "podsNeedingAttention": 7,
     "workloads": [{"namespace": "shop", "kind": "Deployment", "name": "web", "pods": 3,
                    "examplePods": ["web-5d9c-abcde", ...], "reasons": {"not-injected": 3},
                    "action": "restarted", "note": "kubectl.kubernetes.io/restartedAt=..."}]}

``workloads`` is sorted by namespace, kind and name; ``action`` is ``null`` without
``--restart``/``--dry-run``; ``reasons`` counts pods per reason code (a pod may have several).
"""

from __future__ import annotations

import json
from typing import Any

from webhook.audit.scan import Report, Workload
from webhook.core.audit import REASONS

__all__ = ["API_VERSION", "as_json", "as_table"]

API_VERSION = "downward.io/audit/v1"
_COLUMNS = ("NAMESPACE", "KIND", "NAME", "PODS", "REASONS", "ACTION")


def as_json(report: Report) -> str:
    document: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "scannedPods": report.scanned,
        "podsNeedingAttention": report.pods,
        "workloads": [_workload(w) for w in report.sorted()],
    }
    return json.dumps(document, indent=2)


def _workload(w: Workload) -> dict[str, Any]:
    return {
        "namespace": w.namespace,
        "kind": w.kind,
        "name": w.name,
        "pods": w.pods,
        "examplePods": list(w.examples),
        "reasons": {code: w.reasons[code] for code in REASONS if w.reasons[code]},
        "action": w.action,
        "note": w.note,
    }


def as_table(report: Report) -> str:
    workloads = report.sorted()
    summary = (
        f"{report.scanned} pods scanned: {report.pods} in {len(workloads)} workloads need attention"
    )
    if not workloads:
        return f"{report.scanned} pods scanned: none needs attention"
    rows = [_COLUMNS, *(_row(w) for w in workloads)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(c.ljust(n) for c, n in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines += _notes(workloads)
    lines += ["", summary, *_legend(workloads)]
    return "\n".join(lines)


def _row(w: Workload) -> tuple[str, ...]:
    reasons = ",".join(code for code in REASONS if w.reasons[code])
    return (w.namespace, w.kind, w.name, str(w.pods), reasons, w.action or "-")


def _notes(workloads: list[Workload]) -> list[str]:
    notes = [f"  {w.kind}/{w.name} ({w.namespace}): {w.note}" for w in workloads if w.note]
    return ["", "notes:", *notes] if notes else []


def _legend(workloads: list[Workload]) -> list[str]:
    seen = {code for w in workloads for code in w.reasons}
    return [f"  {code}: {sentence}" for code, sentence in REASONS.items() if code in seen]
