"""The container image recipe and the `helm test` check script that runs in it."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.chart.rendering import CHART, NAMESPACE, ROOT, Renderer, one

DOCKERFILE = (ROOT / "Dockerfile").read_text()
SCRIPT = CHART / "files" / "check_injection.py"


def stages(text: str) -> list[str]:
    """The Dockerfile split at each FROM (comments and the preamble dropped)."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return re.split(r"^FROM\s", body, flags=re.MULTILINE)[1:]


def test_dockerfile_builds_a_venv_and_ships_only_that() -> None:
    builder, runtime = stages(DOCKERFILE)
    assert re.match(r"\S+-slim\S* AS builder", builder)
    assert "venv /opt/venv" in builder
    assert re.match(r"\S+-slim\S* AS runtime", runtime)
    copies = re.findall(r"^COPY\s+(.+)$", runtime, flags=re.MULTILINE)
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    assert not re.search(r"^RUN\s", runtime, flags=re.MULTILINE), "runtime stage runs commands"


def test_image_runs_as_a_numeric_non_root_user() -> None:
    _, runtime = stages(DOCKERFILE)
    (user,) = re.findall(r"^USER\s+(\S+)$", runtime, flags=re.MULTILINE)
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0
    assert gid == "" or (gid.isdigit() and int(gid) > 0)


def test_image_never_writes_bytecode_at_run_time() -> None:
    _, runtime = stages(DOCKERFILE)
    assert "PYTHONDONTWRITEBYTECODE=1" in runtime
    assert 'ENTRYPOINT ["downward-webhook"]' in runtime


def test_dockerignore_sends_only_the_package_to_the_build() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!webhook/"} <= set(lines)
    for source in re.findall(r"^COPY\s+(?!--from)(.+)\s+\S+$", DOCKERFILE, flags=re.MULTILINE):
        for name in source.split():
            assert f"!{name.rstrip('/')}" in {line.rstrip("/") for line in lines}, name


# ---- the helm test script ------------------------------------------------------------------


@pytest.fixture(scope="module")
def check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_injection", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # No __pycache__ inside the chart folder (it would be packaged with the chart).
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    try:
        spec.loader.exec_module(module)
    finally:
        monkeypatch.undo()
    return module


def injected_pod(modes: str) -> dict[str, object]:
    return {
        "metadata": {"annotations": {"downward.io/inject": modes, "downward.io/injected": modes}},
        "spec": {
            "initContainers": [{"name": "downward-ambassador", "restartPolicy": "Always"}],
            "containers": [
                {
                    "name": "app",
                    "env": [{"name": "POD_NAME"}],
                    "volumeMounts": [{"name": "downward-podinfo"}],
                }
            ],
            "volumes": [{"name": "downward-podinfo"}],
        },
    }


def test_check_accepts_an_injected_pod(check: ModuleType) -> None:
    assert check.problems(injected_pod("env,volume,ambassador"), "env,volume,ambassador") == []
    assert check.problems(injected_pod("env,volume,ambassador"), "all") == []


def test_check_reports_what_the_webhook_did_not_inject(check: ModuleType) -> None:
    pod = check.probe_pod("env,volume")
    found = check.problems(pod, "env,volume")
    assert any("downward.io/injected" in p for p in found)
    assert any("POD_NAME" in p for p in found)
    assert any("downward-podinfo" in p for p in found)


def test_check_refuses_the_excluded_release_namespace(
    check: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check.main([NAMESPACE, "env", NAMESPACE]) == 1
    assert "excludes" in capsys.readouterr().out


def test_probe_pod_meets_the_restricted_profile(check: ModuleType) -> None:
    pod = check.probe_pod("env")
    assert pod["metadata"]["annotations"] == {"downward.io/inject": "env"}
    assert "name" not in pod["metadata"]  # generateName, like workload pods
    (container,) = pod["spec"]["containers"]
    context = container["securityContext"]
    assert context["runAsNonRoot"] and not context["allowPrivilegeEscalation"]
    assert context["capabilities"] == {"drop": ["ALL"]}


def test_test_pod_runs_the_script_against_the_test_namespace(chart: Renderer) -> None:
    docs = chart.docs(sets=("tests.namespace=apps", "tests.inject=env"))
    pod = one([d for d in docs if d["metadata"].get("annotations")], "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-c", SCRIPT.read_text(), "apps", "env", NAMESPACE]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["metadata"]["namespace"] == NAMESPACE


def test_script_is_plain_python_with_no_dependency_at_import(check: ModuleType) -> None:
    assert "kubernetes" not in vars(check)
    assert Path(check.__file__ or "").name == "check_injection.py"
