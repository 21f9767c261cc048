"""The HTTP plumbing shared by the FAKES of the Kubernetes API server in ``tests/fakes/``.

Not part of any fake's behaviour: a loopback ``ThreadingHTTPServer`` in a thread, a handler
that reads the request body and answers JSON, ``metav1.Status`` error bodies, the query
string as the fakes read it, the recursive map merge both fakes' PATCH handling uses, and a
real ``kubernetes`` ApiClient pointed at a fake. Each fake (``kube_api.py``,
``kube_workloads.py``) keeps its own routes, state and rules.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kubernetes import client

__all__ = [
    "Obj",
    "Respond",
    "Response",
    "api_client_for",
    "merge",
    "serve",
    "split_url",
    "status_object",
]

Obj = dict[str, Any]
Response = tuple[int, Obj]
#: What a fake answers a request with: (method, URL path with query, headers, raw body).
Respond = Callable[[str, str, Message, bytes], Response]

_REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
}


def status_object(code: int, message: str, reason: str | None = None) -> Obj:
    """A ``metav1.Status`` failure body, as the API server sends with every error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "code": code,
    }


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """The path of ``url`` and its query (the last value of each parameter)."""
    parts = urlsplit(url)
    return parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}


def merge(target: Obj, patch: Obj) -> None:
    """Merge ``patch`` into ``target`` in place: maps key by key, anything else replaced."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class _Handler(BaseHTTPRequestHandler):
    respond: Respond  # set on a per-server subclass, with the do_<METHOD> it serves

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        code, payload = self.respond(self.command, self.path, self.headers, raw)
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


@contextmanager
def serve(respond: Respond, methods: Iterable[str], name: str) -> Iterator[str]:
    """Serve ``respond`` for ``methods`` on 127.0.0.1 (a free port) in a thread named
    ``name``; yield its base URL. Other methods get the standard library's 501."""
    attributes: dict[str, Any] = {"respond": staticmethod(respond)}
    attributes |= {f"do_{method}": _Handler._serve for method in methods}
    server = ThreadingHTTPServer(("127.0.0.1", 0), type(f"{name}-handler", (_Handler,), attributes))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive(), "the fake API server thread did not stop"


def api_client_for(url: str) -> client.ApiClient:
    """A real ``kubernetes`` ApiClient that talks to the fake at ``url`` (close it after use)."""
    configuration = client.Configuration(host=url)
    configuration.retries = False  # a fake that errs should fail the test at once
    return client.ApiClient(configuration)
