"""In-process comparison of the ways to make the admission endpoint a FastAPI route.

Same core, same body reading rules, same app otherwise; only how FastAPI reaches the
endpoint differs. Run beside the ceiling (a FastAPI no-op, ``bench/ceiling.py``) in the same
process, so the ratios compare like with like on a shared machine:

* ``asgi-route``: a Starlette ``Route`` around the ASGI callable (what ``create_app`` does);
* ``request-route``: a Starlette ``Route`` around ``async def endpoint(request) -> Response``;
* ``app-post``: ``@app.post`` with a ``Request`` parameter (FastAPI's ``APIRoute``);
* ``in-front``: the ASGI callable in front of the FastAPI app (the layout before, for scale).

    python bench/route_forms.py [--number N] [--rounds R]
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import Any

import msgspec
import uvloop
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from asgi_bench import measure  # noqa: E402
from bodies import review  # noqa: E402
from ceiling import app as ceiling_app  # noqa: E402

from webhook.core.admission import Settings  # noqa: E402
from webhook.server.admission import AdmissionEndpoint, BodyDeadlines  # noqa: E402
from webhook.server.app import create_app  # noqa: E402
from webhook.server.logs import configure  # noqa: E402
from webhook.server.metrics import Metrics  # noqa: E402


def _endpoint() -> AdmissionEndpoint:
    return AdmissionEndpoint("mutate", Settings(), Metrics(), 3 << 20, BodyDeadlines(10.0))


async def _via_request(handler: AdmissionEndpoint, request: Request) -> Response:
    # The same callable run inside a request/response endpoint: it sends into a buffer
    # that becomes the Response (what a ``Request`` endpoint costs on top).
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await handler(request.scope, request.receive, send)
    return Response(sent[1]["body"], sent[0]["status"], media_type="application/json")


def request_route_app() -> FastAPI:
    app = create_app(Settings())
    handler = _endpoint()

    async def mutate(request: Request) -> Response:
        return await _via_request(handler, request)

    app.router.add_route("/mutate", mutate, methods=["POST"])
    app.router.routes.insert(0, app.router.routes.pop())  # first, as create_app's is
    return app


def app_post_app() -> FastAPI:
    app = create_app(Settings())
    handler = _endpoint()

    @app.post("/mutate")
    async def mutate(request: Request) -> Response:
        return await _via_request(handler, request)

    app.router.routes.insert(0, app.router.routes.pop())  # first, as create_app's is
    return app


def in_front_app() -> Any:
    api = create_app(Settings())
    handler = _endpoint()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/mutate":
            await handler(scope, receive, send)
        else:
            await api(scope, receive, send)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", default="/tmp/route-forms.log")
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.stderr = open(args.log, "w", buffering=1)  # noqa: SIM115 - the log lines go to a file
    configure("info")
    forms = {
        "asgi-route": create_app(Settings()),
        "request-route": request_route_app(),
        "app-post": app_post_app(),
        "in-front": in_front_app(),
        "ceiling": ceiling_app,
    }
    gc.collect()
    gc.freeze()  # as ``serve`` does once everything is imported (server/run.py)
    for n in (1, 3, 30):
        body = msgspec.json.encode(review(n))
        number = max(args.number // n, 200)
        us = dict.fromkeys(forms, float("inf"))
        for _ in range(args.rounds):  # forms interleaved: other load hits them alike
            for name, app in forms.items():
                us[name] = min(us[name], uvloop.run(measure(app, body, number)))
        cells = ", ".join(f"{name} {v:.1f} µs ({us['ceiling'] / v:.2f}x)" for name, v in us.items())
        print(f"{n:>3} containers: {cells}", file=sys.__stdout__)


if __name__ == "__main__":
    main()
