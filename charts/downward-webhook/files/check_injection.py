"""`helm test` check: dry-run create an annotated pod and verify the webhook injected it.

Runs in the chart's own image (the `kubernetes` client is already in its venv). The pod is
created with server-side dry-run (`dryRun=All`): it passes through every admission webhook
and the API server's validation, but is never stored or scheduled.

Usage: python -c "$(cat check_injection.py)" NAMESPACE MODES RELEASE_NAMESPACE
"""

import json
import sys
from typing import Any

POD_NAME_ENV = "POD_NAME"
VOLUME_NAME = "downward-podinfo"
AMBASSADOR_NAME = "downward-ambassador"


def probe_pod(modes: str) -> dict[str, Any]:
    """A minimal pod that meets the restricted Pod Security Standard; never pulled or run."""
    security = {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "downward-webhook-test-",
            "annotations": {"downward.io/inject": modes},
            "labels": {"app.kubernetes.io/name": "downward-webhook-test"},
        },
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "app",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"limits": {"cpu": "10m", "memory": "16Mi"}},
                    "securityContext": security,
                }
            ],
        },
    }


def problems(pod: dict[str, Any], modes: str) -> list[str]:
    """What is missing from the admitted pod for the requested modes (empty when injected)."""
    wanted = {m.strip().lower() for m in modes.split(",") if m.strip()}
    if "all" in wanted:
        wanted = {"env", "volume", "ambassador"}
    found: list[str] = []
    annotations = pod.get("metadata", {}).get("annotations") or {}
    injected = {m.strip() for m in annotations.get("downward.io/injected", "").split(",")}
    for mode in sorted(wanted - injected):
        found.append(f"annotation downward.io/injected lacks {mode!r}")
    spec = pod.get("spec", {})
    app: dict[str, Any] = next(
        (c for c in spec.get("containers", []) if c.get("name") == "app"), {}
    )
    if "env" in wanted and not any(e.get("name") == POD_NAME_ENV for e in app.get("env") or []):
        found.append(f"container 'app' has no {POD_NAME_ENV} env var")
    if "volume" in wanted:
        if not any(v.get("name") == VOLUME_NAME for v in spec.get("volumes") or []):
            found.append(f"pod has no volume {VOLUME_NAME!r}")
        if not any(m.get("name") == VOLUME_NAME for m in app.get("volumeMounts") or []):
            found.append(f"container 'app' does not mount {VOLUME_NAME!r}")
    if "ambassador" in wanted:
        containers = spec.get("containers", []) + (spec.get("initContainers") or [])
        names = {c.get("name") for c in containers}
        if AMBASSADOR_NAME not in names:
            found.append(f"pod has no {AMBASSADOR_NAME!r} container")
    return found


def main(argv: list[str]) -> int:
    namespace, modes, release_namespace = argv
    if namespace == release_namespace:
        print(
            f"FAIL: tests.namespace is {namespace!r}, the release namespace, which the webhook "
            "excludes; set tests.namespace to a namespace the webhook serves"
        )
        return 1
    from kubernetes import client, config  # imported here so problems() is testable without it

    config.load_incluster_config()  # type: ignore[no-untyped-call]
    api: Any = client.CoreV1Api()  # with _preload_content=False it returns the raw response
    response = api.create_namespaced_pod(
        namespace, probe_pod(modes), dry_run="All", _preload_content=False
    )
    pod = json.loads(response.data)
    found = problems(pod, modes)
    for warning in response.headers.getlist("Warning"):
        print(f"warning from the API server: {warning}")
    if found:
        print(f"FAIL: pod dry-run created in {namespace!r} with downward.io/inject={modes!r}:")
        for problem in found:
            print(f"  - {problem}")
        return 1
    injected = pod["metadata"]["annotations"]["downward.io/injected"]
    print(f"OK: dry-run pod in {namespace!r} was injected with {injected!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
