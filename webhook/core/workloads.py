"""Pod templates inside workload objects, for ``downward-webhook render``.

``render`` applies the same decision as ``POST /mutate`` to every pod template, the way
``istioctl kube-inject`` and ``linkerd inject`` do, so a GitOps repository can see (or gate
on) the result before anything reaches a cluster. Anything else passes through unchanged.

A ``downward.io/inject`` annotation on a workload's own ``metadata`` (instead of its pod
template's) reaches no pod: the API server never sends the workload to the webhook, so only
``render`` can tell, with a ``workload-annotation`` finding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonpatch
import msgspec

from webhook.core.admission import Decision, Settings, mutate
from webhook.core.keys import INJECT
from webhook.core.reasons import Finding, Reason
from webhook.core.review import BadReview, pod_from_object
from webhook.types import JSONObject, Patch

__all__ = ["TEMPLATE_PATHS", "Rendered", "inject_document", "is_misplaced_key", "workload_findings"]

#: Where each kind keeps its pod (template). ``()`` means the object is the pod itself.
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "PodTemplate": ("template",),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """One pod template's result: where it is (``Deployment/web``) and the decision."""

    where: str
    decision: Decision
    #: JSON Pointer of the pod template in the document (``/spec/template``, ``""`` for a Pod).
    pointer: str = ""

    @property
    def operations(self) -> Patch:
        """The decision's patch with paths from the document's root (shared values: read only)."""
        return [{**op, "path": self.pointer + op["path"]} for op in self.decision.patch.operations]


def _templates(doc: Any, at: str = "") -> Iterator[tuple[str, str, str, JSONObject]]:
    """``(where, dotted path, JSON Pointer, template)`` of every pod template in ``doc``."""
    if not isinstance(doc, dict):
        return
    if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        for i, item in enumerate(doc["items"]):
            yield from _templates(item, f"{at}/items/{i}")
        return
    path = TEMPLATE_PATHS.get(doc.get("kind", ""))
    if path is None or doc.get("apiVersion") is None:
        return
    node: Any = doc
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get("spec"), dict):
        pointer = at + "".join("/" + key for key in path)
        yield f"{doc['kind']}/{_name(doc)}", ".".join(path), pointer, node


def is_misplaced_key(key: object) -> bool:
    """Whether a workload-metadata annotation key was meant for the pod template.

    The one place that decides it: today ``downward.io/inject`` in any letter case, trimmed.
    """
    return isinstance(key, str) and key.strip().lower() == INJECT


def workload_findings(doc: Any, path: tuple[str, ...]) -> list[Finding]:
    """Findings on a workload's own metadata (not a Pod's: its metadata is the pod's)."""
    metadata = doc.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not path or not isinstance(annotations, dict):
        return []
    return [
        Finding.of(Reason.WORKLOAD_ANNOTATION, key=str(key))
        for key in annotations
        if is_misplaced_key(key)
    ]


def _name(doc: JSONObject) -> str:
    metadata = doc.get("metadata") or {}
    return str(metadata.get("name") or metadata.get("generateName") or "<unnamed>")


def inject_document(
    doc: Any, settings: Settings, *, default_inject: str | None = None
) -> list[Rendered]:
    """Inject every pod template in ``doc`` in place. Raises ``BadReview`` for a bad pod.

    ``default_inject``: the modes for pods without ``downward.io/inject``, as for a pod in a
    namespace labelled ``downward.io/inject=enabled``.
    """
    results: list[Rendered] = []
    for where, path, pointer, template in _templates(doc):
        pod = {"metadata": template.get("metadata") or {}, "spec": template["spec"]}
        try:
            checked = pod_from_object(pod, path)
        except BadReview as exc:
            raise BadReview(f"{where}: {exc}") from None
        decision = mutate(checked, settings, default_inject=default_inject)
        if decision.patch:
            # jsonpatch puts the values themselves into the document; they are shared with
            # the patch cache, so the document gets copies.
            operations = _copy(decision.patch.operations)
            patched = jsonpatch.apply_patch(pod, operations, in_place=True)
            template["metadata"], template["spec"] = patched["metadata"], patched["spec"]
        results.append(Rendered(where, decision, pointer))
    return results + _misplaced(doc)


def _copy(operations: Patch) -> Patch:
    """A deep copy of JSON values, faster than ``copy.deepcopy`` (a patch is JSON)."""
    copied: Patch = msgspec.json.decode(msgspec.json.encode(operations))
    return copied


def _misplaced(doc: Any) -> list[Rendered]:
    """A ``Rendered`` with the workload-metadata findings of ``doc`` (and of a List's items)."""
    if not isinstance(doc, dict):
        return []
    if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        return [r for item in doc["items"] for r in _misplaced(item)]
    path = TEMPLATE_PATHS.get(doc.get("kind", ""))
    findings = (
        workload_findings(doc, path) if path and isinstance(doc.get("metadata"), dict) else []
    )
    if not findings:
        return []
    return [Rendered(f"{doc['kind']}/{_name(doc)}", Decision("ignored", findings=tuple(findings)))]
