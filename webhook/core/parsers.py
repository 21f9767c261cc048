"""Parsers: one per ``downward.io/*`` value, ``(text or None when absent, findings) -> value``.

Each returns its ``Options`` field's value (``webhook.core.annotations`` holds the table that
pairs keys, fields and parsers). A bad value is never an error here: the parser appends a
finding that says what is wrong and what is used instead, and returns the default (or drops
the bad item of a list). Values are trimmed; keywords are case-insensitive; lists are
comma-separated.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping

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
    AMBASSADOR_READ_ONLY,
    DEFAULT_TEXT,
    MODES,
    OPT_OUT,
    VOLUME_MODE,
    VOLUME_PATH,
)
from webhook.core.reasons import Finding, Reason
from webhook.core.validation import is_env_prefix
from webhook.core.values import image_reference, port

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_VOLUME_MODE",
    "DEFAULT_VOLUME_PATH",
    "parse_containers",
    "parse_cpu_divisor",
    "parse_env_fields",
    "parse_env_prefix",
    "parse_image",
    "parse_memory_divisor",
    "parse_modes",
    "parse_port",
    "parse_read_only",
    "parse_volume_mode",
    "parse_volume_path",
]

DEFAULT_VOLUME_PATH = DEFAULT_TEXT[VOLUME_PATH]
DEFAULT_VOLUME_MODE = int(DEFAULT_TEXT[VOLUME_MODE], 8)
DEFAULT_PORT = int(DEFAULT_TEXT[AMBASSADOR_PORT])

_MODE = re.compile(r"(?:0o?)?[0-7]{1,3}")
_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
_QUALIFIED_NAME = re.compile(rf"(?:{_DNS_SUBDOMAIN}/)?{_NAME}")


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


def parse_containers(value: str | None, findings: list[Finding]) -> tuple[str, ...] | None:
    # Names are checked against the pod by the planner (UNKNOWN_CONTAINER).
    if value is None:
        return None
    return tuple(dict.fromkeys(_items(value)))


def parse_env_prefix(value: str | None, findings: list[Finding]) -> str:
    if value is None or not value.strip():
        return ""
    value = value.strip()
    if is_env_prefix(value):  # Kubernetes' env name rule holds for every name we make
        return value
    findings.append(Finding.of(Reason.BAD_ENV_PREFIX, value=value))
    return ""


def parse_env_fields(value: str | None, findings: list[Finding]) -> tuple[EnvField, ...]:
    if value is None:
        return DEFAULT_FIELDS
    items = _items(value)
    if not items:  # as a list of unknown fields: nothing is left, so env mode adds nothing
        findings.append(Finding(Reason.NO_FIELDS))
        return ()
    fields: dict[str, EnvField] = {}
    for item in items:
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


def parse_cpu_divisor(value: str | None, findings: list[Finding]) -> Divisor:
    return _divisor(value, CPU_DIVISORS, DEFAULT_CPU, Reason.BAD_CPU_DIVISOR, findings)


def parse_memory_divisor(value: str | None, findings: list[Finding]) -> Divisor:
    return _divisor(value, MEMORY_DIVISORS, DEFAULT_MEMORY, Reason.BAD_MEMORY_DIVISOR, findings)


def parse_volume_path(value: str | None, findings: list[Finding]) -> str:
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


def parse_volume_mode(value: str | None, findings: list[Finding]) -> int:
    if value is None:
        return DEFAULT_VOLUME_MODE
    text = value.strip().lower()
    if _MODE.fullmatch(text):
        return int(text.removeprefix("0o") or "0", 8)
    findings.append(Finding.of(Reason.BAD_VOLUME_MODE, value=value))
    return DEFAULT_VOLUME_MODE


def parse_port(value: str | None, findings: list[Finding]) -> int:
    if value is None:
        return DEFAULT_PORT
    try:
        return port(value, low=1024)
    except ValueError:
        findings.append(Finding.of(Reason.BAD_PORT, value=value))
        return DEFAULT_PORT


def parse_image(value: str | None, findings: list[Finding]) -> str | None:
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


def parse_read_only(value: str | None, findings: list[Finding]) -> bool:
    return _boolean(AMBASSADOR_READ_ONLY, value, findings)
