"""The private pieces of uvicorn the server still leans on, each pinned by name.

uvicorn has no public way to release a reset connection's keep-alive timer or to put a
deadline on request heads (``webhook/server/protocol.py``), so the server subclasses its
httptools protocol, and pyproject.toml pins uvicorn's minor version. These tests fail, each
naming the piece, when an upgrade changes one: an attribute gone, a signature changed, or a
behaviour we work around fixed (then the workaround can go). Every remaining private use is
listed in docs/architecture.md ("Private APIs").
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import textwrap
from importlib.metadata import version
from typing import Any

import pytest
from uvicorn import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from webhook.server.protocol import HttpProtocol, protocol_class

PINNED_MINOR = "0.54"  # pyproject.toml: uvicorn[standard]>=0.54,<0.55


def test_uvicorn_is_the_pinned_minor_version() -> None:
    assert version("uvicorn").rsplit(".", 1)[0] == PINNED_MINOR, (
        "uvicorn changed minor version: re-check every test in this file, then the pin"
    )


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        ("connection_made", ["self", "transport"]),
        ("connection_lost", ["self", "exc"]),
        ("data_received", ["self", "data"]),
        ("on_message_begin", ["self"]),
        ("on_headers_complete", ["self"]),
        ("_unset_keepalive_if_required", ["self"]),
    ],
)
def test_httptools_protocol_methods_we_override_or_call(method: str, parameters: list[str]) -> None:
    function = getattr(HttpToolsProtocol, method, None)
    assert function is not None, f"HttpToolsProtocol.{method} is gone"
    assert list(inspect.signature(function).parameters) == parameters, (
        f"HttpToolsProtocol.{method} changed its signature"
    )


async def _no_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("no request reaches the app in these tests")


def _protocol(loop: asyncio.AbstractEventLoop, cls: type[HttpToolsProtocol]) -> Any:
    config = Config(
        app=_no_app, http=cls, ws="none", lifespan="off", log_config=None, timeout_keep_alive=30
    )
    return cls(config=config, server_state=ServerState(), app_state={}, _loop=loop)


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8443), "peername": ("127.0.0.1", 5000)}.get(name)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write(self, data: Any) -> None:
        pass


def _keep_alive_timer_after_a_reset(cls: type[HttpToolsProtocol]) -> Any:
    """Run a connection to its keep-alive wait, reset it; what is left of its timer."""

    async def scenario() -> Any:
        protocol = _protocol(asyncio.get_running_loop(), cls)
        protocol.connection_made(_Transport())
        # What uvicorn's own code reads: the protocol's loop and transport, and the timer
        # armed when a response completes (waiting for the next request).
        assert protocol.loop is asyncio.get_running_loop(), "HttpToolsProtocol.loop changed"
        assert isinstance(protocol.transport, _Transport), "HttpToolsProtocol.transport changed"
        protocol.on_response_complete()
        timer = protocol.timeout_keep_alive_task
        assert timer is not None, "HttpToolsProtocol.timeout_keep_alive_task is not armed"
        protocol.connection_lost(ConnectionResetError())
        return timer

    return asyncio.run(scenario())


def test_uvicorn_still_keeps_a_reset_connection_s_keep_alive_timer() -> None:
    """The leak ``HttpProtocol.connection_lost`` fixes. If this fails, uvicorn fixed it:
    drop the ``_unset_keepalive_if_required`` call from protocol.py."""
    assert not _keep_alive_timer_after_a_reset(HttpToolsProtocol).cancelled()


def test_our_protocol_cancels_it() -> None:
    assert _keep_alive_timer_after_a_reset(protocol_class(head_timeout=10)).cancelled()


def test_the_head_deadline_is_started_and_finished_by_the_parser_callbacks() -> None:
    async def scenario() -> list[bool]:
        cls = protocol_class(head_timeout=10)
        protocol = _protocol(asyncio.get_running_loop(), cls)
        seen = []
        protocol.connection_made(_Transport())
        seen.append(protocol in cls.heads.waiting)
        protocol.data_received(b"POST /mutate HTTP/1.1\r\nHost: x\r\n")  # head not finished
        seen.append(protocol in cls.heads.waiting)
        protocol.data_received(b"Content-Length: 0\r\n\r\n")  # on_headers_complete
        seen.append(protocol in cls.heads.waiting)
        protocol.connection_lost(None)
        return seen

    assert asyncio.run(scenario()) == [True, True, False], (
        "uvicorn's httptools parser callbacks (on_message_begin, on_headers_complete) "
        "no longer run as HttpProtocol expects"
    )
    assert issubclass(protocol_class(1.0), HttpProtocol)


_SIGTERM_SCRIPT = """
import gc, os, signal, sys, threading, time
import uvicorn
from webhook.core.admission import Settings
from webhook.server.run import ServeConfig, build_server

ours = sys.argv[1] == "ours"
server = build_server(Settings(), ServeConfig(host="127.0.0.1", port=0, insecure_http=True))
if not ours:
    server = uvicorn.Server(server.config)

def stop() -> None:
    while not server.started:
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=stop, daemon=True).start()
server.run()
print("returned, frozen:", gc.get_freeze_count())
"""


@pytest.mark.parametrize(("server", "code"), [("uvicorn", -15), ("ours", 0)])
def test_uvicorn_re_raises_sigterm_after_a_graceful_shutdown(server: str, code: int) -> None:
    """uvicorn restores the signal handlers it found and raises the signal again
    (``Server.capture_signals``); ``run.Server`` installs the one it finds, so a drained
    SIGTERM exits 0. If the uvicorn case fails, uvicorn changed that behaviour: re-check
    ``run.Server``."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SIGTERM_SCRIPT), server],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == code, result.stderr[-2000:]
    assert ("returned" in result.stdout) == (code == 0)
    if code == 0:  # and ``run`` froze the startup objects (``create_app`` does not)
        assert int(result.stdout.split("frozen:")[1]) > 10_000, result.stdout
