"""``webhook.server.logs``: admission lines in batches, in order with every other line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from webhook.server import logs


class _Stream(io.StringIO):
    """A stream that counts its writes (each a syscall on a real stderr)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Stream]:
    out = _Stream()
    monkeypatch.setattr("sys.stderr", out)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure("info")
    yield out
    logs.flush()
    monkeypatch.setattr(logs, "_lines", None)
    root.handlers[:], level = saved
    root.setLevel(level)


def _lines(stream: _Stream) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


ADMISSION = logs.AdmissionLog(logging.getLogger("downward_webhook.admission"))


def test_admission_lines_wait_for_the_batch_time_then_go_out_in_one_write(stream: _Stream) -> None:
    async def review_three() -> tuple[str, str]:
        for i in range(3):
            ADMISSION({"uid": f"u{i}", "outcome": "injected"})
        before = stream.getvalue()
        await asyncio.sleep(logs.BATCH_SECONDS + 0.3)
        return before, stream.getvalue()

    before, after = asyncio.run(review_three())
    assert before == ""
    assert [line["uid"] for line in _lines(stream)] == ["u0", "u1", "u2"]
    assert stream.writes == 1 and after.count("\n") == 3


def test_any_other_line_writes_the_batch_first_so_the_order_holds(stream: _Stream) -> None:
    async def review_then_warn() -> None:
        ADMISSION({"uid": "first", "outcome": "injected"})
        logging.getLogger("downward_webhook.http").warning("then this")
        ADMISSION({"uid": "last", "outcome": "ignored"})

    asyncio.run(review_then_warn())
    logs.flush()  # what the app's lifespan does at shutdown, and atexit
    assert [(line["msg"], line.get("uid")) for line in _lines(stream)] == [
        ("admission", "first"),
        ("then this", None),
        ("admission", "last"),
    ]


def test_a_full_batch_goes_out_at_once_and_without_a_loop_a_line_is_not_held(
    stream: _Stream,
) -> None:
    async def flood() -> int:
        count = 0
        while stream.getvalue() == "":
            ADMISSION({"uid": "x" * 100, "outcome": "injected"})
            count += 1
        return count

    count = asyncio.run(flood())
    written = stream.getvalue()
    last = written.splitlines(keepends=True)[-1]
    assert len(written) - len(last) < logs.BATCH_CHARS <= len(written)  # the line that filled it
    assert len(_lines(stream)) == count and stream.writes == 1
    ADMISSION({"uid": "outside", "outcome": "ignored"})  # no running loop: written now
    assert _lines(stream)[-1]["uid"] == "outside"


def test_lines_from_other_threads_are_neither_lost_nor_torn(stream: _Stream) -> None:
    def warn(n: int) -> None:
        for i in range(200):
            logging.getLogger("downward_webhook.http").warning(f"thread {n} line {i}")

    async def review_meanwhile() -> None:
        threads = [threading.Thread(target=warn, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for i in range(800):
            ADMISSION({"uid": f"u{i}", "outcome": "injected"})
            if i % 50 == 0:
                await asyncio.sleep(0)
        for thread in threads:
            thread.join()

    asyncio.run(review_meanwhile())
    logs.flush()
    lines = _lines(stream)  # each parses: no line torn
    assert sum(1 for line in lines if line["msg"] == "admission") == 800
    assert sum(1 for line in lines if str(line["msg"]).startswith("thread ")) == 800
    assert [line["uid"] for line in lines if line["msg"] == "admission"] == [
        f"u{i}" for i in range(800)
    ]
