"""Decide: read the ``downward.io/*`` annotations into ``Options``, with a finding per bad value.

A bad value never blocks on its own: the bad part is skipped (or its default used) and a
finding explains it; strict mode turns invalid findings into a denial one level up. Values are
trimmed; keywords are case-insensitive; lists are comma-separated.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from webhook.core.divisors import (
    CPU_DIVISORS,
    DEFAULT_CPU,
    DEFAULT_MEMORY,
    MEMORY_DIVISORS,
    Divisor,
)
from webhook.core.envvars import CATALOG, DEFAULT_FIELDS, EnvField, metadata_key_field
from webhook.core.reasons import Finding, Reason
from webhook.core.values import image_reference

__all__ = [
    "AMBASSADOR",
    "ENV",
    "INJECT",
    "INJECTED",
    "MODES",
    "PREFIX",
    "VOLUME",
    "Options",
    "parse_modes",
    "read_options",
]

PREFIX = "downward.io/"
INJECT = PREFIX + "inject"
INJECTED = PREFIX + "injected"
ENV, VOLUME, AMBASSADOR = "env", "volume", "ambassador"
#: Canonical order, used for the ``downward.io/injected`` status annotation.
MODES: tuple[str, ...] = (ENV, VOLUME, AMBASSADOR)
_OPT_OUT = frozenset({"none", "false"})

DEFAULT_VOLUME_PATH = "/etc/podinfo"
DEFAULT_VOLUME_MODE = 0o644
DEFAULT_PORT = 8001

_KNOWN_KEYS = frozenset(
    PREFIX + k
    for k in (
        "inject",
        "injected",
        "containers",
        "env-prefix",
        "env-fields",
        "cpu-divisor",
        "memory-divisor",
        "volume-path",
        "volume-mode",
        "ambassador-port",
        "ambassador-image",
        "ambassador-read-only",
    )
)
_ENV_PREFIX = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]{0,63}")
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
    opt_out = [w for w in words if w in _OPT_OUT]
    if opt_out:
        if len(words) > len(opt_out):
            findings.append(Finding.of(Reason.OPT_OUT_MIXED, value=opt_out[0]))
        return None
    modes: set[str] = set()
    for word in words:
        if word == "all":
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

    Cached per set of ``downward.io/*`` annotations (every pod of a workload has the same),
    when they are short enough that the cache stays small; ``Options`` and ``Finding`` are
    frozen, and each caller gets its own list of findings.
    """
    ours = tuple((k, v) for k, v in annotations.items() if k.startswith(PREFIX))
    if _cacheable(ours):
        options, findings = _cached_options(ours, default_inject)
        return options, list(findings)
    return _read_options(dict(ours), default_inject)


_CACHEABLE_CHARS = 1024


def _cacheable(items: tuple[tuple[str, object], ...]) -> bool:
    size = 0
    for key, value in items:
        if not isinstance(value, str):
            return False
        size += len(key) + len(value)
    return size <= _CACHEABLE_CHARS


@lru_cache(maxsize=512)
def _cached_options(
    ours: tuple[tuple[str, str], ...], default_inject: str | None
) -> tuple[Options | None, tuple[Finding, ...]]:
    options, findings = _read_options(dict(ours), default_inject)
    return options, tuple(findings)


def _read_options(
    annotations: Mapping[str, str], default_inject: str | None
) -> tuple[Options | None, list[Finding]]:
    findings: list[Finding] = []
    inject = annotations.get(INJECT, default_inject)
    if inject is None:
        return None, findings
    modes = parse_modes(inject, findings)
    if modes is None:
        return None, findings
    for key in annotations:
        if key.startswith(PREFIX) and key not in _KNOWN_KEYS:
            findings.append(Finding.of(Reason.UNKNOWN_ANNOTATION, key=key))
    get = annotations.get
    options = Options(
        modes=modes,
        containers=_containers(get(PREFIX + "containers")),
        env_prefix=_env_prefix(get(PREFIX + "env-prefix"), findings),
        env_fields=_env_fields(get(PREFIX + "env-fields"), findings),
        cpu_divisor=_divisor(
            get(PREFIX + "cpu-divisor"), CPU_DIVISORS, DEFAULT_CPU, Reason.BAD_CPU_DIVISOR, findings
        ),
        memory_divisor=_divisor(
            get(PREFIX + "memory-divisor"),
            MEMORY_DIVISORS,
            DEFAULT_MEMORY,
            Reason.BAD_MEMORY_DIVISOR,
            findings,
        ),
        volume_path=_volume_path(get(PREFIX + "volume-path"), findings),
        volume_mode=_volume_mode(get(PREFIX + "volume-mode"), findings),
        ambassador_port=_port(get(PREFIX + "ambassador-port"), findings),
        ambassador_image=_image(get(PREFIX + "ambassador-image"), findings),
        ambassador_read_only=_boolean(
            PREFIX + "ambassador-read-only", get(PREFIX + "ambassador-read-only"), findings
        ),
    )
    return options, findings


def _containers(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(dict.fromkeys(_items(value)))


def _env_prefix(value: str | None, findings: list[Finding]) -> str:
    if value is None or not value.strip():
        return ""
    value = value.strip()
    if _ENV_PREFIX.fullmatch(value):
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
