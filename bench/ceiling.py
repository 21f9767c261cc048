"""The ceiling: the least a FastAPI admission endpoint on the same stack can do.

uvicorn, httptools, uvloop, one worker, the same TLS certificate as the product. ``POST
/mutate`` reads the body, parses it with orjson and answers ``allowed: true`` (echoing uid and
apiVersion) with no patch, with FastAPI's defaults. The product serves /mutate through the
same FastAPI routing (a Starlette route around its ASGI endpoint, ``webhook/server/app.py``).

    python bench/ceiling.py --port 9443 --tls-cert tls.crt --tls-key tls.key

``--answer FILE``: the same work, but the answer is the bytes of FILE whatever the request (the
product's answer to the body sent, for ``bench/answer_size.py``: what an answer of that size
costs to send, apart from the work of making it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import uvicorn
from fastapi import FastAPI, Request, Response


def make_app(answer: bytes | None = None) -> FastAPI:
    """The no-op app; with ``answer``, one that parses the body the same way and answers
    ``answer``."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    if answer is None:

        @app.post("/mutate")
        async def mutate(request: Request) -> Response:
            doc = orjson.loads(await request.body())
            review = {
                "apiVersion": doc["apiVersion"],
                "kind": "AdmissionReview",
                "response": {"uid": doc["request"]["uid"], "allowed": True},
            }
            return Response(orjson.dumps(review), media_type="application/json")

    else:

        @app.post("/mutate")
        async def mutate_answer(request: Request) -> Response:
            orjson.loads(await request.body())
            return Response(answer, media_type="application/json")

    @app.get("/readyz")
    async def readyz() -> Response:
        return Response(b"ok\n", media_type="text/plain")

    return app


app = make_app()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9443)
    parser.add_argument("--tls-cert", required=True)
    parser.add_argument("--tls-key", required=True)
    parser.add_argument("--answer", type=Path, help="answer with this file's bytes")
    args = parser.parse_args()
    uvicorn.run(
        app if args.answer is None else make_app(args.answer.read_bytes()),
        host=args.host,
        port=args.port,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
