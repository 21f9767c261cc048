"""Real Kubernetes parts for tests: kubectl's JSON Patch, the OpenAPI schemas, and the rules.

``kubectl patch --local --type=json`` applies a patch with evanphx/json-patch, the library the
API server uses for webhook patches. ``kubernetes-validate`` checks objects against the
published OpenAPI schemas (strict: no unknown fields). ``validation_errors`` re-states the
checks of kubernetes/pkg/apis/core/validation/validation.go that concern what we inject and
that a schema cannot express (uniqueness, allowed fieldPaths per context, divisors, modes).
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate

from webhook.core.admission import Settings, admit

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_VERSIONS = ("1.29", "1.35")


@functools.cache
def tools_dir() -> Path:
    """Directory with the real helm and kubectl (installed by scripts/install-tools.sh)."""
    out = subprocess.run(
        [str(ROOT / "scripts" / "install-tools.sh")], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def kubectl() -> str:
    return str(tools_dir() / "kubectl")


def kubectl_patch(obj: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply ``patch`` to ``obj`` with the real kubectl (the API server's JSON Patch library)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, ops = Path(tmp, "obj.json"), Path(tmp, "patch.json")
        src.write_text(json.dumps(obj))
        ops.write_text(json.dumps(patch))
        out = subprocess.run(
            [
                kubectl(),
                "patch",
                "--local",
                "-f",
                str(src),
                "--type=json",
                "--patch-file",
                str(ops),
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "KUBECONFIG": "/dev/null"},
        )
    if out.returncode != 0:
        raise AssertionError(f"kubectl patch failed: {out.stderr.strip()}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """Strict OpenAPI validation against every Kubernetes version we support."""
    errors = []
    for version in SCHEMA_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{version}: {exc.message} at {list(exc.path)}")
    return errors


# --- validation.go rules for what we inject ------------------------------------------------

_ENV_FIELDS = {
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
}
_VOLUME_FIELDS = {
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels",
    "metadata.annotations",
}
_SUBSCRIPTED = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")
_RESOURCES = {
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
}
_CPU_DIVISORS = {"1m", "1"}
_MEMORY_DIVISORS = {
    "1",
    "1k",
    "1M",
    "1G",
    "1T",
    "1P",
    "1E",
    "1Ki",
    "1Mi",
    "1Gi",
    "1Ti",
    "1Pi",
    "1Ei",
}
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def _divisor_ok(resource: str, divisor: str | None) -> bool:
    allowed = _CPU_DIVISORS if resource.endswith("cpu") else _MEMORY_DIVISORS
    return divisor is None or divisor in allowed


def _field_ok(path: str, allowed: set[str]) -> bool:
    return path in allowed or bool(_SUBSCRIPTED.fullmatch(path))


def _container_errors(c: dict[str, Any], where: str, volumes: set[str]) -> list[str]:
    errors = []
    names = [e["name"] for e in c.get("env", [])]
    for name in names:
        if not _ENV_NAME.fullmatch(name):
            errors.append(f"{where}: env name {name!r} is not a valid C identifier")
        if name in (".", "..") or name.startswith(".."):  # hasChDirPrefix
            errors.append(f"{where}: env name {name!r} must not be '.' or '..' or start with '..'")
    for e in c.get("env", []):
        ref = e.get("valueFrom") or {}
        if "fieldRef" in ref and not _field_ok(ref["fieldRef"]["fieldPath"], _ENV_FIELDS):
            errors.append(f"{where}: env {e['name']}: fieldPath not allowed in env")
        r = ref.get("resourceFieldRef")
        if r and (
            r["resource"] not in _RESOURCES or not _divisor_ok(r["resource"], r.get("divisor"))
        ):
            errors.append(f"{where}: env {e['name']}: bad resource or divisor")
    paths = [posixpath.normpath(m["mountPath"]) for m in c.get("volumeMounts", [])]
    if len(paths) != len(set(paths)):
        errors.append(f"{where}: mountPath must be unique: {paths}")
    for m in c.get("volumeMounts", []):
        if m["name"] not in volumes:
            errors.append(f"{where}: mount of unknown volume {m['name']!r}")
    return errors


def _downward_volume_errors(v: dict[str, Any], containers: set[str]) -> list[str]:
    errors = []
    api = v["downwardAPI"]
    mode = api.get("defaultMode", 0o644)
    if not 0 <= mode <= 0o777:
        errors.append(f"volume {v['name']}: defaultMode {mode} out of 0-0777")
    paths = [i["path"] for i in api.get("items", [])]
    if len(paths) != len(set(paths)):
        errors.append(f"volume {v['name']}: item paths must be unique")
    for item in api.get("items", []):
        p = item["path"]
        if p.startswith("/") or ".." in p.split("/"):
            errors.append(f"volume {v['name']}: bad item path {p!r}")
        if "fieldRef" in item and not _field_ok(item["fieldRef"]["fieldPath"], _VOLUME_FIELDS):
            errors.append(f"volume {v['name']}: {p}: fieldPath not allowed in a volume")
        r = item.get("resourceFieldRef")
        if r is not None:
            if not r.get("containerName"):
                errors.append(f"volume {v['name']}: {p}: containerName is required")
            elif r["containerName"] not in containers:
                errors.append(f"volume {v['name']}: {p}: no container {r['containerName']!r}")
            if r["resource"] not in _RESOURCES or not _divisor_ok(r["resource"], r.get("divisor")):
                errors.append(f"volume {v['name']}: {p}: bad resource or divisor")
    return errors


def validation_errors(pod: dict[str, Any]) -> list[str]:
    """The validation.go checks (see module docstring) that ``pod`` fails; [] if none."""
    spec = pod["spec"]
    errors: list[str] = []
    volume_names = [v["name"] for v in spec.get("volumes", [])]
    if len(volume_names) != len(set(volume_names)):
        errors.append(f"volume names must be unique: {volume_names}")
    everyone = [*spec["containers"], *spec.get("initContainers", [])]
    names = [c["name"] for c in everyone]
    if len(names) != len(set(names)):
        errors.append(f"container names must be unique: {names}")
    for field in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(field, [])):
            errors += _container_errors(c, f"{field}[{i}]", set(volume_names))
            if c.get("restartPolicy") not in (None, "Always") or (
                field == "containers" and "restartPolicy" in c
            ):
                errors.append(f"{field}[{i}]: restartPolicy only allowed on init containers")
    for v in spec.get("volumes", []):
        if "downwardAPI" in v:
            errors += _downward_volume_errors(v, set(names))
    if spec.get("os", {}).get("name") == "windows":
        errors += _windows_errors(everyone)
    return errors


#: validateWindows: securityContext fields a pod with ``spec.os.name: windows`` may not set.
_NOT_ON_WINDOWS = (
    "runAsUser",
    "runAsGroup",
    "seccompProfile",
    "capabilities",
    "seLinuxOptions",
    "procMount",
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
    "privileged",
)


def _windows_errors(containers: list[dict[str, Any]]) -> list[str]:
    return [
        f"container {c['name']}: securityContext.{field} is forbidden on Windows pods"
        for c in containers
        for field in _NOT_ON_WINDOWS
        if field in (c.get("securityContext") or {})
    ]


def minimal_pod(inject: str) -> dict[str, Any]:
    """A one-container ``generateName`` pod asking for ``inject`` (load and fault tests)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-",
            "namespace": "team-a",
            "annotations": {"downward.io/inject": inject},
        },
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    }


def answer(review: dict[str, Any], settings: Settings, *, namespace_default: bool = False) -> Any:
    """The webhook core's answer to ``review``, through the wire format both ways."""
    body, _request, _decision = admit(
        json.dumps(review).encode(), settings, namespace_default=namespace_default
    )
    return json.loads(body)
