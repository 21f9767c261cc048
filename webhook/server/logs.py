"""Structured logs: one JSON object per line, on stderr.

Only what an operator needs: never env values, annotation values or whole objects (they may
hold secrets). Admission lines carry uid, namespace, pod name (or generateName), outcome,
modes, warning codes and latency.

The admission line is written by ``AdmissionLog``, in the same format as every other line,
without the ``logging`` machinery (record, handler lock, formatter: 10 µs per review in the
server's hot path): one struct, encoded by msgspec in one call. Admission lines are written in
batches, like nginx's buffered access log: a batch goes out when it holds ``BATCH_BYTES``
bytes or its first line is ``BATCH_SECONDS`` old, and before any other line, so lines keep
their order. One write per line cost 10-25 µs of server CPU per review under load
(``docs/benchmarks.md``); a batch is one write for a hundred, and adding a line to it takes
no lock. The price: a process killed without a shutdown (SIGKILL, OOM) loses at most the last
``BATCH_SECONDS`` of admission lines; a shutdown writes them (``flush``, from the app's
lifespan, and at exit).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
import time
from collections import deque
from typing import TextIO

import msgspec

__all__ = ["BATCH_BYTES", "BATCH_SECONDS", "AdmissionLog", "JsonFormatter", "configure", "flush"]

_encode = msgspec.json.encode
_running_loop = asyncio.get_running_loop
BATCH_BYTES = 32 * 1024
BATCH_SECONDS = 0.5


class _Lines:
    """The lines on their way to ``stream``: admission lines wait in a batch (``add``), any
    other line writes the batch and then itself (``write``). ``logging`` may be called from
    any thread, admission lines come from the event loop's: the batch is a ``deque``, whose
    ``append`` is atomic, so adding takes no lock; a write (from any thread) takes the lock
    and takes out of the batch only the lines it writes, so a line added meanwhile waits for
    the next write instead of being lost."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        #: Admission lines, as JSON without the newline.
        self.batch: deque[bytes] = deque()
        #: Bytes added since the last write (a reset racing an add only delays a write).
        self.size = 0
        self.due: asyncio.TimerHandle | None = None
        self.due_loop: asyncio.AbstractEventLoop | None = None

    def add(self, line: bytes) -> None:
        self.batch.append(line)
        self.size += len(line) + 1  # and its newline
        if self.size >= BATCH_BYTES:
            self.flush()
            return
        try:
            loop = _running_loop()
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
        batch = self.batch
        if batch:  # one write: the stream is line-buffered
            self.size = 0
            take = batch.popleft
            lines = [take() for _ in range(len(batch))]
            lines.append(b"")  # so that the last line ends with a newline too
            self.stream.write(b"\n".join(lines).decode())


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


#: ``.000Z`` to ``.999Z``: the milliseconds of a time stamp, looked up, not formatted.
_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))


class _Clock:
    """``2026-11-22T01:15:34.123Z``, the date and time formatted once per second."""

    second: int = -1
    stamp: str = ""

    def format(self, created: float) -> str:
        second = int(created)
        if second != self.second:
            self.stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.second = second
        return self.stamp + _MILLIS[int((created - second) * 1000)]


def _entry(stamp: str, level: str, logger: str, msg: str) -> dict[str, object]:
    """The keys every line starts with, in order."""
    return {"time": stamp, "level": level, "logger": logger, "msg": msg}


#: Those keys' names.
_HEAD = tuple(_entry("", "", "", ""))


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


class _AdmissionLine(msgspec.Struct, gc=False):
    """An admission line: the keys every line starts with (``_entry``), then its own."""

    time: str
    level: str
    logger: str
    msg: str
    endpoint: str
    uid: str
    namespace: str | None
    pod: str
    outcome: str
    modes: tuple[str, ...]
    warnings: list[str]
    latency_ms: float


class AdmissionLog:
    """Writes the info line for one admission, if ``logger`` logs info."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.clock = _Clock()

    def __call__(
        self,
        endpoint: str,
        uid: str,
        namespace: str | None,
        pod: str,
        outcome: str,
        modes: tuple[str, ...],
        warnings: list[str],
        latency_ms: float,
    ) -> None:
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        line = _AdmissionLine(
            self.clock.format(time.time()),
            "info",
            logger.name,
            "admission",
            endpoint,
            uid,
            namespace,
            pod,
            outcome,
            modes,
            warnings,
            latency_ms,
        )
        lines = _lines
        if lines is None:  # logging not configured by us (embedded, tests): the usual way
            fields = msgspec.structs.asdict(line)
            for key in _HEAD:  # ``logging``'s formatter writes them
                del fields[key]
            logger.info("admission", extra={"fields": fields})
            return
        lines.add(_encode(line))


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
