"""The AdmissionReview wire format: check what comes in, build what goes out.

Two error channels: a body that is not an AdmissionReview raises ``BadReview`` (HTTP 400 in
the server, one line of reason); a pod with a bad annotation is a *valid* review, answered
with warnings or a denial by ``webhook.core.admission``. ``check_pod`` checks the type of every
part of the pod that the planner reads, so that no input can surprise it later.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

import orjson

from webhook.types import JSONObject, Patch

__all__ = [
    "API_VERSIONS",
    "AdmissionRequest",
    "AdmissionResponse",
    "AdmissionReview",
    "BadReview",
    "Request",
    "build_response",
    "check_pod",
    "parse_review",
]

ApiVersion = Literal["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
API_VERSIONS: frozenset[str] = frozenset({"admission.k8s.io/v1", "admission.k8s.io/v1beta1"})


class GroupVersionResource(TypedDict):
    group: str
    version: str
    resource: str


class AdmissionRequest(TypedDict):
    uid: str
    operation: Operation
    resource: NotRequired[GroupVersionResource]
    subResource: NotRequired[str]
    namespace: NotRequired[str]
    object: NotRequired[JSONObject | None]


class Status(TypedDict, total=False):
    code: int
    message: str


class AdmissionResponse(TypedDict):
    uid: str
    allowed: bool
    patchType: NotRequired[Literal["JSONPatch"]]
    patch: NotRequired[str]
    warnings: NotRequired[list[str]]
    status: NotRequired[Status]


class AdmissionReview(TypedDict):
    apiVersion: ApiVersion
    kind: Literal["AdmissionReview"]
    request: NotRequired[AdmissionRequest]
    response: NotRequired[AdmissionResponse]


class BadReview(ValueError):
    """The body is not an AdmissionReview we can answer (HTTP 400). One-line message."""


@dataclass(frozen=True, slots=True)
class Request:
    """The parts of an AdmissionReview request the webhook uses."""

    api_version: str
    uid: str
    namespace: str
    pod: JSONObject | None  # set only for CREATE of pods, the one thing we mutate


def _expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise BadReview(f"{what} must be {_KIND_NAMES.get(kind, 'of another type')}")
    return value


_KIND_NAMES: dict[type | tuple[type, ...], str] = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
}


def parse_review(doc: Any) -> Request:
    """Check the envelope of a decoded AdmissionReview and pick out what we need."""
    _expect(doc, dict, "the body")
    api_version = doc.get("apiVersion")
    # Check the type first: an unhashable value (a list, an object) would raise TypeError.
    if not isinstance(api_version, str) or api_version not in API_VERSIONS:
        raise BadReview("apiVersion must be admission.k8s.io/v1 or admission.k8s.io/v1beta1")
    if doc.get("kind") != "AdmissionReview":
        raise BadReview("kind must be AdmissionReview")
    request = _expect(doc.get("request"), dict, "request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid or len(uid) > 256:
        raise BadReview("request.uid must be a non-empty string")
    operation = _expect(request.get("operation"), str, "request.operation")
    namespace = request.get("namespace") or ""
    _expect(namespace, str, "request.namespace")
    if operation != "CREATE" or not _is_pods(request):
        return Request(api_version, uid, namespace, None)
    pod = _expect(request.get("object"), dict, "request.object")
    check_pod(pod)
    return Request(api_version, uid, namespace, pod)


def _is_pods(request: JSONObject) -> bool:
    """Only ``pods`` itself (no subresource such as ``ephemeralcontainers`` or ``binding``)."""
    sub = request.get("subResource") or ""
    resource = request.get("resource")
    if resource is None:
        kind = _expect(request.get("kind"), dict, "request.kind")
        return bool(kind.get("group") == "" and kind.get("kind") == "Pod" and not sub)
    _expect(resource, dict, "request.resource")
    return bool(resource.get("group") == "" and resource.get("resource") == "pods" and not sub)


def _check_strings(mapping: Any, what: str) -> None:
    if mapping is None:
        return
    _expect(mapping, dict, what)
    for key, value in mapping.items():
        if not isinstance(value, str):
            raise BadReview(f"{what}[{key!r}] must be a string")


def _check_named_list(items: Any, what: str) -> list[JSONObject]:
    if items is None:
        return []
    _expect(items, list, what)
    for item in items:
        # The common case costs two type checks; the message is built only on failure.
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            _named_item_error(items, what)
    checked: list[JSONObject] = items
    return checked


def _named_item_error(items: list[Any], what: str) -> None:
    for i, item in enumerate(items):
        _expect(item, dict, f"{what}[{i}]")
        _expect(item.get("name"), str, f"{what}[{i}].name")


def _check_container(c: JSONObject, field: str, index: int) -> None:
    # Messages (f-strings) are built only on failure: this runs for every container.
    env = c.get("env")
    if env is not None:
        _check_named_list(env, f"object.spec.{field}[{index}].env")
    mounts = c.get("volumeMounts")
    if mounts is not None:
        what = f"object.spec.{field}[{index}].volumeMounts"
        for i, m in enumerate(_check_named_list(mounts, what)):
            if not isinstance(m.get("mountPath"), str):
                _expect(m.get("mountPath"), str, f"{what}[{i}].mountPath")
    ports = c.get("ports")
    if ports is not None and (
        not isinstance(ports, list) or not all(isinstance(p, dict) for p in ports)
    ):
        what = f"object.spec.{field}[{index}].ports"
        for i, p in enumerate(_expect(ports, list, what)):
            _expect(p, dict, f"{what}[{i}]")
    resources = c.get("resources")
    if resources is not None:
        limits = resources.get("limits") if isinstance(resources, dict) else None
        if not isinstance(resources, dict) or not (limits is None or isinstance(limits, dict)):
            what = f"object.spec.{field}[{index}].resources"
            _expect(resources, dict, what)
            _expect(limits, dict, f"{what}.limits")


def check_pod(pod: JSONObject) -> None:
    """Raise ``BadReview`` unless every part of ``pod`` that the planner reads has its type."""
    metadata = _expect(pod.get("metadata", {}), dict, "object.metadata")
    _check_strings(metadata.get("annotations"), "object.metadata.annotations")
    spec = _expect(pod.get("spec"), dict, "object.spec")
    containers = _check_named_list(spec.get("containers"), "object.spec.containers")
    if not containers:
        raise BadReview("object.spec.containers must not be empty")
    for field in ("containers", "initContainers"):
        for i, c in enumerate(_check_named_list(spec.get(field), f"object.spec.{field}")):
            _check_container(c, field, i)
    _check_named_list(spec.get("volumes"), "object.spec.volumes")


def build_response(
    request_api_version: str,
    uid: str,
    *,
    patch: Patch | None = None,
    warnings: Sequence[str] = (),
    denial: str | None = None,
) -> AdmissionReview:
    """The one place responses are built: echoes ``uid`` and the request's ``apiVersion``."""
    response: AdmissionResponse = {"uid": uid, "allowed": denial is None}
    if denial is not None:
        response["status"] = {"code": 403, "message": denial}
    elif patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(orjson.dumps(patch)).decode("ascii")
    if warnings:
        response["warnings"] = list(warnings)
    api_version: ApiVersion = (
        "admission.k8s.io/v1beta1"
        if request_api_version == "admission.k8s.io/v1beta1"
        else "admission.k8s.io/v1"
    )
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}
