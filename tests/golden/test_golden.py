"""Golden cases: one folder per case under tests/testdata/golden/.

Each folder has ``input.yaml`` (a pod as the API server presents it to a mutating webhook:
defaults applied, the ``kube-api-access-*`` volume mounted, ``generateName`` and no uid),
an optional ``flags.yaml`` (server settings and request fields), and the expected
``expected.patch.json`` and ``expected.warnings.txt`` (plus ``expected.denial.txt`` when the pod
is denied). ``pytest --update-golden`` rewrites the expected files. Every case also checks
that the patch applies with the real kubectl, that only adds, that the result passes
Kubernetes' schemas and validation rules, and that reviewing the result again gives ``[]``.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import jsonpatch
import jsonpointer
import pytest
import yaml

from tests.support.kube import (
    answer,
    kubectl_patch,
    schema_errors,
    validation_errors,
)
from tests.support.reviews import admission_review
from webhook.core.admission import Settings
from webhook.core.ambassador import AmbassadorSettings

CASES_DIR = Path(__file__).resolve().parents[1] / "testdata" / "golden"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir())


def _settings(flags: dict[str, Any]) -> Settings:
    ambassador = AmbassadorSettings(
        image=flags.get("ambassador_image", AmbassadorSettings().image),
        native_sidecar=flags.get("native_sidecar", True),
    )
    return Settings(
        strict=flags.get("strict", False),
        namespace_default_inject=flags.get("namespace_default_inject", "env,volume"),
        ambassador=ambassador,
        max_containers=flags.get("max_containers", Settings().max_containers),
    )


def _review(
    pod: dict[str, Any], flags: dict[str, Any], settings: Settings
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    request = admission_review(
        pod,
        operation=flags.get("operation", "CREATE"),
        api_version=flags.get("api_version", "admission.k8s.io/v1"),
        sub_resource=flags.get("sub_resource"),
    )
    review = answer(
        request, settings, namespace_default=flags.get("endpoint") == "namespace-default"
    )
    response = review["response"]
    assert review["apiVersion"] == request["apiVersion"]
    assert response["uid"] == request["request"]["uid"]
    patch = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    return dict(response), patch


def _assert_only_adds(pod: dict[str, Any], patch: list[dict[str, Any]]) -> None:
    """Every op is an ``add`` that creates something new (our status annotations included:
    an existing ``downward.io/injected`` or ``downward.io/warnings`` is never changed)."""
    doc = copy.deepcopy(pod)
    for op in patch:
        assert op["op"] == "add", op
        parent_path, _, last = op["path"].rpartition("/")
        parent = jsonpointer.resolve_pointer(doc, parent_path)
        if isinstance(parent, dict):
            assert jsonpointer.unescape(last) not in parent, op
        doc = jsonpatch.apply_patch(doc, [op])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Path, request: pytest.FixtureRequest) -> None:
    pod = yaml.safe_load((case / "input.yaml").read_text())
    flags_file = case / "flags.yaml"
    flags = yaml.safe_load(flags_file.read_text()) if flags_file.exists() else {}
    settings = _settings(flags)
    response, patch = _review(pod, flags, settings)
    warnings = response.get("warnings", [])
    denial = response.get("status", {}).get("message") if not response["allowed"] else None

    if request.config.getoption("--update-golden"):
        (case / "expected.patch.json").write_text(json.dumps(patch, indent=2) + "\n")
        (case / "expected.warnings.txt").write_text("".join(w + "\n" for w in warnings))
        if denial:
            (case / "expected.denial.txt").write_text(denial + "\n")

    assert patch == json.loads((case / "expected.patch.json").read_text())
    assert warnings == (case / "expected.warnings.txt").read_text().splitlines()
    denial_file = case / "expected.denial.txt"
    assert denial == (denial_file.read_text().strip() if denial_file.exists() else None)
    if denial:
        assert patch == []

    _assert_only_adds(pod, patch)
    mutated = kubectl_patch(pod, patch) if patch else pod
    assert schema_errors(mutated) == []
    assert validation_errors(mutated) == []
    _again, second = _review(mutated, flags, settings)
    assert second == [], "reviewing the mutated pod again must give an empty patch"
