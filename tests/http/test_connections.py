"""Connections: a reset one is released at once, and a silent or slow one is closed.

The real server runs in-process (TLS on loopback, uvloop), so what it still holds can be
counted. ``webhook.server.protocol`` closes two holes of uvicorn's protocol: the keep-alive
timer of a reset connection kept it (protocol, TLS transport, last request) alive for the
whole keep-alive time, and a request head could take forever.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import ssl
import struct
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tests.support.kube import minimal_pod
from tests.support.reviews import admission_review
from tests.support.server import free_port, generate_certs
from webhook.core.admission import Settings
from webhook.server.app import ServerOptions
from webhook.server.protocol import MAX_HEAD_BYTES
from webhook.server.run import ServeConfig, build_server

BODY = json.dumps(admission_review(minimal_pod("env,volume"))).encode()
REQUEST = (
    b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)
HEAD_TIMEOUT = 0.5  # --body-timeout: the deadline for a request head, then for its body

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_certs(tmp_path_factory.mktemp("connections"))


def _with_server(certs: Path, scenario: Callable[[Callable[[], Awaitable[Streams]]], Any]) -> Any:
    """Run ``scenario(connect)`` against a server in this process; return its result."""

    async def main() -> Any:
        port = free_port()
        config = ServeConfig(
            host="127.0.0.1",
            port=port,
            tls_cert=certs / "tls.crt",
            tls_key=certs / "tls.key",
            options=ServerOptions(body_timeout=HEAD_TIMEOUT),
        )
        server = build_server(Settings(), config)
        serving = asyncio.create_task(server.serve())
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        context.check_hostname = False

        async def connect() -> Streams:
            return await asyncio.open_connection("127.0.0.1", port, ssl=context)

        try:
            while not server.started:
                await asyncio.sleep(0.01)
            return await scenario(connect)
        finally:
            server.should_exit = True
            await serving

    return uvloop.run(main())


async def _review(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    await reader.readexactly(length)
    return head.split(b"\r\n", 1)[0]


async def _closed_after(reader: asyncio.StreamReader, limit: float) -> float:
    """Seconds until the server closes the connection (reads give EOF)."""
    start = time.monotonic()
    try:
        while await asyncio.wait_for(reader.read(1024), limit):
            pass
    except (ConnectionError, ssl.SSLError):
        pass
    return time.monotonic() - start


def test_reset_connections_release_their_protocol_at_once(certs: Path) -> None:
    async def scenario(connect: Callable[[], Awaitable[Streams]]) -> tuple[list[bytes], int]:
        statuses = []
        for _ in range(8):
            reader, writer = await connect()
            statuses.append(await _review(reader, writer))
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # a reset, not a clean close
        await asyncio.sleep(0.3)  # well under the 30 s keep-alive time
        gc.collect()
        return statuses, sum(isinstance(o, HttpToolsProtocol) for o in gc.get_objects())

    statuses, left = _with_server(certs, scenario)
    assert statuses == [b"HTTP/1.1 200 OK"] * 8
    assert left == 0


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /mutate HTTP/1.1\r\nHost: webhook\r\n"],
    ids=["connects-and-says-nothing", "head-never-finished"],
)
def test_a_request_head_that_does_not_arrive_in_time_closes_the_connection(
    certs: Path, sent: bytes
) -> None:
    async def scenario(connect: Callable[[], Awaitable[Streams]]) -> float:
        reader, writer = await connect()
        writer.write(sent)
        return await _closed_after(reader, limit=HEAD_TIMEOUT + 5)

    assert HEAD_TIMEOUT - 0.1 < _with_server(certs, scenario) < HEAD_TIMEOUT + 2


def test_an_idle_keep_alive_connection_outlives_the_head_deadline(certs: Path) -> None:
    async def scenario(connect: Callable[[], Awaitable[Streams]]) -> list[bytes]:
        reader, writer = await connect()
        first = await _review(reader, writer)
        await asyncio.sleep(HEAD_TIMEOUT * 3)  # idle between requests: keep-alive (30 s) rules
        second = await _review(reader, writer)
        writer.close()
        return [first, second]

    assert _with_server(certs, scenario) == [b"HTTP/1.1 200 OK"] * 2


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """The whole answer, until the server closes the connection."""
    chunks = []
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 10):
            chunks.append(chunk)
    except (ConnectionError, ssl.SSLError):
        pass
    return b"".join(chunks)


def _with_header(size: int) -> bytes:
    """``REQUEST`` with one more header of ``size`` bytes, and ``Connection: close``."""
    head, body = REQUEST.split(b"\r\n\r\n", 1)
    return head + b"\r\nX-Filler: " + b"a" * size + b"\r\nConnection: close\r\n\r\n" + body


# Over one read (uvloop reads at most 256 KiB): the head is still unfinished when a read ends.
@pytest.mark.parametrize("size", [512 * 1024, 1024 * 1024, 8 * 1024 * 1024])
def test_a_request_head_over_the_size_limit_gets_431_and_the_connection_closes(
    certs: Path, size: int
) -> None:
    async def scenario(connect: Callable[[], Awaitable[Streams]]) -> tuple[bytes, bytes]:
        reader, writer = await connect()
        writer.write(_with_header(size))
        refused = await _answer(reader)
        writer.close()
        reader, writer = await connect()  # the server serves the next connection
        served = await _review(reader, writer)
        writer.close()
        return refused, served

    refused, next_one = _with_server(certs, scenario)
    assert refused.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert refused.endswith(b"request head over %d bytes\n" % MAX_HEAD_BYTES)
    assert next_one == b"HTTP/1.1 200 OK"


def test_a_head_under_the_size_limit_and_a_large_body_are_served(certs: Path) -> None:
    """The limit counts the head only: a body of megabytes after it is no head."""
    pod = minimal_pod("env,volume")
    pod["metadata"]["annotations"]["filler"] = "x" * (2 * 1024 * 1024)
    body = json.dumps(admission_review(pod)).encode()
    big = (
        b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nX-Filler: %b\r\nConnection: close\r\n\r\n%b"
        % (len(body), b"a" * (MAX_HEAD_BYTES - 1024), body)
    )

    async def scenario(connect: Callable[[], Awaitable[Streams]]) -> bytes:
        reader, writer = await connect()
        writer.write(big)
        answer = await _answer(reader)
        writer.close()
        return answer

    assert _with_server(certs, scenario).startswith(b"HTTP/1.1 200 OK\r\n")
