#!/usr/bin/env bash
# The whole benchmark, one command (as root, on a machine with at least 2 cores):
#
#     bench/run.sh
#
# Installs wrk (apt) and the bench-only Python tools (bench/requirements.txt, into .venv),
# generates self-signed certificates, runs `downward-webhook serve` and the ceiling server
# (bench/ceiling.py) side by side under wrk, runs the pure-core micro-benchmark, and writes
# docs/benchmarks.md (results, machine, commands) and docs/benchmarks.png. Not part of the
# tests. Takes about 5 minutes. Environment: ROUNDS (3), DURATION (6 s per round),
# WORK (/tmp/downward-bench), PYTHON (.venv/bin/python), INSTRUCTIONS (unset; 1: also count
# instructions per request under valgrind's callgrind, bench/instructions.py, installing
# valgrind (apt) if missing, into the page's "Instructions per request" section; about 20
# minutes more).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
WORK="${WORK:-/tmp/downward-bench}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-6}"
INSTRUCTIONS="${INSTRUCTIONS:-}"

if ! command -v wrk >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq wrk
fi
if [ "$INSTRUCTIONS" = 1 ] && ! command -v valgrind >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq valgrind
fi
command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "needs 2 cores: server on core 0, wrk on core 1" >&2; exit 1; }
if [ ! -x "$PYTHON" ]; then  # a fresh clone: a venv first, as scripts/test.sh makes it
    python3 -m venv "$ROOT/.venv"
    PYTHON="$ROOT/.venv/bin/python"
fi
# The product's runtime pins plus the bench-only tools (bench/requirements.txt), all from
# requirements/bench.lock (scripts/lock.sh), then the product itself without dependencies.
"$PYTHON" -m pip install -q --require-hashes -r "$ROOT/requirements/build.lock"
"$PYTHON" -m pip install -q --require-hashes -r "$ROOT/requirements/bench.lock"
rm -rf "$ROOT/build"  # setuptools' build/lib keeps modules deleted since
"$PYTHON" -m pip install -q --no-deps --no-build-isolation "$ROOT"

mkdir -p "$WORK"
echo "== pure core (bench/core_bench.py), pinned to core 0"
# Best of 15: on a shared machine, fewer samples can all fall in a slow stretch.
taskset -c 0 "$PYTHON" bench/core_bench.py --repeat 15 --json "$WORK/core.json"

echo "== load: product vs ceiling (bench/loadbench.py)"
"$PYTHON" bench/loadbench.py --work "$WORK/load" --out "$WORK/load.json" \
    --rounds "$ROUNDS" --duration "$DURATION"

REPORT_EXTRA=()
if [ "$INSTRUCTIONS" = 1 ]; then
    echo "== instructions per request under callgrind (bench/instructions.py)"
    "$PYTHON" bench/instructions.py --work "$WORK/instructions" --out "$WORK/instructions.json"
    REPORT_EXTRA=(--instructions "$WORK/instructions.json")
fi

echo "== report"
"$PYTHON" bench/report.py --load "$WORK/load.json" --core "$WORK/core.json" \
    --png docs/benchmarks.png --markdown docs/benchmarks.md "${REPORT_EXTRA[@]}"
echo "wrote docs/benchmarks.md and docs/benchmarks.png"
