"""A FAKE of the Kubernetes API endpoints that ``downward-webhook audit`` calls, over real HTTP.

Not a Kubernetes API server: no authentication, no admission, no watch, no selectors, no
defaulting. It exists so tests can point a real ``kubernetes.client.ApiClient`` at it and run
the real request/response path of the audit. It keeps, in memory:

* ``GET /api/v1/pods`` and ``GET /api/v1/namespaces/{ns}/pods``: lists that really page:
  ``limit`` caps the items, ``continue`` is an opaque token naming where the next page starts
  (a stale or made-up token gets ``410 Expired``, as from the real server);
* ``GET /api/v1/namespaces/{name}``;
* ``GET`` and ``PATCH`` of ``/apis/apps/v1/namespaces/{ns}/{replicasets|deployments|
  statefulsets|daemonsets}/{name}`` and ``/apis/batch/v1/namespaces/{ns}/{jobs|cronjobs}/{name}``;
  a PATCH is recorded as sent (content type and body) and merged into the stored object
  (a plain recursive merge of maps: all that a strategic-merge patch of annotations needs).

Every request is recorded (method, path, query). Tests can make the next matching requests
fail with a status (403, 500...). Errors are ``metav1.Status`` bodies, made by
``tests.fakes.loopback.status_object``; the server thread and the JSON answers are
``tests/fakes/loopback.py``'s, shared with ``kube_api.py``.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from tests.fakes import loopback
from tests.fakes.loopback import Obj, Response, api_client_for, merge, split_url, status_object

__all__ = ["FakeWorkloads", "Patch", "Request", "api_client_for", "serve"]

_GROUPS = {
    "replicasets": "apps/v1",
    "deployments": "apps/v1",
    "statefulsets": "apps/v1",
    "daemonsets": "apps/v1",
    "jobs": "batch/v1",
    "cronjobs": "batch/v1",
}
_KINDS = {
    "pods": "Pod",
    "namespaces": "Namespace",
    "replicasets": "ReplicaSet",
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
}
_PODS = re.compile(r"^/api/v1(?:/namespaces/(?P<ns>[^/]+))?/pods$")
_NAMESPACE = re.compile(r"^/api/v1/namespaces/(?P<name>[^/]+)$")
_WORKLOAD = re.compile(
    r"^/apis/(?P<group>apps/v1|batch/v1)/namespaces/(?P<ns>[^/]+)/(?P<res>[a-z]+)/(?P<name>[^/]+)$"
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]


@dataclass(frozen=True)
class Patch:
    resource: str
    namespace: str
    name: str
    content_type: str
    body: Obj


@dataclass
class FakeWorkloads:
    """In-memory objects plus what was asked of them."""

    objects: dict[tuple[str, str, str], Obj] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    patches: list[Patch] = field(default_factory=list)
    failures: list[tuple[str, str, int]] = field(default_factory=list)  # method, resource, code
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- seeding --------------------------------------------------------------------------

    def put(self, resource: str, namespace: str, name: str, **fields: Any) -> Obj:
        """Store an object; ``fields`` become its top-level keys (``metadata`` is merged)."""
        metadata = {"name": name, "uid": f"uid-{resource}-{namespace}-{name}"}
        if resource != "namespaces":
            metadata["namespace"] = namespace
        metadata.update(fields.pop("metadata", {}))
        group = _GROUPS.get(resource, "v1")
        obj = {"apiVersion": group, "kind": _KINDS[resource], "metadata": metadata, **fields}
        with self._lock:
            self.objects[(resource, namespace, name)] = obj
        return obj

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        with self._lock:
            return copy.deepcopy(self.objects.get((resource, namespace, name)))

    def fail_next(self, method: str, resource: str, code: int) -> None:
        with self._lock:
            self.failures.append((method, resource, code))

    def list_requests(self) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path.endswith("/pods")]

    # --- serving --------------------------------------------------------------------------

    def handle(self, method: str, url: str, content_type: str, body: Obj | None) -> Response:
        path, query = split_url(url)
        with self._lock:
            self.requests.append(Request(method, path, query))
        route = _route(path)
        if route is None:
            return 404, status_object(404, f"the server could not find the path {path}")
        resource, namespace, name = route
        failed = self._failure(method, resource, name)
        if failed is not None:
            return failed
        with self._lock:
            if name is None:
                return self._list(namespace, query)
            if method == "PATCH":
                return self._patch(resource, namespace, name, content_type, body or {})
            key = (resource, "" if resource == "namespaces" else namespace, name)
            if method != "GET":
                return 405, status_object(405, f"{method} is not supported by this fake")
            if key not in self.objects:
                return 404, status_object(404, f'{resource} "{name}" not found')
            return 200, copy.deepcopy(self.objects[key])

    def _failure(self, method: str, resource: str, name: str | None) -> Response | None:
        with self._lock:
            match = next((f for f in self.failures if f[:2] == (method, resource)), None)
            if match is None:
                return None
            self.failures.remove(match)
        code = match[2]
        verb = {"GET": "list" if name is None else "get", "PATCH": "patch"}.get(method, method)
        scope = "at the cluster scope" if name is None else 'in the namespace "apps"'
        message = (
            f'{resource} is forbidden: User "system:serviceaccount:fake:fake" cannot {verb} '
            f'resource "{resource}" in API group "" {scope}'
            if code == 403
            else f"injected failure {code}"
        )
        return code, status_object(code, message)

    def _list(self, namespace: str | None, query: dict[str, str]) -> Response:
        keys = sorted(
            k for k in self.objects if k[0] == "pods" and (namespace is None or k[1] == namespace)
        )
        start = 0
        if query.get("continue"):
            try:
                start = int(base64.urlsafe_b64decode(query["continue"]).decode().split(":")[1])
            except (ValueError, IndexError, UnicodeDecodeError):
                return 410, status_object(
                    410, "The provided continue parameter is too old", "Expired"
                )
        limit = int(query.get("limit") or 0) or len(keys)
        page = keys[start : start + limit]
        metadata: Obj = {"resourceVersion": "100"}
        if start + limit < len(keys):
            token = f"pods:{start + limit}".encode()
            metadata["continue"] = base64.urlsafe_b64encode(token).decode()
        items = [copy.deepcopy(self.objects[k]) for k in page]
        return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": metadata, "items": items}

    def _patch(self, resource: str, ns: str, name: str, content_type: str, body: Obj) -> Response:
        key = (resource, ns, name)
        if key not in self.objects:
            return 404, status_object(404, f'{resource} "{name}" not found')
        self.patches.append(Patch(resource, ns, name, content_type, copy.deepcopy(body)))
        merge(self.objects[key], body)
        return 200, copy.deepcopy(self.objects[key])


def _route(path: str) -> tuple[str, str | None, str | None] | None:
    if m := _PODS.match(path):
        return "pods", m["ns"], None
    if m := _NAMESPACE.match(path):
        return "namespaces", "", m["name"]
    if (m := _WORKLOAD.match(path)) and _GROUPS.get(m["res"]) == m["group"]:
        return m["res"], m["ns"], m["name"]
    return None


def _respond(fake: FakeWorkloads, method: str, url: str, headers: Message, raw: bytes) -> Response:
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return 400, status_object(400, "request body is not JSON")
    return fake.handle(method, url, headers.get("Content-Type") or "", body)


def serve(fake: FakeWorkloads) -> AbstractContextManager[str]:
    """Serve ``fake`` on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    return loopback.serve(functools.partial(_respond, fake), ("GET", "PATCH"), "fake-workloads")
