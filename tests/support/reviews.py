"""An AdmissionReview as the API server sends it: for tests and for bench/ (which runs
without the test dependencies, so this module imports nothing but the standard library)."""

from __future__ import annotations

from typing import Any

__all__ = ["admission_review"]


def admission_review(
    pod: dict[str, Any],
    *,
    uid: str = "705ab4f5-6393-11e8-b7cc-42010a800002",
    operation: str = "CREATE",
    api_version: str = "admission.k8s.io/v1",
    sub_resource: str | None = None,
) -> dict[str, Any]:
    """An AdmissionReview as the API server sends it for ``pod``."""
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": pod.get("metadata", {}).get("namespace", "default"),
        "operation": operation,
        "userInfo": {
            "username": "system:serviceaccount:kube-system:replicaset-controller",
            "groups": ["system:serviceaccounts", "system:authenticated"],
        },
        "object": pod,
        "oldObject": None,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    if sub_resource:
        request["subResource"] = sub_resource
    return {"apiVersion": api_version, "kind": "AdmissionReview", "request": request}
