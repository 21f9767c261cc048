"""What the product's answer costs to send, apart from the work of making it.

The ceiling answers about 150 bytes; the product 6-100 KB of base64 JSON Patch, which TLS
encrypts and the socket copies. Three servers run side by side, pinned to core 0 as in
``bench/loadbench.py``: the product, the ceiling, and the ceiling answering with the product's
own answer to the body sent (``bench/ceiling.py --answer``: the same work as the ceiling, the
product's bytes out). Rounds alternate between the three at one pod size; the medians give

* sized / ceiling: what an answer of the product's size costs on its own;
* product / sized: what the product's work costs (decode, plan, patch, log line, metrics).

``--perf`` also records each server with ``perf record`` during its rounds and splits its CPU
per review by shared object (the interpreter, the kernel, msgspec or orjson, libc, libcrypto).

    python bench/answer_size.py --work DIR [--containers 3] [--rounds 6] [--perf] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from loadbench import (
    PY,
    Server,
    ceiling_cmd,
    check_ceiling,
    check_product,
    median_row,
    prepare,
    product_cmd,
    run_round,
    wrk,
)

#: Samples a second per server under ``--perf`` (``perf record -F``).
PERF_HZ = 999


def perf_split(data: list[Path], requests: int) -> dict[str, float]:
    """µs per review by shared object, from the ``perf record`` files of one server."""
    samples: Counter[str] = Counter()
    for path in data:
        out = subprocess.run(
            ["perf", "report", "-i", str(path), "--sort", "dso", "-n", "--stdio"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 3 and not line.startswith("#") and fields[1].isdigit():
                samples[fields[2]] += int(fields[1])
    return {dso: n / PERF_HZ / requests * 1e6 for dso, n in samples.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--containers", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--perf", action="store_true", help="split CPU by shared object")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.perf and shutil.which("perf") is None:
        parser.error("--perf needs perf (Debian: linux-perf)")
    work = args.work
    tls = prepare(work, [args.containers])
    body = work / "bodies" / f"review-{args.containers}.json"
    product = Server("product", product_cmd(18443, tls), 18443, work)
    servers = [product]
    try:
        product.wait_ready()
        status, answer = product.request("/mutate", body.read_bytes())
        assert status == 200, (status, answer)
        check_product(answer)
        (work / "answer.json").write_bytes(answer)
        servers.append(Server("ceiling", ceiling_cmd(19443, tls), 19443, work))
        sized = [PY, str(Path(__file__).parent / "ceiling.py"), "--port", "20443", *tls]
        servers.append(
            Server("sized", [*sized, "--answer", str(work / "answer.json")], 20443, work)
        )
        for server in servers[1:]:
            server.wait_ready()
            status, raw = server.request("/mutate", body.read_bytes())
            assert status == 200, (server.name, status, raw)
            check_ceiling(raw)
        for server in servers:
            wrk(server, body, 2)  # warm-up
        rounds: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
        recorded: dict[str, list[Path]] = {s.name: [] for s in servers}
        for i in range(args.rounds):
            for server in servers:
                recorder = None
                if args.perf:
                    path = work / f"perf-{server.name}-{i}.data"
                    recorded[server.name].append(path)
                    recorder = subprocess.Popen(
                        [
                            "perf",
                            "record",
                            "-q",
                            "-F",
                            str(PERF_HZ),
                            "-p",
                            str(server.proc.pid),
                            "-o",
                            str(path),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                r = run_round(server, body, args.duration)
                if recorder is not None:
                    recorder.send_signal(signal.SIGINT)
                    recorder.wait()
                rounds[server.name].append(r)
                print(
                    f"round {i + 1} {server.name:<8} {r['rps']:7.0f} req/s"
                    f"  cpu {r['cpu_us_per_review']:5.0f} µs  errors {r['errors']}"
                    f"  other-load {r['foreign_cpu_util']:.2f} cores",
                    flush=True,
                )
    finally:
        for server in servers:
            server.stop()
    medians = {name: median_row(rs) for name, rs in rounds.items()}
    result: dict[str, Any] = {
        "containers": args.containers,
        "body_bytes": body.stat().st_size,
        "answer_bytes": len(answer),
        "rounds": rounds,
        "medians": medians,
    }
    p, c, s = (medians[n] for n in ("product", "ceiling", "sized"))
    print(f"\n{args.containers} containers: answer {len(answer):,} bytes; medians of {args.rounds}")
    for name, m in medians.items():
        print(f"  {name:<8} {m['rps']:7.0f} req/s  cpu {m['cpu_us_per_review']:5.0f} µs/review")
    print(f"  sized/ceiling   {s['rps'] / c['rps']:.2f}x req/s  (the answer's size)")
    print(f"  product/sized   {p['rps'] / s['rps']:.2f}x req/s  (the product's work)")
    print(f"  product/ceiling {p['rps'] / c['rps']:.2f}x req/s")
    if args.perf:
        split = {
            name: perf_split(recorded[name], sum(r["requests"] for r in rounds[name]))
            for name in rounds
        }
        result["perf_us_per_review"] = split
        print("\n  µs per review by shared object (perf record):")
        for name, per in split.items():
            top = ", ".join(f"{dso} {us:.1f}" for dso, us in list(per.items())[:8])
            print(f"  {name:<8} total {sum(per.values()):.1f}: {top}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
