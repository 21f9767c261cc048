"""Deadlines for many waits, checked by one timer: the server's cheap timeouts.

Reading a request head (``protocol.py``) and reading a request body (``admission.py``)
each must end in time. A timer per wait would cost 1.5-2.7 µs a request (arming and
cancelling one in uvloop; ``asyncio.timeout`` is the dearer), a few percent of an
admission. Here a wait is a dict entry with its start time; one check every
``timeout / 10`` (at most 1 s) hands the overdue ones to ``on_expiry``, so a wait is cut
between ``timeout`` and ``timeout`` plus the check interval. The timer runs only while
something waits.

The owner may outlive an event loop (test clients run one loop per test): each entry keeps
its loop, and each loop gets its own check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Deadlines"]

K = TypeVar("K", bound=Hashable)


class Deadlines(Generic[K]):
    def __init__(self, timeout: float, on_expiry: Callable[[K], None]) -> None:
        self.timeout = timeout
        self.interval = max(0.01, min(1.0, timeout / 10))
        self.on_expiry = on_expiry
        self.waiting: dict[K, tuple[float, asyncio.AbstractEventLoop]] = {}
        self.checks: dict[asyncio.AbstractEventLoop, asyncio.TimerHandle] = {}

    def start(self, key: K, loop: asyncio.AbstractEventLoop) -> None:
        """``key`` starts waiting now, unless it already waits."""
        if key not in self.waiting:
            self.waiting[key] = (loop.time(), loop)
            if loop not in self.checks:
                self.checks[loop] = loop.call_later(self.interval, self._check, loop)

    def finish(self, key: K) -> None:
        self.waiting.pop(key, None)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        del self.checks[loop]
        cutoff = loop.time() - self.timeout
        overdue = [k for k, (since, lp) in self.waiting.items() if lp is loop and since <= cutoff]
        for key in overdue:
            del self.waiting[key]
            self.on_expiry(key)
        if any(lp is loop for _, lp in self.waiting.values()):
            self.checks[loop] = loop.call_later(self.interval, self._check, loop)
