"""``parse_review``: its one-pass path answers exactly as the careful path would.

The hot path decodes a body in one pass, the object as a Pod, and hands anything unusual to
``_parse_review`` (envelope first, then the object). Both must agree on every body: the same
``Request``, or the same one-line ``BadReview``. Bodies here are golden pods' reviews with one
value at a time replaced by a value of each other JSON type.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.reviews import admission_review
from webhook.core.review import BadReview, Request, _parse_review, parse_review

GOLDEN = Path(__file__).resolve().parents[2] / "testdata" / "golden"
PODS = {case.name: yaml.safe_load((case / "input.yaml").read_text()) for case in GOLDEN.iterdir()}
REPLACEMENTS: list[Any] = [None, 0, 1.5, True, "", "x", [], [{}], {}, {"name": "x"}]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))


def _replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def _outcome(parse: Any, body: bytes) -> Request | str:
    try:
        result: Request = parse(body)
        return result
    except BadReview as exc:
        return f"{type(exc).__name__}: {exc}"


def _bodies(pod: dict[str, Any]) -> Iterator[bytes]:
    for review in (
        admission_review(pod),
        admission_review(pod, operation="UPDATE"),
        admission_review(pod, sub_resource="ephemeralcontainers"),
        admission_review(pod, api_version="admission.k8s.io/v1beta1"),
    ):
        for path in _paths(review):
            if path[:2] == ("request", "userInfo") or path[:2] == ("request", "options"):
                continue  # not read: any value is skipped alike
            for value in REPLACEMENTS:
                yield json.dumps(_replaced(review, path, value)).encode()


@pytest.mark.parametrize("case", sorted(PODS)[::3])
def test_one_pass_and_careful_paths_agree(case: str) -> None:
    seen = 0
    for body in _bodies(PODS[case]):
        assert _outcome(parse_review, body) == _outcome(_parse_review, body), body[:300]
        seen += 1
    assert seen > 1000


def test_a_pod_review_takes_the_one_pass_path(monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps(admission_review(PODS["all-modes"])).encode()

    def refuse(_: bytes) -> Request:
        raise AssertionError("the careful path was taken")

    monkeypatch.setattr("webhook.core.review._parse_review", refuse)
    request = parse_review(body)
    assert request.pod is not None and request.pod.spec.containers


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is not JSON: Input data was truncated"),
        (b'{"kind": "\xff"}', "body is not JSON: a string is not UTF-8"),
        (b'{"deep": ' + b"[" * 3000 + b"]" * 3000 + b"}", "JSON nested too deeply to decode"),
        (b'{"apiVersion": 1}', "Expected `str`, got `int` - at `apiVersion`"),
        (
            json.dumps(admission_review({"spec": {"containers": [{"name": "a", "env": {}}]}})),
            "Expected `array | null`, got `object` - at `request.object.spec.containers[0].env`",
        ),
        (
            json.dumps(admission_review({"metadata": {"annotations": {"a": 1}}, "spec": {}})),
            'Expected `str`, got `int` - at `request.object.metadata.annotations["a"]`',
        ),
        (json.dumps(admission_review({"spec": None})), "got `null` - at `request.object.spec`"),
    ],
)
def test_bad_bodies_are_named_in_one_line(body: bytes | str, message: str) -> None:
    raw = body.encode() if isinstance(body, str) else body
    with pytest.raises(BadReview) as caught:
        parse_review(raw)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_reviews_of_other_objects_are_not_pods() -> None:
    review = admission_review({"spec": {"containers": [{"name": "a"}]}})
    review["request"]["resource"] = {"group": "apps", "version": "v1", "resource": "deployments"}
    review["request"]["object"] = {"kind": "Deployment", "spec": {"replicas": "three"}}
    request = parse_review(json.dumps(review).encode())
    assert request.pod is None and request.uid == review["request"]["uid"]
