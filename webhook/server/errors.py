"""The server's one error channel: a refused request is an ``HttpError``, answered in one line.

``HttpError`` is a Starlette ``HTTPException``, so the refusals of our admission endpoint
(400, 405, 408, 413, 415, and 500 for a bug) and those of FastAPI's own routing (404 for an
unknown path) take the same way out: ``refusal``, the one exception handler registered on the
app, answers ``<reason>\\n`` as text/plain with the status, and never the request body.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["HttpError", "refusal"]


class HttpError(HTTPException):
    """A request we refuse: status code and a one-line reason for the client."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


async def refusal(_request: Request, exc: Exception) -> Response:
    """The response for any ``HTTPException``: its one-line reason, as text."""
    assert isinstance(exc, HTTPException)
    return Response(
        f"{exc.detail}\n".encode(),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type="text/plain; charset=utf-8",
    )
