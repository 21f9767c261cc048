"""Work one hostile review causes: time, response size and peak RSS, one fresh process per case.

Each case writes an AdmissionReview (a pod asking for ``all``) to a file; a new Python
process that imports ``webhook`` from ``--repo`` (this checkout by default, or an older one to
compare: ``git archive main | tar -x -C /tmp/before``) answers one small review (warm
decoders and caches, as in a running server), reads the body, then times one ``admit`` of it
and reads the peak RSS (``VmHWM``) before and after that call.

    python bench/bounds_bench.py [--repo DIR] [--cases containers-1k,...] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: name -> Python expression for (extra pod annotations, pod spec).
CASES: dict[str, str] = {
    "containers-1k": "({}, {'containers': [{'name': f'c{i}'} for i in range(1000)]})",
    "containers-20k": "({}, {'containers': [{'name': f'c{i}'} for i in range(20000)]})",
    "containers-100k": "({}, {'containers': [{'name': f'c{i}'} for i in range(100000)]})",
    # 100 containers (the default cap) and 200,000 label fields in 2.7 MB of annotation.
    "env-fields-labels": (
        "({'downward.io/env-fields': ','.join(f'label:k{i}' for i in range(200000))},"
        " {'containers': [{'name': f'c{i}'} for i in range(100)]})"
    ),
    # 100 containers and 250,000 names in downward.io/containers.
    "containers-annotation": (
        "({'downward.io/containers': ','.join(f'x{i}' for i in range(250000))},"
        " {'containers': [{'name': f'c{i}'} for i in range(100)]})"
    ),
    # The most within the caps: 100 containers, 16 label fields with 304-character keys.
    "within-caps": (
        "({'downward.io/env-fields': ','.join('label:' + 'p' * 240 + f'/n{i:03}' + 'n' * 59"
        " for i in range(16))},"
        " {'containers': [{'name': f'c{i}'} for i in range(100)]})"
    ),
    # Decoding alone: maps are built key by key (220,000 or 250,000 keys, 2.7-2.9 MB).
    "annotation-keys": "({f'k{i}': '' for i in range(220000)}, {'containers': [{'name': 'a'}]})",
    "limit-keys": (
        "({}, {'containers': [{'name': 'a', 'resources': {'limits': "
        "{f'k{i}': 0 for i in range(250000)}}}]})"
    ),
    # One container with a 2.5 MB name (copied into volume item paths and containerName).
    "huge-name": "({}, {'containers': [{'name': 'a' * 2500000}]})",
}

_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from webhook.core.admission import Settings, admit

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

small = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
    "request": {"uid": "w", "operation": "CREATE",
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "object": {"metadata": {"annotations": {"downward.io/inject": "all"}},
                           "spec": {"containers": [{"name": "app"}]}}}}).encode()
admit(small, Settings())  # a running server has its decoders and caches warm
body = open(sys.argv[2], "rb").read()
before = hwm()
start = time.perf_counter()
response, _request, decision = admit(body, Settings())
elapsed = time.perf_counter() - start
print(json.dumps({"request_mb": len(body) / 1e6, "seconds": elapsed,
                  "response_mb": len(response) / 1e6, "rss_before_mb": before,
                  "rss_peak_mb": hwm(), "warnings": len(decision.warnings),
                  "outcome": decision.outcome}))
"""


def review_body(name: str) -> bytes:
    """The AdmissionReview for case ``name``: CREATE of a pod asking for ``all``."""
    extra, spec = eval(CASES[name])  # our own table of expressions, above
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-",
            "namespace": "team-a",
            "annotations": {"downward.io/inject": "all", **extra},
        },
        "spec": spec,
    }
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "operation": "CREATE",
            "namespace": "team-a",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "object": pod,
        },
    }
    return json.dumps(review, separators=(",", ":")).encode()


def run_case(repo: Path, name: str) -> dict[str, object]:
    with tempfile.NamedTemporaryFile(suffix=".json") as body:
        body.write(review_body(name))
        body.flush()
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(repo), body.name],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, object] = json.loads(out.stdout)
    result["case"] = name
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print(
        f"{'case':24} {'request':>9} {'time':>9} {'response':>10} {'RSS before':>11} "
        f"{'RSS peak':>9} {'warnings':>8}  outcome"
    )
    for name in args.cases.split(","):
        r = run_case(args.repo.resolve(), name)
        if args.json:
            print(json.dumps(r))
            continue
        print(
            f"{name:24} {r['request_mb']:7.2f}MB {float(r['seconds']) * 1000:7.1f}ms "  # type: ignore[arg-type]
            f"{r['response_mb']:8.3f}MB {r['rss_before_mb']:9.1f}MB {r['rss_peak_mb']:7.1f}MB "
            f"{r['warnings']:>8}  {r['outcome']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
