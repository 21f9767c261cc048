"""Env mode: the catalog of Downward API env vars and how each becomes an ``EnvVar``.

Env vars are resolved once, when the container starts (labels changed later are not seen:
that is what the volume is for). Only single label/annotation keys can be env vars, and a
resource env var needs no ``containerName``: it refers to the container it is injected into.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from webhook.core.divisors import Divisor
from webhook.types import JSONObject

__all__ = [
    "CATALOG",
    "DEFAULT_FIELDS",
    "EnvBlock",
    "EnvField",
    "api_url_var",
    "build_env",
    "env_block",
    "env_source",
    "metadata_key_field",
]


@dataclass(frozen=True, slots=True)
class EnvField:
    """One selectable env var. ``resource`` fields get a unit suffix from their divisor."""

    key: str
    base_name: str
    field_path: str | None = None
    resource: str | None = None

    @property
    def resource_kind(self) -> str | None:
        """``cpu``, ``memory`` or ``ephemeral-storage`` for resource fields."""
        return self.resource.split(".", 1)[1] if self.resource else None


def _field(key: str, name: str, path: str) -> EnvField:
    return EnvField(key, name, field_path=path)


def _resource(key: str, name: str, resource: str) -> EnvField:
    return EnvField(key, name, resource=resource)


_ALL: tuple[tuple[EnvField, bool], ...] = (
    (_field("name", "POD_NAME", "metadata.name"), True),
    (_field("namespace", "POD_NAMESPACE", "metadata.namespace"), True),
    (_field("uid", "POD_UID", "metadata.uid"), True),
    (_field("podIP", "POD_IP", "status.podIP"), True),
    (_field("podIPs", "POD_IPS", "status.podIPs"), False),
    (_field("node", "NODE_NAME", "spec.nodeName"), True),
    (_field("hostIP", "HOST_IP", "status.hostIP"), True),
    (_field("hostIPs", "HOST_IPS", "status.hostIPs"), False),
    (_field("serviceAccount", "SERVICE_ACCOUNT", "spec.serviceAccountName"), True),
    (_resource("cpuRequest", "CPU_REQUEST", "requests.cpu"), True),
    (_resource("cpuLimit", "CPU_LIMIT", "limits.cpu"), True),
    (_resource("memoryRequest", "MEMORY_REQUEST", "requests.memory"), True),
    (_resource("memoryLimit", "MEMORY_LIMIT", "limits.memory"), True),
    (
        _resource(
            "ephemeralStorageRequest", "EPHEMERAL_STORAGE_REQUEST", "requests.ephemeral-storage"
        ),
        False,
    ),
    (
        _resource("ephemeralStorageLimit", "EPHEMERAL_STORAGE_LIMIT", "limits.ephemeral-storage"),
        False,
    ),
)

#: Keyword (lower-cased, annotation values are case-insensitive) -> field.
CATALOG: dict[str, EnvField] = {f.key.lower(): f for f, _ in _ALL}
DEFAULT_FIELDS: tuple[EnvField, ...] = tuple(f for f, default in _ALL if default)

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def metadata_key_field(kind: str, key: str) -> EnvField:
    """``label:KEY`` / ``annotation:KEY`` -> ``LABEL_<KEY>`` from ``metadata.labels['KEY']``."""
    name = f"{kind.upper()}_{_NOT_ALNUM.sub('_', key.upper())}"
    return EnvField(f"{kind}:{key}", name, field_path=f"metadata.{kind}s['{key}']")


def env_name(field: EnvField, prefix: str, cpu: Divisor, memory: Divisor) -> str:
    """The env var name: prefix, base name and, for resources, the divisor's unit."""
    kind = field.resource_kind
    if kind is None:
        return prefix + field.base_name
    unit = cpu.unit if kind == "cpu" else memory.unit
    return f"{prefix}{field.base_name}_{unit}"


def _value_from(field: EnvField, cpu: Divisor, memory: Divisor) -> JSONObject:
    if field.resource is None:
        return {"fieldRef": {"apiVersion": "v1", "fieldPath": field.field_path}}
    divisor = cpu if field.resource_kind == "cpu" else memory
    return {"resourceFieldRef": {"resource": field.resource, "divisor": divisor.quantity}}


def build_env(
    fields: Iterable[EnvField], prefix: str, cpu: Divisor, memory: Divisor
) -> list[tuple[EnvField, JSONObject]]:
    """The ``EnvVar`` objects for ``fields``, each with the field that made it."""
    return [
        (f, {"name": env_name(f, prefix, cpu, memory), "valueFrom": _value_from(f, cpu, memory)})
        for f in fields
    ]


def api_url_var(prefix: str, port: int) -> JSONObject:
    """``KUBERNETES_API_URL`` pointing the app at the ambassador on loopback."""
    return {"name": f"{prefix}KUBERNETES_API_URL", "value": f"http://127.0.0.1:{port}"}


class EnvBlock(NamedTuple):
    """The env vars to inject for one set of options, and what planning needs to know."""

    env: tuple[JSONObject, ...]
    limits: tuple[str, ...]  # resource kinds whose *limit* an env var reads (cpu, memory)
    duplicates: tuple[tuple[str, str], ...]  # (field key, name) of vars dropped as repeats
    names: frozenset[str]
    #: The names of env mode's vars (``downward.io/env-fields``): ``names`` less the
    #: ambassador's ``KUBERNETES_API_URL``, which does not make env mode take effect.
    field_names: frozenset[str] = frozenset()


def env_block(
    fields: tuple[EnvField, ...], prefix: str, cpu: Divisor, memory: Divisor, api_port: int | None
) -> EnvBlock:
    """The env vars for ``fields`` (the first of a repeated name wins), then
    ``KUBERNETES_API_URL`` when the ambassador listens on ``api_port``. Made once per set of
    options (``webhook.core.pieces.Kit``): the dicts are shared, and nothing changes them."""
    pairs = build_env(fields, prefix, cpu, memory)
    seen: set[str] = set()
    env: list[JSONObject] = []
    duplicates: list[tuple[str, str]] = []
    for f, var in pairs:
        if var["name"] in seen:
            duplicates.append((f.key, var["name"]))
            continue
        seen.add(var["name"])
        env.append(var)
    if api_port is not None:
        env.append(api_url_var(prefix, api_port))
    limits = tuple(
        dict.fromkeys(
            f.resource_kind
            for f, _ in pairs
            if f.resource and f.resource.startswith("limits.") and f.resource_kind
        )
    )
    names = frozenset(var["name"] for var in env)
    return EnvBlock(tuple(env), limits, tuple(duplicates), names, frozenset(seen))


def env_source(value: object, value_from: object, container: str) -> tuple[object, ...]:
    """What an env var reads, so an already-injected var counts as ours, not a conflict."""
    if not isinstance(value_from, dict):
        return ("value", value or "")
    ref = value_from.get("fieldRef")
    if isinstance(ref, dict):
        return ("field", ref.get("fieldPath"))
    ref = value_from.get("resourceFieldRef")
    if isinstance(ref, dict):
        return (
            "resource",
            ref.get("resource"),
            ref.get("divisor") or "1",
            ref.get("containerName") or container,
        )
    return ("other", repr(sorted(value_from)))
