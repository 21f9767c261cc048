"""Run the server with uvicorn: one process, TLS from the reloader, graceful shutdown.

On SIGTERM uvicorn stops accepting, lets in-flight requests finish (up to
``graceful_timeout``), then exits; the chart's ``terminationGracePeriodSeconds`` leaves room
for that plus its ``preStop`` pause.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn

from webhook.core.admission import Settings
from webhook.server.app import ServerOptions, create_app
from webhook.server.metrics import Metrics
from webhook.server.tls import CertificateReloader

__all__ = ["ServeConfig", "build_server"]

log = logging.getLogger("downward_webhook.server")


@dataclass(frozen=True, slots=True)
class ServeConfig:
    host: str = "0.0.0.0"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    graceful_timeout: float = 20.0
    options: ServerOptions = field(default_factory=ServerOptions)


def build_server(settings: Settings, config: ServeConfig) -> uvicorn.Server:
    """A ready-to-run uvicorn server. Raises ``CertificateError`` for a bad cert/key pair."""
    metrics = Metrics()
    reloader = None
    if not config.insecure_http:
        if config.tls_cert is None or config.tls_key is None:
            raise ValueError("--tls-cert and --tls-key are required (or --insecure-http)")

        def expiry(not_after: datetime) -> None:
            metrics.cert_expiry.set(not_after.timestamp())

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
        http="httptools",
        loop="uvloop",
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=int(config.graceful_timeout),
        timeout_keep_alive=30,
        **kwargs,
    )
    return uvicorn.Server(uv_config)
