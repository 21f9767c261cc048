"""Rendering the chart with the real `helm` binary, and helpers over the rendered documents.

Each scenario file in charts/downward-webhook/ci/ names the Kubernetes versions it is rendered
for on a `# kube-versions: 1.29 1.35` line; the chart's defaults are rendered for the versions
on both sides of every capability switch (1.27, 1.28, 1.29, 1.35).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "downward-webhook"
CI_DIR = CHART / "ci"
INSTALL_TOOLS = ROOT / "scripts" / "install-tools.sh"

RELEASE = "dw"
NAMESPACE = "downward-system"
DEFAULT_KUBE_VERSIONS = ("1.27", "1.28", "1.29", "1.35")
SCHEMA_VERSIONS = ("1.29", "1.35")

Doc = dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    """A values file (None: the chart's defaults) and the Kubernetes versions it targets."""

    name: str
    values_file: Path | None
    kube_versions: tuple[str, ...]

    def cases(self) -> list[tuple[Scenario, str]]:
        return [(self, version) for version in self.kube_versions]


def _kube_versions(path: Path) -> tuple[str, ...]:
    match = re.search(r"^# kube-versions:\s*(.+)$", path.read_text(), re.MULTILINE)
    assert match, f"{path.name} has no '# kube-versions: ...' line"
    return tuple(match.group(1).split())


def scenarios() -> list[Scenario]:
    found = [Scenario("defaults", None, DEFAULT_KUBE_VERSIONS)]
    for path in sorted(CI_DIR.glob("*-values.yaml")):
        found.append(Scenario(path.stem.removesuffix("-values"), path, _kube_versions(path)))
    return found


SCENARIOS = scenarios()
CASES = [case for scenario in SCENARIOS for case in scenario.cases()]
CASE_IDS = [f"{scenario.name}-k8s{version}" for scenario, version in CASES]


def helm_run(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=60, check=False)


def template_args(
    values_file: Path | None = None,
    kube_version: str | None = None,
    sets: tuple[str, ...] = (),
    namespace: str = NAMESPACE,
) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", namespace]
    if values_file is not None:
        args += ["--values", str(values_file)]
    if kube_version is not None:
        args += ["--kube-version", kube_version]
    for item in sets:
        args += ["--set", item]
    return args


@dataclass
class Renderer:
    """Renders the chart with `helm template`, once per distinct set of arguments."""

    helm: str
    _cache: dict[tuple[Any, ...], str] = field(default_factory=dict)

    def text(
        self,
        values_file: Path | None = None,
        kube_version: str | None = None,
        sets: tuple[str, ...] = (),
        namespace: str = NAMESPACE,
    ) -> str:
        key = (values_file, kube_version, sets, namespace)
        if key not in self._cache:
            result = helm_run(self.helm, *template_args(values_file, kube_version, sets, namespace))
            assert result.returncode == 0, f"helm template {key} failed:\n{result.stderr}"
            self._cache[key] = result.stdout
        return self._cache[key]

    def docs(self, *args: Any, **kwargs: Any) -> list[Doc]:
        return parse(self.text(*args, **kwargs))

    def scenario(self, scenario: Scenario, kube_version: str) -> list[Doc]:
        return self.docs(scenario.values_file, kube_version)


@cache
def parse(text: str) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


# ---- small helpers over rendered documents -------------------------------------------------


def kinds(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [doc for doc in kinds(docs, kind) if name is None or doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """Every pod spec in the render: Deployments, CronJobs and bare Pods (the test hook)."""
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Deployment":
            yield name, doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield name, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif doc["kind"] == "Pod":
            yield name, doc["spec"]


def containers(pod_spec: Doc) -> list[Doc]:
    return list(pod_spec.get("initContainers", [])) + list(pod_spec["containers"])


def server_container(docs: list[Doc]) -> Doc:
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    (container,) = [c for c in spec["containers"] if c["name"] == "webhook"]
    found: Doc = container
    return found


def server_args(docs: list[Doc]) -> list[str]:
    return list(server_container(docs)["args"])
