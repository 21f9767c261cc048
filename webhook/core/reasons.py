"""One table of reasons: every warning, skip and denial has a stable code and one sentence.

The same table feeds admission warnings (what ``kubectl`` prints), the ``reason`` label of the
warnings metric, the JSON log line and ``downward-webhook render --check`` (what to do about
each is in ``webhook.core.advice``). A reason is either *invalid* (a bad annotation value:
skipped with a warning, or the pod is denied in strict mode) or a *notice* (the pod is fine,
but something was not injected or behaves surprisingly).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass

from webhook.core.keys import (
    ALL,
    AMBASSADOR_PORT,
    CPU_DIVISOR,
    DEFAULT_TEXT,
    MEMORY_DIVISOR,
    MODES,
    VOLUME_MODE,
    VOLUME_PATH,
)

__all__ = ["Finding", "Reason", "Severity", "listing", "quote"]

_MAX_QUOTED = 63
#: Arguments that carry user-written text and are always quoted (printable, bounded).
_QUOTED_ARGS = frozenset({"value", "name", "container", "path", "key"})


class Severity(enum.Enum):
    INVALID = "invalid"
    NOTICE = "notice"


_I, _N = Severity.INVALID, Severity.NOTICE
#: What ``downward.io/inject`` accepts, as the unknown-mode finding lists it.
_MODE_WORDS = ", ".join([*MODES, ALL]) + " or none"


def _using(key: str) -> str:
    """What a finding says was done with a bad value of ``key``: its default was used."""
    return f"using {DEFAULT_TEXT[key]}"


class Reason(enum.Enum):
    """Stable code (metric label, docs), severity, the problem, and what the webhook did."""

    UNKNOWN_ANNOTATION = ("unknown-annotation", _I, "{key}: unknown annotation", "ignored")
    MISSPELLED_ANNOTATION = (
        "misspelled-annotation",
        _I,
        "{key}: unknown annotation (did you mean {meant}?)",
        "ignored",
    )
    UNKNOWN_MODE = (
        "unknown-mode",
        _I,
        "downward.io/inject: unknown mode {value} (use " + _MODE_WORDS + ")",
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
    NO_FIELDS = (
        "no-fields",
        _I,
        "downward.io/env-fields: no field given",
        "env mode adds no env vars",
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
        "downward.io/env-prefix: {value} would make env var names Kubernetes refuses "
        "(use letters, digits, _, - and ., not a digit or .. first, at most 64)",
        "no prefix used",
    )
    BAD_CPU_DIVISOR = (
        "bad-cpu-divisor",
        _I,
        "downward.io/cpu-divisor: {value} is not 1m or 1",
        _using(CPU_DIVISOR),
    )
    BAD_MEMORY_DIVISOR = (
        "bad-memory-divisor",
        _I,
        "downward.io/memory-divisor: {value} is not one of 1, 1Ki, 1Mi, 1Gi, 1k, 1M, 1G",
        _using(MEMORY_DIVISOR),
    )
    BAD_VOLUME_PATH = (
        "bad-volume-path",
        _I,
        "downward.io/volume-path: {value} is not a clean absolute path",
        _using(VOLUME_PATH),
    )
    BAD_VOLUME_MODE = (
        "bad-volume-mode",
        _I,
        "downward.io/volume-mode: {value} is not an octal mode 0000-0777",
        _using(VOLUME_MODE),
    )
    BAD_PORT = (
        "bad-port",
        _I,
        "downward.io/ambassador-port: {value} is not a port in 1024-65535",
        _using(AMBASSADOR_PORT),
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
        "{containers}: {names} already set",
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
        "{containers}: mount path {path} already in use",
        "downward volume not mounted there",
    )
    VOLUME_NOT_MOUNTABLE = (
        "volume-not-mountable",
        _N,
        "{containers}: mount path {path} already in use in every target container",
        "downward volume not added",
    )
    NO_LIMIT = (
        "no-limit",
        _N,
        "{missing}",
        "the injected limits report the node's allocatable amount",
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
        "container {container} already uses port {port} ({use})",
    )
    AMBASSADOR_PROXY_PRESENT = (
        "ambassador-proxy-present",
        _N,
        "ambassador skipped",
        "container {container} already runs kubectl proxy",
    )
    TOO_MANY_CONTAINERS = (
        "too-many-containers",
        _I,
        "the pod has {count} containers and init containers, over the limit of {limit}",
        "nothing injected (raise the chart value server.maxContainers, --max-containers)",
    )
    BAD_CONTAINER_NAME = (
        "bad-container-name",
        _I,
        "container name {name} is not a DNS-1123 label",
        "nothing injected (Kubernetes will refuse the pod)",
    )
    TOO_MANY_ANNOTATIONS = (
        "too-many-annotations",
        _I,
        "the pod has {count} annotations, over the limit of {limit}",
        "nothing injected",
    )
    ANNOTATIONS_TOO_LARGE = (
        "annotations-too-large",
        _I,
        "the pod's annotations take {length} characters, over Kubernetes' limit of 262144",
        "nothing injected (Kubernetes will refuse the pod)",
    )
    ANNOTATION_TOO_LONG = (
        "annotation-too-long",
        _I,
        "{key}: {length} characters, over the limit of {limit}",
        "ignored",
    )
    TOO_MANY_ENV_FIELDS = (
        "too-many-env-fields",
        _I,
        "downward.io/env-fields: {count} fields, over the limit of {limit}",
        "kept the first {limit}",
    )
    AMBASSADOR_WINDOWS = (
        "ambassador-windows",
        _N,
        "ambassador skipped",
        "the pod {how} Windows, where the kubectl image and its securityContext cannot run",
    )
    AMBASSADOR_NOT_ALWAYS = (
        "ambassador-restart-policy",
        _N,
        "ambassador skipped",
        "restartPolicy {value} without native sidecars: a plain proxy container would keep "
        "the pod running (set the chart value ambassador.nativeSidecar on Kubernetes 1.29+)",
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


def listing(noun: str, values: Sequence[str], limit: int = 3) -> str:
    """``container "a"``, ``containers "a", "b"``, ``containers "a", "b", "c" and 4 more``:
    user-written names, quoted, at most ``limit`` of them (a finding stays one short line)."""
    shown = ", ".join(quote(v) for v in values[:limit])
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return f"{noun if len(values) == 1 else noun + 's'} {shown}{more}"


def quote(value: str) -> str:
    """Quote a user-supplied value for a message: ASCII only, no newlines, bounded length."""
    if len(value) > _MAX_QUOTED:
        value = value[:_MAX_QUOTED] + "..."
    return json.dumps(value, ensure_ascii=True)
