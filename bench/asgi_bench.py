"""In-process benchmark of the product's FastAPI app: no sockets, no TLS, no uvicorn.

What the product does per request above the sockets: FastAPI's middleware and routing, body
read, the core (decode, plan,
patch, response), metrics and the JSON log line (written to a line-buffered file, as stderr
would be); and the same for the ceiling app (bench/ceiling.py: FastAPI routing, orjson, a
150-byte answer). Useful to measure a hot-path change in seconds; the load benchmark gives
the end-to-end figures, TLS and uvicorn included.

    python bench/asgi_bench.py [--log FILE] [--number N]

``--count N`` sends N requests of one pod size (``--containers K``, 3) to one app
(``--app product|ceiling``) after a warm-up of 50, and nothing else, to be counted by
callgrind rather than timed (the difference of runs of 0 and N, over N, is the instructions
per request above the sockets):

    valgrind --tool=callgrind python bench/asgi_bench.py --count 0
    valgrind --tool=callgrind python bench/asgi_bench.py --count 1000

``--layer router`` or ``--layer endpoint`` sends the product's requests past FastAPI's
middleware stack (to its router), or past the router too (to the ``/mutate`` endpoint alone):
the differences are what those layers cost a request.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import uvloop

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from bodies import review  # noqa: E402
from ceiling import app as ceiling_app  # noqa: E402

from webhook.core.admission import Settings  # noqa: E402
from webhook.server.app import create_app  # noqa: E402
from webhook.server.logs import configure  # noqa: E402


async def send_requests(app: Any, body: bytes, number: int) -> None:
    """``number`` requests of ``body`` to ``app``, each with a fresh scope, as uvicorn does."""
    # A whole scope as uvicorn gives it (FastAPI, for the ceiling, reads more of it).
    base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "https",
        "server": ("127.0.0.1", 8443),
        "client": ("127.0.0.1", 40000),
        "root_path": "",
        "query_string": b"",
        "raw_path": b"/mutate",
        "method": "POST",
        "path": "/mutate",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    async def send(_: Any) -> None:
        return None

    for _ in range(number):
        await app(dict(base), receive, send)


async def measure(app: Any, body: bytes, number: int) -> float:
    """Best µs per request of 5 runs of ``number`` requests of ``body`` to ``app``.

    CPU time of this process (``time.process_time``), not wall time: on a shared machine a
    run preempted by other jobs would otherwise count their time as ours.
    """
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        await send_requests(app, body, number)
        best = min(best, (time.process_time() - start) / number)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", default="/tmp/asgi-bench.log")
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--count", type=int, metavar="N", help="N requests, untimed")
    parser.add_argument("--containers", type=int, default=3, help="for --count (1-100)")
    parser.add_argument("--app", choices=("product", "ceiling"), default="product")
    parser.add_argument(
        "--layer", choices=("app", "router", "endpoint"), default="app", help="for --app product"
    )
    args = parser.parse_args()
    if args.count is not None and (args.count < 0 or not 1 <= args.containers <= 100):
        parser.error("--count N takes N >= 0, --containers K 1 to 100")
    # Line-buffered, like stderr: one write per log line.
    sys.stderr = open(args.log, "w", buffering=1)  # noqa: SIM115 - the log lines go to a file
    configure("info")
    app = create_app(Settings())
    gc.collect()
    gc.freeze()  # as ``serve`` does once everything is imported (server/run.py)
    if args.count is not None:
        body = msgspec.json.encode(review(args.containers))
        chosen: Any = app if args.app == "product" else ceiling_app
        uvloop.run(send_requests(chosen, body, 50))  # warm-up: decoders, recipe, code
        if args.app == "product" and args.layer != "app":
            route = next(r for r in app.router.routes if getattr(r, "path", None) == "/mutate")
            chosen = app.router if args.layer == "router" else route.app  # type: ignore[attr-defined]
            uvloop.run(send_requests(chosen, body, 50))
        uvloop.run(send_requests(chosen, body, args.count))
        return
    for n in (1, 3, 30):
        body = msgspec.json.encode(review(n))
        us = uvloop.run(measure(app, body, max(args.number // n, 200)))
        ceiling = uvloop.run(measure(ceiling_app, body, max(args.number // n, 200)))
        print(
            f"{n:>3} containers: product {us:7.1f} µs per request, ceiling {ceiling:7.1f} µs",
            file=sys.__stdout__,
        )


if __name__ == "__main__":
    main()
