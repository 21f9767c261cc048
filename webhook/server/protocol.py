"""The HTTP protocol under the app: uvicorn's httptools protocol, with two holes closed.

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

A connection stops waiting on every path out of it (``connection_lost`` included).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from webhook.server.deadlines import Deadlines

__all__ = ["HttpProtocol", "protocol_class"]

log = logging.getLogger("downward_webhook.http")


class HttpProtocol(HttpToolsProtocol):
    #: Connections waiting for a request head; an overdue one is closed. Set per server by
    #: ``protocol_class``.
    heads: Deadlines[HttpProtocol]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.heads.start(self, self.loop)  # the first request must begin, and end its head

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.heads.start(self, self.loop)

    def on_headers_complete(self) -> None:
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
    """``HttpProtocol`` with its own head deadlines (uvicorn makes one instance per
    connection; each server gets its own class)."""
    heads: Deadlines[HttpProtocol] = Deadlines(head_timeout, HttpProtocol.close_for_no_head)
    attributes: dict[str, Any] = {"heads": heads}
    return type("HttpProtocol", (HttpProtocol,), attributes)
