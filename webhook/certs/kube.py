"""The Kubernetes API plumbing behind ``certs ensure``: the client, its calls and their errors.

``connect`` loads credentials (a given kubeconfig, else in-cluster, else ``~/.kube/config``;
``credentials.py``) into a ``KubeApis``; ``call`` makes one request with a timeout and maps
its failures: 404 and 409 become ``NotFound`` and ``Conflict`` (``ensure`` reads again),
anything else a one-line ``KubeApiError`` naming the request (with a hint at RBAC for 401 and
403). ``apply`` is ``call`` for a server-side apply under our field manager,
``downward-webhook-certs``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from webhook.certs import credentials
from webhook.certs.credentials import one_line

__all__ = [
    "APPLY_PATCH",
    "FIELD_MANAGER",
    "REQUEST_TIMEOUT",
    "BadKubeconfig",
    "CertsError",
    "Conflict",
    "KubeApiError",
    "KubeApis",
    "NotFound",
    "apply",
    "call",
    "connect",
    "one_line",
    "status_message",
]

REQUEST_TIMEOUT = 10.0
# The field manager under which `certs ensure` owns what it applies (each caBundle).
FIELD_MANAGER = "downward-webhook-certs"
APPLY_PATCH = "application/apply-patch+yaml"

_T = TypeVar("_T")


class CertsError(Exception):
    """A failure that retrying right away will not fix; ``str()`` is one line."""


class BadKubeconfig(CertsError):
    """No usable Kubernetes credentials (a missing or broken kubeconfig): bad input, exit 2."""


class KubeApiError(CertsError):
    """The API server refused a request (e.g. 403 Forbidden) or could not be reached."""


class Conflict(Exception):
    """409 Conflict or AlreadyExists: another writer got there first."""


class NotFound(Exception):
    """404 Not Found."""


@dataclass(frozen=True)
class KubeApis:
    """The two Kubernetes API groups ``ensure`` uses (``kubernetes.client`` objects)."""

    core: client.CoreV1Api
    admission: client.AdmissionregistrationV1Api

    @classmethod
    def from_api_client(cls, api_client: client.ApiClient) -> KubeApis:
        return cls(
            core=client.CoreV1Api(api_client),
            admission=client.AdmissionregistrationV1Api(api_client),
        )

    def close(self) -> None:
        self.core.api_client.close()


def connect(kubeconfig: str | None = None) -> KubeApis:
    """APIs from ``kubeconfig`` if given, else in-cluster config, else ``~/.kube/config``.

    Raises ``BadKubeconfig`` (one line naming the file) when no credentials can be loaded.
    """
    try:
        return KubeApis.from_api_client(credentials.api_client(kubeconfig))
    except credentials.BadCredentials as exc:
        raise BadKubeconfig(f"cannot load Kubernetes credentials: {exc}") from None


def call(what: str, method: Callable[..., _T], *args: object, **kwargs: object) -> _T:
    """``method(*args)`` with a timeout; raises ``NotFound``, ``Conflict`` or ``KubeApiError``."""
    try:
        return method(*args, **kwargs, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as exc:
        if exc.status == 404:
            raise NotFound(what) from None
        if exc.status == 409:
            raise Conflict(what) from None
        _raise_api_error(what, exc)
    except urllib3.exceptions.HTTPError as exc:
        raise KubeApiError(f"{what}: cannot reach the API server: {one_line(str(exc))}") from None


def apply(what: str, patch: Callable[..., _T], name: str, body: dict[str, Any]) -> _T:
    """Server-side apply ``body`` with a generated ``patch_*`` method, as ``FIELD_MANAGER``.

    The generated client picks a JSON-patch content type for every PATCH unless told
    otherwise; ``_content_type`` (a parameter of every generated method, "force content-type
    for the request") selects the apply patch, and the client sends a dict body as JSON,
    which is YAML. ``force`` takes over the fields we set from any earlier writer; it is
    scoped to those fields (here only caBundle), never to the rest of the object.
    tests/unit/certs/test_kube.py checks by name that the installed client still does this.
    """
    return call(
        what, patch, name, body, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY_PATCH
    )


def _raise_api_error(what: str, exc: ApiException) -> NoReturn:
    message = one_line(status_message(exc.body) or str(exc.reason or ""))
    hint = " (check the ServiceAccount's RBAC)" if exc.status in (401, 403) else ""
    raise KubeApiError(f"{what}: HTTP {exc.status}: {message}{hint}") from None


def status_message(body: Any) -> str:
    """The ``message`` of a Kubernetes ``Status`` response body, if there is one."""
    try:
        status = json.loads(body)
    except (TypeError, ValueError):
        return ""
    message = status.get("message", "") if isinstance(status, dict) else ""
    return message if isinstance(message, str) else ""
