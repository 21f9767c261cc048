"""Giving the C heap back to the system after bursts of new connections.

Every TLS connection costs uvloop and OpenSSL tens of kilobytes of C heap (buffers, the SSL
object), freed when it closes. glibc keeps much of what a burst freed instead of returning
it: six rounds of 1,000 connections opened at once took the server from 55 to 175 MB, and it
stayed there (``bench/connection_memory.py``), while Python's own objects stayed flat
(``tracemalloc``). ``malloc_trim(0)`` gives it back. So once ``every`` new connections have
come since the last trim, the server trims ``delay`` seconds later (when a burst is likely
over): at most one trim per ``delay``, and none while the API server keeps its connections
open. Without glibc (musl) there is nothing to call and nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable

__all__ = ["HeapTrim", "malloc_trim"]


def malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


class HeapTrim:
    """Counts new connections; schedules a trim after ``every`` of them."""

    def __init__(
        self,
        trim: Callable[[], object] | None,
        every: int = 100,
        delay: float = 10.0,
    ) -> None:
        self.trim, self.every, self.delay = trim, every, delay
        self.opened = 0
        self.pending = False

    def connection_made(self, loop: asyncio.AbstractEventLoop) -> None:
        self.opened += 1
        if self.opened >= self.every and not self.pending and self.trim is not None:
            self.pending = True
            loop.call_later(self.delay, self._run)

    def _run(self) -> None:
        self.opened, self.pending = 0, False
        if self.trim is not None:
            self.trim()
