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


#: The API groups of the kinds above; the same kind in another group (a custom resource) may
#: look like anything, so only these are refused when their pod template is not a pod.
_CORE, _APPS, _BATCH = frozenset({""}), frozenset({"apps", "extensions"}), frozenset({"batch"})
_GROUPS: dict[str, frozenset[str]] = {
    "Pod": _CORE,
    "PodTemplate": _CORE,
    "ReplicationController": _CORE,
    "Deployment": _APPS,
    "StatefulSet": _APPS,
    "DaemonSet": _APPS,
    "ReplicaSet": _APPS,
    "Job": _BATCH,
    "CronJob": _BATCH,
}
_JSON_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "array"}


def _templates(doc: Any, at: str = "") -> Iterator[tuple[str, str, str, JSONObject]]:
    """``(where, dotted path, JSON Pointer, template)`` of every pod template in ``doc``.

    A template of a built-in kind that is not a pod where it matters is yielded too, for
    ``pod_from_object`` to refuse with its path (or refused here, when a step of the path is
    not an object): a step or a ``spec`` that is there but is not an object, or a template
    that asks for injection (``downward.io/inject``) without a ``spec``. An absent (or null)
    step passes through: a partial object, such as a kustomize patch, is not a pod yet.
    """
    if not isinstance(doc, dict):
        return
    if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        for i, item in enumerate(doc["items"]):
            yield from _templates(item, f"{at}/items/{i}")
        return
    path = TEMPLATE_PATHS.get(doc.get("kind", ""))
    if path is None or doc.get("apiVersion") is None:
        return
    where = f"{doc['kind']}/{_name(doc)}"
    group = str(doc["apiVersion"]).rpartition("/")[0]
    strict = group in _GROUPS[doc["kind"]]
    node: Any = doc
    for depth, key in enumerate(path, 1):
        node = node.get(key)
        if node is None:
            return
        if not isinstance(node, dict):
            if strict:
                got = _JSON_TYPES.get(type(node), type(node).__name__)
                dotted = ".".join(path[:depth])
                raise BadReview(f"{where}: Expected `object`, got `{got}` - at `{dotted}`")
            return
    spec = node.get("spec")
    if strict and spec is None and _asks(node):  # the server would answer 400 for this pod
        dotted = ".".join((*path, "spec"))
        raise BadReview(f"{where}: asks for injection ({INJECT}) but has no {dotted}: not a pod")
    if isinstance(spec, dict) or (strict and spec is not None):  # pod_from_object refuses it
        pointer = at + "".join("/" + key for key in path)
        yield where, ".".join(path), pointer, node


def _asks(template: JSONObject) -> bool:
    """Whether the template carries ``downward.io/inject`` (as the server reads it: exactly)."""
    metadata = template.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return isinstance(annotations, dict) and INJECT in annotations


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
