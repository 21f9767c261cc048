"""``webhook.server.logs``: admission lines in batches, in order with every other line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
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


_ADMISSION = logs.AdmissionLog(logging.getLogger("downward_webhook.admission"))


def admission(uid: str, outcome: str = "injected") -> None:
    """One admission line, as the endpoint writes it."""
    _ADMISSION(
        endpoint="mutate",
        uid=uid,
        namespace="team-a",
        pod="web-",
        outcome=outcome,
        modes=("env",),
        warnings=[],
        latency_ms=0.5,
    )


def test_admission_lines_wait_for_the_batch_time_then_go_out_in_one_write(stream: _Stream) -> None:
    async def review_three() -> tuple[str, str]:
        for i in range(3):
            admission(f"u{i}")
        before = stream.getvalue()
        await asyncio.sleep(logs.BATCH_SECONDS + 0.3)
        return before, stream.getvalue()

    before, after = asyncio.run(review_three())
    assert before == ""
    assert [line["uid"] for line in _lines(stream)] == ["u0", "u1", "u2"]
    assert stream.writes == 1 and after.count("\n") == 3


def test_any_other_line_writes_the_batch_first_so_the_order_holds(stream: _Stream) -> None:
    async def review_then_warn() -> None:
        admission("first")
        logging.getLogger("downward_webhook.http").warning("then this")
        admission("last", "ignored")

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
            admission("x" * 100)
            count += 1
        return count

    count = asyncio.run(flood())
    written = stream.getvalue()
    last = written.splitlines(keepends=True)[-1]
    assert len(written) - len(last) < logs.BATCH_BYTES <= len(written)  # the line that filled it
    assert len(_lines(stream)) == count and stream.writes == 1
    admission("outside", "ignored")  # no running loop: written now
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
            admission(f"u{i}")
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


def test_an_admission_line_has_every_line_s_keys_first_then_its_own_in_order(
    stream: _Stream,
) -> None:
    async def one() -> None:
        admission("u-1")

    asyncio.run(one())
    logs.flush()
    (line,) = _lines(stream)
    assert list(line) == [
        "time",
        "level",
        "logger",
        "msg",
        "endpoint",
        "uid",
        "namespace",
        "pod",
        "outcome",
        "modes",
        "warnings",
        "latency_ms",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(line["time"]))
    assert (line["level"], line["logger"], line["msg"]) == (
        "info",
        "downward_webhook.admission",
        "admission",
    )
    assert (line["uid"], line["modes"], line["latency_ms"]) == ("u-1", ["env"], 0.5)


def test_the_clock_writes_the_milliseconds_it_is_given() -> None:
    clock = logs._Clock()
    assert clock.format(0.0) == "1970-01-01T00:00:00.000Z"
    assert clock.format(86_400 + 1.75) == "1970-01-02T00:00:01.750Z"
    assert clock.format(86_400 + 1.0625) == "1970-01-02T00:00:01.062Z"  # cut, not rounded
    assert clock.format(1 - 2**-12) == "1970-01-01T00:00:00.999Z"


def test_without_our_configuration_an_admission_goes_through_logging_with_its_fields(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(logs, "_lines", None)
    with caplog.at_level(logging.INFO, logger="downward_webhook.admission"):
        admission("embedded")
    (record,) = caplog.records
    assert record.getMessage() == "admission"
    assert record.fields == {  # type: ignore[attr-defined]
        "endpoint": "mutate",
        "uid": "embedded",
        "namespace": "team-a",
        "pod": "web-",
        "outcome": "injected",
        "modes": ("env",),
        "warnings": [],
        "latency_ms": 0.5,
    }
