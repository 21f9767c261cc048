"""Instructions per request: ``downward-webhook serve`` against the ceiling, under callgrind.

Other jobs on a shared machine change how fast a server runs, not how many instructions it
executes, and ``valgrind --tool=callgrind`` counts instructions. Each server (the product with
production defaults, log level info, as ``bench/loadbench.py`` runs it; the ceiling,
``bench/ceiling.py``) runs under callgrind with ``PYTHONHASHSEED=0`` and the checkout first on
``PYTHONPATH``. One keep-alive TLS connection on loopback (verified against the generated
``ca.crt``, host name not checked) waits for ``GET /readyz`` == 200, then POSTs the pod
size's AdmissionReview ``--base`` times; every answer must be 200 (the first: the product's
with a patch and no warnings, the ceiling's allowed). A second run does ``--base +
--requests`` POSTs. Both runs end with SIGTERM; callgrind prints its total ("Collected").
(total2 - total1) / ``--requests`` is the instructions per request: start-up, warm-up and
shutdown cancel out. Two valgrind runs at a time (a 2-core machine).

Where they go: ``callgrind_annotate`` (valgrind's own) lists each run's instructions by
function and library; the same difference of the two runs, summed by group (``GROUPS``: the
interpreter, JSON, TLS, copying, memory, ...), is each server's figure per request by group,
so the page can say which work makes the two servers differ.

What it overstates: callgrind counts ``rep movsb`` (memcpy) as one instruction per byte; and
timers (uvicorn's 0.1 s tick, the product's log batches and deadline checks) count per second
of wall time, and valgrind stretches each request hundreds of times: idle with a connection
open, 0.25 M instructions a second (product) and 0.23 M (ceiling): 1-2% of either's figure
on the 2-core VM. A ratio of CPU work, not of throughput. The JSON keeps each run's total
and wall seconds.

    python bench/instructions.py --work DIR [--out FILE.json] [--sizes 1 3 30] \\
        [--requests 1000] [--base 100]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from loadbench import ROOT, ceiling_cmd, check_ceiling, check_product, prepare, product_cmd

LIVE: set[subprocess.Popen[bytes]] = set()  # servers running, killed on any failure
LOCK, STOP = threading.Lock(), threading.Event()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def connect(
    proc: subprocess.Popen[bytes], port: int, ca: Path, name: str
) -> http.client.HTTPSConnection:
    """A keep-alive connection once ``/readyz`` answers 200."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False  # the certificate names the service, not 127.0.0.1
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name}: exited with {proc.returncode} before /readyz")
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=120)
        try:
            conn.request("GET", "/readyz")
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                return conn
        except (OSError, http.client.HTTPException):
            pass
        conn.close()
        time.sleep(0.5)
    raise RuntimeError(f"{name}: not ready in 600 s")


def count(
    cmd: Callable[[int], list[str]],
    check: Callable[[bytes], None],
    body: bytes,
    requests: int,
    out: Path,
    ca: Path,
) -> tuple[int, float]:
    """One run under callgrind: the instructions it counted and its wall seconds."""
    port, t0 = free_port(), time.monotonic()
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": path}
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    vg.append(f"--log-file={out}.valgrind")
    with LOCK:
        if STOP.is_set():
            raise RuntimeError("stopped")
        with out.with_suffix(".log").open("wb") as log:
            proc = subprocess.Popen(
                [*vg, *cmd(port)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env
            )
        LIVE.add(proc)
    try:
        conn = connect(proc, port, ca, out.stem)
        for i in range(requests):
            conn.request("POST", "/mutate", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{out.stem}: POST /mutate answered {resp.status}: {raw!r}")
            if i == 0:
                check(raw)
        conn.close()
        proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises SIGTERM once shut down (the ceiling); the product exits with 0.
        if proc.wait(300) not in (0, -signal.SIGTERM):
            raise RuntimeError(f"{out.stem}: exited with {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with LOCK:
            LIVE.discard(proc)
    found = re.search(r"Collected : (\d+)", Path(f"{out}.valgrind").read_text())
    if not found:
        raise RuntimeError(f"no 'Collected' line in {out}.valgrind")
    return int(found[1]), time.monotonic() - t0


#: (group, what a line of ``callgrind_annotate`` names: a library or a function), first
#: match wins; a line naming neither goes to "other".
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("copying (memcpy, memmove, memset)", ("memcpy", "memmove", "memset")),
    ("TLS (libssl, libcrypto)", ("libssl.so", "libcrypto.so")),
    ("JSON (msgspec, orjson)", ("/msgspec/", "/orjson/")),
    ("base64 (pybase64)", ("/pybase64/",)),
    ("memory (malloc, free)", ("malloc",)),  # glibc's malloc.c and CPython's obmalloc.c
    ("event loop, HTTP parser (uvloop, httptools)", ("/uvloop/", "/httptools/")),
    ("interpreter (libpython)", ("libpython", "Python-3", "/Include/", "Objects/", "Python/")),
)
_LINE = re.compile(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)")


def by_group(out: Path) -> dict[str, int]:
    """The instructions of one run (a callgrind file) by ``GROUPS``."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    groups = dict.fromkeys([g for g, _ in GROUPS] + ["other"], 0)
    for line in text.splitlines():
        found = _LINE.fullmatch(line)
        if found is None or found[2].startswith("PROGRAM TOTALS"):
            continue
        name = found[2]
        group = next((g for g, marks in GROUPS if any(m in name for m in marks)), "other")
        groups[group] += int(found[1].replace(",", ""))
    return groups


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 30])
    parser.add_argument("--requests", type=int, default=1000, help="second run minus first")
    parser.add_argument("--base", type=int, default=100, help="requests of the first run")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("instructions.py: valgrind not found (apt-get install valgrind)")
    tls = prepare(args.work, args.sizes)
    (args.work / "callgrind").mkdir()
    servers = {
        "product": (lambda port: product_cmd(port, tls), check_product),
        "ceiling": (lambda port: ceiling_cmd(port, tls), check_ceiling),
    }
    runs = (args.base + args.requests, args.base)
    totals: dict[tuple[int, str, int], int] = {}
    seconds: dict[tuple[int, str, int], float] = {}
    with ThreadPoolExecutor(2) as pool:
        jobs = {}
        for size in args.sizes:
            body = (args.work / "bodies" / f"review-{size}.json").read_bytes()
            for name, (cmd, check) in servers.items():
                for n in runs:
                    out = args.work / "callgrind" / f"{name}-{size}-{n}.out"
                    fut = pool.submit(count, cmd, check, body, n, out, args.work / "certs/ca.crt")
                    jobs[fut] = (size, name, n)
        try:
            for fut in as_completed(jobs):
                total, secs = fut.result()
                totals[jobs[fut]], seconds[jobs[fut]] = total, round(secs, 1)
                size, name, n = jobs[fut]
                print(f"{name} {size:>2} containers, {n:>5} requests: {total:,} ({secs:.0f} s)")
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            with LOCK:
                STOP.set()
                for proc in LIVE:
                    proc.kill()
    rows: list[dict[str, Any]] = []
    print(f"\n{'containers':>10} {'product instr/req':>18} {'ceiling instr/req':>18} {'ratio':>6}")
    for size in args.sizes:
        per = {
            s: (totals[size, s, runs[0]] - totals[size, s, runs[1]]) / args.requests
            for s in servers
        }
        row = {"containers": size, **per, "ratio": per["product"] / per["ceiling"]}
        row["totals"] = {s: {str(n): totals[size, s, n] for n in runs} for s in servers}
        row["groups"] = {}
        for s in servers:
            more, fewer = (by_group(args.work / "callgrind" / f"{s}-{size}-{n}.out") for n in runs)
            row["groups"][s] = {g: (more[g] - fewer[g]) / args.requests for g in more}
        row["seconds"] = {s: {str(n): seconds[size, s, n] for n in runs} for s in servers}
        rows.append(row)
        print(f"{size:>10} {per['product']:>18,.0f} {per['ceiling']:>18,.0f} {row['ratio']:>6.2f}")
    if args.out:
        version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True)
        meta = {"requests": args.requests, "base": args.base, "valgrind": version.stdout.strip()}
        args.out.write_text(json.dumps({**meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
