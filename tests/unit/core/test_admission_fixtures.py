"""Request/response pairs for the admission handler: one folder per case under
tests/testdata/admission/.

Each folder has ``request.json`` (an AdmissionReview as the API server sends it), an optional
``flags.yaml`` (``strict``, ``namespace_default_inject``, and ``endpoint: namespace-default``
for ``/mutate/namespace-default``) and ``expected.response.json``: the AdmissionReview that
``webhook.core.admission.admit`` answers, the bytes the server's endpoint sends, decoded,
with ``response.patch`` base64-decoded to its JSON so that a diff reads. ``pytest
--update-golden`` rewrites the expected files. Adding a case is adding a folder.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.core.admission import Settings, admit

CASES_DIR = Path(__file__).resolve().parents[2] / "testdata" / "admission"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir())


def _flags(case: Path) -> dict[str, Any]:
    path = case / "flags.yaml"
    flags: dict[str, Any] = yaml.safe_load(path.read_text()) if path.exists() else {}
    assert set(flags) <= {"strict", "namespace_default_inject", "endpoint"}, flags
    return flags


def _readable(body: bytes) -> dict[str, Any]:
    """The response body, its patch decoded (strictly: the API server rejects bad base64)."""
    review: dict[str, Any] = json.loads(body)
    response = review.get("response", {})
    if "patch" in response:
        try:
            response["patch"] = json.loads(base64.b64decode(response["patch"], validate=True))
        except (binascii.Error, ValueError) as exc:
            pytest.fail(f"response.patch is not base64 of JSON: {exc}")
    return review


def test_there_are_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_admit_answers_the_request_with_the_expected_response(
    case: Path, request: pytest.FixtureRequest
) -> None:
    flags = _flags(case)
    settings = Settings(
        strict=flags.get("strict", False),
        namespace_default_inject=flags.get("namespace_default_inject", "env,volume"),
    )
    body, _request, _decision = admit(
        (case / "request.json").read_bytes(),
        settings,
        namespace_default=flags.get("endpoint") == "namespace-default",
    )
    got = _readable(body)
    expected_path = case / "expected.response.json"
    if request.config.getoption("--update-golden"):
        expected_path.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(expected_path.read_text())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_response_echoes_the_requests_uid_and_api_version(case: Path) -> None:
    sent = json.loads((case / "request.json").read_text())
    expected = json.loads((case / "expected.response.json").read_text())
    assert expected["apiVersion"] == sent["apiVersion"]
    assert expected["kind"] == "AdmissionReview"
    assert expected["response"]["uid"] == sent["request"]["uid"]
