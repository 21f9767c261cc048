"""The Kubernetes API calls behind ``audit``: paged pod lists, a few gets, restart patches.

``Cluster`` wraps a ``kubernetes.client.ApiClient`` (injected, so tests point it at an HTTP
fake); ``connect`` makes one from a kubeconfig or the in-cluster config, the way ``certs
ensure`` does. Responses are read as raw JSON (``_preload_content=False``): the audit decodes
pods with the webhook's own msgspec decoder instead of building the client's models, which
for a page of 500 pods costs most of the time and memory. Every failure becomes an
``AuditError`` of one line naming the verb and the resource (with a hint at RBAC for 401/403).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import msgspec
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from webhook.certs.kube import one_line, status_message

__all__ = ["PAGE_SIZE", "AuditError", "Cluster", "NotFound", "PodPage", "connect"]

PAGE_SIZE = 500
REQUEST_TIMEOUT = 60.0

_RESTART_PATCHERS = {
    "Deployment": "patch_namespaced_deployment",
    "StatefulSet": "patch_namespaced_stateful_set",
    "DaemonSet": "patch_namespaced_daemon_set",
}


class AuditError(Exception):
    """The API server refused a request or could not be reached; ``str()`` is one line."""


class NotFound(Exception):
    """404: the object is gone (a ReplicaSet deleted between the list and the get)."""


def connect(kubeconfig: str | None = None) -> Cluster:
    """A ``Cluster`` from ``kubeconfig`` if given, else in-cluster, else ``~/.kube/config``."""
    from webhook.certs.kube import CertsError
    from webhook.certs.kube import connect as connect_apis

    try:
        apis = connect_apis(kubeconfig)
    except CertsError as exc:
        raise AuditError(str(exc)) from None
    return Cluster(apis.core.api_client)


class Cluster:
    """The calls the audit makes, on one ``ApiClient``."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client: Any = api_client  # typed loosely: its close() is untyped
        self._core = client.CoreV1Api(api_client)
        self._apps = client.AppsV1Api(api_client)
        self._batch = client.BatchV1Api(api_client)

    def close(self) -> None:
        self.api_client.close()

    def pod_pages(self, namespace: str | None, limit: int = PAGE_SIZE) -> Iterator[PodPage]:
        """Each page of the pod list, decoded; one page in memory at a time."""
        where = f'in namespace "{namespace}"' if namespace else "in all namespaces"
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": limit}
            if token:
                kwargs["_continue"] = token
            if namespace:
                data = _raw(
                    f"list pods {where}", self._core.list_namespaced_pod, namespace, **kwargs
                )
            else:
                data = _raw(f"list pods {where}", self._core.list_pod_for_all_namespaces, **kwargs)
            page = _decode_page(data, where)
            yield page
            token = page.metadata.continue_
            if not token:
                return

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """One object of ``kind`` (Namespace, ReplicaSet, Job, Deployment) as a dict."""
        what = f'get {kind.lower()} "{name}"' + (
            f' in namespace "{namespace}"' if namespace else ""
        )
        if kind == "Namespace":
            data = _raw(what, self._core.read_namespace, name)
        elif kind == "ReplicaSet":
            data = _raw(what, self._apps.read_namespaced_replica_set, name, namespace)
        elif kind == "Deployment":
            data = _raw(what, self._apps.read_namespaced_deployment, name, namespace)
        elif kind == "Job":
            data = _raw(what, self._batch.read_namespaced_job, name, namespace)
        else:
            raise ValueError(f"cannot get a {kind}")
        found: dict[str, Any] = json.loads(data)
        return found

    def patch_template_annotations(
        self, kind: str, namespace: str, name: str, annotations: dict[str, str]
    ) -> None:
        """A strategic-merge patch of ``spec.template.metadata.annotations``."""
        body = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
        method = getattr(self._apps, _RESTART_PATCHERS[kind])
        _raw(
            f'patch {kind.lower()} "{name}" in namespace "{namespace}"',
            method,
            name,
            namespace,
            body,
        )


class ListMeta(msgspec.Struct, frozen=True, gc=False):
    continue_: str | None = msgspec.field(name="continue", default=None)


class PodPage(msgspec.Struct, frozen=True, gc=False):
    """A page of a pod list: its items stay raw JSON until the audit looks at each one."""

    metadata: ListMeta = ListMeta()
    items: list[msgspec.Raw] | None = None


_page_decoder = msgspec.json.Decoder(PodPage)


def _decode_page(data: bytes, where: str) -> PodPage:
    try:
        return _page_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise AuditError(f"list pods {where}: the API server sent no pod list: {exc}") from None


def _raw(what: str, method: Callable[..., Any], *args: object, **kwargs: Any) -> bytes:
    """Call ``method`` for its raw JSON body; raise ``NotFound`` or ``AuditError``."""
    try:
        response = method(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            raise NotFound(what) from None
        _api_error(what, exc)
    except urllib3.exceptions.HTTPError as exc:
        raise AuditError(f"{what}: cannot reach the API server: {one_line(str(exc))}") from None
    data: bytes = response.data
    return data


def _api_error(what: str, exc: ApiException) -> NoReturn:
    if exc.status == 0:  # the client's own failure (TLS), no HTTP status
        raise AuditError(f"{what}: cannot reach the API server: {one_line(str(exc.reason))}")
    message = one_line(status_message(exc.body) or str(exc.reason or ""))
    hint = ""
    if exc.status in (401, 403):
        hint = " (check the RBAC of the user or ServiceAccount)"
    elif exc.status == 410:
        hint = " (the list took longer than the API server keeps its snapshot; run it again)"
    raise AuditError(f"{what}: HTTP {exc.status}: {message}{hint}")
