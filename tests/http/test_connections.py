"""Connections that end badly release everything they held, at once.

uvicorn keeps a connection's keep-alive timer armed when the connection ends with an error
(a reset), and the timer holds the protocol, its TLS transport and the last request for the
whole keep-alive time. ``serve`` uses a protocol that cancels it; this runs the real server
in-process (TLS on loopback), resets connections, and counts what is left.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import ssl
import struct
from pathlib import Path

import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tests.support.kube import admission_review, minimal_pod
from tests.support.server import free_port, generate_certs
from webhook.core.admission import Settings
from webhook.server.run import ServeConfig, build_server

BODY = json.dumps(admission_review(minimal_pod("env,volume"))).encode()
REQUEST = (
    b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


async def _reset_after_one_review(port: int, context: ssl.SSLContext) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    await reader.readexactly(length)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # a reset, not a clean close
    return head.split(b"\r\n", 1)[0]


async def _protocols_left(certs: Path, connections: int) -> tuple[list[bytes], int]:
    port = free_port()
    config = ServeConfig(
        host="127.0.0.1", port=port, tls_cert=certs / "tls.crt", tls_key=certs / "tls.key"
    )
    server = build_server(Settings(), config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        context.check_hostname = False
        statuses = [await _reset_after_one_review(port, context) for _ in range(connections)]
        await asyncio.sleep(0.3)  # well under the 30 s keep-alive time
        gc.collect()
        left = sum(isinstance(o, HttpToolsProtocol) for o in gc.get_objects())
    finally:
        server.should_exit = True
        await serving
        gc.unfreeze()  # the app froze the test process's objects at startup
    return statuses, left


def test_reset_connections_release_their_protocol_at_once(tmp_path: Path) -> None:
    certs = generate_certs(tmp_path)
    statuses, left = uvloop.run(_protocols_left(certs, connections=8))
    assert statuses == [b"HTTP/1.1 200 OK"] * 8
    assert left == 0
