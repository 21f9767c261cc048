"""Kubernetes' own rules for the names we make or copy: env var, container, Service names.

Restated from apimachinery ``pkg/util/validation/validation.go`` and kubernetes
``pkg/apis/core/validation/validation.go``, for every version the chart supports (1.29 and
later). Env var names follow the *strict* rule, ``IsEnvVarName``: the relaxed rule (any
printable ASCII but ``=``, ``RelaxedEnvironmentVariableValidation``) is alpha in 1.30 (off),
beta and on by default only from 1.32, GA in 1.34, so a name valid under the strict rule is the
only kind that passes on every supported cluster. Both rules refuse ``.``, ``..`` and names
that start with ``..`` (``hasChDirPrefix``). Neither sets a length limit; our prefix is at
most 64 characters, and a label or annotation key at most 317, so names stay bounded.
"""

from __future__ import annotations

import re

__all__ = [
    "DNS1123_LABEL_MAX",
    "ENV_PREFIX_MAX",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_env_name",
    "is_env_prefix",
]

#: ``validation.DNS1123LabelMaxLength``: container and volume names.
DNS1123_LABEL_MAX = 63
#: ``validation.DNS1123SubdomainMaxLength``: most object names (Secrets, webhook configurations).
DNS1123_SUBDOMAIN_MAX = 253
#: Our own bound (Kubernetes sets none on env names): the longest ``downward.io/env-prefix``.
ENV_PREFIX_MAX = 64
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_DNS1123_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z](?:[-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
)


def is_env_name(name: str) -> bool:
    """``IsEnvVarName``, the strict form (see the module docstring)."""
    return (
        _ENV_NAME.fullmatch(name) is not None
        and name not in (".", "..")
        and not name.startswith("..")
    )


def is_env_prefix(prefix: str) -> bool:
    """Whether ``prefix`` followed by any name we make is a valid env var name.

    Every name we append (``POD_NAME``, ``LABEL_<KEY>`` with the key reduced to
    ``[A-Z0-9_]``, ``KUBERNETES_API_URL``) starts with a capital letter and stays within
    ``[A-Z0-9_]``, so checking the prefix followed by one letter checks them all: ``.`` is
    fine (``.POD_NAME``), ``..`` and ``..x`` are not (``..POD_NAME`` starts with ``..``),
    nor is a prefix that starts with a digit.
    """
    return not prefix or (len(prefix) <= ENV_PREFIX_MAX and is_env_name(prefix + "A"))


def is_dns1123_label(name: str) -> bool:
    """``IsDNS1123Label``: container names, volume names, namespace names."""
    return len(name) <= DNS1123_LABEL_MAX and _DNS1123_LABEL.fullmatch(name) is not None


def is_dns1035_label(name: str) -> bool:
    """``IsDNS1035Label``: Service names (a first character that is a letter)."""
    return len(name) <= DNS1123_LABEL_MAX and _DNS1035_LABEL.fullmatch(name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    """``IsDNS1123Subdomain``: the names of most objects (Secrets, webhook configurations)."""
    return len(name) <= DNS1123_SUBDOMAIN_MAX and _DNS1123_SUBDOMAIN.fullmatch(name) is not None
