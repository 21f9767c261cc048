"""The ASGI application: one FastAPI app that owns every route.

``POST /mutate`` and ``POST /mutate/namespace-default`` are the admission endpoint
(``server/admission.py``), mounted as Starlette routes of the app around a small ASGI
callable (the form measured fastest, ``docs/benchmarks.md``); ``/healthz``, ``/readyz`` and
``/metrics`` are the operations routes (``server/operations.py``). Every refusal takes the
one error channel (``server/errors.py``). Process-wide work (``gc.freeze``, signals) belongs
to the server's lifecycle (``server/run.py``), not here: building an app changes nothing
outside it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException
from starlette.routing import Route

from webhook.core.admission import Settings
from webhook.server import logs
from webhook.server.admission import ENDPOINTS, AdmissionEndpoint, BodyDeadlines
from webhook.server.errors import HttpError, refusal
from webhook.server.metrics import Metrics
from webhook.server.operations import Readiness, add_operations_routes
from webhook.server.tls import CertificateReloader

__all__ = ["HttpError", "ServerOptions", "create_app"]

_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """HTTP-level limits and the pieces the app is wired to."""

    max_body_bytes: int = 3 * 1024 * 1024
    body_timeout: float = 10.0
    cert_reload_interval: float = 5.0


def create_app(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    reloader: CertificateReloader | None = None,
    options: ServerOptions | None = None,
) -> FastAPI:
    """The whole ASGI app. ``reloader`` is None only when serving plain HTTP (development)."""
    metrics = metrics or Metrics()
    options = options or ServerOptions()
    readiness = Readiness(ready=reloader is None)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watcher = None
        if reloader is not None:
            watcher = asyncio.create_task(reloader.watch(options.cert_reload_interval))
            readiness.ready = True
        yield
        readiness.ready = False
        if watcher is not None:
            watcher.cancel()
        logs.flush()  # the admission lines of the last moments

    app = FastAPI(
        title="downward-webhook",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        # Our metrics are Prometheus counters of our own; FastAPI's native OpenTelemetry
        # would only look up (unconfigured) global providers on every request.
        telemetry=_NO_TELEMETRY,
    )
    deadlines = BodyDeadlines(options.body_timeout)
    for path, endpoint in ENDPOINTS.items():
        handler = AdmissionEndpoint(endpoint, settings, metrics, options.max_body_bytes, deadlines)
        # An ASGI callable, not a function: Starlette's Route calls it as it is (no Request
        # object, no response class). No ``methods``: the endpoint answers 405 itself, so
        # the refusal is counted with the others.
        app.router.routes.append(Route(path, handler, name=endpoint, include_in_schema=False))
    add_operations_routes(app, metrics, readiness)
    app.add_exception_handler(HTTPException, refusal)
    return app
