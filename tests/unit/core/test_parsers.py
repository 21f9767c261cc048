"""``webhook.core.parsers``: each value parser alone, what it returns for good and bad text.

``test_annotations.py`` reads the same values through ``read_options`` and the table; here
each parser's own contract: a bad value gives one finding *and* the default (a list drops
only its bad items), an absent value gives the default with no finding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from webhook.core import parsers
from webhook.core.divisors import DEFAULT_CPU, DEFAULT_MEMORY
from webhook.core.envvars import DEFAULT_FIELDS
from webhook.core.keys import MODES
from webhook.core.reasons import Finding, Reason

Parser = Callable[[str | None, list[Finding]], Any]


def _parse(parser: Parser, value: str | None) -> tuple[Any, list[Reason]]:
    findings: list[Finding] = []
    return parser(value, findings), [f.reason for f in findings]


@pytest.mark.parametrize(
    ("parser", "bad", "default", "reason"),
    [
        (parsers.parse_env_prefix, "9LIVES", "", Reason.BAD_ENV_PREFIX),
        (parsers.parse_cpu_divisor, "1k", DEFAULT_CPU, Reason.BAD_CPU_DIVISOR),
        (parsers.parse_memory_divisor, "1Ti", DEFAULT_MEMORY, Reason.BAD_MEMORY_DIVISOR),
        (parsers.parse_volume_path, "etc/podinfo", "/etc/podinfo", Reason.BAD_VOLUME_PATH),
        (parsers.parse_volume_mode, "0888", 0o644, Reason.BAD_VOLUME_MODE),
        (parsers.parse_port, "80", 8001, Reason.BAD_PORT),
        (parsers.parse_image, "UPPER/case", None, Reason.BAD_IMAGE),
        (parsers.parse_read_only, "yes", False, Reason.BAD_BOOLEAN),
    ],
)
def test_a_bad_value_gives_one_finding_and_the_default(
    parser: Parser, bad: str, default: object, reason: Reason
) -> None:
    assert _parse(parser, bad) == (default, [reason])
    assert _parse(parser, None) == (default, [])


@pytest.mark.parametrize(("text", "port"), [("1024", 1024), (" 65535 ", 65535), ("8001", 8001)])
def test_ports_from_1024_to_65535_are_taken(text: str, port: int) -> None:
    assert _parse(parsers.parse_port, text) == (port, [])


#: Fullwidth digits are digits to ``str.isdigit`` but not a port.
_FULLWIDTH_8001 = "\uff18\uff10\uff10\uff11"


@pytest.mark.parametrize("text", ["1023", "65536", "0x1f41", _FULLWIDTH_8001, "-8001", "99999"])
def test_other_ports_are_refused(text: str) -> None:
    assert _parse(parsers.parse_port, text) == (8001, [Reason.BAD_PORT])


@pytest.mark.parametrize(
    ("text", "path"),
    [("/var/run//podinfo/", "/var/run/podinfo"), (" /etc/./info ", "/etc/info"), ("/x", "/x")],
)
def test_a_volume_path_is_trimmed_and_normalised(text: str, path: str) -> None:
    assert _parse(parsers.parse_volume_path, text) == (path, [])


@pytest.mark.parametrize("text", ["/", "//host/share", "/a/../b", "/a\tb", "/" + "a" * 1024])
def test_root_parent_steps_control_characters_and_long_paths_are_refused(text: str) -> None:
    assert _parse(parsers.parse_volume_path, text) == ("/etc/podinfo", [Reason.BAD_VOLUME_PATH])


def test_modes_are_read_in_any_case_and_all_means_every_mode() -> None:
    assert _parse(parsers.parse_modes, " Env , VOLUME ") == ({"env", "volume"}, [])
    assert _parse(parsers.parse_modes, "all") == (frozenset(MODES), [])


def test_an_unknown_mode_is_dropped_and_the_others_kept() -> None:
    assert _parse(parsers.parse_modes, "env,sidecar") == ({"env"}, [Reason.UNKNOWN_MODE])
    assert _parse(parsers.parse_modes, " , ") == (frozenset(), [Reason.NO_MODE])


def test_an_opt_out_word_wins_over_modes_beside_it() -> None:
    assert _parse(parsers.parse_modes, "none") == (None, [])
    assert _parse(parsers.parse_modes, "env,false") == (None, [Reason.OPT_OUT_MIXED])


def test_containers_keep_their_first_order_once_each() -> None:
    assert _parse(parsers.parse_containers, " b, a ,b,, ") == (("b", "a"), [])
    assert _parse(parsers.parse_containers, None) == (None, [])


def test_env_fields_keep_the_good_items_in_order_once_each() -> None:
    fields, reasons = _parse(parsers.parse_env_fields, "cpuRequest, nodeIP, name, CPUREQUEST")
    assert [f.key for f in fields] == ["cpuRequest", "name"]
    assert reasons == [Reason.UNKNOWN_FIELD]


@pytest.mark.parametrize("text", ["", "  ", " , ,"])
def test_env_fields_that_name_nothing_are_a_finding_and_no_fields(text: str) -> None:
    # As a value whose every entry is unknown: nothing is left (not the default set).
    assert _parse(parsers.parse_env_fields, text) == ((), [Reason.NO_FIELDS])


def test_default_among_env_fields_adds_the_default_set() -> None:
    fields, reasons = _parse(parsers.parse_env_fields, "label:team, default")
    assert reasons == []
    assert [f.key for f in fields] == ["label:team", *(f.key for f in DEFAULT_FIELDS)]
