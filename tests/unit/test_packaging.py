"""Packaging, locks, image recipe and release workflow, checked from the files themselves.

No Docker engine exists where these tests run, so the image has never been built here: the
Dockerfile's properties (hash-checked install from the lock, numeric non-root user, exec-form
entrypoint, nothing but the venv in the runtime stage) are checked by reading it. The release
workflow is parsed as YAML and its version and image steps are run as the shell would run them.
The chart is rendered with the real `helm` (scripts/install-tools.sh).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

import webhook
from tests.support.kube import tools_dir

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
VERSION = PROJECT["version"]
CHART = ROOT / "charts" / "downward-webhook"
LOCKS = ROOT / "requirements"
DOCKERFILE = (ROOT / "Dockerfile").read_text()
WORKFLOWS = ROOT / ".github" / "workflows"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_version", ROOT / "scripts/version.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VERSION_SCRIPT = load_script()


# ---- one version source ---------------------------------------------------------------------


def test_chart_version_fields_follow_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert (chart["version"], chart["appVersion"]) == (VERSION, VERSION)


def test_chart_defaults_its_image_to_the_released_name_and_version() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["image"]["tag"] == ""  # so the tag is the chart's appVersion
    helm = str(tools_dir() / "helm")
    out = subprocess.run(
        [helm, "template", "dw", str(CHART), "--namespace", "downward-system"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    images = set(re.findall(r"^\s+image: \"?(\S+?)\"?$", out, flags=re.MULTILINE))
    ours = {image for image in images if "downward-webhook" in image}
    assert ours == {f"{VERSION_SCRIPT.image_name('downward-io')}:{VERSION}"}
    assert VERSION_SCRIPT.chart_image_repository() == values["image"]["repository"]


def test_tag_check_accepts_only_v_plus_the_package_version() -> None:
    assert VERSION_SCRIPT.check_tag(f"v{VERSION}") is None
    for tag in (VERSION, f"v{VERSION}.1", "v0.0.0-rc1", f"v{VERSION} "):
        problem = VERSION_SCRIPT.check_tag(tag)
        assert problem is not None and f"v{VERSION}" in problem and "\n" not in problem


def test_sync_chart_rewrites_only_the_two_version_fields(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    chart = tmp_path / "charts" / "downward-webhook" / "Chart.yaml"
    chart.parent.mkdir(parents=True)
    original = (CHART / "Chart.yaml").read_text()
    chart.write_text(original.replace(f"version: {VERSION}", "version: 9.9.9", 1))
    chart.write_text(chart.read_text().replace(f'appVersion: "{VERSION}"', 'appVersion: "9.9"'))
    assert VERSION_SCRIPT.sync_chart(tmp_path) is True
    assert chart.read_text() == original
    assert VERSION_SCRIPT.sync_chart(tmp_path) is False


def test_image_check_names_both_images_when_they_differ() -> None:
    assert VERSION_SCRIPT.check_image("Downward-IO") is None  # ghcr.io names are lowercase
    problem = VERSION_SCRIPT.check_image("someone-else")
    assert problem is not None and "ghcr.io/someone-else/downward-webhook" in problem


# ---- package metadata -----------------------------------------------------------------------


def test_metadata_uses_the_spdx_license_form() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    (backend,) = PYPROJECT["build-system"]["requires"]
    requirement = Requirement(backend)
    assert requirement.name == "setuptools"
    assert not requirement.specifier.contains("76.9"), "license-files needs setuptools >= 77"


def test_installed_distribution_is_this_checkout() -> None:
    meta = importlib.metadata.metadata("downward-webhook")
    assert meta["Version"] == VERSION
    assert meta["License-Expression"] == "Apache-2.0"
    # The tests import the checkout (pytest runs from the repository), not a stale copy.
    assert Path(webhook.__file__).resolve().is_relative_to(ROOT)


# ---- locks ----------------------------------------------------------------------------------


def lock_pins(name: str) -> dict[str, set[str]]:
    """Package -> pinned versions (a universal lock may pin two, split by markers)."""
    text = (LOCKS / name).read_text()
    pins: dict[str, set[str]] = {}
    for match in re.finditer(r"^([A-Za-z0-9][\w.-]*)==(\S+)", text, flags=re.MULTILINE):
        pins.setdefault(canonicalize_name(match.group(1)), set()).add(match.group(2))
    return pins


def requirement_blocks(name: str) -> list[str]:
    text = (LOCKS / name).read_text()
    return re.findall(r"^[A-Za-z0-9].*?(?=^[A-Za-z0-9]|\Z)", text, flags=re.M | re.S)


def ranges(requirements: list[str]) -> dict[str, SpecifierSet]:
    return {canonicalize_name(r.name): r.specifier for r in map(Requirement, requirements)}


LOCK_NAMES = ("test.lock", "runtime.lock", "build.lock", "bench.lock")


@pytest.mark.parametrize("name", LOCK_NAMES)
def test_every_locked_file_has_a_hash(name: str) -> None:
    blocks = requirement_blocks(name)
    assert blocks, f"{name} pins nothing"
    for block in blocks:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), block.splitlines()[0]


@pytest.mark.parametrize(
    ("name", "groups"),
    [("runtime.lock", ("runtime",)), ("test.lock", ("runtime", "test")), ("build.lock", ())],
)
def test_lock_pins_what_pyproject_allows(name: str, groups: tuple[str, ...]) -> None:
    """A stale lock (a range changed, scripts/lock.sh not run) fails here."""
    wanted: dict[str, SpecifierSet] = {}
    if "runtime" in groups:
        wanted |= ranges(PROJECT["dependencies"])
    if "test" in groups:
        wanted |= ranges(PROJECT["optional-dependencies"]["test"])
    if name != "runtime.lock":
        wanted |= ranges(PYPROJECT["build-system"]["requires"])
    pins = lock_pins(name)
    for package, specifier in wanted.items():
        assert package in pins, f"{name} lacks {package}"
        for version in pins[package]:
            assert specifier.contains(Version(version)), f"{name}: {package}=={version}"


@pytest.mark.parametrize("name", ["runtime.lock", "build.lock", "bench.lock"])
def test_each_lock_pins_the_versions_the_tests_ran(name: str) -> None:
    tested = lock_pins("test.lock")
    for package, versions in lock_pins(name).items():
        if package in tested:
            assert versions == tested[package], package


def test_lock_tool_is_pinned() -> None:
    script = (ROOT / "scripts" / "lock.sh").read_text()
    assert re.search(r'^uv_version="\d+\.\d+\.\d+"$', script, flags=re.MULTILINE)
    assert '"uv==$uv_version"' in script and "--generate-hashes" in script
    for name in LOCK_NAMES:  # written by that script, which says how to refresh it
        assert "#    scripts/lock.sh\n" in (LOCKS / name).read_text(), name


# ---- scripts that install -------------------------------------------------------------------


def test_test_script_installs_the_lock_and_checks_the_layering() -> None:
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert "--require-hashes -r requirements/test.lock" in script
    assert "--no-deps --no-build-isolation ." in script
    assert re.search(r"mypy\n.*lint-imports\b", script), "lint-imports runs after mypy"
    assert "./scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    assert "import-linter" in ranges(PROJECT["optional-dependencies"]["test"])


@pytest.mark.parametrize("path", ["scripts/dev-serve.sh", "bench/run.sh"])
def test_other_entry_points_install_from_a_lock(path: str) -> None:
    script = (ROOT / path).read_text()
    installs = re.findall(r"pip install (.+)", script)
    assert installs, path
    for line in installs:
        assert "--require-hashes -r" in line or "--no-deps --no-build-isolation" in line, line


# ---- Dockerfile -----------------------------------------------------------------------------


def instructions(stage: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a stage, continuation lines joined, comments dropped."""
    lines = [line for line in stage.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = re.findall(r"^([A-Z]+)\s+(.*)$", joined, flags=re.MULTILINE)
    return [(name, args.strip()) for name, args in found]


def stages() -> dict[str, list[tuple[str, str]]]:
    parts = re.split(r"^(?=FROM\s)", DOCKERFILE, flags=re.MULTILINE)[1:]
    named = {}
    for part in parts:
        (alias,) = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", part)
        named[alias] = instructions(part)
    return named


def test_builder_installs_the_runtime_lock_with_hashes_and_the_package_without_deps() -> None:
    runs = " ".join(args for name, args in stages()["builder"] if name == "RUN")
    assert "pip install --require-hashes -r requirements/runtime.lock" in runs
    assert "pip install --require-hashes -r requirements/build.lock" in runs
    assert "--no-build-isolation" in runs
    assert re.search(r"/opt/venv/bin/pip install --no-deps \S+\.whl", runs)
    env = " ".join(args for name, args in stages()["builder"] if name == "ENV")
    assert "PIP_NO_CACHE_DIR=1" in env


def test_runtime_stage_is_the_venv_a_numeric_user_and_an_exec_form_entrypoint() -> None:
    runtime = stages()["runtime"]
    assert list(stages())[-1] == "runtime", "the runtime stage is the image"
    assert [args for name, args in runtime if name == "COPY"] == [
        "--from=builder /opt/venv /opt/venv"  # no /opt/build, no pip cache, no sources
    ]
    assert not [name for name, _ in runtime if name == "RUN"]
    (user,) = [args for name, args in runtime if name == "USER"]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), user
    for keyword in ("ENTRYPOINT", "CMD"):
        (args,) = [a for name, a in runtime if name == keyword]
        form = json.loads(args)  # the exec form is a JSON array; the shell form is not
        assert isinstance(form, list) and all(isinstance(item, str) for item in form)
    assert json.loads(next(a for n, a in runtime if n == "ENTRYPOINT")) == ["downward-webhook"]


def test_dockerignore_lets_the_locks_and_license_in() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    for name in ("requirements/runtime.lock", "requirements/build.lock", "LICENSE"):
        assert f"!{name}" in lines, name
        assert name in DOCKERFILE


# ---- workflows ------------------------------------------------------------------------------


def workflow(name: str) -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads a bare `on` key as True
    return doc


def step(job: dict[str, Any], text: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = job["steps"]
    (found,) = [s for s in steps if text in s.get("run", "") or text in s.get("uses", "")]
    return found


def bash(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a workflow step's script as the runner would (bash -e -o pipefail)."""
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_release_runs_on_version_tags_with_least_privilege() -> None:
    release = workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["permissions"] == {"contents": "read"}
    jobs = release["jobs"]
    assert "permissions" not in jobs["test"]
    for name in ("image", "chart"):
        assert jobs[name]["permissions"] == {"contents": "read", "packages": "write"}
    assert (jobs["image"]["needs"], jobs["chart"]["needs"]) == ("test", "image")


def test_release_refuses_a_tag_that_is_not_the_package_version() -> None:
    test = workflow("release.yml")["jobs"]["test"]
    check = step(test, "check-tag")
    runs = [s.get("run", "") for s in test["steps"]]
    assert runs.index(check["run"]) < runs.index(step(test, "scripts/test.sh")["run"])
    assert bash(check["run"], GITHUB_REF_NAME=f"v{VERSION}").returncode == 0
    refused = bash(check["run"], GITHUB_REF_NAME="v99.0.0")
    assert refused.returncode == 1 and "v99.0.0" in refused.stderr
    image_check = step(test, "check-image")
    assert bash(image_check["run"], GITHUB_REPOSITORY_OWNER="fork").returncode == 1


def test_release_pushes_both_platforms_under_the_charts_default_name(tmp_path: Path) -> None:
    image = workflow("release.yml")["jobs"]["image"]
    meta = step(image, "version.py image")
    out = tmp_path / "github-output"
    ran = bash(meta["run"], GITHUB_OUTPUT=str(out), GITHUB_REPOSITORY_OWNER="downward-io")
    assert ran.returncode == 0, ran.stderr
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert outputs == {"image": values["image"]["repository"], "version": VERSION}
    build = step(image, "docker/build-push-action")["with"]
    assert set(build["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["push"] is True
    assert build["tags"] == f"${{{{ steps.{meta['id']}.outputs.image }}}}:" + (
        f"${{{{ steps.{meta['id']}.outputs.version }}}}"
    )
    assert step(image, "docker/setup-buildx-action")


def test_release_packages_the_chart_and_pushes_it_beside_the_image() -> None:
    chart = workflow("release.yml")["jobs"]["chart"]
    assert "version.py sync-chart" in step(chart, "sync-chart")["run"]
    package = step(chart, "helm package")["run"]
    assert "--app-version" in package and "--version" in package
    push = step(chart, "helm push")["run"]
    assert 'oci://ghcr.io/${GITHUB_REPOSITORY_OWNER,,}/charts"' in push
    assert "--password-stdin" in push


def test_ci_workflow_runs_the_ci_entry_point_on_pushes_and_pull_requests() -> None:
    ci = workflow("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    assert ci["permissions"] == {"contents": "read"}
    (job,) = ci["jobs"].values()
    assert step(job, ".ci/run")
