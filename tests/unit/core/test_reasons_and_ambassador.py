"""The reason table and the ambassador's read-only method filter."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.core.ambassador import complement_regex
from webhook.core.reasons import Finding, Reason, Severity, listing


def test_reason_codes_are_unique_and_lowercase_kebab() -> None:
    codes = [r.code for r in Reason]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", c) for c in codes)


@pytest.mark.parametrize("reason", list(Reason), ids=lambda r: r.code)
def test_every_message_is_one_printable_ascii_line_even_for_hostile_values(reason: Reason) -> None:
    hostile = "x\n\r\x00\u202e" + "y" * 500
    finding = Finding.of(
        reason,
        value=hostile,
        name=hostile,
        container=hostile,
        path=hostile,
        key=hostile,
        annotation="downward.io/x",
        resources="cpu",
        port="1",
        count="100001",
        limit="100",
        length="20000",
        how="declares (spec.os.name)",
        use="probe",
        meant="downward.io/inject",
        containers=listing("container", [hostile]),
        names=listing("env var", [hostile]),
        missing=listing("container", [hostile]) + " has no cpu limit",
    )
    message = finding.message
    assert message.isascii() and message.isprintable()
    assert len(message) < 300
    assert finding.invalid == (reason.severity is Severity.INVALID)


SAFE = ("GET", "HEAD", "OPTIONS")
REJECT = re.compile(complement_regex(SAFE))


@pytest.mark.parametrize("method", SAFE)
def test_read_only_proxy_lets_safe_methods_through(method: str) -> None:
    assert not REJECT.match(method)


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=12))
def test_read_only_proxy_rejects_every_other_method(method: str) -> None:
    assert bool(REJECT.match(method)) == (method not in SAFE)


def test_reject_regex_has_no_comma_and_no_lookahead_for_go_regexp() -> None:
    pattern = complement_regex(SAFE)
    assert "," not in pattern and "(?!" not in pattern and "(?=" not in pattern
