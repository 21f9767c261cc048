"""The ASGI application: the admission hot path, and FastAPI for everything else.

``POST /mutate`` and ``POST /mutate/namespace-default`` are answered by a lean ASGI handler
(cap the body before reading it, hand the bytes to the core, send the bytes it answers):
every pod start in the cluster waits on it. Health, readiness and metrics are ordinary
FastAPI routes. Bad input has one error channel: ``HttpError`` (400, 405, 408, 413) with a one-line
reason; the server answers 500 only for a bug, and logs it without the request body.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response

from webhook.core.admission import Decision, Settings, admit
from webhook.core.review import BadReview, NotJSON, Request
from webhook.server.deadlines import Deadlines
from webhook.server.logs import AdmissionLog
from webhook.server.metrics import Metrics
from webhook.server.tls import CertificateReloader

__all__ = ["HttpError", "ServerOptions", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("downward_webhook.admission")

ROUTES = {"/mutate": "mutate", "/mutate/namespace-default": "namespace-default"}
_OUTCOME_BY_STATUS = {
    400: "bad_request",
    405: "bad_request",
    408: "timeout",
    413: "too_large",
    500: "error",
}
_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """HTTP-level limits and the pieces the app is wired to."""

    max_body_bytes: int = 3 * 1024 * 1024
    body_timeout: float = 10.0
    cert_reload_interval: float = 5.0


class HttpError(Exception):
    """A request we refuse: status code and a one-line reason for the client."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise HttpError(400, "invalid Content-Length header") from None
    return None


class BodyDeadlines:
    """Body reads that take longer than ``timeout`` are cancelled (the client gets 408).

    One ``Deadlines`` check for the whole server, not a timer per request.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.expired: set[asyncio.Task[Any]] = set()
        self.reading: Deadlines[asyncio.Task[Any]] = Deadlines(timeout, self._expire)

    def _expire(self, task: asyncio.Task[Any]) -> None:
        self.expired.add(task)
        task.cancel()

    def start(self, task: asyncio.Task[Any]) -> None:
        self.reading.start(task, task.get_loop())

    def finish(self, task: asyncio.Task[Any]) -> bool:
        """Unregister ``task``; True if it was cancelled because its deadline passed."""
        self.reading.finish(task)
        if task in self.expired:
            self.expired.discard(task)
            return True
        return False


async def _read_body(scope: Scope, receive: Receive, limit: int, deadlines: BodyDeadlines) -> bytes:
    """The whole body, refusing more than ``limit`` bytes before reading (or parsing) it."""
    length = _content_length(scope)
    if length is not None and length > limit:
        raise HttpError(413, f"body of {length} bytes is over the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    task = asyncio.current_task()
    assert task is not None
    deadlines.start(task)
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, "client disconnected before the body was complete")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"body is over the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
    except asyncio.CancelledError:
        if deadlines.finish(task):
            task.uncancel()
            raise HttpError(408, f"body not received within {deadlines.timeout:g}s") from None
        raise
    finally:
        deadlines.finish(task)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    # With a Content-Length, uvicorn writes the body as it is; without one it would copy it
    # into a chunked frame (and the client would have to parse chunks).
    headers = [*headers, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AdmissionEndpoint:
    """Raw ASGI handler for the two admission paths; everything else goes to ``fallback``."""

    def __init__(
        self, fallback: ASGIApp, settings: Settings, metrics: Metrics, options: ServerOptions
    ) -> None:
        self.fallback = fallback
        self.settings = settings
        self.metrics = metrics
        self.options = options
        self.deadlines = BodyDeadlines(options.body_timeout)
        self.log_admission = AdmissionLog(log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if endpoint is None:
            await self.fallback(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            if scope["method"] != "POST":
                raise HttpError(405, "only POST is allowed")
            body = await _read_body(scope, receive, self.options.max_body_bytes, self.deadlines)
            try:
                answer, request, decision = admit(
                    body, self.settings, namespace_default=endpoint == "namespace-default"
                )
            except NotJSON as exc:
                raise HttpError(400, str(exc)) from None
            except BadReview as exc:
                raise HttpError(400, f"not an AdmissionReview: {exc}") from None
        except HttpError as exc:
            self._count(endpoint, _OUTCOME_BY_STATUS.get(exc.status, "bad_request"), start)
            log.info(
                "request refused",
                extra={
                    "fields": {"endpoint": endpoint, "status": exc.status, "reason": exc.reason}
                },
            )
            await _respond(send, exc.status, exc.reason.encode() + b"\n", _TEXT)
            return
        except Exception:
            self._count(endpoint, "error", start)
            log.exception("internal error while answering an admission request")
            await _respond(send, 500, b"internal error\n", _TEXT)
            return
        await _respond(send, 200, answer, _JSON)
        self._record(endpoint, request, decision, start)

    def _count(self, endpoint: str, outcome: str, start: float) -> float:
        elapsed = time.perf_counter() - start
        self.metrics.count(endpoint, outcome, elapsed)
        return elapsed

    def _record(self, endpoint: str, request: Request, decision: Decision, start: float) -> None:
        elapsed = self._count(endpoint, decision.outcome, start)
        if decision.outcome == "injected":
            for mode in decision.modes:
                self.metrics.injections[mode] += 1
        codes = [f.reason.code for f in decision.findings]
        for code in codes:
            self.metrics.warnings[code] += 1
        metadata = request.pod.metadata if request.pod is not None else None
        self.log_admission(
            {
                "endpoint": endpoint,
                "uid": request.uid,
                "namespace": request.namespace,
                "pod": (metadata.name or metadata.generateName or "") if metadata else "",
                "outcome": decision.outcome,
                "modes": decision.modes,
                "warnings": codes,
                "latency_ms": round(elapsed * 1000, 3),
            }
        )


def create_app(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    reloader: CertificateReloader | None = None,
    options: ServerOptions | None = None,
) -> AdmissionEndpoint:
    """The whole ASGI app. ``reloader`` is None only when serving plain HTTP (development)."""
    metrics = metrics or Metrics()
    options = options or ServerOptions()
    state = {"ready": reloader is None}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Everything imported so far (FastAPI, pydantic, prometheus_client: ~250k objects)
        # lives as long as the process: move it out of the collector's reach, so that the
        # full collections that admissions trigger (a 30-container review allocates tens of
        # thousands of objects) do not walk it each time, a pause of tens of ms at p99.
        gc.collect()
        gc.freeze()
        watcher = None
        if reloader is not None:
            watcher = asyncio.create_task(reloader.watch(options.cert_reload_interval))
            state["ready"] = True
        yield
        state["ready"] = False
        if watcher is not None:
            watcher.cancel()

    api = FastAPI(
        title="downward-webhook", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )

    @api.get("/healthz", response_class=PlainTextResponse)
    async def healthz() -> str:
        return "ok\n"

    @api.get("/readyz", response_class=PlainTextResponse)
    async def readyz() -> Response:
        if state["ready"]:
            return PlainTextResponse("ok\n")
        return PlainTextResponse("not ready\n", status_code=503)

    @api.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return AdmissionEndpoint(api, settings, metrics, options)
