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
