"""``webhook.core.patch``: the status annotations, the caps, and JSON that is the JSON of
its operations (the pieces themselves: ``test_pieces.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonpatch
import yaml

from webhook.core.admission import Settings, mutate
from webhook.core.review import pod_from_object

GOLDEN = Path(__file__).resolve().parents[2] / "testdata" / "golden"
PODS = [yaml.safe_load((case / "input.yaml").read_text()) for case in sorted(GOLDEN.iterdir())]


def test_every_golden_patch_is_one_json_list_of_add_operations_that_applies() -> None:
    settings = Settings()
    for pod in PODS:
        patch = mutate(pod_from_object(pod), settings).patch
        operations = json.loads(patch.encode())
        assert operations == patch.operations
        assert all(op["op"] == "add" and set(op) == {"op", "path", "value"} for op in operations)
        jsonpatch.apply_patch(pod, operations)  # raises on a path that is not there


def test_the_same_pod_twice_gets_the_same_bytes_and_operations_are_a_fresh_copy() -> None:
    pod = pod_from_object(PODS[0])
    first, again = mutate(pod, Settings()).patch, mutate(pod, Settings()).patch
    assert first.encode() == again.encode()
    first.operations.clear()
    assert first.operations == again.operations != []


def _status_ops(pod: dict[str, object], **settings: object) -> list[dict[str, object]]:
    decision = mutate(pod_from_object(pod), Settings(**settings))  # type: ignore[arg-type]
    return [op for op in decision.patch.operations if op["path"].startswith("/metadata/annot")]


def _pod(annotations: dict[str, str] | None, containers: int = 1) -> dict[str, object]:
    metadata: dict[str, object] = {"generateName": "web-", "namespace": "a"}
    if annotations is not None:
        metadata["annotations"] = annotations
    spec = {"containers": [{"name": f"c{i}", "image": "x"} for i in range(containers)]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def test_a_namespace_default_pod_without_annotations_gets_one_map_with_both_status_keys() -> None:
    decision = mutate(pod_from_object(_pod(None)), Settings(), default_inject="env")
    ops = [op for op in decision.patch.operations if op["path"].startswith("/metadata")]
    assert ops == [
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {
                "downward.io/injected": "env",
                "downward.io/warnings": decision.warnings[0],
            },
        }
    ]


def test_status_annotations_are_added_one_by_one_to_an_existing_map_and_never_changed() -> None:
    ops = _status_ops(_pod({"downward.io/inject": "env", "team": "a"}))
    assert [op["path"] for op in ops] == [
        "/metadata/annotations/downward.io~1injected",
        "/metadata/annotations/downward.io~1warnings",
    ]
    mine = {"downward.io/inject": "env", "downward.io/injected": "x", "downward.io/warnings": "y"}
    assert _status_ops(_pod(mine)) == []


def test_a_pod_over_the_container_cap_gets_only_status_none_and_one_warning() -> None:
    decision = mutate(
        pod_from_object(_pod({"downward.io/inject": "all"}, 4)), Settings(max_containers=3)
    )
    assert [op["path"] for op in decision.patch.operations] == [
        "/metadata/annotations/downward.io~1injected",
        "/metadata/annotations/downward.io~1warnings",
    ]
    assert decision.patch.operations[0]["value"] == "none"
    assert decision.warnings == [
        "the pod has 4 containers and init containers, over the limit of 3; nothing injected "
        "(raise the chart value server.maxContainers, --max-containers)"
    ]
    strict = mutate(
        pod_from_object(_pod({"downward.io/inject": "all"}, 4)),
        Settings(max_containers=3, strict=True),
    )
    assert strict.outcome == "denied" and not strict.patch
    assert strict.denial is not None and "over the limit of 3" in strict.denial


def test_warnings_and_the_warnings_annotation_stop_at_twenty_lines_then_say_how_many_more() -> None:
    names = ",".join(["c0", *(f"ghost-{i}" for i in range(25))])
    decision = mutate(
        pod_from_object(_pod({"downward.io/inject": "env", "downward.io/containers": names})),
        Settings(),
    )
    assert len(decision.warnings) == 21
    assert decision.warnings[-1] == "and 6 more"  # 25 unknown names, one no-limit notice
    (annotation,) = [
        op["value"] for op in decision.patch.operations if op["path"].endswith("warnings")
    ]
    assert annotation.split("\n") == decision.warnings
    assert len(decision.findings) == 20 and decision.more == 6


def test_an_invalid_finding_is_never_cut_by_the_cap_however_many_notices_come_first() -> None:
    from webhook.core import admission
    from webhook.core.reasons import Finding, Reason

    notices = [
        Finding.of(Reason.ENV_CONFLICT, containers=f'container "c{i}"', names='env var "X"')
        for i in range(25)
    ]
    bad = Finding.of(Reason.BAD_CPU_DIVISOR, value="2m")
    decision = admission._decision("injected", [*notices, bad])
    assert decision.findings[0] == bad
    assert decision.warnings[0] == bad.message and decision.warnings[-1] == "and 6 more"
