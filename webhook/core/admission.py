"""The admission engine: decide, plan, patch for one pod, and answer one AdmissionReview.

``mutate`` is what both ``POST /mutate`` and ``downward-webhook render`` call; ``admit`` wraps
it in the AdmissionReview envelope. Only ``CREATE`` of ``pods`` is mutated: a pod's spec is
immutable after creation, so there is nothing to inject on UPDATE, and workloads are handled
through the pods they create (``render`` is the way to see the result ahead of time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import msgspec

from webhook.core.ambassador import AmbassadorSettings
from webhook.core.annotations import read_options
from webhook.core.model import Pod
from webhook.core.patch import JsonPatch, render
from webhook.core.plan import plan_injection
from webhook.core.reasons import Finding
from webhook.core.review import Request, encode_response, parse_review
from webhook.core.spelling import misspelled_keys

__all__ = ["MIRROR_ANNOTATION", "Decision", "Outcome", "Settings", "admit", "mutate"]

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

Outcome = Literal["injected", "unchanged", "ignored", "denied"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Cluster-wide settings: server flags and chart values."""

    strict: bool = False
    namespace_default_inject: str = "env,volume"
    ambassador: AmbassadorSettings = field(default_factory=AmbassadorSettings)


class Decision(msgspec.Struct, frozen=True, gc=False):
    """What the webhook decided for one pod."""

    outcome: Outcome
    patch: JsonPatch = msgspec.field(default_factory=JsonPatch)
    modes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def warnings(self) -> list[str]:
        """Admission warnings; on a denial only the notices (the denial names the rest)."""
        denied = self.outcome == "denied"
        return [f.message for f in self.findings if not (denied and f.invalid)]

    @property
    def denial(self) -> str | None:
        if self.outcome != "denied":
            return None
        problems = "; ".join(f.problem for f in self.findings if f.invalid)
        return f"downward-webhook (strict mode): {problems}"


def mutate(pod: Pod, settings: Settings, *, default_inject: str | None = None) -> Decision:
    """Decide, plan and patch one pod (decoded, so type-checked, by ``webhook.core.review``)."""
    annotations = pod.metadata.annotations or {}
    if MIRROR_ANNOTATION in annotations:
        return Decision("ignored")  # the kubelet's read-only mirror of a static pod
    options, findings = read_options(annotations, default_inject)
    findings[:0] = misspelled_keys(annotations)  # every pod: typos matter most without inject
    if settings.strict and any(f.invalid for f in findings):
        return Decision("denied", findings=tuple(findings))
    if options is None:
        return Decision("ignored", findings=tuple(findings))
    plan = plan_injection(pod, options, settings.ambassador)
    all_findings = (*findings, *plan.findings)
    if settings.strict and any(f.invalid for f in plan.findings):
        return Decision("denied", findings=all_findings)
    patch = render(plan)
    return Decision("injected" if patch else "unchanged", patch, plan.modes, all_findings)


def admit(
    body: bytes, settings: Settings, *, namespace_default: bool = False
) -> tuple[bytes, Request, Decision]:
    """Answer an AdmissionReview body with the response body.

    Raises ``review.BadReview`` for a body that is not an AdmissionReview we can answer.
    """
    request = parse_review(body)
    if request.pod is None:
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
