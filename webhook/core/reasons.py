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


class Reason(enum.Enum):
    """Stable codes (metric labels, docs) with a message template and a severity."""

    UNKNOWN_ANNOTATION = ("unknown-annotation", Severity.INVALID,
                          "{key}: unknown annotation, ignored")
    UNKNOWN_MODE = ("unknown-mode", Severity.INVALID,
                    "downward.io/inject: unknown mode {value} skipped "
                    "(use env, volume, ambassador, all or none)")
    NO_MODE = ("no-mode", Severity.INVALID,
               "downward.io/inject: no mode given, nothing injected")
    OPT_OUT_MIXED = ("opt-out-mixed", Severity.INVALID,
                     "downward.io/inject: {value} mixed with other modes; treated as opt-out")
    UNKNOWN_CONTAINER = ("unknown-container", Severity.INVALID,
                         "downward.io/containers: no container named {value}; skipped")
    AMBASSADOR_NOT_TARGET = ("ambassador-not-target", Severity.INVALID,
                             "downward.io/containers: the ambassador cannot be a target; skipped")
    UNKNOWN_FIELD = ("unknown-field", Severity.INVALID,
                     "downward.io/env-fields: unknown field {value} skipped")
    BAD_FIELD_KEY = ("bad-field-key", Severity.INVALID,
                     "downward.io/env-fields: {value} is not a valid label/annotation key; skipped")
    BAD_ENV_PREFIX = ("bad-env-prefix", Severity.INVALID,
                      "downward.io/env-prefix: {value} is not a valid env var prefix; "
                      "no prefix used")
    BAD_CPU_DIVISOR = ("bad-cpu-divisor", Severity.INVALID,
                       "downward.io/cpu-divisor: {value} is not 1m or 1; using 1m")
    BAD_MEMORY_DIVISOR = ("bad-memory-divisor", Severity.INVALID,
                          "downward.io/memory-divisor: {value} is not one of "
                          "1, 1Ki, 1Mi, 1Gi, 1k, 1M, 1G; using 1")
    BAD_VOLUME_PATH = ("bad-volume-path", Severity.INVALID,
                       "downward.io/volume-path: {value} is not a clean absolute path; "
                       "using /etc/podinfo")
    BAD_VOLUME_MODE = ("bad-volume-mode", Severity.INVALID,
                       "downward.io/volume-mode: {value} is not an octal mode 0000-0777; "
                       "using 0644")
    BAD_PORT = ("bad-port", Severity.INVALID,
                "downward.io/ambassador-port: {value} is not a port in 1024-65535; using 8001")
    BAD_IMAGE = ("bad-image", Severity.INVALID,
                 "downward.io/ambassador-image: {value} is not an image reference; "
                 "using the default")
    BAD_BOOLEAN = ("bad-boolean", Severity.INVALID,
                   "{key}: {value} is not true or false; using false")
    DUPLICATE_ENV_NAME = ("duplicate-env-name", Severity.INVALID,
                          "downward.io/env-fields: {value} gives env var {name} twice; "
                          "kept the first")
    NO_TARGETS = ("no-targets", Severity.NOTICE,
                  "no target container: env and volume not injected")
    ENV_CONFLICT = ("env-conflict", Severity.NOTICE,
                    "container {container}: env var {name} already set; kept the pod's value")
    VOLUME_CONFLICT = ("volume-conflict", Severity.NOTICE,
                       "volume {name} already exists; kept the pod's volume")
    MOUNT_CONFLICT = ("mount-conflict", Severity.NOTICE,
                      "container {container}: mount path {path} already in use; "
                      "downward volume not mounted there")
    NO_LIMIT = ("no-limit", Severity.NOTICE,
                "container {container} has no {resources} limit: the injected limit "
                "reports the node's allocatable amount")
    AMBASSADOR_HOST_NETWORK = ("ambassador-host-network", Severity.NOTICE,
                               "ambassador skipped: hostNetwork pods would expose the proxy "
                               "on the node")
    AMBASSADOR_NAME_CONFLICT = ("ambassador-name-conflict", Severity.NOTICE,
                                "ambassador skipped: a container or volume named {name} "
                                "already exists")
    AMBASSADOR_PORT_CONFLICT = ("ambassador-port-conflict", Severity.NOTICE,
                                "ambassador skipped: container {container} already uses "
                                "port {port}")

    def __init__(self, code: str, severity: Severity, template: str) -> None:
        self.code = code
        self.severity = severity
        self.template = template


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
        return self.reason.template.format(
            **{k: quote(v) if k in _QUOTED_ARGS else v for k, v in self.args}
        )


def quote(value: str) -> str:
    """Quote a user-supplied value for a message: ASCII only, no newlines, bounded length."""
    if len(value) > _MAX_QUOTED:
        value = value[:_MAX_QUOTED] + "..."
    return json.dumps(value, ensure_ascii=True)
