"""Audit: does a pod that already exists need attention, and why (``downward-webhook audit``).

A pod needs attention when it asks for injection (its ``downward.io/inject`` annotation, or,
with namespace defaults on, a namespace labelled ``downward.io/inject=enabled`` and no
annotation of its own) and

* ``not-injected``: it carries no ``downward.io/injected``: the webhook never reviewed it
  (created before the webhook, during an outage with ``failurePolicy: Ignore``, or skipped by
  a selector); or
* ``incomplete``: reviewing it again today would still add something (a non-empty patch beyond
  the status annotations): its annotation asks for more than it got; or
* ``stale``: ``downward.io/injected`` lists a mode its annotation no longer asks for,
  including an annotation that now opts out (``none``).

The decision is the webhook's own: the same ``read_options`` and the same ``mutate`` that
``POST /mutate`` calls, on the pod as the API server returns it. Pure, like the rest of the
core: the shell (``webhook/audit/``) lists the pods and reads the namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from webhook.core.admission import MIRROR_ANNOTATION, Settings, mutate
from webhook.core.annotations import read_options
from webhook.core.keys import INJECT, INJECTED, MODES
from webhook.core.model import Pod

__all__ = [
    "INCOMPLETE",
    "NOT_INJECTED",
    "REASONS",
    "STALE",
    "UNREADABLE",
    "AuditSettings",
    "Verdict",
    "assess",
    "unreadable",
]

NOT_INJECTED = "not-injected"
INCOMPLETE = "incomplete"
STALE = "stale"
UNREADABLE = "unreadable"

#: Every reason code, with the sentence the table output prints for it.
REASONS: dict[str, str] = {
    NOT_INJECTED: "asks for injection but carries no downward.io/injected: never reviewed",
    INCOMPLETE: "reviewing it again today would still add something",
    STALE: "downward.io/injected lists a mode its annotation no longer asks for",
    UNREADABLE: "the pod could not be read as the webhook reads it",
}

_ANNOTATIONS_PATH = "/metadata/annotations"
_NOT_MODES = frozenset({"", "none"})


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """How the webhook is configured, as far as the audit needs it."""

    #: The webhook's settings (``namespace_default_inject``, the ambassador's).
    webhook: Settings = field(default_factory=Settings)
    #: Namespace defaults are on: pods without an annotation in a labelled namespace ask.
    namespace_defaults: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a pod needs attention: reason codes (``REASONS``), in a fixed order."""

    reasons: tuple[str, ...]
    #: The modes the pod asks for today, in canonical order.
    asked: tuple[str, ...] = ()
    #: Its ``downward.io/injected`` value, or ``None``.
    injected: str | None = None


def unreadable() -> Verdict:
    """The verdict for a pod the webhook's decoder rejects (``review.BadReview``)."""
    return Verdict((UNREADABLE,))


def assess(pod: Pod, settings: AuditSettings, *, labelled: bool = False) -> Verdict | None:
    """The verdict for one pod, ``None`` when it needs no attention.

    ``labelled``: its namespace carries ``downward.io/inject=enabled``. A pod without an
    ``inject`` annotation is only judged when namespace defaults are on: otherwise the audit
    cannot tell a namespace default from a removed annotation.
    """
    annotations = pod.metadata.annotations or {}
    if MIRROR_ANNOTATION in annotations:
        return None  # the kubelet's mirror of a static pod: never mutated
    if INJECT not in annotations and not settings.namespace_defaults:
        return None
    use_default = labelled and settings.namespace_defaults
    default = settings.webhook.namespace_default_inject if use_default else None
    options, _ = read_options(annotations, default)
    injected = annotations.get(INJECTED)
    asked = frozenset() if options is None else options.modes
    reasons: list[str] = []
    if options is not None and injected is None:
        reasons.append(NOT_INJECTED)
    if options is not None and _would_add(pod, settings.webhook, default):
        reasons.append(INCOMPLETE)
    if injected is not None and _listed(injected) - asked:
        reasons.append(STALE)
    if not reasons:
        return None
    return Verdict(tuple(reasons), tuple(m for m in MODES if m in asked), injected)


def _would_add(pod: Pod, settings: Settings, default: str | None) -> bool:
    """A review today would add more than status annotations (strict mode would deny
    instead, which says nothing about what is missing, so it is left out)."""
    decision = mutate(pod, replace(settings, strict=False), default_inject=default)
    return any(not op["path"].startswith(_ANNOTATIONS_PATH) for op in decision.patch.operations)


def _listed(injected: str) -> frozenset[str]:
    """The modes a ``downward.io/injected`` value lists (``none`` lists none)."""
    return frozenset(w.strip().lower() for w in injected.split(",")) - _NOT_MODES
