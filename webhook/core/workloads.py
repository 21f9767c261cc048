"""Pod templates inside workload objects, for ``downward-webhook render``.

``render`` applies the same decision as ``POST /mutate`` to every pod template, the way
``istioctl kube-inject`` and ``linkerd inject`` do, so a GitOps repository can see (or gate
on) the result before anything reaches a cluster. Anything else passes through unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonpatch

from webhook.core.admission import Decision, Settings, mutate
from webhook.core.review import BadReview, pod_from_object
from webhook.types import JSONObject

__all__ = ["TEMPLATE_PATHS", "Rendered", "inject_document"]

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


def _templates(doc: Any) -> Iterator[tuple[str, str, JSONObject]]:
    if not isinstance(doc, dict):
        return
    if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            yield from _templates(item)
        return
    path = TEMPLATE_PATHS.get(doc.get("kind", ""))
    if path is None or doc.get("apiVersion") is None:
        return
    node: Any = doc
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get("spec"), dict):
        yield f"{doc['kind']}/{_name(doc)}", ".".join(path), node


def _name(doc: JSONObject) -> str:
    metadata = doc.get("metadata") or {}
    return str(metadata.get("name") or metadata.get("generateName") or "<unnamed>")


def inject_document(doc: Any, settings: Settings) -> list[Rendered]:
    """Inject every pod template in ``doc`` in place. Raises ``BadReview`` for a bad pod."""
    results: list[Rendered] = []
    for where, path, template in _templates(doc):
        pod = {"metadata": template.get("metadata") or {}, "spec": template["spec"]}
        try:
            checked = pod_from_object(pod, path)
        except BadReview as exc:
            raise BadReview(f"{where}: {exc}") from None
        decision = mutate(checked, settings)
        if decision.patch:
            # jsonpatch puts the values themselves into the document; they are shared with
            # the patch cache, so the document gets copies.
            operations = copy.deepcopy(decision.patch.operations)
            patched = jsonpatch.apply_patch(pod, operations)
            template["metadata"], template["spec"] = patched["metadata"], patched["spec"]
        results.append(Rendered(where, decision))
    return results
