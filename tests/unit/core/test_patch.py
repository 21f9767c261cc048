"""The patch pieces: their cached JSON is always the JSON of their operations.

Pieces are cached and shared between reviews (``webhook.core.patch``). Nothing may change a
piece once made: after every golden pod has been answered twice (the second time from the
cache), each cached piece still encodes to exactly its JSON, and a patch's JSON is the JSON of
its operations.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import yaml

from tests.support.kube import admission_review, answer
from webhook.core import patch as patch_module
from webhook.core.admission import Settings, mutate
from webhook.core.annotations import read_options
from webhook.core.patch import render
from webhook.core.plan import plan_injection
from webhook.core.review import pod_from_object

GOLDEN = Path(__file__).resolve().parents[2] / "testdata" / "golden"
PODS = [yaml.safe_load((case / "input.yaml").read_text()) for case in sorted(GOLDEN.iterdir())]


def test_patch_json_is_the_json_of_its_operations() -> None:
    settings = Settings()
    for pod in PODS:
        decision = mutate(pod_from_object(pod), settings)
        assert json.loads(decision.patch.encode()) == json.loads(
            json.dumps(decision.patch.operations)
        )


def test_cached_pieces_are_never_changed() -> None:
    settings = Settings()
    for _ in range(2):
        for pod in PODS:
            answer(admission_review(pod), settings)
    assert patch_module._PIECES
    for _made_of, piece in patch_module._PIECES.values():
        assert msgspec.json.encode(piece.ops)[1:-1] == piece.json


def test_rendering_a_plan_again_reuses_its_pieces() -> None:
    pod = pod_from_object(PODS[0])
    options, _ = read_options(pod.metadata.annotations or {})
    assert options is not None
    plan = plan_injection(pod, options, Settings().ambassador)
    first = render(plan)
    again = render(plan)
    assert first.pieces == again.pieces
    assert all(a is b for a, b in zip(first.pieces, again.pieces, strict=True))


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
