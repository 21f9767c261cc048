"""One table of reasons: every warning, skip and denial has a stable code and one sentence.

The same table feeds admission warnings (what ``kubectl`` prints), the ``reason`` label of the
warnings metric, the JSON log line and ``downward-webhook render --check``. A reason is either
*invalid* (a bad annotation value: skipped with a warning, or the pod is denied in strict
mode) or a *notice* (the pod is fine, but something was not injected or behaves surprisingly).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

__all__ = ["Finding", "Reason", "Severity", "quote"]

_MAX_QUOTED = 63
#: Arguments that carry user-written text and are always quoted (printable, bounded).
_QUOTED_ARGS = frozenset({"value", "name", "container", "path", "key"})


class Severity(enum.Enum):
    INVALID = "invalid"
    NOTICE = "notice"


_I, _N = Severity.INVALID, Severity.NOTICE


class Reason(enum.Enum):
    """Stable code (metric label, docs), severity, the problem, and what the webhook did."""

    UNKNOWN_ANNOTATION = ("unknown-annotation", _I, "{key}: unknown annotation", "ignored")
    UNKNOWN_MODE = (
        "unknown-mode",
        _I,
        "downward.io/inject: unknown mode {value} (use env, volume, ambassador, all or none)",
        "skipped",
    )
    NO_MODE = ("no-mode", _I, "downward.io/inject: no mode given", "nothing injected")
    OPT_OUT_MIXED = (
        "opt-out-mixed",
        _I,
        "downward.io/inject: {value} mixed with other modes",
        "treated as opt-out",
    )
    UNKNOWN_CONTAINER = (
        "unknown-container",
        _I,
        "downward.io/containers: no container named {value}",
        "skipped",
    )
    AMBASSADOR_NOT_TARGET = (
        "ambassador-not-target",
        _I,
        "downward.io/containers: the ambassador cannot be a target",
        "skipped",
    )
    UNKNOWN_FIELD = (
        "unknown-field",
        _I,
        "downward.io/env-fields: unknown field {value}",
        "skipped",
    )
    BAD_FIELD_KEY = (
        "bad-field-key",
        _I,
        "downward.io/env-fields: {value} is not a valid label/annotation key",
        "skipped",
    )
    DUPLICATE_ENV_NAME = (
        "duplicate-env-name",
        _I,
        "downward.io/env-fields: {value} gives env var {name} a second time",
        "kept the first",
    )
    BAD_ENV_PREFIX = (
        "bad-env-prefix",
        _I,
        "downward.io/env-prefix: {value} is not a valid env var prefix",
        "no prefix used",
    )
    BAD_CPU_DIVISOR = (
        "bad-cpu-divisor",
        _I,
        "downward.io/cpu-divisor: {value} is not 1m or 1",
        "using 1m",
    )
    BAD_MEMORY_DIVISOR = (
        "bad-memory-divisor",
        _I,
        "downward.io/memory-divisor: {value} is not one of 1, 1Ki, 1Mi, 1Gi, 1k, 1M, 1G",
        "using 1",
    )
    BAD_VOLUME_PATH = (
        "bad-volume-path",
        _I,
        "downward.io/volume-path: {value} is not a clean absolute path",
        "using /etc/podinfo",
    )
    BAD_VOLUME_MODE = (
        "bad-volume-mode",
        _I,
        "downward.io/volume-mode: {value} is not an octal mode 0000-0777",
        "using 0644",
    )
    BAD_PORT = (
        "bad-port",
        _I,
        "downward.io/ambassador-port: {value} is not a port in 1024-65535",
        "using 8001",
    )
    BAD_IMAGE = (
        "bad-image",
        _I,
        "downward.io/ambassador-image: {value} is not an image reference",
        "using the default",
    )
    BAD_BOOLEAN = ("bad-boolean", _I, "{annotation}: {value} is not true or false", "using false")
    WORKLOAD_ANNOTATION = (
        "workload-annotation",
        _I,
        "{key} is on the workload's own metadata, not on its pod template",
        "ignored (move it to the pod template's metadata.annotations)",
    )
    NO_TARGETS = ("no-targets", _N, "no target container", "env and volume not injected")
    ENV_CONFLICT = (
        "env-conflict",
        _N,
        "container {container}: env var {name} already set",
        "kept the pod's value",
    )
    VOLUME_CONFLICT = (
        "volume-conflict",
        _N,
        "volume {name} already exists",
        "kept the pod's volume",
    )
    MOUNT_CONFLICT = (
        "mount-conflict",
        _N,
        "container {container}: mount path {path} already in use",
        "downward volume not mounted there",
    )
    NO_LIMIT = (
        "no-limit",
        _N,
        "container {container} has no {resources} limit",
        "the injected limit reports the node's allocatable amount",
    )
    AMBASSADOR_HOST_NETWORK = (
        "ambassador-host-network",
        _N,
        "ambassador skipped",
        "on a hostNetwork pod the proxy port would be the node's",
    )
    AMBASSADOR_NAME_CONFLICT = (
        "ambassador-name-conflict",
        _N,
        "ambassador skipped",
        "a container or volume named {name} already exists",
    )
    AMBASSADOR_PORT_CONFLICT = (
        "ambassador-port-conflict",
        _N,
        "ambassador skipped",
        "container {container} already uses port {port}",
    )

    def __init__(self, code: str, severity: Severity, problem: str, outcome: str) -> None:
        self.code = code
        self.severity = severity
        self.problem = problem
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing worth telling the user, with the values that fill its sentence."""

    reason: Reason
    args: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, reason: Reason, **args: str) -> Finding:
        return cls(reason, tuple(args.items()))

    @property
    def invalid(self) -> bool:
        return self.reason.severity is Severity.INVALID

    @property
    def message(self) -> str:
        """One printable ASCII line: what kubectl shows after ``Warning:``."""
        return f"{self.problem}; {self._fill(self.reason.outcome)}"

    @property
    def problem(self) -> str:
        """The problem alone, without what the webhook did about it (for denials)."""
        return self._fill(self.reason.problem)

    def _fill(self, template: str) -> str:
        return template.format(**{k: quote(v) if k in _QUOTED_ARGS else v for k, v in self.args})


def quote(value: str) -> str:
    """Quote a user-supplied value for a message: ASCII only, no newlines, bounded length."""
    if len(value) > _MAX_QUOTED:
        value = value[:_MAX_QUOTED] + "..."
    return json.dumps(value, ensure_ascii=True)
