"""Decide: read the ``downward.io/*`` annotations into ``Options``, with a finding per bad value.

A bad value never blocks on its own: the bad part is skipped (or its default used) and a
finding explains it (the parsers are ``webhook.core.parsers``); strict mode turns invalid
findings into a denial one level up.

Every key is one entry of ``ANNOTATIONS``: the ``Options`` field it sets, its default, its
parser and the reasons of its findings. ``KNOWN_KEYS`` is made from it, and tests check the
``Options`` defaults, the reasons, the README, the chart and the CLI against it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from webhook.core.divisors import DEFAULT_CPU, DEFAULT_MEMORY, Divisor
from webhook.core.envvars import DEFAULT_FIELDS, EnvField
from webhook.core.keys import (
    AMBASSADOR_PORT,
    AMBASSADOR_READ_ONLY,
    CPU_DIVISOR,
    INJECT,
    INJECTED,
    MEMORY_DIVISOR,
    PREFIX,
    VOLUME_MODE,
    VOLUME_PATH,
    WARNINGS,
)
from webhook.core.parsers import (
    DEFAULT_PORT,
    DEFAULT_VOLUME_MODE,
    DEFAULT_VOLUME_PATH,
    parse_containers,
    parse_cpu_divisor,
    parse_env_fields,
    parse_env_prefix,
    parse_image,
    parse_memory_divisor,
    parse_modes,
    parse_port,
    parse_read_only,
    parse_volume_mode,
    parse_volume_path,
)
from webhook.core.reasons import Finding, Reason

__all__ = [
    "ANNOTATIONS",
    "KNOWN_KEYS",
    "Annotation",
    "Options",
    "read_options",
]


@dataclass(frozen=True, slots=True)
class Options:
    """What the pod asked for, after defaults and after dropping bad values."""

    modes: frozenset[str]
    containers: tuple[str, ...] | None = None
    env_prefix: str = ""
    env_fields: tuple[EnvField, ...] = DEFAULT_FIELDS
    cpu_divisor: Divisor = DEFAULT_CPU
    memory_divisor: Divisor = DEFAULT_MEMORY
    volume_path: str = DEFAULT_VOLUME_PATH
    volume_mode: int = DEFAULT_VOLUME_MODE
    ambassador_port: int = DEFAULT_PORT
    ambassador_image: str | None = None
    ambassador_read_only: bool = False


def read_options(
    annotations: Mapping[str, str], default_inject: str | None = None
) -> tuple[Options | None, list[Finding]]:
    """Options for a pod, or ``None`` when it is not to be injected (absent or opted out).
    Not cached: the admission path reads them once per recipe (``webhook.core.recipe``)."""
    findings: list[Finding] = []
    inject = annotations.get(INJECT, default_inject)
    if inject is None:
        return None, findings
    modes = parse_modes(inject, findings)
    if modes is None:
        return None, findings
    get = annotations.get
    # In table order, which is the order of the findings.
    values = {field: parse(get(key), findings) for key, field, parse in _PARSED}
    # Each parser returns its field's type (tests/unit/core/test_annotation_table.py).
    return Options(modes=modes, **values), findings


Parser = Callable[[str | None, list[Finding]], Any]


@dataclass(frozen=True, slots=True)
class Annotation:
    """One ``downward.io/*`` key and everything the webhook knows about it."""

    key: str
    #: The ``Options`` field it sets; ``None`` for the keys the webhook writes.
    field: str | None
    #: The field's value when the key is absent (and, for a single value, when it is bad).
    default: object
    #: ``(value or None when absent, findings) -> field value``; ``None``: read apart
    #: (``downward.io/inject`` decides whether there are options at all).
    parse: Parser | None
    #: The findings a bad value gives: each says what is wrong and what was done instead.
    reasons: tuple[Reason, ...]
    #: One line for the docs.
    meaning: str


_R = Reason
# fmt: off
ANNOTATIONS: tuple[Annotation, ...] = (
    Annotation(INJECT, "modes", None, None, (_R.UNKNOWN_MODE, _R.NO_MODE, _R.OPT_OUT_MIXED),
               "modes to inject (env, volume, ambassador; all); none or false opts out"),
    Annotation(PREFIX + "containers", "containers", None, parse_containers,
               (_R.UNKNOWN_CONTAINER, _R.AMBASSADOR_NOT_TARGET),
               "containers that get the env vars and the mount (init containers when named)"),
    Annotation(PREFIX + "env-prefix", "env_prefix", "", parse_env_prefix, (_R.BAD_ENV_PREFIX,),
               "prefix for every injected env var name"),
    Annotation(PREFIX + "env-fields", "env_fields", DEFAULT_FIELDS, parse_env_fields,
               (_R.UNKNOWN_FIELD, _R.NO_FIELDS, _R.BAD_FIELD_KEY, _R.DUPLICATE_ENV_NAME,
                _R.TOO_MANY_ENV_FIELDS),
               "which env vars: catalog keys, label:KEY, annotation:KEY, default"),
    Annotation(CPU_DIVISOR, "cpu_divisor", DEFAULT_CPU, parse_cpu_divisor, (_R.BAD_CPU_DIVISOR,),
               "divisor of the cpu env vars and files"),
    Annotation(MEMORY_DIVISOR, "memory_divisor", DEFAULT_MEMORY, parse_memory_divisor,
               (_R.BAD_MEMORY_DIVISOR,), "divisor of the memory and ephemeral-storage values"),
    Annotation(VOLUME_PATH, "volume_path", DEFAULT_VOLUME_PATH, parse_volume_path,
               (_R.BAD_VOLUME_PATH,), "mount path of the downward volume"),
    Annotation(VOLUME_MODE, "volume_mode", DEFAULT_VOLUME_MODE, parse_volume_mode,
               (_R.BAD_VOLUME_MODE,), "octal mode of the volume's files"),
    Annotation(AMBASSADOR_PORT, "ambassador_port", DEFAULT_PORT, parse_port, (_R.BAD_PORT,),
               "port of kubectl proxy on 127.0.0.1"),
    Annotation(PREFIX + "ambassador-image", "ambassador_image", None, parse_image, (_R.BAD_IMAGE,),
               "image of the ambassador (absent: the server's --ambassador-image)"),
    Annotation(AMBASSADOR_READ_ONLY, "ambassador_read_only", False, parse_read_only,
               (_R.BAD_BOOLEAN,), "true: the proxy refuses every method but GET, HEAD, OPTIONS"),
    Annotation(INJECTED, None, None, None, (), "written by the webhook: the modes it applied"),
    Annotation(WARNINGS, None, None, None, (), "written by the webhook: the review's findings"),
)
# fmt: on
#: Every key the webhook reads or writes; any other ``downward.io/`` key is a finding.
KNOWN_KEYS = frozenset(a.key for a in ANNOTATIONS)
_PARSED: tuple[tuple[str, str, Parser], ...] = tuple(
    (a.key, a.field, a.parse) for a in ANNOTATIONS if a.field is not None and a.parse is not None
)
