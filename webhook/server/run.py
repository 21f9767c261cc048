"""Run the server with uvicorn: one process, TLS from the reloader, graceful shutdown.

``listen`` binds the listening sockets before uvicorn starts, so that an address in use, one
that is not this machine's or a host that does not resolve is one ``CannotListen`` line for
the CLI (uvicorn would log it with its own lines and exit 3); ``Server.run`` hands them to
uvicorn. On SIGTERM uvicorn stops accepting, lets in-flight requests finish (up to
``graceful_timeout``), then exits; the chart's ``terminationGracePeriodSeconds`` leaves room
for that plus its ``preStop`` pause.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from webhook.core.admission import Settings
from webhook.server.app import ServerOptions, create_app
from webhook.server.metrics import Metrics
from webhook.server.protocol import protocol_class
from webhook.server.tls import CertificateReloader

__all__ = ["CannotListen", "ServeConfig", "Server", "build_server", "listen"]

log = logging.getLogger("downward_webhook.server")

_BACKLOG = 2048  # uvicorn's default, for the sockets ``listen`` binds too
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_EXIT_INTERRUPTED = 128 + signal.SIGINT


@dataclass(frozen=True, slots=True)
class ServeConfig:
    host: str = "0.0.0.0"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    graceful_timeout: float = 20.0
    tls_wait: float = 0.0
    options: ServerOptions = field(default_factory=ServerOptions)


class Server(uvicorn.Server):
    """uvicorn's server, with the process-wide work of a serving process around ``run``.

    * ``gc.freeze()`` once everything is imported: FastAPI, pydantic and prometheus_client
      (~250k objects) live as long as the process, so they are moved out of the collector's
      reach, and the full collections that admissions trigger (a 30-container review
      allocates tens of thousands of objects) do not walk them each time: a pause of tens
      of ms at p99 otherwise. Only ``run`` does it: tests that build apps or ``serve()`` a
      server in their own process are not changed.
    * A SIGTERM is how the kubelet stops every pod; once in-flight requests are drained,
      that is a clean exit (code 0). uvicorn, after a graceful shutdown, restores the
      handlers it found and raises the signal again: the one it finds is ours, which
      ignores a SIGTERM the server has already handled, and dies by it otherwise.
    * Ctrl-C (SIGINT) drains the same way, then ``exit_code`` is 130 (128 + SIGINT, what a
      shell shows for an interrupted command) for the CLI to return, instead of the
      ``KeyboardInterrupt`` traceback that Python's own handler, raised again, would print.
    """

    #: What the CLI exits with once ``run`` returns: 0, or 130 after a Ctrl-C.
    exit_code: int = 0

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        self.config.load()  # imports the protocol, loop and app modules before the freeze
        if sockets:  # uvicorn says where it listens only for sockets it bound itself
            scheme = "https" if self.config.is_ssl else "http"
            for sock in sockets:
                log.info("listening on %s://%s", scheme, _where(*sock.getsockname()[:2]))
        gc.collect()
        gc.freeze()
        previous = {sig: signal.signal(sig, self._after_shutdown) for sig in _STOP_SIGNALS}
        try:
            super().run(sockets)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _after_shutdown(self, sig: int, _frame: FrameType | None) -> None:
        if not self.should_exit:  # not uvicorn's shutdown: the default, death by the signal
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)
        elif sig == signal.SIGINT:
            self.exit_code = _EXIT_INTERRUPTED


class CannotListen(Exception):
    """The address cannot be listened on; ``str()`` is one line naming it and why."""


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen(host: str, port: int, backlog: int = _BACKLOG) -> list[socket.socket]:
    """Listening sockets on every address ``host`` resolves to, as uvicorn would bind them.

    As asyncio's ``create_server`` (which uvicorn calls): ``SO_REUSEADDR`` (a restart need not
    wait out TIME_WAIT; Linux still refuses a port another socket listens on) and IPv6
    sockets IPv6 only. Raises ``CannotListen`` and closes what it opened.
    """
    where = _where(host, port)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise CannotListen(f"cannot listen on {where}: {_reason(exc)}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise CannotListen(f"cannot listen on {where}: {_reason(exc)}") from None
    return sockets


def _reason(exc: Exception) -> str:
    strerror = getattr(exc, "strerror", None)
    return strerror if isinstance(strerror, str) and strerror else str(exc)


def wait_for_files(paths: tuple[Path, ...], timeout: float, poll: float = 0.5) -> None:
    """Wait up to ``timeout`` seconds for ``paths`` to exist.

    On a first install the init container creates the certificate Secret while the pod's
    (optional) Secret volume is already mounted empty; the kubelet fills it a moment later.
    Waiting here, not listening yet, keeps probes failing instead of the container restarting.
    """
    deadline = time.monotonic() + timeout
    missing = [p for p in paths if not p.exists()]
    if missing and timeout > 0:
        log.info(
            "waiting up to %gs for certificate files: %s", timeout, ", ".join(map(str, missing))
        )
    while missing and time.monotonic() < deadline:
        time.sleep(poll)
        missing = [p for p in paths if not p.exists()]


def build_server(settings: Settings, config: ServeConfig) -> Server:
    """A ready-to-run uvicorn server. Raises ``CertificateError`` for a bad cert/key pair."""
    metrics = Metrics()
    reloader = None
    if not config.insecure_http:
        if config.tls_cert is None or config.tls_key is None:
            raise ValueError("--tls-cert and --tls-key are required (or --insecure-http)")

        def expiry(not_after: datetime) -> None:
            metrics.cert_expiry.set(not_after.timestamp())

        wait_for_files((config.tls_cert, config.tls_key), config.tls_wait)
        reloader = CertificateReloader(config.tls_cert, config.tls_key, on_load=expiry)
    app = create_app(settings, metrics=metrics, reloader=reloader, options=config.options)
    kwargs: dict[str, Any] = {}
    if reloader is not None:
        live = reloader.context

        def factory(_config: uvicorn.Config, _default: Any) -> ssl.SSLContext:
            return live

        kwargs["ssl_context_factory"] = factory
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_config=None,
        access_log=False,
        # uvicorn's httptools protocol, with its keep-alive leak fixed and a head deadline
        http=protocol_class(head_timeout=config.options.body_timeout),
        ws="none",  # no websockets: not importing them saves about 1 MB
        loop="uvloop",
        lifespan="on",
        server_header=False,
        # The API server calls us directly: X-Forwarded-* is nobody's to set, so uvicorn's
        # ProxyHeadersMiddleware (which trusts it from loopback) is not put around the app.
        proxy_headers=False,
        timeout_graceful_shutdown=int(config.graceful_timeout),
        timeout_keep_alive=30,
        backlog=_BACKLOG,
        **kwargs,
    )
    return Server(uv_config)
