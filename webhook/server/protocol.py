"""The HTTP protocol under the app: uvicorn's httptools protocol, with three holes closed.

* **Reset connections are released at once.** uvicorn cancels a connection's keep-alive
  timer only when the connection closes cleanly. After a reset (a client that aborts, a
  proxy that purges idle connections with RST) the armed timer holds the protocol, its TLS
  transport and buffers and the last request for the whole keep-alive time: 50-250 KB per
  connection, measured with wrk's 16 connections per round (``docs/benchmarks.md``).
* **Request heads have a deadline.** uvicorn waits for a request's headers as long as the
  client likes, so a client that connects and sends nothing, or sends a head slowly
  (slowloris), holds a connection and its TLS buffers forever. Here a connection must
  begin a request, and a request must finish its headers, within ``head_timeout`` seconds,
  or the connection is closed. The body has its own deadline in the admission endpoint
  (408).
* **Request heads have a size limit.** uvicorn's httptools protocol takes headers of any
  size, and joins a header's pieces as they come, in time that grows with the square of
  its size: a 100 MB header cost 11 s of CPU, and /healthz waited up to 6.5 s meanwhile. A head
  still unfinished after ``MAX_HEAD_BYTES`` (looked at as each read ends) gets 431 and the
  connection is closed.

A connection stops waiting on every path out of it (``connection_lost`` included). New
connections are counted, so that the C heap they leave is given back after a burst
(``memory.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from webhook.server.deadlines import Deadlines
from webhook.server.memory import HeapTrim, malloc_trim

__all__ = ["HttpProtocol", "protocol_class"]

log = logging.getLogger("downward_webhook.http")

#: A head still unfinished at the end of a read, with more than this read so far, gets 431 (a
#: head that one read brings whole, at most 256 KiB from uvloop, is not refused). The API
#: server's heads are a few hundred bytes; Go's own server allows 1 MiB.
MAX_HEAD_BYTES = 64 * 1024
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8"
    b"\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%b"
)
_TOO_LARGE_TEXT = b"request head over %d bytes\n" % MAX_HEAD_BYTES


class HttpProtocol(HttpToolsProtocol):
    #: Connections waiting for a request head; an overdue one is closed. Set per server by
    #: ``protocol_class``.
    heads: Deadlines[HttpProtocol]
    #: New connections, for giving the heap back after a burst of them (``memory.py``).
    heap: HeapTrim
    #: Bytes of the head being read, as of the end of the last read; None once its headers
    #: are complete (a body is not a head).
    head_bytes: int | None = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.heads.start(self, self.loop)  # the first request must begin, and end its head
        self.heap.connection_made(self.loop)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.head_bytes is not None:  # a head, not finished by the end of this read
            # A head that began inside this read counts all of it: over, never under.
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                log.info("closing a connection whose request head is over the size limit")
                self.transport.write(_TOO_LARGE % (len(_TOO_LARGE_TEXT), _TOO_LARGE_TEXT))
                self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_bytes = 0
        self.heads.start(self, self.loop)

    def on_headers_complete(self) -> None:
        self.head_bytes = None
        self.heads.finish(self)
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.heads.finish(self)
        self._unset_keepalive_if_required()

    def close_for_no_head(self) -> None:
        if not self.transport.is_closing():
            log.info("closing a connection that sent no complete request head in time")
            self.transport.close()


def protocol_class(head_timeout: float) -> type[HttpProtocol]:
    """``HttpProtocol`` with its own head deadlines and heap trimming (uvicorn makes one
    instance per connection; each server gets its own class)."""
    heads: Deadlines[HttpProtocol] = Deadlines(head_timeout, HttpProtocol.close_for_no_head)
    attributes: dict[str, Any] = {"heads": heads, "heap": HeapTrim(malloc_trim())}
    return type("HttpProtocol", (HttpProtocol,), attributes)
