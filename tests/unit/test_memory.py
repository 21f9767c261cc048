"""``webhook.server.memory``: the heap is given back once after a burst of new connections."""

from __future__ import annotations

import platform

import pytest

from webhook.server.memory import HeapTrim, malloc_trim


class _Loop:
    """What ``HeapTrim`` asks of the event loop: ``call_later``, recorded."""

    def __init__(self) -> None:
        self.later: list[tuple[float, object]] = []

    def call_later(self, delay: float, callback: object) -> None:
        self.later.append((delay, callback))


def test_a_trim_is_scheduled_once_after_every_hundred_new_connections() -> None:
    trims: list[int] = []
    heap = HeapTrim(lambda: trims.append(1), every=100, delay=10.0)
    loop = _Loop()
    for _ in range(99):
        heap.connection_made(loop)  # type: ignore[arg-type]
    assert loop.later == []
    for _ in range(500):  # the burst goes on: still one trim waiting
        heap.connection_made(loop)  # type: ignore[arg-type]
    assert [delay for delay, _ in loop.later] == [10.0]
    _, run = loop.later.pop()
    run()  # type: ignore[operator]
    assert trims == [1]
    heap.connection_made(loop)  # counted afresh from the trim
    assert loop.later == []


def test_without_a_trim_function_nothing_is_scheduled() -> None:
    heap = HeapTrim(None, every=1)
    loop = _Loop()
    heap.connection_made(loop)  # type: ignore[arg-type]
    assert loop.later == []


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_has_malloc_trim_and_it_runs() -> None:
    """The image is python:3.12-slim, Debian's glibc: if this fails, the trim is gone there."""
    trim = malloc_trim()
    assert trim is not None
    assert trim() in (0, 1)  # 1: memory was given back, 0: there was none to give


def test_a_server_protocol_counts_its_connections() -> None:
    from webhook.server.protocol import protocol_class

    first, second = protocol_class(1.0), protocol_class(1.0)
    assert isinstance(first.heap, HeapTrim) and first.heap is not second.heap
    assert (first.heap.trim is None) == (malloc_trim() is None)
