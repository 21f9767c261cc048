"""The admission endpoint: ``POST /mutate`` and ``POST /mutate/namespace-default``.

Every pod start in the cluster waits on it, so it is a small ASGI callable mounted as a
route of the FastAPI app (``server/app.py``): it checks the method and the Content-Type,
refuses a body over the cap before reading it (and reads it within the body deadline),
hands the bytes to the core (``admit``), sends the bytes the core answers, and records the
metrics and the log line. Whatever it refuses it raises as ``HttpError`` after counting and
logging it; the app's one exception handler (``server/errors.py``) writes the answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from webhook.core.admission import Decision, Settings, admit
from webhook.core.review import BadReview, NotJSON, Request
from webhook.server.deadlines import Deadlines
from webhook.server.errors import HttpError
from webhook.server.logs import AdmissionLog
from webhook.server.metrics import Metrics

__all__ = ["ENDPOINTS", "AdmissionEndpoint", "BodyDeadlines"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("downward_webhook.admission")

#: The endpoint (metric label) served at each path.
ENDPOINTS = {"/mutate": "mutate", "/mutate/namespace-default": "namespace-default"}
_OUTCOME_BY_STATUS = {408: "timeout", 413: "too_large", 500: "error"}  # else bad_request
_JSON = [(b"content-type", b"application/json")]


class BodyDeadlines:
    """Body reads that take longer than ``timeout`` are cancelled (the client gets 408).

    One ``Deadlines`` check for the whole server, not a timer per request.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.expired: set[asyncio.Task[Any]] = set()
        self.reading: Deadlines[asyncio.Task[Any]] = Deadlines(timeout, self._expire)

    def _expire(self, task: asyncio.Task[Any]) -> None:
        self.expired.add(task)
        task.cancel()

    def start(self, task: asyncio.Task[Any]) -> None:
        self.reading.start(task, task.get_loop())

    def finish(self, task: asyncio.Task[Any]) -> bool:
        """Unregister ``task``; True if it was cancelled because its deadline passed."""
        self.reading.finish(task)
        if task in self.expired:
            self.expired.discard(task)
            return True
        return False


def is_json(content_type: bytes) -> bool:
    """``application/json``, in any case, with or without parameters (``; charset=utf-8``)."""
    media_type = content_type.split(b";", 1)[0].strip()
    return media_type.lower() == b"application/json"


def _checked_length(scope: Scope) -> int | None:
    """The Content-Length, once the Content-Type is known to be JSON (else 415)."""
    length: int | None = None
    content_type: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                raise HttpError(400, "invalid Content-Length header") from None
        elif name == b"content-type":
            if content_type is not None:  # which one would the sender mean?
                raise HttpError(400, "more than one Content-Type header")
            content_type = value
    if content_type is None:
        raise HttpError(415, "Content-Type missing: an AdmissionReview is application/json")
    if not is_json(content_type):
        raise HttpError(415, "Content-Type must be application/json")
    return length


async def read_body(scope: Scope, receive: Receive, limit: int, deadlines: BodyDeadlines) -> bytes:
    """The whole body, refusing more than ``limit`` bytes before reading (or parsing) it."""
    length = _checked_length(scope)
    if length is not None and length > limit:
        raise HttpError(413, f"body of {length} bytes is over the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    task = asyncio.current_task()
    assert task is not None
    deadlines.start(task)
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, "client disconnected before the body was complete")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"body is over the limit of {limit} bytes")
            if not message.get("more_body", False):
                if not chunks:  # the whole body in one message: no copy
                    return bytes(chunk)
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)
    except asyncio.CancelledError:
        if deadlines.finish(task):
            task.uncancel()
            raise HttpError(408, f"body not received within {deadlines.timeout:g}s") from None
        raise
    finally:
        deadlines.finish(task)


class AdmissionEndpoint:
    """The ASGI callable for one admission path (``endpoint``: its metric label)."""

    def __init__(
        self,
        endpoint: str,
        settings: Settings,
        metrics: Metrics,
        max_body_bytes: int,
        deadlines: BodyDeadlines,
    ) -> None:
        self.endpoint = endpoint
        self.namespace_default = endpoint == "namespace-default"
        self.settings = settings
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.deadlines = deadlines
        self.log_admission = AdmissionLog(log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        try:
            answer, request, decision = await self._answer(scope, receive)
        except HttpError as exc:
            self._refused(exc, start)
            raise
        except Exception:
            self._count(_OUTCOME_BY_STATUS[500], start)
            log.exception("internal error while answering an admission request")
            raise HttpError(500, "internal error") from None
        # With a Content-Length, uvicorn writes the body as it is; without one it would copy
        # it into a chunked frame (and the client would have to parse chunks).
        headers = [*_JSON, (b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        self._record(request, decision, start)

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[bytes, Request, Decision]:
        if scope["method"] != "POST":
            raise HttpError(405, "only POST is allowed")
        body = await read_body(scope, receive, self.max_body_bytes, self.deadlines)
        try:
            return admit(body, self.settings, namespace_default=self.namespace_default)
        except NotJSON as exc:
            raise HttpError(400, str(exc)) from None
        except BadReview as exc:
            raise HttpError(400, f"not an AdmissionReview: {exc}") from None

    def _count(self, outcome: str, start: float) -> float:
        elapsed = time.perf_counter() - start
        self.metrics.count(self.endpoint, outcome, elapsed)
        return elapsed

    def _refused(self, exc: HttpError, start: float) -> None:
        self._count(_OUTCOME_BY_STATUS.get(exc.status, "bad_request"), start)
        fields = {"endpoint": self.endpoint, "status": exc.status, "reason": exc.reason}
        log.info("request refused", extra={"fields": fields})

    def _record(self, request: Request, decision: Decision, start: float) -> None:
        elapsed = self._count(decision.outcome, start)
        metrics = self.metrics
        if decision.outcome == "injected":
            for mode in decision.modes:
                metrics.injections[mode] += 1
        codes = [f.reason.code for f in decision.findings]
        for code in codes:
            metrics.warnings[code] += 1
        metadata = request.pod.metadata if request.pod is not None else None
        self.log_admission(
            endpoint=self.endpoint,
            uid=request.uid,
            namespace=request.namespace,
            pod=(metadata.name or metadata.generateName or "") if metadata else "",
            outcome=decision.outcome,
            modes=decision.modes,
            warnings=codes,
            # Milliseconds to the microsecond; ``round(x, 3)`` costs 3,500 instructions
            # (a decimal conversion) where this costs a few.
            latency_ms=int(elapsed * 1_000_000 + 0.5) / 1000,
        )
