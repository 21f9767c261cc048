"""``webhook.core.pieces``: the pre-encoded JSON is the JSON of the same values built as data.

Every byte string a kit holds is held here to ``msgspec.json.encode`` of what the plain
builders (``envvars``, ``volume``, ``ambassador``) make, for any container names, pointers
and options, so rendering by joining bytes can never give another patch than encoding.
"""

from __future__ import annotations

import json
from itertools import product
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.core import ambassador as amb
from webhook.core.annotations import Options
from webhook.core.divisors import CPU_DIVISORS, MEMORY_DIVISORS
from webhook.core.envvars import CATALOG, env_block
from webhook.core.keys import MODES
from webhook.core.pieces import Kit, add_op
from webhook.core.volume import build_mount, build_volume

SETTINGS = amb.AmbassadorSettings()
#: Names a pod may carry before validation refuses it: quotes, backslashes, the list
#: separator of the volume template, NUL (its marker), non-ASCII.
NAMES = st.lists(
    st.one_of(st.sampled_from(['a","b', "\\", '"', "\x00", "é", "", "app"]), st.text()),
    max_size=5,
)


def _options(**fields: Any) -> Options:
    return Options(frozenset(MODES), **fields)


@given(NAMES)
def test_the_volume_template_is_the_json_of_build_volume_for_any_names(names: list[str]) -> None:
    for options in (
        _options(),
        _options(volume_mode=0o600, cpu_divisor=CPU_DIVISORS["1m"]),
        _options(memory_divisor=MEMORY_DIVISORS["1Mi"]),
    ):
        kit = Kit.of(options, SETTINGS)
        built = build_volume(
            names, options.volume_mode, options.cpu_divisor, options.memory_divisor
        )
        assert json.loads(kit.volume.encode(names)) == built
        assert kit.volume_source(names) == built["downwardAPI"]
        # A volume's metadata items, then each name's folder: what a late folder appends.
        folders = [json.loads(item) for item in kit.volume_items(names)]
        assert folders == built["downwardAPI"]["items"][5:]


def _ops(pointer: str, kit_template: tuple[bytes, ...]) -> list[dict[str, Any]]:
    decoded: list[dict[str, Any]] = json.loads(b"[" + pointer.encode().join(kit_template) + b"]")
    return decoded


@pytest.mark.parametrize("api", [False, True])
@pytest.mark.parametrize("pointer", ["/spec/containers/0", "/spec/initContainers/12"])
def test_container_templates_are_the_operations_built_as_data(api: bool, pointer: str) -> None:
    options = _options(env_prefix="MY_", volume_path="/etc/info")
    kit = Kit.of(options, SETTINGS)
    pieces = kit.env_api_pieces if api else kit.env_pieces
    assert pieces is not None
    env = list(pieces.vars)
    assert env == list(
        env_block(
            options.env_fields,
            "MY_",
            options.cpu_divisor,
            options.memory_divisor,
            options.ambassador_port if api else None,
        ).env
    )
    mount = build_mount("/etc/info")
    for has_env, how in product((False, True), (0, 1, 2)):
        if has_env:
            want = [
                {"op": "add", "path": f"{pointer}/env/{i}", "value": v} for i, v in enumerate(env)
            ]
        else:
            want = [{"op": "add", "path": f"{pointer}/env", "value": env}]
        if how == 1:
            want.append({"op": "add", "path": f"{pointer}/volumeMounts", "value": [mount]})
        elif how == 2:
            want.append({"op": "add", "path": f"{pointer}/volumeMounts/-", "value": mount})
        assert _ops(pointer, pieces.templates[has_env][how]) == want
    assert _ops(pointer, kit.mount_only[0]) == [
        {"op": "add", "path": f"{pointer}/volumeMounts", "value": [mount]}
    ]
    assert _ops(pointer, kit.mount_only[1]) == [
        {"op": "add", "path": f"{pointer}/volumeMounts/-", "value": mount}
    ]


@pytest.mark.parametrize("own_token", [False, True])
@pytest.mark.parametrize("native", [False, True])
def test_the_ambassador_pieces_are_build_container_and_build_volumes(
    own_token: bool, native: bool
) -> None:
    settings = amb.AmbassadorSettings(native_sidecar=native)
    options = _options(ambassador_port=9001, ambassador_read_only=True, ambassador_image="k:1")
    kit = Kit.of(options, settings)
    assert kit.ambassador is not None
    pieces = kit.ambassador[own_token]
    container = amb.build_container(
        settings, image="k:1", port=9001, read_only=True, own_token=own_token
    )
    assert json.loads(pieces.container) == container
    assert pieces.native is native
    assert [json.loads(v) for v in pieces.volumes] == amb.build_volumes(own_token)
    assert pieces.lacks == ()  # the chart's resources have both limits its folder reads
    assert kit.command == tuple(amb.proxy_command(9001, True)) == tuple(container["command"])


def test_a_kit_without_a_mode_holds_nothing_of_it() -> None:
    kit = Kit.of(Options(frozenset({"volume"})), SETTINGS)
    assert kit.ambassador is None and kit.env_pieces is None and kit.env.env == ()
    with_fields = Kit.of(Options(frozenset({"env"}), env_fields=(CATALOG["name"],)), SETTINGS)
    assert [v["name"] for v in with_fields.env.env] == ["POD_NAME"]


def test_add_op_is_one_operation() -> None:
    assert json.loads(add_op(b"/a~1b", b'{"x":1}')) == {
        "op": "add",
        "path": "/a~1b",
        "value": {"x": 1},
    }
