"""The app's shape: FastAPI owns every route, and building it changes nothing outside it."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.support.kube import minimal_pod
from tests.support.reviews import admission_review
from webhook.core.admission import Settings
from webhook.server import admission
from webhook.server.app import create_app
from webhook.server.errors import HttpError
from webhook.server.metrics import Metrics
from webhook.server.run import ServeConfig, build_server

BODY = json.dumps(admission_review(minimal_pod("env,volume"))).encode()
JSON = {"content-type": "application/json"}
T = TypeVar("T")


def _with_client(app: FastAPI, use: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """``use(client)`` against ``app`` in this process, inside the app's lifespan."""

    async def main() -> T:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="https://webhook") as client,
        ):
            return await use(client)

    return asyncio.run(main())


def test_every_path_is_a_route_of_the_fastapi_app() -> None:
    app = create_app(Settings())
    assert isinstance(app, FastAPI)
    paths = {getattr(r, "path", None) for r in app.routes}
    assert {"/mutate", "/mutate/namespace-default", "/healthz", "/readyz", "/metrics"} <= paths


def test_admission_requests_pass_through_the_app_s_middleware() -> None:
    app = create_app(Settings())
    seen: list[str] = []

    class Recorder:
        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await self.inner(scope, receive, send)

    app.add_middleware(Recorder)

    async def use(client: httpx.AsyncClient) -> list[int]:
        return [
            (await client.post("/mutate", content=BODY, headers=JSON)).status_code,
            (
                await client.post("/mutate/namespace-default", content=b"x", headers=JSON)
            ).status_code,
        ]

    assert _with_client(app, use) == [200, 400]
    assert seen == ["/mutate", "/mutate/namespace-default"]


def test_refusals_go_through_the_app_s_exception_handler() -> None:
    app = create_app(Settings())
    caught: list[int] = []

    async def handler(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HttpError)
        caught.append(exc.status)
        return Response(f"handled {exc.status}", status_code=exc.status)

    app.add_exception_handler(HttpError, handler)

    async def use(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.post("/mutate", content=BODY, headers={"content-type": "text/plain"}),
            await client.post("/mutate", content=b"{", headers=JSON),
            await client.get("/mutate"),
        ]

    answers = _with_client(app, use)
    assert [(r.status_code, r.text) for r in answers] == [
        (415, "handled 415"),
        (400, "handled 400"),
        (405, "handled 405"),
    ]
    assert caught == [415, 400, 405]


def test_building_and_running_an_app_leaves_the_collector_alone() -> None:
    frozen = gc.get_freeze_count()

    async def use(client: httpx.AsyncClient) -> int:
        return (await client.get("/readyz")).status_code

    assert _with_client(create_app(Settings()), use) == 200  # lifespan included
    assert gc.get_freeze_count() == frozen


def test_a_bug_is_a_one_line_500_counted_as_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> NoReturn:
        raise RuntimeError("a bug, with the body: secret")

    monkeypatch.setattr(admission, "admit", broken)
    metrics = Metrics()
    app = create_app(Settings(), metrics=metrics)

    async def use(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/mutate", content=BODY, headers=JSON)

    response = _with_client(app, use)
    assert (response.status_code, response.text) == (500, "internal error\n")
    assert metrics.requests["mutate", "error"] == 1
    assert sum(metrics.requests.values()) == 1


def test_serve_serves_the_fastapi_app() -> None:
    server = build_server(Settings(), ServeConfig(insecure_http=True))
    assert isinstance(server.config.app, FastAPI)


def test_serve_trusts_no_forwarding_headers() -> None:
    """No proxy sits between the API server and the webhook: the app uvicorn runs is ours,
    not wrapped in ProxyHeadersMiddleware (which would rewrite the client from a loopback
    caller's X-Forwarded-For)."""
    server = build_server(Settings(), ServeConfig(insecure_http=True))
    server.config.load()
    assert server.config.loaded_app is server.config.app
