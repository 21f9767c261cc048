"""Kubernetes' name rules (``webhook.core.validation``), the Windows check and the bounds."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.core.bounds import capped, over_annotation_bounds
from webhook.core.review import pod_from_object
from webhook.core.validation import is_dns1123_label, is_env_name, is_env_prefix
from webhook.core.windows import selects_windows


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("POD_NAME", True),
        ("my.env-name", True),
        (".POD_NAME", True),
        ("-x", True),
        (".", False),
        ("..", False),
        ("..POD_NAME", False),
        ("1POD", False),
        ("A B", False),
        ("", False),
        ("é", False),
    ],
)
def test_env_names_follow_the_strict_kubernetes_rule(name: str, valid: bool) -> None:
    assert is_env_name(name) is valid


@pytest.mark.parametrize(
    ("prefix", "valid"),
    [
        ("", True),
        ("APP_", True),
        (".", True),
        ("my.", True),
        ("..", False),
        ("..app_", False),
        ("1", False),
        ("A" * 64, True),
        ("A" * 65, False),
        ("a=b", False),
    ],
)
def test_a_prefix_is_valid_only_when_every_name_it_makes_is(prefix: str, valid: bool) -> None:
    assert is_env_prefix(prefix) is valid
    for base in ("POD_NAME", "LABEL_APP_KUBERNETES_IO_NAME", "KUBERNETES_API_URL"):
        assert is_env_name(prefix + base) is valid or len(prefix) > 64


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("app", True),
        ("a-b", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("App", False),
        ("-a", False),
        ("a_b", False),
        ("a.b", False),
    ],
)
def test_container_names_are_dns1123_labels(name: str, valid: bool) -> None:
    assert is_dns1123_label(name) is valid


def _spec(**spec: Any) -> Any:
    return pod_from_object({"spec": {"containers": [{"name": "app"}], **spec}}).spec


def _affinity(*terms: list[tuple[str, str, list[str]]]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": k, "operator": o, "values": v} for k, o, v in t]}
                    for t in terms
                ]
            }
        }
    }


OS = "kubernetes.io/os"


@pytest.mark.parametrize(
    ("spec", "windows"),
    [
        ({}, False),
        ({"os": {"name": "windows"}}, True),
        ({"os": {"name": "linux"}}, False),
        ({"nodeSelector": {OS: "windows", "disk": "ssd"}}, True),
        ({"nodeSelector": {OS: "linux"}}, False),
        ({"affinity": _affinity([(OS, "In", ["windows"])])}, True),
        ({"affinity": _affinity([(OS, "In", ["linux"])], [(OS, "In", ["windows"])])}, True),
        ({"affinity": _affinity([(OS, "In", ["linux", "windows"])])}, True),
        ({"affinity": _affinity([(OS, "NotIn", ["linux"])])}, True),
        ({"affinity": _affinity([(OS, "NotIn", ["windows"])])}, False),
        ({"affinity": _affinity([(OS, "Exists", [])])}, False),
        ({"affinity": _affinity([("other", "In", ["windows"])])}, False),
    ],
)
def test_windows_is_declared_or_selected_by_any_required_term(
    spec: dict[str, Any], windows: bool
) -> None:
    assert (selects_windows(_spec(**spec)) is not None) is windows


def test_capped_keeps_twenty_lines_then_says_how_many_more() -> None:
    assert capped(["x"] * 20) == ["x"] * 20
    assert capped([str(i) for i in range(23)]) == [*map(str, range(20)), "and 3 more"]


def test_annotations_over_the_count_or_kubernetes_size_stop_injection() -> None:
    assert over_annotation_bounds({"downward.io/inject": "env"}) is None
    many = over_annotation_bounds({f"k{i}": "" for i in range(1025)})
    assert many is not None and many.reason.code == "too-many-annotations"
    large = over_annotation_bounds({"k": "x" * (256 * 1024)})
    assert large is not None and large.reason.code == "annotations-too-large"
