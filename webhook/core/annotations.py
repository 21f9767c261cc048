"""Decide: read the ``downward.io/*`` annotations into ``Options``, with a finding per bad value.

A bad value never blocks on its own: the bad part is skipped (or its default used) and a
finding explains it; strict mode turns invalid findings into a denial one level up. Values are
trimmed; keywords are case-insensitive; lists are comma-separated.

Every key is one entry of ``ANNOTATIONS``: the ``Options`` field it sets, its default, its
parser and the reasons of its findings. ``KNOWN_KEYS`` is made from it, and tests check the
``Options`` defaults, the reasons, the README, the chart and the CLI against it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from webhook.core.divisors import (
    CPU_DIVISORS,
    DEFAULT_CPU,
    DEFAULT_MEMORY,
    MEMORY_DIVISORS,
    Divisor,
)
from webhook.core.envvars import CATALOG, DEFAULT_FIELDS, EnvField, metadata_key_field
from webhook.core.keys import (
    ALL,
    AMBASSADOR_PORT,
    CPU_DIVISOR,
    DEFAULT_TEXT,
    INJECT,
    INJECTED,
    MEMORY_DIVISOR,
    MODES,
    OPT_OUT,
    PREFIX,
    VOLUME_MODE,
    VOLUME_PATH,
    WARNINGS,
)
from webhook.core.reasons import Finding, Reason
from webhook.core.validation import is_env_prefix
from webhook.core.values import image_reference

__all__ = [
    "ANNOTATIONS",
    "KNOWN_KEYS",
    "Annotation",
    "Options",
    "parse_modes",
    "read_options",
]

DEFAULT_VOLUME_PATH = DEFAULT_TEXT[VOLUME_PATH]
DEFAULT_VOLUME_MODE = int(DEFAULT_TEXT[VOLUME_MODE], 8)
DEFAULT_PORT = int(DEFAULT_TEXT[AMBASSADOR_PORT])

_MODE = re.compile(r"(?:0o?)?[0-7]{1,3}")
_PORT = re.compile(r"[0-9]{1,5}")
_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
_QUALIFIED_NAME = re.compile(rf"(?:{_DNS_SUBDOMAIN}/)?{_NAME}")


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


def _items(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_modes(value: str, findings: list[Finding]) -> frozenset[str] | None:
    """``env,volume`` -> modes; ``None`` means opted out (``none``/``false``)."""
    words = [w.lower() for w in _items(value)]
    opt_out = [w for w in words if w in OPT_OUT]
    if opt_out:
        if len(words) > len(opt_out):
            findings.append(Finding.of(Reason.OPT_OUT_MIXED, value=opt_out[0]))
        return None
    modes: set[str] = set()
    for word in words:
        if word == ALL:
            modes.update(MODES)
        elif word in MODES:
            modes.add(word)
        else:
            findings.append(Finding.of(Reason.UNKNOWN_MODE, value=word))
    if not words:
        findings.append(Finding(Reason.NO_MODE))
    return frozenset(modes)


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


def _containers(value: str | None, findings: list[Finding]) -> tuple[str, ...] | None:
    # Names are checked against the pod by the planner (UNKNOWN_CONTAINER).
    if value is None:
        return None
    return tuple(dict.fromkeys(_items(value)))


def _env_prefix(value: str | None, findings: list[Finding]) -> str:
    if value is None or not value.strip():
        return ""
    value = value.strip()
    if is_env_prefix(value):  # Kubernetes' env name rule holds for every name we make
        return value
    findings.append(Finding.of(Reason.BAD_ENV_PREFIX, value=value))
    return ""


def _env_fields(value: str | None, findings: list[Finding]) -> tuple[EnvField, ...]:
    if value is None:
        return DEFAULT_FIELDS
    fields: dict[str, EnvField] = {}
    for item in _items(value):
        for field in _env_field(item, findings):
            fields.setdefault(field.key, field)
    return tuple(fields.values())


def _env_field(item: str, findings: list[Finding]) -> tuple[EnvField, ...]:
    kind, sep, key = item.partition(":")
    if sep and kind.strip().lower() in ("label", "annotation"):
        kind, key = kind.strip().lower(), key.strip()
        # The API server checks the subscript of metadata.annotations['k'] lower-cased.
        checked = key.lower() if kind == "annotation" else key
        if _QUALIFIED_NAME.fullmatch(checked) and len(checked) <= 317:
            return (metadata_key_field(kind, key),)
        findings.append(Finding.of(Reason.BAD_FIELD_KEY, value=item))
        return ()
    if item.lower() == "default":
        return DEFAULT_FIELDS
    field = CATALOG.get(item.lower())
    if field is None:
        findings.append(Finding.of(Reason.UNKNOWN_FIELD, value=item))
        return ()
    return (field,)


def _divisor(
    value: str | None,
    table: Mapping[str, Divisor],
    default: Divisor,
    reason: Reason,
    findings: list[Finding],
) -> Divisor:
    if value is None:
        return default
    divisor = table.get(value.strip())
    if divisor is None:
        findings.append(Finding.of(reason, value=value))
        return default
    return divisor


def _cpu_divisor(value: str | None, findings: list[Finding]) -> Divisor:
    return _divisor(value, CPU_DIVISORS, DEFAULT_CPU, Reason.BAD_CPU_DIVISOR, findings)


def _memory_divisor(value: str | None, findings: list[Finding]) -> Divisor:
    return _divisor(value, MEMORY_DIVISORS, DEFAULT_MEMORY, Reason.BAD_MEMORY_DIVISOR, findings)


def _volume_path(value: str | None, findings: list[Finding]) -> str:
    if value is None:
        return DEFAULT_VOLUME_PATH
    path = value.strip()
    clean = posixpath.normpath(path) if path.startswith("/") else ""
    if (
        clean.startswith("/")
        and not clean.startswith("//")
        and clean != "/"
        and ".." not in path.split("/")
        and path.isprintable()
        and len(clean) <= 1024
    ):
        return clean
    findings.append(Finding.of(Reason.BAD_VOLUME_PATH, value=value))
    return DEFAULT_VOLUME_PATH


def _volume_mode(value: str | None, findings: list[Finding]) -> int:
    if value is None:
        return DEFAULT_VOLUME_MODE
    text = value.strip().lower()
    if _MODE.fullmatch(text):
        return int(text.removeprefix("0o") or "0", 8)
    findings.append(Finding.of(Reason.BAD_VOLUME_MODE, value=value))
    return DEFAULT_VOLUME_MODE


def _port(value: str | None, findings: list[Finding]) -> int:
    if value is None:
        return DEFAULT_PORT
    text = value.strip()
    if _PORT.fullmatch(text) and 1024 <= int(text) <= 65535:
        return int(text)
    findings.append(Finding.of(Reason.BAD_PORT, value=value))
    return DEFAULT_PORT


def _image(value: str | None, findings: list[Finding]) -> str | None:
    if value is None:
        return None
    try:
        return image_reference(value)
    except ValueError:
        findings.append(Finding.of(Reason.BAD_IMAGE, value=value))
        return None


def _boolean(key: str, value: str | None, findings: list[Finding]) -> bool:
    if value is None:
        return False
    text = value.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    findings.append(Finding.of(Reason.BAD_BOOLEAN, annotation=key, value=value))
    return False


_READ_ONLY = PREFIX + "ambassador-read-only"


def _read_only(value: str | None, findings: list[Finding]) -> bool:
    return _boolean(_READ_ONLY, value, findings)


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
    Annotation(PREFIX + "containers", "containers", None, _containers,
               (_R.UNKNOWN_CONTAINER, _R.AMBASSADOR_NOT_TARGET),
               "containers that get the env vars and the mount (init containers when named)"),
    Annotation(PREFIX + "env-prefix", "env_prefix", "", _env_prefix, (_R.BAD_ENV_PREFIX,),
               "prefix for every injected env var name"),
    Annotation(PREFIX + "env-fields", "env_fields", DEFAULT_FIELDS, _env_fields,
               (_R.UNKNOWN_FIELD, _R.BAD_FIELD_KEY, _R.DUPLICATE_ENV_NAME, _R.TOO_MANY_ENV_FIELDS),
               "which env vars: catalog keys, label:KEY, annotation:KEY, default"),
    Annotation(CPU_DIVISOR, "cpu_divisor", DEFAULT_CPU, _cpu_divisor, (_R.BAD_CPU_DIVISOR,),
               "divisor of the cpu env vars and files"),
    Annotation(MEMORY_DIVISOR, "memory_divisor", DEFAULT_MEMORY, _memory_divisor,
               (_R.BAD_MEMORY_DIVISOR,), "divisor of the memory and ephemeral-storage values"),
    Annotation(VOLUME_PATH, "volume_path", DEFAULT_VOLUME_PATH, _volume_path,
               (_R.BAD_VOLUME_PATH,), "mount path of the downward volume"),
    Annotation(VOLUME_MODE, "volume_mode", DEFAULT_VOLUME_MODE, _volume_mode,
               (_R.BAD_VOLUME_MODE,), "octal mode of the volume's files"),
    Annotation(AMBASSADOR_PORT, "ambassador_port", DEFAULT_PORT, _port, (_R.BAD_PORT,),
               "port of kubectl proxy on 127.0.0.1"),
    Annotation(PREFIX + "ambassador-image", "ambassador_image", None, _image, (_R.BAD_IMAGE,),
               "image of the ambassador (absent: the server's --ambassador-image)"),
    Annotation(_READ_ONLY, "ambassador_read_only", False, _read_only, (_R.BAD_BOOLEAN,),
               "true: the proxy refuses every method but GET, HEAD, OPTIONS"),
    Annotation(INJECTED, None, None, None, (), "written by the webhook: the modes it applied"),
    Annotation(WARNINGS, None, None, None, (), "written by the webhook: the review's findings"),
)
# fmt: on
#: Every key the webhook reads or writes; any other ``downward.io/`` key is a finding.
KNOWN_KEYS = frozenset(a.key for a in ANNOTATIONS)
_PARSED: tuple[tuple[str, str, Parser], ...] = tuple(
    (a.key, a.field, a.parse) for a in ANNOTATIONS if a.field is not None and a.parse is not None
)
