"""Turn the benchmark's JSON results into ``docs/benchmarks.md`` tables and ``docs/benchmarks.png``.

    python bench/report.py --load results.json --core core.json --png docs/benchmarks.png \
        > tables.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def load_table(load: dict[str, Any]) -> str:
    lines = [
        "| containers | server | req/s | p50 ms | p90 ms | p99 ms | CPU µs/review | errors "
        "| RSS MB (reviews so far) | other load (cores) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, data in load["sizes"].items():
        for name in ("product", "ceiling"):
            r = data[name]
            lines.append(
                f"| {size} | {name} | {r['rps']:.0f} | {r['p50_us'] / 1000:.2f} "
                f"| {r['p90_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} "
                f"| {r['cpu_us_per_review']:.0f} | {r['errors']} "
                f"| {r['rss_mb']:.1f} ({r['total_reviews']:,}) | {r['foreign_cpu_util']:.2f} |"
            )
    lines += ["", "| containers | body bytes | throughput product/ceiling | CPU product/ceiling "
              "| all rounds req/s product | all rounds req/s ceiling |",
              "|---:|---:|---:|---:|---|---|"]
    for size, data in load["sizes"].items():
        p, c = data["product"], data["ceiling"]
        rounds = {
            n: ", ".join(f"{r['rps']:.0f}" for r in data["rounds"][n]) for n in data["rounds"]
        }
        lines.append(
            f"| {size} | {data['body_bytes']:,} | **{p['rps'] / c['rps']:.2f}x** "
            f"| {p['cpu_us_per_review'] / c['cpu_us_per_review']:.2f}x "
            f"| {rounds['product']} | {rounds['ceiling']} |"
        )
    return "\n".join(lines)


def rss_summary(load: dict[str, Any]) -> str:
    samples = load["rss_samples"]
    soak = load.get("soak", [])
    lines = [
        f"* RSS at start (idle, after /readyz): product {load['rss_start_mb']['product']:.1f} MB, "
        f"ceiling {load['rss_start_mb']['ceiling']:.1f} MB.",
        f"* RSS at the end: product {load['rss_end_mb']['product']:.1f} MB after "
        f"{load['reviews_total']['product']:,} reviews; ceiling "
        f"{load['rss_end_mb']['ceiling']:.1f} MB after {load['reviews_total']['ceiling']:,}.",
    ]
    if samples:
        prod = [s["product"] for s in samples]
        n = len(prod)
        half = prod[n // 2:]
        lines.append(
            f"* Product RSS sampled every 0.5 s ({n} samples): min {min(prod):.1f}, "
            f"max {max(prod):.1f} MB; second half of the run {min(half):.1f}-{max(half):.1f} MB."
        )
    for r in soak:
        lines.append(
            f"* Soak round (3 containers): {r['requests']:,} reviews, {r['rps']:.0f} req/s, "
            f"p99 {r['p99_us'] / 1000:.2f} ms, errors {r['errors']}, RSS {r['rss_mb']:.1f} MB "
            f"after {r['total_reviews']:,} reviews."
        )
    return "\n".join(lines)


def core_table(core: list[dict[str, Any]]) -> str:
    lines = ["| containers | core µs | core µs per container | admit µs | orjson.loads µs |",
             "|---:|---:|---:|---:|---:|"]
    for r in core:
        lines.append(
            f"| {r['containers']} | {r['core_us']:.1f} | {r['core_us'] / r['containers']:.2f} "
            f"| {r['admit_us']:.1f} | {r['loads_us']:.1f} |"
        )
    return "\n".join(lines)


def plot(load: dict[str, Any], core: list[dict[str, Any]], out: Path) -> None:
    sizes = [int(s) for s in load["sizes"]]
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4.5))
    for name, style in (("product", "o-"), ("ceiling", "s--")):
        rows = [load["sizes"][str(s)][name] for s in sizes]
        a.plot(sizes, [r["rps"] for r in rows], style, label=name)
        for key, alpha in (("p50_us", 1.0), ("p99_us", 0.5)):
            b.plot(sizes, [r[key] / 1000 for r in rows], style, alpha=alpha,
                   label=f"{name} {key[:3]}")
    a.set(title="Throughput (16 connections, TLS)", xlabel="containers per pod",
          ylabel="requests/s", xscale="log")
    b.set(title="Latency at saturation", xlabel="containers per pod", ylabel="ms", xscale="log")
    b.axhline(2.5, color="grey", linewidth=0.8, linestyle=":")
    c.plot([r["containers"] for r in core], [r["core_us"] for r in core], "o-", label="core")
    c.plot([r["containers"] for r in core], [r["admit_us"] for r in core], "s--", label="admit")
    c.axhline(20, color="grey", linewidth=0.8, linestyle=":")
    c.set(title="Pure core per review", xlabel="containers per pod", ylabel="µs",
          xscale="log", yscale="log")
    for ax in (a, b, c):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", type=Path, required=True)
    parser.add_argument("--core", type=Path, required=True)
    parser.add_argument("--png", type=Path, required=True)
    args = parser.parse_args()
    load, core = json.loads(args.load.read_text()), json.loads(args.core.read_text())
    plot(load, core, args.png)
    print("### Load: product vs ceiling (median of rounds)\n")
    print(load_table(load))
    print("\n### Memory\n")
    print(rss_summary(load))
    print("\n### Pure core (best of 7)\n")
    print(core_table(core))


if __name__ == "__main__":
    main()
