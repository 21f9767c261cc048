"""Pieces: everything one set of options adds to a pod, built and JSON-encoded once.

A ``Kit`` holds, for one ``Options`` and one ``AmbassadorSettings``, the env vars (with and
without ``KUBERNETES_API_URL``), the mount, the volume as a template over the pod's container
names, and the ambassador container and volumes (with and without its own token). Each is
kept as the values the planner compares (a re-review finds its own env vars and volume) and as
the JSON of the patch operations that add it, so a patch is a join of byte strings made here.

A kit is immutable and made by ``Kit.of`` alone; ``webhook.core.recipe`` keeps one per set of
annotations and settings. Nothing here is cached: what varies per pod (the JSON Pointer of a
container, whether a list exists, the container names in the volume) is joined into the
pre-encoded parts by ``patch.render``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import msgspec

from webhook.core import ambassador as amb
from webhook.core.annotations import Options
from webhook.core.envvars import EnvBlock, api_url_var, env_block
from webhook.core.keys import AMBASSADOR, ENV
from webhook.core.volume import FOLDER_LIMITS, build_mount, build_volume, resource_items
from webhook.types import JSONObject

__all__ = [
    "AmbassadorPieces",
    "EnvPieces",
    "Kit",
    "Mount",
    "Template",
    "VolumeTemplate",
    "add_op",
    "env_pieces",
    "template",
]

_encode = msgspec.json.encode


_OP = b'{"op":"add","path":"'


def add_op(path: bytes, value: bytes) -> bytes:
    """One ``add`` operation: ``path`` a JSON Pointer already escaped for JSON, ``value`` JSON."""
    return _OP + path + b'","value":' + value + b"}"


#: A container's operations as the fragments between the places its JSON Pointer goes:
#: ``pointer.join(template)`` is their JSON, comma-separated.
Template = tuple[bytes, ...]


def template(ends: list[bytes]) -> Template:
    """The template of one operation per end (what follows the pointer in its path)."""
    return (_OP, *[end + b"," + _OP for end in ends[:-1]], ends[-1])


def _templates(ends: list[bytes], mount: Mount) -> tuple[Template, Template, Template]:
    """``template(ends)``, then with the mount created, then appended: the three share all
    but their last fragments (a kit's memory is mostly these)."""
    *first, last = template(ends)
    joined = last + b"," + _OP
    return (*first, last), (*first, joined, mount.create), (*first, joined, mount.append)


class Mount(NamedTuple):
    """The ends of the mount's operation: create the ``volumeMounts`` list, or append to it."""

    create: bytes
    append: bytes


class EnvPieces(NamedTuple):
    """Env vars to add to one container, and the templates of the container's operations:
    ``templates[has_env][mount]``, ``has_env`` whether it has an ``env`` list (then one
    ``add`` per var, at the front, in order; else one that creates the list), ``mount``
    0 for no mount, 1 to create ``volumeMounts``, 2 to append to it."""

    vars: tuple[JSONObject, ...]
    templates: tuple[tuple[Template, Template, Template], tuple[Template, Template, Template]]


def env_pieces(env: tuple[JSONObject, ...], mount: Mount) -> EnvPieces:
    """The pieces of ``env`` (not empty)."""
    encoded = [_encode(var) for var in env]
    create = [b'/env","value":[' + b",".join(encoded) + b"]}"]
    indexed = [b'/env/%d","value":%b}' % (i, var) for i, var in enumerate(encoded)]
    return EnvPieces(env, (_templates(create, mount), _templates(indexed, mount)))


class VolumeTemplate(NamedTuple):
    """The downward volume as JSON around the pod's container names: ``head`` (through the
    metadata items), then for each name its items (``item`` joined by the name's JSON text;
    its first fragment starts with the comma before them), then ``tail``."""

    head: bytes
    item: tuple[bytes, ...]
    tail: bytes

    def encode(self, names: list[str]) -> bytes:
        if not names:
            return self.head + self.tail
        # The names' JSON texts in one encoding: inside a JSON string every quote is escaped,
        # so the list's ``","`` separators are the only ones.
        texts = _encode(names)[2:-2].split(b'","')
        item = self.item
        return b"".join([self.head, *[text.join(item) for text in texts], self.tail])


#: A name no JSON text holds as is (a NUL is escaped inside a string): where the names go.
_MARK = "\x00"


def _volume_template(options: Options) -> VolumeTemplate:
    """The JSON of ``volume.build_volume`` for one container named ``_MARK``, cut around its
    items and at each ``_MARK``; ``tests/unit/core/test_pieces.py`` checks it against
    ``build_volume`` for any names."""
    mode, cpu, memory = options.volume_mode, options.cpu_divisor, options.memory_divisor
    whole = _encode(build_volume([_MARK], mode, cpu, memory))
    items = b",".join(_encode(item) for item in resource_items(_MARK, cpu, memory))
    at = whole.index(b"," + items)
    return VolumeTemplate(
        whole[:at], tuple((b"," + items).split(_encode(_MARK)[1:-1])), whole[at + 1 + len(items) :]
    )


class AmbassadorPieces(NamedTuple):
    """The ambassador for one kind of pod: its container and volumes, as JSON."""

    container: bytes
    #: A native sidecar (``restartPolicy: Always``): it goes to ``initContainers``.
    native: bool
    volumes: tuple[bytes, ...]
    #: The limits of ``volume.FOLDER_LIMITS`` that its resources (the chart's) leave out,
    #: which its folder in the downward volume reads: none while the chart sets both.
    lacks: tuple[str, ...] = ()


def _ambassador(
    settings: amb.AmbassadorSettings, options: Options, own_token: bool
) -> AmbassadorPieces:
    container = amb.build_container(
        settings,
        image=options.ambassador_image,
        port=options.ambassador_port,
        read_only=options.ambassador_read_only,
        own_token=own_token,
    )
    limits = settings.resources.get("limits") or {}
    return AmbassadorPieces(
        _encode(container),
        container.get("restartPolicy") == "Always",
        tuple(_encode(v) for v in amb.build_volumes(own_token)),
        tuple([kind for kind in FOLDER_LIMITS if kind not in limits]),
    )


@dataclass(frozen=True, slots=True)
class Kit:
    """The pre-encoded additions of one ``Options`` under one ``AmbassadorSettings``."""

    options: Options
    #: The env vars to inject (none without the env mode), what planning reads of them, and
    #: their pieces (``None`` for no env vars).
    env: EnvBlock
    env_pieces: EnvPieces | None
    #: The same with ``KUBERNETES_API_URL`` last, for a pod that gets the ambassador.
    env_api: EnvBlock
    env_api_pieces: EnvPieces | None
    mount: Mount
    #: The templates of a container that gets the mount alone: create, append.
    mount_only: tuple[Template, Template]
    volume: VolumeTemplate
    #: The ambassador's ``kubectl proxy`` command (how a re-review knows its own container),
    #: and the ambassador for a pod that mounts the service-account token and for one that
    #: does not (``automountServiceAccountToken: false``); ``None`` without the mode.
    command: tuple[str, ...]
    ambassador: tuple[AmbassadorPieces, AmbassadorPieces] | None

    @classmethod
    def of(cls, options: Options, settings: amb.AmbassadorSettings) -> Kit:
        fields = options.env_fields if ENV in options.modes else ()
        cpu, memory, prefix = options.cpu_divisor, options.memory_divisor, options.env_prefix
        env = env_block(fields, prefix, cpu, memory, None)
        encoded = _encode(build_mount(options.volume_path))
        mount = Mount(
            b'/volumeMounts","value":[' + encoded + b"]}",
            b'/volumeMounts/-","value":' + encoded + b"}",
        )
        pieces = env_pieces(env.env, mount) if env.env else None
        wants_ambassador = AMBASSADOR in options.modes
        env_api, api_pieces = env, pieces
        if wants_ambassador:
            api = api_url_var(prefix, options.ambassador_port)  # last, after the deduplication
            env_api = env._replace(env=(*env.env, api), names=env.names | {api["name"]})
            api_pieces = env_pieces(env_api.env, mount)
        return cls(
            options=options,
            env=env,
            env_pieces=pieces,
            env_api=env_api,
            env_api_pieces=api_pieces,
            mount=mount,
            mount_only=(template([mount.create]), template([mount.append])),
            volume=_volume_template(options),
            command=tuple(amb.proxy_command(options.ambassador_port, options.ambassador_read_only)),
            ambassador=(
                (_ambassador(settings, options, False), _ambassador(settings, options, True))
                if wants_ambassador
                else None
            ),
        )

    def volume_items(self, names: list[str]) -> tuple[bytes, ...]:
        """The items (JSON) of the ``containers/<name>/`` folders of ``names``: for a volume of
        ours that lacks them (containers added after it was, a re-review)."""
        cpu, memory = self.options.cpu_divisor, self.options.memory_divisor
        return tuple(
            [_encode(item) for name in names for item in resource_items(name, cpu, memory)]
        )

    def volume_source(self, names: list[str]) -> object:
        """The ``downwardAPI`` source of the volume for ``names``, decoded (to compare it with
        a volume the pod has already: a re-review)."""
        volume: JSONObject = msgspec.json.decode(self.volume.encode(names))
        return volume["downwardAPI"]
