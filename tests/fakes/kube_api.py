"""A FAKE of the few Kubernetes API endpoints that ``certs ensure`` calls, over real HTTP.

This is not a Kubernetes API server and does not try to be one: no authentication, no
admission, no watch, no field selectors, no defaulting, and only the validation that the
certificate code could trip over. It exists so that tests can point a real
``kubernetes.client.ApiClient`` at it and exercise the real request/response path. It keeps:

* ``/api/v1/namespaces/{ns}/secrets`` (GET list, POST) and ``.../secrets/{name}`` (GET, PUT,
  DELETE);
* ``/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{name}`` (GET, PUT,
  and PATCH as server-side apply only: ``application/apply-patch+yaml`` with a
  ``fieldManager``; field ownership is modelled for ``caBundle`` alone, see
  ``tests/fakes/apply.py``; an apply never creates an object here, it gets 404).

Like the real server it keeps one increasing ``resourceVersion`` counter for all objects, a
PUT that carries a stale ``resourceVersion`` gets ``409 Conflict``, a POST of an existing
name gets ``409 AlreadyExists``, and a missing object gets ``404 NotFound``, each as a
``Status`` object. Tests can inject a failure (e.g. 403 or 409) or run a callback right
before the next matching request (to stage a race deterministically).

Every request served is recorded in ``served`` as the RBAC verb, the resource and the name
(``get``/``list``/``create``/``update``/``patch``/``delete``; the name is empty for a request
to a collection), so tests can compare what the certificate code really does with the RBAC
the chart grants; applies are also recorded in ``applies`` (name, manager, force).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import itertools
import json
import re
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.message import Message
from typing import Any

import yaml

from tests.fakes import loopback
from tests.fakes.apply import (
    Owners,
    apply_webhook_config,
    conflict_message,
    managed_fields,
    updated_owners,
)
from tests.fakes.loopback import Obj, Response, api_client_for, split_url, status_object

__all__ = ["FakeKubeApi", "api_client_for", "serve", "status_object"]

SECRETS = "secrets"
WEBHOOK_CONFIGS = "mutatingwebhookconfigurations"

_SECRET_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/secrets(?:/(?P<name>[^/]+))?$")
_MWC_PATH = re.compile(
    r"^/apis/admissionregistration\.k8s\.io/v1/mutatingwebhookconfigurations/(?P<name>[^/]+)$"
)
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
APPLY_PATCH = "application/apply-patch+yaml"
SEED_MANAGER = ("fake-seed", "Update")  # owner of a caBundle stored by put_webhook_config


def rbac_verb(method: str, name: str) -> str:
    """The verb the API server authorizes a request as (a GET of a collection is ``list``)."""
    return "list" if method == "GET" and not name else _VERBS.get(method, method.lower())


@dataclass(frozen=True)
class Request:
    """What the HTTP layer hands to ``FakeKubeApi.handle`` besides method, path and body."""

    query: dict[str, str]
    content_type: str = "application/json"
    user_agent: str = ""


@dataclass
class _Injection:
    method: str
    resource: str
    remaining: int
    status: int = 0
    reason: str | None = None
    callback: Callable[[], None] | None = None


class FakeKubeApi:
    """In-memory state of the fake plus helpers to seed and inspect it without HTTP."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._versions = itertools.count(1)
        self._uids = itertools.count(1)
        self._secrets: dict[tuple[str, str], Obj] = {}
        self._webhook_configs: dict[str, Obj] = {}
        self._owners: dict[str, Owners] = {}  # webhook configuration -> caBundle owners
        self._injections: list[_Injection] = []
        self.requests: list[tuple[str, str, str]] = []  # (method, resource, name)
        self.served: list[tuple[str, str, str]] = []  # (RBAC verb, resource, name)
        self.applies: list[tuple[str, str, bool]] = []  # (name, fieldManager, force)

    # --- seeding and inspection ------------------------------------------------------

    def put_secret(
        self,
        namespace: str,
        name: str,
        data: dict[str, bytes],
        *,
        annotations: dict[str, str] | None = None,
        secret_type: str = "kubernetes.io/tls",
    ) -> Obj:
        """Store a Secret directly (as if another tool made it) and return it."""
        meta: Obj = {"name": name, "namespace": namespace}
        if annotations:
            meta["annotations"] = dict(annotations)
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": secret_type}
        body["data"] = {k: base64.b64encode(v).decode() for k, v in data.items()}
        with self._lock:
            self._secrets[(namespace, name)] = self._stamp(body, None)
            return copy.deepcopy(self._secrets[(namespace, name)])

    def put_webhook_config(
        self,
        name: str,
        webhooks: Sequence[str | Obj] = ("a", "b"),
        *,
        ca_bundle_owner: tuple[str, str] = SEED_MANAGER,
        **metadata: Any,
    ) -> Obj:
        """Store a MutatingWebhookConfiguration; a ``str`` entry becomes a minimal webhook
        ``<str>.downward.io`` without caBundle, a ``dict`` entry is stored as given. A
        caBundle in it is owned by ``ca_bundle_owner`` (manager, operation)."""
        body = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name, **metadata},
            "webhooks": [
                _webhook_entry(f"{hook}.downward.io") if isinstance(hook, str) else hook
                for hook in webhooks
            ],
        }
        with self._lock:
            self._owners[name] = updated_owners(None, body, {}, ca_bundle_owner)
            self._webhook_configs[name] = self._stamp_config(body, None)
            return copy.deepcopy(self._webhook_configs[name])

    def secret(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            return copy.deepcopy(self._secrets.get((namespace, name)))

    def secret_data(self, namespace: str, name: str) -> dict[str, bytes]:
        """The decoded ``data`` of a stored Secret ({} if it does not exist)."""
        secret = self.secret(namespace, name) or {}
        return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}

    def delete_secret(self, namespace: str, name: str) -> None:
        with self._lock:
            self._secrets.pop((namespace, name), None)

    def webhook_config(self, name: str) -> Obj | None:
        with self._lock:
            return copy.deepcopy(self._webhook_configs.get(name))

    def ca_bundles(self, name: str) -> list[bytes]:
        """The decoded caBundle of every entry of a stored webhook configuration."""
        stored = self.webhook_config(name) or {}
        return [
            base64.b64decode(hook.get("clientConfig", {}).get("caBundle", ""))
            for hook in stored.get("webhooks") or []
        ]

    def ca_bundle_managers(self, name: str) -> dict[str, set[str]]:
        """Who owns the caBundle of each entry: entry name -> field manager names."""
        with self._lock:
            owners = self._owners.get(name, {})
            return {entry: {manager for manager, _ in held} for entry, held in owners.items()}

    def fail_next(
        self, method: str, resource: str, status: int, *, reason: str | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` matching requests with an error ``Status``."""
        with self._lock:
            self._injections.append(_Injection(method, resource, times, status, reason))

    def before_next(
        self, method: str, resource: str, callback: Callable[[], None], *, times: int = 1
    ) -> None:
        """Run ``callback`` (in the server thread, unlocked) before the next matching request."""
        with self._lock:
            self._injections.append(_Injection(method, resource, times, callback=callback))

    # --- request handling ------------------------------------------------------------

    def handle(
        self, method: str, path: str, body: Obj | None, request: Request | None = None
    ) -> Response:
        """Serve one request; ``path`` without the query string."""
        route = _route(path)
        if route is None:
            return 404, status_object(404, f"the server could not find the path {path}")
        resource, namespace, name = route
        self.requests.append((method, resource, name or ""))
        self.served.append((rbac_verb(method, name or ""), resource, name or ""))
        injected = self._run_injections(method, resource, name or "")
        if injected is not None:
            return injected
        with self._lock:
            if resource == SECRETS:
                return self._secrets_request(method, namespace, name, body)
            return self._webhook_config_request(method, name or "", body, request or Request({}))

    def _run_injections(self, method: str, resource: str, name: str) -> Response | None:
        with self._lock:
            match = next(
                (i for i in self._injections if (i.method, i.resource) == (method, resource)),
                None,
            )
            if match is None:
                return None
            match.remaining -= 1
            if match.remaining <= 0:
                self._injections.remove(match)
        if match.callback is not None:
            match.callback()
            return None
        return match.status, self._injected_status(match, method, resource, name)

    @staticmethod
    def _injected_status(injection: _Injection, method: str, resource: str, name: str) -> Obj:
        verb = _VERBS.get(method, method.lower())
        if injection.status == 403:
            message = (
                f'{resource} "{name}" is forbidden: User "system:serviceaccount:fake:fake" '
                f'cannot {verb} resource "{resource}"'
            )
        else:
            message = f'Operation cannot be fulfilled on {resource} "{name}": injected by test'
        return status_object(injection.status, message, injection.reason)

    def _secrets_request(
        self, method: str, ns: str, name: str | None, body: Obj | None
    ) -> Response:
        if name is None and method == "GET":
            items = [copy.deepcopy(s) for (n, _), s in sorted(self._secrets.items()) if n == ns]
            return 200, {"apiVersion": "v1", "kind": "SecretList", "metadata": {}, "items": items}
        if name is None and method == "POST":
            return self._create_secret(ns, body or {})
        if name is not None and method == "GET":
            return self._get(self._secrets, (ns, name), SECRETS, name)
        if name is not None and method == "PUT":
            return self._replace(self._secrets, (ns, name), SECRETS, name, body or {})
        if name is not None and method == "DELETE":
            return self._delete_secret(ns, name)
        return 405, status_object(405, f"{method} is not supported by this fake")

    def _webhook_config_request(
        self, method: str, name: str, body: Obj | None, request: Request
    ) -> Response:
        if method == "GET":
            return self._get(self._webhook_configs, name, WEBHOOK_CONFIGS, name)
        if method == "PUT":
            manager = request.query.get("fieldManager") or request.user_agent.split("/")[0]
            current = self._webhook_configs.get(name)
            code, stored = self._replace(
                self._webhook_configs, name, WEBHOOK_CONFIGS, name, body or {}
            )
            if code == 200:
                owners = self._owners.get(name, {})
                self._owners[name] = updated_owners(current, stored, owners, (manager, "Update"))
                self._webhook_configs[name]["metadata"]["managedFields"] = managed_fields(
                    self._owners[name]
                )
                stored = copy.deepcopy(self._webhook_configs[name])
            return code, stored
        if method == "PATCH":
            return self._apply(name, body or {}, request)
        return 405, status_object(405, f"{method} is not supported by this fake")

    def _apply(self, name: str, body: Obj, request: Request) -> Response:
        """Server-side apply (the one PATCH type this fake knows) of a webhook configuration."""
        if request.content_type.split(";")[0].strip() != APPLY_PATCH:
            message = f"this fake supports only {APPLY_PATCH} patches, not {request.content_type}"
            return 415, status_object(415, message)
        manager = request.query.get("fieldManager", "")
        if not manager:
            return 400, status_object(400, "fieldManager: Required value: is required for apply")
        force = request.query.get("force") == "true"
        self.applies.append((name, manager, force))
        current = self._webhook_configs.get(name)
        if current is None:
            return 404, status_object(404, f'{WEBHOOK_CONFIGS} "{name}" not found (no create)')
        failed = _precondition_failed(body, current, name)
        if failed is not None:
            return failed
        result = apply_webhook_config(current, body, self._owners.get(name, {}), manager, force)
        if isinstance(result, list):
            return 409, status_object(409, conflict_message(result), "Conflict")
        merged, owners = result
        invalid = _invalid(WEBHOOK_CONFIGS, merged, current)
        if invalid is not None:
            return invalid
        self._owners[name] = owners
        self._webhook_configs[name] = self._stamp_config(merged, current)
        return 200, copy.deepcopy(self._webhook_configs[name])

    def _stamp_config(self, body: Obj, current: Obj | None) -> Obj:
        stored = self._stamp(body, current)
        name = stored["metadata"]["name"]
        stored["metadata"]["managedFields"] = managed_fields(self._owners.get(name, {}))
        return stored

    def _get(self, store: dict[Any, Obj], key: Any, resource: str, name: str) -> Response:
        if key not in store:
            return 404, status_object(404, f'{resource} "{name}" not found')
        return 200, copy.deepcopy(store[key])

    def _create_secret(self, ns: str, body: Obj) -> Response:
        name = body.get("metadata", {}).get("name", "")
        if (ns, name) in self._secrets:
            message = f'secrets "{name}" already exists'
            return 409, status_object(409, message, "AlreadyExists")
        invalid = _invalid(SECRETS, body, None)
        if invalid is not None:
            return invalid
        self._secrets[(ns, name)] = self._stamp(body, None, namespace=ns)
        return 201, copy.deepcopy(self._secrets[(ns, name)])

    def _replace(
        self, store: dict[Any, Obj], key: Any, resource: str, name: str, body: Obj
    ) -> Response:
        current = store.get(key)
        if current is None:
            return 404, status_object(404, f'{resource} "{name}" not found')
        if body.get("metadata", {}).get("name") != name:
            return 400, status_object(400, "the name of the object does not match the URL")
        failed = _precondition_failed(body, current, name, resource)
        if failed is not None:
            return failed
        invalid = _invalid(resource, body, current)
        if invalid is not None:
            return invalid
        store[key] = self._stamp(body, current, namespace=current["metadata"].get("namespace"))
        return 200, copy.deepcopy(store[key])

    def _delete_secret(self, ns: str, name: str) -> Response:
        if self._secrets.pop((ns, name), None) is None:
            return 404, status_object(404, f'secrets "{name}" not found')
        return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}

    def _stamp(self, body: Obj, current: Obj | None, *, namespace: str | None = None) -> Obj:
        """Copy ``body`` and set the server-owned metadata, as the API server does."""
        stored = copy.deepcopy(body)
        meta = stored.setdefault("metadata", {})
        if namespace is not None:
            meta["namespace"] = namespace
        meta["resourceVersion"] = str(next(self._versions))
        meta["uid"] = current["metadata"]["uid"] if current else f"fake-uid-{next(self._uids)}"
        meta["creationTimestamp"] = "2020-01-01T00:00:00Z"
        if "stringData" in stored:
            data = stored.setdefault("data", {})
            for key, value in stored.pop("stringData").items():
                data[key] = base64.b64encode(value.encode()).decode()
        return stored


def _precondition_failed(
    body: Obj, current: Obj, name: str, resource: str = WEBHOOK_CONFIGS
) -> Response | None:
    """409 when the body carries a resourceVersion other than the stored one."""
    sent = (body.get("metadata") or {}).get("resourceVersion")
    if sent is None or sent == current["metadata"]["resourceVersion"]:
        return None
    message = (
        f'Operation cannot be fulfilled on {resource} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return 409, status_object(409, message, "Conflict")


def _webhook_entry(name: str) -> Obj:
    return {
        "name": name,
        "admissionReviewVersions": ["v1", "v1beta1"],
        "sideEffects": "None",
        "clientConfig": {"service": {"name": "downward", "namespace": "downward-system"}},
    }


def _route(path: str) -> tuple[str, str, str | None] | None:
    if m := _SECRET_PATH.match(path):
        return SECRETS, m["ns"], m["name"]
    if m := _MWC_PATH.match(path):
        return WEBHOOK_CONFIGS, "", m["name"]
    return None


def _invalid(resource: str, body: Obj, current: Obj | None) -> Response | None:
    """The few validations the real API server would apply that matter to the tests."""
    blobs = (
        list((body.get("data") or {}).values())
        if resource == SECRETS
        else [h.get("clientConfig", {}).get("caBundle", "") for h in body.get("webhooks") or []]
    )
    if not all(_is_base64(blob) for blob in blobs):
        return 400, status_object(400, "illegal base64 data in request body")
    if resource != SECRETS:
        return _invalid_webhooks(body)
    if current is not None and current.get("type") != body.get("type"):
        return 422, status_object(422, "Secret type is immutable: field is immutable")
    keys = set(body.get("data") or {}) | set(body.get("stringData") or {})
    if body.get("type") == "kubernetes.io/tls" and not {"tls.crt", "tls.key"} <= keys:
        return 422, status_object(422, "data[tls.crt], data[tls.key]: Required value")
    return None


def _invalid_webhooks(body: Obj) -> Response | None:
    """422 for an entry without the fields every webhook must have (e.g. one made by apply)."""
    for hook in body.get("webhooks") or []:
        missing = [
            k for k in ("admissionReviewVersions", "sideEffects", "clientConfig") if k not in hook
        ]
        if missing:
            name = hook.get("name", "")
            return 422, status_object(
                422, f"webhooks[{name}]: {', '.join(missing)}: Required value"
            )
    return None


def _is_base64(value: Any) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        return False
    return True


_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def _respond(fake: FakeKubeApi, method: str, url: str, headers: Message, raw: bytes) -> Response:
    path, query = split_url(url)
    request = Request(
        query=query,
        content_type=headers.get("Content-Type") or "",
        user_agent=headers.get("User-Agent") or "",
    )
    try:  # an apply patch is YAML (JSON is YAML); everything else JSON
        yaml_body = request.content_type.startswith(APPLY_PATCH)
        body = (yaml.safe_load(raw) if yaml_body else json.loads(raw)) if raw else None
    except (ValueError, yaml.YAMLError):
        return 400, status_object(400, "request body is not JSON (or YAML)")
    return fake.handle(method, path, body, request)


def serve(fake: FakeKubeApi) -> AbstractContextManager[str]:
    """Serve ``fake`` on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    return loopback.serve(functools.partial(_respond, fake), _METHODS, "fake-kube-api")
