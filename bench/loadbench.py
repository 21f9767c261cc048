"""Load benchmark: ``downward-webhook serve`` against the ceiling server, side by side.

Both servers run for the whole benchmark, one worker each, pinned to core 0; wrk (one thread,
16 keep-alive TLS connections) is pinned to core 1. For every pod size, rounds alternate
product / ceiling; each round records requests/s, p50/p90/p99 latency, errors, server CPU
per request (utime+stime from /proc/<pid>/stat) and RSS. A soak phase then brings the product
past ``--soak-reviews`` reviews while RSS is sampled every half second. Results go to JSON.

    python bench/loadbench.py --work DIR --out results.json [--rounds 3] [--duration 6]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PY = sys.executable
TICK = os.sysconf("SC_CLK_TCK")
SERVER_CORE, CLIENT_CORE = "0", "1"
CONNECTIONS, THREADS = 16, 1


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def busy_seconds() -> float:
    """CPU time used on the whole machine (all cores), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Server:
    def __init__(self, name: str, cmd: list[str], port: int, work: Path) -> None:
        self.name, self.port = name, port
        self.url = f"https://127.0.0.1:{port}"
        self.log = (work / f"{name}.log").open("wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *cmd],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.reviews = 0

    def request(self, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        ctx = ssl._create_unverified_context()  # self-signed, loopback only
        req = urllib.request.Request(
            self.url + path,
            data=body,
            method="POST" if body else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
            return resp.status, resp.read()

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            try:
                if self.request("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready in {timeout}s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def wrk(server: Server, body: Path, duration: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            CLIENT_CORE,
            "wrk",
            "-t",
            str(THREADS),
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{max(1, round(duration))}s",  # wrk takes whole seconds only
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(BENCH / "post.lua"),
            server.url + "/mutate",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BODY": str(body)},
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("BENCH "))
    result: dict[str, Any] = json.loads(line[6:])
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


def run_round(server: Server, body: Path, duration: float) -> dict[str, Any]:
    before, busy, kids = cpu_seconds(server.proc.pid), busy_seconds(), _children_cpu()
    r = wrk(server, body, duration)
    cpu = cpu_seconds(server.proc.pid) - before
    client = _children_cpu() - kids
    # CPU used by anything but this server and wrk (other jobs on a shared machine).
    foreign = busy_seconds() - busy - cpu - client
    server.reviews += r["requests"]
    r.update(
        server=server.name,
        rps=r["requests"] / (r["duration_us"] / 1e6),
        cpu_us_per_review=cpu / max(r["requests"], 1) * 1e6,
        cpu_util=cpu / (r["duration_us"] / 1e6),
        wrk_cpu_util=client / (r["duration_us"] / 1e6),
        foreign_cpu_util=max(foreign, 0) / (r["duration_us"] / 1e6),
        rss_mb=rss_mb(server.proc.pid),
        total_reviews=server.reviews,
    )
    return r


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check_product(raw: bytes) -> None:
    """The product's answer injects, without warnings."""
    answer = json.loads(raw)["response"]
    assert answer["allowed"] and answer.get("patch"), answer
    assert "warnings" not in answer, answer["warnings"]


def check_ceiling(raw: bytes) -> None:
    assert json.loads(raw)["response"]["allowed"], raw


def check_answers(product: Server, ceiling: Server, body: Path) -> None:
    """One request each, by hand: the product must inject, the ceiling must allow."""
    data = body.read_bytes()
    for server, check in ((product, check_product), (ceiling, check_ceiling)):
        status, raw = server.request("/mutate", data)
        assert status == 200, (server.name, status, raw)
        check(raw)


class RssSampler(threading.Thread):
    def __init__(self, servers: list[Server], every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.servers, self.every = servers, every
        self.samples: list[dict[str, float]] = []
        self.stopped = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.samples.append(
                {
                    "t": round(time.monotonic() - self.t0, 2),
                    **{s.name: rss_mb(s.proc.pid) for s in self.servers},
                }
            )


def median_row(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    keys = (
        "rps",
        "p50_us",
        "p90_us",
        "p99_us",
        "cpu_us_per_review",
        "cpu_util",
        "wrk_cpu_util",
        "foreign_cpu_util",
    )
    row: dict[str, Any] = {k: statistics.median(r[k] for r in rounds) for k in keys}
    row["errors"] = sum(r["errors"] for r in rounds)
    row["requests"] = sum(r["requests"] for r in rounds)
    row["rss_mb"] = rounds[-1]["rss_mb"]
    row["total_reviews"] = rounds[-1]["total_reviews"]
    return row


def prepare(work: Path, sizes: list[int]) -> list[str]:
    """A fresh ``work``: a CA and serving certificate in work/certs, the request bodies in
    work/bodies/review-N.json. Returns both servers' TLS arguments."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    certs = work / "certs"
    subprocess.run(
        [
            PY,
            "-m",
            "webhook.cli",
            "certs",
            "generate",
            "--service",
            "downward-webhook",
            "--namespace",
            "downward",
            "--out-dir",
            str(certs),
        ],
        check=True,
        cwd=ROOT,
    )
    subprocess.run(
        [PY, str(BENCH / "bodies.py"), str(work / "bodies"), *map(str, sizes)], check=True
    )
    return ["--tls-cert", str(certs / "tls.crt"), "--tls-key", str(certs / "tls.key")]


def product_cmd(port: int, tls: list[str]) -> list[str]:
    """``downward-webhook serve`` with production defaults (log level info)."""
    return [PY, "-m", "webhook.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *tls]


def ceiling_cmd(port: int, tls: list[str]) -> list[str]:
    return [PY, str(BENCH / "ceiling.py"), "--port", str(port), *tls]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 30])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--soak-reviews", type=int, default=100_000)
    parser.add_argument("--soak-size", type=int, default=3)
    parser.add_argument("--soak-seconds", type=float, default=20)
    args = parser.parse_args()
    work = args.work
    tls = prepare(work, sorted({*args.sizes, args.soak_size}))
    product = Server("product", product_cmd(18443, tls), 18443, work)
    ceiling = Server("ceiling", ceiling_cmd(19443, tls), 19443, work)
    servers = [product, ceiling]
    sampler = RssSampler(servers)
    results: dict[str, Any] = {
        "connections": CONNECTIONS,
        "threads": THREADS,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "sizes": {},
    }
    try:
        for s in servers:
            s.wait_ready()
        results["rss_start_mb"] = {s.name: rss_mb(s.proc.pid) for s in servers}
        sampler.start()
        for size in args.sizes:
            body = work / "bodies" / f"review-{size}.json"
            check_answers(product, ceiling, body)
            for s in servers:
                s.reviews += wrk(s, body, args.warmup)["requests"]
            per: dict[str, list[dict[str, Any]]] = {"product": [], "ceiling": []}
            for i in range(args.rounds):
                for s in servers:
                    r = run_round(s, body, args.duration)
                    per[s.name].append(r)
                    print(
                        f"{size:>3} containers round {i + 1} {s.name:<8} {r['rps']:8.0f} req/s "
                        f"p99 {r['p99_us'] / 1000:6.2f} ms  cpu {r['cpu_us_per_review']:6.0f} µs"
                        f"  rss {r['rss_mb']:5.1f} MB  errors {r['errors']}"
                        f"  other-load {r['foreign_cpu_util']:.2f} cores",
                        flush=True,
                    )
            results["sizes"][str(size)] = {
                "body_bytes": body.stat().st_size,
                "rounds": per,
                "product": median_row(per["product"]),
                "ceiling": median_row(per["ceiling"]),
            }
        # Soak: one long round of --soak-seconds (more if needed to pass --soak-reviews
        # reviews in the product), RSS sampled meanwhile: it must stay flat.
        body = work / "bodies" / f"review-{args.soak_size}.json"
        rate = results["sizes"].get(str(args.soak_size), {}).get("product", {}).get("rps", 1000)
        duration = max(args.soak_seconds, (args.soak_reviews - product.reviews) / rate + 1)
        results["rss_soak_start_mb"] = rss_mb(product.proc.pid)
        results["soak_start_t"] = round(time.monotonic() - sampler.t0, 2)
        soak = []
        if duration > 0:
            r = run_round(product, body, duration)
            soak.append(r)
            print(
                f"soak {duration:.0f}s: {product.reviews} reviews, rss {r['rss_mb']:.1f} MB, "
                f"errors {r['errors']}",
                flush=True,
            )
        results["soak"] = soak
        results["reviews_total"] = {s.name: s.reviews for s in servers}
        results["rss_end_mb"] = {s.name: rss_mb(s.proc.pid) for s in servers}
    finally:
        sampler.stopped.set()
        for s in servers:
            s.stop()
    results["rss_samples"] = sampler.samples
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
