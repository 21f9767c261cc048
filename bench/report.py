"""Turn the benchmark's JSON results into ``docs/benchmarks.md`` and ``docs/benchmarks.png``.

    python bench/report.py --load load.json --core core.json --png docs/benchmarks.png \
        --markdown docs/benchmarks.md [--instructions instructions.json]

The page is regenerated whole on every run; the hand-written parts (how to read it, the
history of optimizations) come from ``bench/notes.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
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
    lines += [
        "",
        "| containers | body bytes | throughput product/ceiling | CPU product/ceiling "
        "| each round product/ceiling (median) | all rounds req/s product "
        "| all rounds req/s ceiling |",
        "|---:|---:|---:|---:|---|---|---|",
    ]
    for size, data in load["sizes"].items():
        p, c = data["product"], data["ceiling"]
        rounds = {
            n: ", ".join(f"{r['rps']:.0f}" for r in data["rounds"][n]) for n in data["rounds"]
        }
        pairs = paired(data)
        lines.append(
            f"| {size} | {data['body_bytes']:,} | **{p['rps'] / c['rps']:.2f}x** "
            f"| {p['cpu_us_per_review'] / c['cpu_us_per_review']:.2f}x "
            f"| {', '.join(f'{x:.2f}' for x in pairs)} ({statistics.median(pairs):.2f}x) "
            f"| {rounds['product']} | {rounds['ceiling']} |"
        )
    return "\n".join(lines)


def paired(data: dict[str, Any]) -> list[float]:
    """Product over ceiling, round by round: each pair ran back to back, so a machine that
    speeds up or slows down between rounds (a shared VM) moves both sides of a ratio."""
    rounds = data["rounds"]
    return [p["rps"] / c["rps"] for p, c in zip(rounds["product"], rounds["ceiling"], strict=True)]


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
        half = prod[n // 2 :]
        lines.append(
            f"* Product RSS sampled every 0.5 s ({n} samples): min {min(prod):.1f}, "
            f"max {max(prod):.1f} MB; second half of the run {min(half):.1f}-{max(half):.1f} MB."
        )
    for r in soak:
        lines.append(
            f"* Soak round (3 containers, one wrk run): {r['requests']:,} reviews, "
            f"{r['rps']:.0f} req/s, p99 {r['p99_us'] / 1000:.2f} ms, errors {r['errors']}; "
            f"RSS {load['rss_soak_start_mb']:.1f} MB before it, {r['rss_mb']:.1f} MB after "
            f"(product total {r['total_reviews']:,} reviews)."
        )
    if soak and samples:
        during = [s["product"] for s in samples if s["t"] >= load["soak_start_t"]]
        if during:
            lines.append(
                f"* RSS during the soak round: {min(during):.1f}-{max(during):.1f} MB "
                f"({len(during)} samples)."
            )
    return "\n".join(lines)


def core_table(core: list[dict[str, Any]]) -> str:
    lines = [
        "| containers | core µs | core µs per container | mutate µs | first review µs "
        "| admit µs | typed decode µs (part of admit) | orjson.loads µs (the ceiling's parse) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in core:
        lines.append(
            f"| {r['containers']} | {r['core_us']:.1f} | {r['core_us'] / r['containers']:.2f} "
            f"| {r['mutate_us']:.1f} | {r['first_us']:.1f} "
            f"| {r['admit_us']:.1f} | {r['decode_us']:.1f} | {r['loads_us']:.1f} |"
        )
    return "\n".join(lines)


def instructions_section(data: dict[str, Any]) -> str:
    """The callgrind counts of ``bench/instructions.py``."""
    lines = [
        "## Instructions per request (callgrind)",
        "",
        "| containers | product instructions/request | ceiling instructions/request "
        "| product/ceiling |",
        "|---:|---:|---:|---:|",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['containers']} | {r['product']:,.0f} | {r['ceiling']:,.0f} "
            f"| **{r['ratio']:.2f}x** |"
        )
    if all("groups" in r for r in data["rows"]):
        lines += ["", *_groups_table(data["rows"])]
    sizes = " ".join(str(r["containers"]) for r in data["rows"])
    lines += [
        "",
        "```",
        f"python bench/instructions.py --work DIR --out instructions.json --sizes {sizes} "
        f"--requests {data['requests']} --base {data['base']}",
        "```",
        "",
        f"Each server under `valgrind --tool=callgrind` ({data['valgrind']}), one keep-alive "
        f"TLS connection on loopback, {data['base']} then {data['base'] + data['requests']} "
        f"POSTs in two runs; the difference of the totals over {data['requests']} is the "
        "instructions per request (start-up cancels out). Instructions executed do not depend "
        "on what else runs on the machine, so this ratio repeats on a shared VM where "
        "requests/s do not; it is a ratio of CPU work per request, not a throughput "
        "measurement, and it overstates copying (callgrind counts a `rep movsb` memcpy as one "
        "instruction per byte) and timers, which count per second of wall time while "
        "valgrind stretches each request hundreds of times (uvicorn's 0.1 s tick and the "
        "product's log batches: 0.23-0.25 M instructions a second, idle with a connection "
        "open, for either server; 1-2% of these figures on the 2-core VM).",
    ]
    return "\n".join(lines)


def _groups_table(rows: list[dict[str, Any]]) -> list[str]:
    """Instructions per request by group (``bench/instructions.py``'s ``GROUPS``): product,
    ceiling and the difference, at each pod size."""
    sizes = [r["containers"] for r in rows]
    head = " | ".join(f"{k} containers: product / ceiling (difference)" for k in sizes)
    lines = [
        "Where they go, per request, by group (`callgrind_annotate`, the same two runs):",
        "",
        f"| group | {head} |",
        "|---|" + "---:|" * len(sizes),
    ]
    groups = list(rows[0]["groups"]["product"])
    for group in groups:
        cells = []
        for r in rows:
            product, ceiling = r["groups"]["product"][group], r["groups"]["ceiling"][group]
            cells.append(f"{product:,.0f} / {ceiling:,.0f} ({product - ceiling:+,.0f})")
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return lines


def plot(load: dict[str, Any], core: list[dict[str, Any]], out: Path) -> None:
    sizes = [int(s) for s in load["sizes"]]
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4.5))
    for name, style in (("product", "o-"), ("ceiling", "s--")):
        rows = [load["sizes"][str(s)][name] for s in sizes]
        a.plot(sizes, [r["rps"] for r in rows], style, label=name)
        for key, alpha in (("p50_us", 1.0), ("p99_us", 0.5)):
            b.plot(
                sizes, [r[key] / 1000 for r in rows], style, alpha=alpha, label=f"{name} {key[:3]}"
            )
    a.set(
        title="Throughput (16 connections, TLS)",
        xlabel="containers per pod",
        ylabel="requests/s",
        xscale="log",
    )
    b.set(title="Latency at saturation", xlabel="containers per pod", ylabel="ms", xscale="log")
    b.axhline(2.5, color="grey", linewidth=0.8, linestyle=":")
    c.plot([r["containers"] for r in core], [r["core_us"] for r in core], "o-", label="core")
    c.plot([r["containers"] for r in core], [r["admit_us"] for r in core], "s--", label="admit")
    c.axhline(20, color="grey", linewidth=0.8, linestyle=":")
    c.set(
        title="Pure core per review",
        xlabel="containers per pod",
        ylabel="µs",
        xscale="log",
        yscale="log",
    )
    for ax in (a, b, c):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    wrk_text = wrk.stdout or wrk.stderr
    wrk_version = wrk_text.splitlines()[0] if wrk_text else "wrk"
    versions = {}
    for name in (
        "uvicorn",
        "fastapi",
        "starlette",
        "msgspec",
        "pybase64",
        "orjson",
        "uvloop",
        "httptools",
    ):
        try:
            versions[name] = __import__(name).__version__
        except (ImportError, AttributeError):
            versions[name] = "?"
    return "\n".join(
        [
            f"* nproc: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}",
            f"* CPU: {model}",
            f"* Python: {sys.version.split()[0]} ({platform.python_implementation()}), "
            f"kernel {platform.release()}",
            f"* {wrk_version}",
            "* " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        ]
    )


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def targets(load: dict[str, Any], core: list[dict[str, Any]]) -> str:
    sizes = load["sizes"]
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    # Since /mutate is a FastAPI route (issue #10): >= 0.9x the FastAPI no-op at 1 and 3
    # containers, >= 0.6x at 30.
    for size, floor in (("1", 0.9), ("3", 0.9), ("30", 0.6)):
        if size in sizes:
            ratio = sizes[size]["product"]["rps"] / sizes[size]["ceiling"]["rps"]
            cpu = (
                sizes[size]["ceiling"]["cpu_us_per_review"]
                / sizes[size]["product"]["cpu_us_per_review"]
            )
            pairs = statistics.median(paired(sizes[size]))
            lines.append(
                f"| throughput >= {floor:.1f}x ceiling, {size} container(s) | {ratio:.2f}x "
                f"(round by round: {pairs:.2f}x; by CPU per review: {cpu:.2f}x) "
                f"| {_verdict(ratio >= floor)} |"
            )
    if "3" in sizes:
        p99 = sizes["3"]["product"]["p99_us"] / 1000
        lines.append(
            f"| p99 < 2.5 ms, 3 containers, saturated | {p99:.2f} ms | {_verdict(p99 < 2.5)} |"
        )
    errors = sum(d[n]["errors"] for d in sizes.values() for n in ("product", "ceiling"))
    errors += sum(r["errors"] for r in load.get("soak", []))
    lines.append(f"| no errors | {errors} | {_verdict(errors == 0)} |")
    three = next((r for r in core if r["containers"] == 3), None)
    if three:
        lines.append(
            f"| core <= 20 µs, 3 containers | {three['core_us']:.1f} µs "
            f"| {_verdict(three['core_us'] <= 20)} |"
        )
        per = [r["core_us"] / r["containers"] for r in core]
        lines.append(
            f"| core grows linearly | {per[0]:.1f} -> {per[-1]:.1f} µs per container "
            f"from {core[0]['containers']} to {core[-1]['containers']} containers "
            f"| {_verdict(max(per[1:]) <= per[0])} |"
        )
    samples = [s["product"] for s in load["rss_samples"]]
    soak = [s["product"] for s in load["rss_samples"] if s["t"] >= load.get("soak_start_t", 0)]
    soak = soak or samples
    peak = max(samples)
    flat = max(soak) - min(soak) <= 2
    lines.append(
        f"| RSS <= 70 MB and flat | peak {peak:.1f} MB after "
        f"{load['reviews_total']['product']:,} reviews; {min(soak):.1f}-{max(soak):.1f} MB "
        f"during the soak round ({'flat' if flat else 'growing'}) "
        f"| {_verdict(peak <= 70 and flat)} |"
    )
    return "\n".join(lines)


def markdown(
    load: dict[str, Any],
    core: list[dict[str, Any]],
    notes: str,
    instructions: dict[str, Any] | None = None,
) -> str:
    extra = [instructions_section(instructions), ""] if instructions else []
    return "\n".join(
        [
            "# Benchmarks",
            "",
            "Generated by `bench/run.sh` (do not edit by hand: edit `bench/notes.md`).",
            "",
            "## Targets",
            "",
            targets(load, core),
            "",
            "## Machine",
            "",
            machine(),
            "",
            f"Load: wrk, {load['threads']} thread, {load['connections']} keep-alive TLS "
            f"connections, {load['rounds']} rounds of {load['duration_s']:g} s per server and pod "
            "size, alternating product / ceiling, median reported. Servers pinned to core 0, wrk "
            "to core 1. 'other load' is CPU used meanwhile by anything but the server and wrk "
            "(other jobs on a shared machine): rounds with a high figure are noisy.",
            "",
            "![latency and throughput against containers per pod](benchmarks.png)",
            "",
            "## Load: product vs ceiling (median of rounds)",
            "",
            load_table(load),
            "",
            "## Memory",
            "",
            rss_summary(load),
            "",
            "## Pure core (`bench/core_bench.py --repeat 15`, best of 15, pinned to core 0)",
            "",
            core_table(core),
            "",
            *extra,
            notes.strip(),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", type=Path, required=True)
    parser.add_argument("--core", type=Path, required=True)
    parser.add_argument("--png", type=Path, required=True)
    parser.add_argument("--markdown", type=Path, required=True)
    parser.add_argument("--notes", type=Path, default=Path(__file__).with_name("notes.md"))
    parser.add_argument("--instructions", type=Path, help="bench/instructions.py's JSON")
    args = parser.parse_args()
    load, core = json.loads(args.load.read_text()), json.loads(args.core.read_text())
    plot(load, core, args.png)
    notes = args.notes.read_text() if args.notes.exists() else ""
    instructions = json.loads(args.instructions.read_text()) if args.instructions else None
    args.markdown.write_text(markdown(load, core, notes, instructions))


if __name__ == "__main__":
    main()
