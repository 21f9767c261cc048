"""The admission engine: decide, plan, patch for one pod, and answer one AdmissionReview.

``mutate`` is what both ``POST /mutate`` and ``downward-webhook render`` call; ``admit`` wraps
it in the AdmissionReview envelope. Only ``CREATE`` of ``pods`` is mutated: a pod's spec is
immutable after creation, so there is nothing to inject on UPDATE, and workloads are handled
through the pods they create (``render`` is the way to see the result ahead of time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from webhook.core.ambassador import AmbassadorSettings
from webhook.core.bounds import (
    DEFAULT_MAX_CONTAINERS,
    MAX_ANNOTATIONS,
    MAX_WARNINGS,
    PROBE_BYTES,
    capped,
    crowded_annotations,
    over_annotation_bounds,
    over_bounds,
)
from webhook.core.keys import INJECT, INJECTED, WARNINGS
from webhook.core.model import Pod
from webhook.core.patch import JsonPatch, render
from webhook.core.plan import NOTHING, Plan, plan_injection, status_plan
from webhook.core.reasons import Finding, Reason
from webhook.core.recipe import recipe
from webhook.core.review import Request, encode_response, parse_envelope, parse_review

__all__ = ["MIRROR_ANNOTATION", "Decision", "Outcome", "Settings", "admit", "mutate"]

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

Outcome = Literal["injected", "unchanged", "ignored", "denied"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Cluster-wide settings: server flags and chart values (immutable, hashable)."""

    strict: bool = False
    namespace_default_inject: str = "env,volume"
    ambassador: AmbassadorSettings = field(default_factory=AmbassadorSettings)
    #: Containers plus init containers; a pod with more gets nothing (``webhook.core.bounds``).
    max_containers: int = DEFAULT_MAX_CONTAINERS


class Decision(msgspec.Struct, frozen=True, gc=False):
    """What the webhook decided for one pod.

    ``findings`` holds at most ``MAX_WARNINGS`` findings (they feed the metrics and the log
    line too); ``more`` counts those left out, said as one last ``and N more`` line.
    """

    outcome: Outcome
    patch: JsonPatch = msgspec.field(default_factory=JsonPatch)
    modes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    more: int = 0

    @property
    def warnings(self) -> list[str]:
        """Admission warnings; on a denial only the notices (the denial names the rest)."""
        if not self.findings:
            return []
        denied = self.outcome == "denied"
        lines = [f.message for f in self.findings if not (denied and f.invalid)]
        return [*lines, f"and {self.more} more"] if self.more and not denied else lines

    @property
    def denial(self) -> str | None:
        if self.outcome != "denied":
            return None
        problems = [f.problem for f in self.findings if f.invalid]
        if self.more:
            problems.append(f"and {self.more} more")
        return f"downward-webhook (strict mode): {'; '.join(problems)}"


def _decision(
    outcome: Outcome,
    findings: Sequence[Finding],
    patch: JsonPatch | None = None,
    modes: tuple[str, ...] = (),
) -> Decision:
    """A decision keeping the first ``MAX_WARNINGS`` findings, in ``_ordered`` order."""
    kept = tuple(_ordered(findings)[:MAX_WARNINGS]) if findings else ()  # none: the usual
    return Decision(outcome, patch or JsonPatch(), modes, kept, len(findings) - len(kept))


def _ordered(findings: Sequence[Finding]) -> list[Finding]:
    """Invalid findings first, each group in the order found: when the list is capped, what
    makes a pod bad (and ``render --check`` fail, and a denial name it) is never cut."""
    return sorted(findings, key=lambda f: not f.invalid)


def _warnings_value(annotations: Mapping[str, str], findings: Sequence[Finding]) -> str | None:
    """``downward.io/warnings``: the admission warnings, one a line (capped the same way);
    ``None`` without findings or when the pod has it already (ours are add-only)."""
    if not findings or WARNINGS in annotations:
        return None
    return "\n".join(capped([f.message for f in _ordered(findings)]))


def _findings_only(annotations: Mapping[str, str], findings: Sequence[Finding]) -> JsonPatch:
    """``downward.io/warnings`` alone, for a pod that is not injected: a controller-made pod's
    admission warnings go to its controller, so the annotation is where its team sees them
    (``kubectl describe pod``). Nothing for a pod without findings."""
    value = _warnings_value(annotations, findings)
    if value is None:
        return JsonPatch()
    return render(Plan(has_annotations=bool(annotations)), value)


def _stopped(pod: Pod, settings: Settings, findings: list[Finding]) -> Decision:
    """A pod over the bounds: nothing but ``downward.io/injected: none`` and the findings
    (denied in strict mode)."""
    if settings.strict:
        return _decision("denied", findings)
    annotations = pod.metadata.annotations or {}
    patch = render(status_plan(pod), _warnings_value(annotations, findings))
    return _decision("unchanged", findings, patch)


def mutate(pod: Pod, settings: Settings, *, default_inject: str | None = None) -> Decision:
    """Decide, plan and patch one pod (decoded, so type-checked, by ``webhook.core.review``)."""
    annotations = pod.metadata.annotations or {}
    if MIRROR_ANNOTATION in annotations:
        return Decision("ignored")  # the kubelet's read-only mirror of a static pod
    stop = over_annotation_bounds(annotations)
    if stop is not None:  # before any per-key work
        if INJECT not in annotations and default_inject is None:
            return _decision("ignored", [stop])
        return _stopped(pod, settings, [stop])
    # What the annotations alone decide: typos, bad values, the options, the pieces.
    made = recipe(annotations, default_inject, settings.ambassador)
    findings = list(made.findings)
    if settings.strict and made.invalid:
        return _decision("denied", findings)
    if made.kit is None:  # not injected, yet the findings (a typo'd key) go on the pod too
        return _decision("ignored", findings, _findings_only(annotations, findings))
    stop = over_bounds(pod.spec, settings.max_containers, annotations.get(INJECTED))
    if stop is not None:  # before any per-container work
        return _stopped(pod, settings, [*findings, stop])
    plan = plan_injection(pod, made.kit)
    findings += plan.findings
    if settings.strict and findings and any(f.invalid for f in findings):
        return _decision("denied", findings)
    patch = render(plan, _warnings_value(annotations, findings))
    outcome: Outcome = "injected" if patch and plan.modes else "unchanged"
    return _decision(outcome, findings, patch, plan.modes)


def admit(
    body: bytes, settings: Settings, *, namespace_default: bool = False
) -> tuple[bytes, Request, Decision]:
    """Answer an AdmissionReview body with the response body.

    Raises ``review.BadReview`` for a body that is not an AdmissionReview we can answer.
    """
    request, crowded = _crowded_review(body, settings, namespace_default)
    if crowded is not None:
        decision = crowded
    elif request.pod is None:
        decision = Decision("ignored")
    else:
        default = settings.namespace_default_inject if namespace_default else None
        decision = mutate(request.pod, settings, default_inject=default)
    response = encode_response(
        request.api_version,
        request.uid,
        patch=decision.patch.encode() if decision.patch else b"",
        warnings=decision.warnings,
        denial=decision.denial,
    )
    return response, request, decision


def _crowded_review(
    body: bytes, settings: Settings, namespace_default: bool
) -> tuple[Request, Decision | None]:
    """The request, and the decision for a pod with too many annotations to decode as a map
    (``bounds.crowded_annotations``: looked for in large bodies only), or ``None``."""
    if len(body) < PROBE_BYTES:
        return parse_review(body), None
    envelope, raw = parse_envelope(body)
    crowded = crowded_annotations(raw) if raw is not None else None
    if crowded is None:
        return parse_review(body), None
    ours, count = crowded
    stop = Finding.of(Reason.TOO_MANY_ANNOTATIONS, count=str(count), limit=str(MAX_ANNOTATIONS))
    if ours.mirror is not None:
        return envelope, Decision("ignored")
    if ours.inject is None and not namespace_default:
        return envelope, _decision("ignored", [stop])
    if settings.strict:
        return envelope, _decision("denied", [stop])
    status = Plan(injected=NOTHING if ours.injected is None else None, has_annotations=True)
    patch = render(status, stop.message if ours.warnings is None else None)
    return envelope, _decision("unchanged", [stop], patch)
