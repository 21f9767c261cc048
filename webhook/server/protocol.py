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
  or the connection is closed. The body has its own deadline in the app (408).

A connection leaves the waiting list on every path out of it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HttpProtocol", "protocol_class"]

log = logging.getLogger("downward_webhook.http")


class HttpProtocol(HttpToolsProtocol):
    head_timeout: float = 10.0
    #: Connections waiting for a request head, and since when (loop time). One per server
    #: (``protocol_class`` makes the class); one sweep checks them all, instead of a timer
    #: per request (arming and cancelling one costs 1.5 µs, 2% of an admission).
    waiting: dict[HttpProtocol, float]
    sweep: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait_for_head()  # the first request must begin (and end its head) in time

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._wait_for_head()

    def on_headers_complete(self) -> None:
        self.waiting.pop(self, None)
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.waiting.pop(self, None)
        self._unset_keepalive_if_required()

    def _wait_for_head(self) -> None:
        if self not in self.waiting:
            self.waiting[self] = self.loop.time()
            cls = type(self)
            if cls.sweep is None:
                cls.sweep = self.loop.call_later(
                    _interval(self.head_timeout), cls._sweep, self.loop
                )

    @classmethod
    def _sweep(cls, loop: asyncio.AbstractEventLoop) -> None:
        """Close the connections whose head is overdue; a cut comes between ``head_timeout``
        and ``head_timeout`` plus the sweep interval (a tenth of it, at most 1 s)."""
        cutoff = loop.time() - cls.head_timeout
        for protocol, since in list(cls.waiting.items()):
            if since <= cutoff:
                del cls.waiting[protocol]
                if not protocol.transport.is_closing():
                    log.info("closing a connection that sent no complete request head in time")
                    protocol.transport.close()
        interval = _interval(cls.head_timeout)
        cls.sweep = loop.call_later(interval, cls._sweep, loop) if cls.waiting else None


def _interval(timeout: float) -> float:
    return max(0.01, min(1.0, timeout / 10))


def protocol_class(head_timeout: float) -> type[HttpProtocol]:
    """``HttpProtocol`` with its head deadline (uvicorn makes one instance per connection)."""
    attributes: dict[str, Any] = {"head_timeout": head_timeout, "waiting": {}, "sweep": None}
    return type("HttpProtocol", (HttpProtocol,), attributes)
