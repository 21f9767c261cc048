"""Structured logs: one JSON object per line, on stderr.

Only what an operator needs: never env values, annotation values or whole objects (they may
hold secrets). Admission lines carry uid, namespace, pod name (or generateName), outcome,
modes, warning codes and latency.

The admission line is written by ``AdmissionLog``, in the same format as every other line,
without the ``logging`` machinery (record, handler lock, formatter: 10 µs per review in the
server's hot path). Admission lines are written in batches, like nginx's buffered access log:
a batch goes out when it holds ``BATCH_CHARS`` characters or its first line is
``BATCH_SECONDS`` old, and before any other line, so lines keep their order. One write per
line cost 10-25 µs of server CPU per review under load (``docs/benchmarks.md``); a batch is one
write for a hundred. The price: a process killed without a shutdown (SIGKILL, OOM) loses at
most the last ``BATCH_SECONDS`` of admission lines; a shutdown writes them
(``flush``, from the app's lifespan, and at exit).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
import time
from typing import TextIO

import msgspec

__all__ = ["BATCH_CHARS", "BATCH_SECONDS", "AdmissionLog", "JsonFormatter", "configure", "flush"]

_encode = msgspec.json.encode
BATCH_CHARS = 32 * 1024
BATCH_SECONDS = 0.5


class _Lines:
    """The lines on their way to ``stream``: admission lines wait in a batch (``add``), any
    other line writes the batch and then itself (``write``). Locked: ``logging`` may be
    called from any thread, admission lines come from the event loop's."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.batch: list[str] = []
        self.chars = 0
        self.due: asyncio.TimerHandle | None = None
        self.due_loop: asyncio.AbstractEventLoop | None = None

    def add(self, line: str) -> None:
        with self.lock:
            self.batch.append(line)
            self.chars += len(line)
            full = self.chars >= BATCH_CHARS
        if full:
            self.flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop to come back: write it now
            self.flush()
            return
        if self.due is None or self.due_loop is not loop:  # (a loop that ended never calls)
            self.due, self.due_loop = loop.call_later(BATCH_SECONDS, self._expire), loop

    def _expire(self) -> None:
        self.due = None
        self.flush()

    def write(self, line: str) -> None:
        with self.lock:
            self._write_batch()
            self.stream.write(line)

    def flush(self) -> None:
        with self.lock:
            self._write_batch()

    def _write_batch(self) -> None:
        if self.batch:  # one write: the stream is line-buffered
            text = "".join(self.batch)
            self.batch.clear()
            self.chars = 0
            self.stream.write(text)


_lines: _Lines | None = None  # set by ``configure``: where our lines go


def flush() -> None:
    """Write the admission lines that wait (the app's shutdown, and at exit)."""
    if _lines is not None:
        _lines.flush()


atexit.register(flush)


class _Handler(logging.Handler):
    """Every ``logging`` line, through the same ``_Lines`` as the admission lines."""

    def __init__(self, lines: _Lines) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


class _Clock:
    """``2026-11-22T01:15:34.123Z``, the date and time formatted once per second."""

    second: int = -1
    stamp: str = ""

    def format(self, created: float) -> str:
        second = int(created)
        if second != self.second:
            self.stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.second = second
        return f"{self.stamp}.{int((created - second) * 1000):03d}Z"


def _entry(stamp: str, level: str, logger: str, msg: str) -> dict[str, object]:
    """The keys every line starts with, in order."""
    return {"time": stamp, "level": level, "logger": logger, "msg": msg}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(
            self._clock.format(record.created),
            record.levelname.lower(),
            record.name,
            record.getMessage(),
        )
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return _encode(entry).decode()


class AdmissionLog:
    """Writes the info line for one admission (``fields``), if ``logger`` logs info."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.clock = _Clock()
        # What follows the time on every line (``,"level":"info",...,"msg":"admission"``),
        # encoded once: a line is the time, this, and the fields' own JSON object.
        head = _encode(_entry("", "info", logger.name, "admission")).decode()
        self.after_time = head[len('{"time":""') : -1]

    def __call__(self, fields: dict[str, object]) -> None:
        """``fields`` never repeats a key of ``_entry`` (they are the endpoint's own)."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        lines = _lines
        if lines is None:  # logging not configured by us (embedded, tests): the usual way
            self.logger.info("admission", extra={"fields": fields})
            return
        rest = "," + _encode(fields).decode()[1:] if fields else "}"
        lines.add(f'{{"time":"{self.clock.format(time.time())}"{self.after_time}{rest}\n')


def configure(level: str = "info") -> None:
    # Nothing we print needs the thread or the process: not collecting them makes every
    # record cheaper. The caller's file and line are still looked up: the only switch for
    # that is the private ``logging._srcfile``, and it costs 2.6 µs a line (18.4 against
    # 15.8 µs, a refusal line through ``JsonFormatter``) on lines that are not per review
    # (refusals, reloads); the admission line does not go through ``logging``.
    global _lines
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    flush()  # what an earlier configuration holds
    _lines = _Lines(sys.stderr)
    handler = _Handler(_lines)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
