"""Does a pod declare or select Windows nodes? The ambassador cannot run there.

The ``kubectl`` image is Linux-only, and Kubernetes refuses ``runAsUser``, ``seccompProfile``
and ``capabilities`` in a pod with ``spec.os.name: windows``. Env vars and the downward volume
work on Windows, so only the ambassador is skipped.

A pod selects Windows when ``spec.os.name`` is ``windows``, when its ``nodeSelector`` has
``kubernetes.io/os: windows``, or when any term of its *required* node affinity admits
Windows by ``kubernetes.io/os``: ``In`` with ``windows`` among the values, or ``NotIn`` with
``linux`` (and not ``windows``) among them. Terms are ORed, so one such term is enough (the
scheduler may pick it: a mixed Linux-or-Windows pod gets no ambassador). Preferred affinity
only ranks nodes and is not read. A pod that says nothing about its OS is taken to be Linux,
as the scheduler places it on any node (mixed clusters taint their Windows nodes).
"""

from __future__ import annotations

from webhook.core.model import NodeSelectorTerm, PodSpec

__all__ = ["OS_LABEL", "selects_windows"]

OS_LABEL = "kubernetes.io/os"
_WINDOWS, _LINUX = "windows", "linux"


def selects_windows(spec: PodSpec) -> str | None:
    """How the pod asks for Windows (for the finding), or ``None``."""
    if spec.os is not None and spec.os.name == _WINDOWS:
        return "declares (spec.os.name)"
    if spec.nodeSelector is not None and spec.nodeSelector.os == _WINDOWS:
        return f"selects (nodeSelector {OS_LABEL})"
    affinity = spec.affinity.nodeAffinity if spec.affinity else None
    required = affinity.requiredDuringSchedulingIgnoredDuringExecution if affinity else None
    terms = (required.nodeSelectorTerms if required else None) or ()
    if terms and any(_admits_windows(term) for term in terms):
        return f"selects (required node affinity on {OS_LABEL})"
    return None


def _admits_windows(term: NodeSelectorTerm) -> bool:
    for requirement in term.matchExpressions or ():
        if requirement.key != OS_LABEL:
            continue
        values = requirement.values or ()
        if requirement.operator == "In" and _WINDOWS in values:
            return True
        if requirement.operator == "NotIn" and _LINUX in values and _WINDOWS not in values:
            return True
    return False
