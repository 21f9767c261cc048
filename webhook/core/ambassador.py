"""Ambassador mode: a ``kubectl proxy`` sidecar on loopback.

The app talks plain HTTP to ``127.0.0.1``; the proxy adds the service-account token, the CA
and TLS. It listens on loopback only: on the pod IP, anyone who can reach the pod would get
the pod's API rights. It meets the *restricted* Pod Security Standard, and since the official
``registry.k8s.io/kubectl`` image runs as root by default, it sets its own non-root user and
writes only to a small ``emptyDir`` (``HOME``, kubectl's cache).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from webhook.types import JSONObject

__all__ = [
    "CONTAINER_NAME",
    "TMP_VOLUME",
    "TOKEN_PATH",
    "TOKEN_VOLUME",
    "AmbassadorSettings",
    "build_container",
    "build_volumes",
    "complement_regex",
    "proxy_command",
]

CONTAINER_NAME = "downward-ambassador"
TMP_VOLUME = "downward-ambassador-tmp"
TOKEN_VOLUME = "downward-ambassador-token"
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
_TMP_PATH = "/tmp"
_TOKEN_SECONDS = 3607  # what the ServiceAccount admission plugin uses for kube-api-access
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True, slots=True)
class AmbassadorSettings:
    """Cluster-wide ambassador settings (server flags, set by the chart).

    Immutable and hashable, as the key of the recipes made under them (``webhook.core.recipe``):
    ``resources`` is copied into read-only mappings, and left out of the hash (equal settings
    still hash equal; unequal ones rarely differ in their resources alone).
    """

    image: str = "registry.k8s.io/kubectl:v1.35.0"
    native_sidecar: bool = True
    run_as_user: int = 65532
    resources: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: {
            "requests": {"cpu": "10m", "memory": "32Mi"},
            "limits": {"cpu": "100m", "memory": "64Mi"},
        },
        hash=False,
    )

    #: The hash, worked out once: the settings are part of every recipe lookup's key.
    _hash: int = field(init=False, repr=False, compare=False, hash=False, default=0)

    def __post_init__(self) -> None:
        frozen = MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.resources.items()})
        object.__setattr__(self, "resources", frozen)
        object.__setattr__(self, "_hash", hash((self.image, self.native_sidecar, self.run_as_user)))

    def __hash__(self) -> int:
        return self._hash


def complement_regex(allowed: Iterable[str]) -> str:
    """An RE2 (Go) regex matching every string except the ``allowed`` words exactly.

    ``kubectl proxy --reject-methods`` takes Go regexps, which have no negative lookahead, and
    splits its value on commas, so we spell the complement out over the words' prefixes.
    """
    words = sorted(set(allowed))
    prefixes = sorted({w[:i] for w in words for i in range(len(w) + 1)})
    parts: list[str] = []
    for prefix in prefixes:
        nexts = sorted({w[len(prefix)] for w in words if w.startswith(prefix) and w != prefix})
        if prefix not in words:
            parts.append(f"{prefix}$")
        parts.append(f"{prefix}[^{''.join(nexts)}].*" if nexts else f"{prefix}.+")
    return "^(?:" + "|".join(parts) + ")"


_READ_ONLY_REJECT = complement_regex(_SAFE_METHODS)


def proxy_command(port: int, read_only: bool) -> list[str]:
    """The ambassador's ``kubectl proxy`` command line (also how a re-review knows it)."""
    command = [
        "kubectl",
        "proxy",
        "--address=127.0.0.1",
        f"--port={port}",
        r"--accept-hosts=^localhost$,^127\.0\.0\.1$",
    ]
    if read_only:
        command.append(f"--reject-methods={_READ_ONLY_REJECT}")
    return command


def _security_context(uid: int) -> JSONObject:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def build_container(
    settings: AmbassadorSettings,
    *,
    image: str | None,
    port: int,
    read_only: bool,
    own_token: bool,
) -> JSONObject:
    """The sidecar container (``restartPolicy: Always`` when it is a native sidecar)."""
    mounts: list[JSONObject] = [{"name": TMP_VOLUME, "mountPath": _TMP_PATH}]
    if own_token:
        mounts.append({"name": TOKEN_VOLUME, "mountPath": TOKEN_PATH, "readOnly": True})
    container: JSONObject = {
        "name": CONTAINER_NAME,
        "image": image or settings.image,
        "command": proxy_command(port, read_only),
        "env": [
            {"name": "HOME", "value": _TMP_PATH},
            {"name": "KUBECACHEDIR", "value": f"{_TMP_PATH}/.kube/cache"},
        ],
        "resources": {k: dict(v) for k, v in settings.resources.items()},
        "securityContext": _security_context(settings.run_as_user),
        "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if settings.native_sidecar:
        container["restartPolicy"] = "Always"
    return container


def build_volumes(own_token: bool) -> list[JSONObject]:
    """The ambassador's scratch ``emptyDir`` and, when the pod mounts no token, its own token.

    The projected token mirrors what the ServiceAccount admission plugin mounts
    (``kube-api-access-*``), but only into the ambassador: the app never holds a token.
    """
    volumes: list[JSONObject] = [
        {"name": TMP_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}
    ]
    if own_token:
        volumes.append(
            {
                "name": TOKEN_VOLUME,
                "projected": {
                    "defaultMode": 0o644,
                    "sources": [
                        {
                            "serviceAccountToken": {
                                "path": "token",
                                "expirationSeconds": _TOKEN_SECONDS,
                            }
                        },
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                    }
                                ]
                            }
                        },
                    ],
                },
            }
        )
    return volumes
