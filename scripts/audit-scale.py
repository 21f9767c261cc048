"""Serve N pods from the audit's HTTP fake and time the real CLI against it (docs/audit.md).

Usage: .venv/bin/python scripts/audit-scale.py 100000   (needs /usr/bin/time)
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.kube_workloads import FakeWorkloads, serve
from tests.unit.audit.pods import injected, pod
from tests.unit.audit.test_commands import kubeconfig_text

N = int(sys.argv[1])
fake = FakeWorkloads()
done = injected(pod("t", annotations={"downward.io/inject": "env,volume"}))
for i in range(N):
    obj = json.loads(json.dumps(done))
    obj["metadata"]["name"] = f"p{i:06d}"
    if i % 1000 == 0:  # one in 1000 never injected, each its own bare pod
        obj = pod(f"p{i:06d}", annotations={"downward.io/inject": "env"})
    fake.objects[("pods", "apps", obj["metadata"]["name"])] = obj
with serve(fake) as url:
    KUBECONFIG = Path(tempfile.mkdtemp()) / "kubeconfig"
    KUBECONFIG.write_text(kubeconfig_text(url))
    t = time.monotonic()
    r = subprocess.run(
        [
            "/usr/bin/time",
            "-v",
            str(Path(sys.executable).with_name("downward-webhook")),
            "audit",
            "--kubeconfig",
            str(KUBECONFIG),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - t
out = json.loads(r.stdout)
rss = [line for line in r.stderr.splitlines() if "Maximum resident" in line]
print(
    N,
    "rc",
    r.returncode,
    "scanned",
    out["scannedPods"],
    "flagged",
    out["podsNeedingAttention"],
    "pages",
    len(fake.list_requests()),
    f"elapsed {elapsed:.1f}s",
    rss,
)
