"""The operations routes: ``/healthz`` (liveness), ``/readyz`` (readiness), ``/metrics``.

Plain FastAPI routes: they are hit by the kubelet and Prometheus every few seconds, not by
every pod start.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response

from webhook.server.metrics import Metrics

__all__ = ["Readiness", "add_operations_routes"]

_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


class Readiness:
    """Whether the server should get traffic: set by the app's lifespan."""

    def __init__(self, ready: bool = False) -> None:
        self.ready = ready


def add_operations_routes(app: FastAPI, metrics: Metrics, readiness: Readiness) -> None:
    """The three routes, on ``app`` itself (each one of ``app.routes``)."""

    @app.get("/healthz", response_class=PlainTextResponse)
    async def healthz() -> str:
        return "ok\n"

    @app.get("/readyz", response_class=PlainTextResponse)
    async def readyz() -> Response:
        if readiness.ready:
            return PlainTextResponse("ok\n")
        return PlainTextResponse("not ready\n", status_code=503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=_PROMETHEUS)
