"""Every container argument the chart writes from a value is a quoted YAML string.

An unquoted `- --host={{ .Values.server.host }}` renders `- --host=::` for the IPv6 value
values.yaml documents, which YAML reads as a map (`{"--host=:": null}`), not a string; a value
holding ` #` would lose its tail to a comment. So every such item goes through `quote`.
"""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.chart.rendering import CHART, NAMESPACE, Renderer, containers, one, pod_specs

_BLOCK = re.compile(r"^(\s*)(args|command):\s*$")
_ITEM = re.compile(r"^\s*-\s+(.*)$")
_QUOTED = re.compile(r"^\{\{.*\|\s*(quote|toJson)\s*\}\}$")


def _unquoted_items(text: str) -> list[str]:
    """List items under `args:`/`command:` that interpolate a value without quoting it."""
    found: list[str] = []
    indent: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        block = _BLOCK.match(line)
        if block is not None:
            indent = len(block.group(1))
            continue
        if indent is None or not stripped or stripped.startswith(("{{", "#")):
            continue
        if len(line) - len(line.lstrip()) < indent or (
            len(line) - len(line.lstrip()) == indent and not stripped.startswith("-")
        ):
            indent = None
            continue
        item = _ITEM.match(line)
        if item is not None and "{{" in item.group(1) and not _QUOTED.match(item.group(1)):
            found.append(stripped)
    return found


def test_the_scan_finds_an_unquoted_value_argument() -> None:
    text = "args:\n  - serve\n  - --host={{ .Values.server.host }}\n  - {{ . | quote }}\n"
    assert _unquoted_items(text) == ["- --host={{ .Values.server.host }}"]


@pytest.mark.parametrize(
    "path",
    [*sorted((CHART / "templates").rglob("*.yaml")), CHART / "templates" / "_helpers.tpl"],
    ids=lambda p: str(p.relative_to(CHART)),
)
def test_every_argument_written_from_a_value_is_quoted(path: Path) -> None:
    assert _unquoted_items(path.read_text()) == []


HOSTILE = (
    "server.host=::",
    "ambassador.image=registry.example:5000/kubectl:v1 #pinned",
    "namespaceDefaults.enabled=true",
    "namespaceDefaults.inject=env\\, volume",
    "audit.enabled=true",
)


def test_values_yaml_would_misread_reach_the_containers_as_strings(chart: Renderer) -> None:
    docs = chart.docs(kube_version="1.35", sets=HOSTILE)
    args = {
        name: [arg for c in containers(spec) for arg in c.get("args", [])]
        for name, spec in pod_specs(docs)
    }
    server = args["Deployment/dw-downward-webhook"]
    assert "--host=::" in server
    assert "--ambassador-image=registry.example:5000/kubectl:v1 #pinned" in server
    assert "--namespace-default-inject=env, volume" in server
    audit = args["CronJob/dw-downward-webhook-audit"]
    assert "--namespace-default-inject=env, volume" in audit
    assert f"--exclude-namespace={NAMESPACE}" in audit
    for name, items in args.items():
        assert all(isinstance(item, str) for item in items), (name, items)


def test_the_ipv6_host_renders_a_valid_deployment(chart: Renderer) -> None:
    deployment = one(chart.docs(kube_version="1.35", sets=("server.host=::",)), "Deployment")
    kubernetes_validate.validate(deployment, "1.35", strict=True)
    (webhook,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--host=::" in webhook["args"]
