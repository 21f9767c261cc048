"""``downward-webhook render`` on a large GitOps-like file: wall time and peak RSS.

Generates N annotated Deployments (comments, a flow-style list, multi-line strings, like real
repositories), runs ``downward-webhook render -f FILE`` as a subprocess N times over, and
prints wall seconds, CPU seconds (user + system: the machine may be shared) and the child's
peak RSS (``resource.getrusage(RUSAGE_CHILDREN)``, one
fresh ``python -c`` wrapper per run so the maximum is that run's).

    .venv/bin/python bench/render_bench.py --count 2000 --count 20000 [--cli PATH] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_DEPLOYMENT = """\
# Deployment {i}: the team's web front end.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{i}
  namespace: team-{team}
  labels: {{app: web-{i}, tier: frontend}}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web-{i}
  template:
    metadata:
      labels:
        app: web-{i}
      annotations:
        downward.io/inject: env,volume  # what the app reads
        prometheus.io/scrape: "true"
    spec:
      containers:
      - name: app
        image: registry.example.com/team-{team}/web:1.{i}
        args: ["--port", "8080"]
        ports:
        - containerPort: 8080
        resources:
          requests: {{cpu: 100m, memory: 64Mi}}
          limits:
            cpu: 500m
            memory: 128Mi
        env:
        - name: GREETING
          value: |
            hello
            world
---
"""

_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "w = time.perf_counter() - t; "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(r.returncode, w, u.ru_utime + u.ru_stime, u.ru_maxrss)"
)


def generate(path: Path, count: int) -> None:
    with path.open("w") as out:
        for i in range(count):
            out.write(_DEPLOYMENT.format(i=i, team=i % 17))


def measure(cli: str, path: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one ``render`` run."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, cli, "render", "-f", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    code, wall, cpu, rss_kb = done.stdout.split()
    if code != "0":
        raise SystemExit(f"render exited {code} on {path}")
    return float(wall), float(cpu), int(rss_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, action="append", help="Deployments per file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cli", default=shutil.which("downward-webhook") or "downward-webhook")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.count or [2000]:
            path = Path(tmp) / f"deployments-{count}.yaml"
            generate(path, count)
            size = path.stat().st_size / 1e6
            runs = [measure(args.cli, path) for _ in range(args.runs)]
            walls = ", ".join(f"{w:.2f}" for w, _, _ in runs)
            print(
                f"{count} Deployments ({size:.1f} MB): wall {min(r[0] for r in runs):.2f} s "
                f"best of [{walls}], CPU {min(r[1] for r in runs):.2f} s, "
                f"peak RSS {max(r[2] for r in runs):.0f} MB"
            )


if __name__ == "__main__":
    main()
