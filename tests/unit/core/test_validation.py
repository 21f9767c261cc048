"""Kubernetes' name rules (``webhook.core.validation``), the Windows check and the bounds."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.core.bounds import capped, over_annotation_bounds
from webhook.core.review import pod_from_object
from webhook.core.validation import (
    is_dns1035_label,
    is_dns1123_label,
    is_env_name,
    is_env_prefix,
)
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


@pytest.mark.parametrize(
    ("name", "valid"),
    [("web", True), ("w-1", True), ("a" * 63, True), ("a" * 64, False), ("1st", False)],
)
def test_service_names_are_dns1035_labels_a_letter_first(name: str, valid: bool) -> None:
    assert is_dns1035_label(name) is valid
    assert is_dns1123_label(name) is (valid or name == "1st")


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


def _raw_pod(annotations_json: bytes) -> Any:
    import msgspec

    return msgspec.Raw(b'{"metadata":{"annotations":' + annotations_json + b'},"spec":{}}')


@pytest.mark.parametrize(
    "key",
    [
        "k{i}",  # plain keys: counted by their closing quote
        "k\\\\{i}",  # an escaped backslash inside the key: the regex path
        "k{i}\\\\",  # a key ending in an escaped backslash: its closing quote is real
    ],
)
def test_crowded_annotations_counts_keys_without_building_the_map(key: str) -> None:
    from webhook.core.bounds import crowded_annotations

    entries = ",".join(f'"{key.format(i=i)}":"v\\":x"' for i in range(2000))
    raw = ('{"downward.io/inject":"env",' + entries + "}").encode()
    found = crowded_annotations(_raw_pod(raw))
    assert found is not None
    ours, count = found
    assert count == 2001 and ours.inject == "env" and ours.injected is None


def test_a_few_annotations_with_quotes_and_colons_in_values_are_not_crowded() -> None:
    from webhook.core.bounds import crowded_annotations

    value = '\\":' * 5000  # 5,000 escaped quotes followed by a colon, inside one value
    raw = ('{"downward.io/inject":"env","a":"' + value + '"}').encode()
    assert crowded_annotations(_raw_pod(raw)) is None
    spaced = ",".join(f'"k{i}" : ""' for i in range(2000)).encode()  # never counted high
    assert crowded_annotations(_raw_pod(b"{" + spaced + b"}")) is None


def test_a_crowded_pod_gets_the_same_answer_from_the_probe_as_from_the_usual_path() -> None:
    import json

    from tests.support.reviews import admission_review
    from webhook.core.admission import Settings, admit, mutate

    annotations = {"downward.io/inject": "env", **{f"k{i}": "x" * 40 for i in range(3000)}}
    pod = {
        "metadata": {"generateName": "w-", "annotations": annotations},
        "spec": {"containers": [{"name": "app"}]},
    }
    body = json.dumps(admission_review(pod)).encode()
    assert len(body) > 64 * 1024  # the probe's path
    _response, _request, probed = admit(body, Settings())
    usual = mutate(pod_from_object(pod), Settings())
    assert probed.warnings == usual.warnings
    assert probed.warnings[0].startswith("the pod has 3001 annotations, over the limit of 1024")
    assert probed.patch.operations == usual.patch.operations


def test_every_volume_and_container_name_we_add_is_a_dns1123_label() -> None:
    from webhook.core import ambassador
    from webhook.core.volume import VOLUME_NAME

    for name in (
        VOLUME_NAME,
        ambassador.CONTAINER_NAME,
        ambassador.TMP_VOLUME,
        ambassador.TOKEN_VOLUME,
    ):
        assert is_dns1123_label(name), name
