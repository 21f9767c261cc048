"""The annotation table is the one definition of every ``downward.io/*`` key.

These tests hold everything else to it: the ``Options`` defaults, the reasons of the findings
and the defaults they name, the CLI's and the chart's mode lists, the README's and the
spec's tables of keys.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from webhook.cli import main
from webhook.core.annotations import ANNOTATIONS, KNOWN_KEYS, Annotation, Options, read_options
from webhook.core.keys import ALL, DEFAULT_TEXT, INJECT, MODES, OPT_OUT, PREFIX
from webhook.core.reasons import Finding, Reason

ROOT = Path(__file__).resolve().parents[3]
OPTION_ENTRIES = [a for a in ANNOTATIONS if a.parse is not None]
BY_KEY = {a.key: a for a in ANNOTATIONS}


def _id(entry: Annotation) -> str:
    return entry.key.removeprefix(PREFIX)


def test_every_key_is_defined_once_under_the_prefix_and_sets_its_own_field() -> None:
    keys = [a.key for a in ANNOTATIONS]
    fields = [a.field for a in ANNOTATIONS if a.field is not None]
    assert len(set(keys)) == len(keys)
    assert len(set(fields)) == len(fields)
    assert all(k.startswith(PREFIX) and k == k.lower() for k in keys)
    assert frozenset(keys) == KNOWN_KEYS


def test_the_table_sets_every_options_field_and_only_those() -> None:
    fields = {f.name for f in dataclasses.fields(Options)}
    assert {a.field for a in ANNOTATIONS if a.field is not None} == fields


@pytest.mark.parametrize("entry", OPTION_ENTRIES, ids=_id)
def test_the_options_default_is_the_table_default(entry: Annotation) -> None:
    assert entry.field is not None
    assert getattr(Options(modes=frozenset()), entry.field) == entry.default


@pytest.mark.parametrize("entry", OPTION_ENTRIES, ids=_id)
def test_an_absent_key_gives_the_table_default_without_findings(entry: Annotation) -> None:
    assert entry.parse is not None
    findings: list[Finding] = []
    assert entry.parse(None, findings) == entry.default
    assert findings == []


@pytest.mark.parametrize("key", sorted(DEFAULT_TEXT))
def test_the_written_default_parses_to_the_table_default(key: str) -> None:
    entry = BY_KEY[key]
    assert entry.parse is not None
    findings: list[Finding] = []
    assert entry.parse(DEFAULT_TEXT[key], findings) == entry.default
    assert findings == []


@pytest.mark.parametrize("key", sorted(DEFAULT_TEXT))
def test_a_bad_value_falls_back_to_the_default_and_the_finding_names_it(key: str) -> None:
    options, findings = read_options({INJECT: "env,volume", key: "~bad~"})
    entry = BY_KEY[key]
    assert options is not None and entry.field is not None
    assert getattr(options, entry.field) == entry.default
    assert [f.reason for f in findings] == list(entry.reasons)
    assert findings[0].message.startswith(f'{key}: "~bad~" ')
    assert findings[0].message.endswith(f"; using {DEFAULT_TEXT[key]}")


def test_the_reason_texts_that_name_a_default_are_exactly_the_ones_users_see() -> None:
    # Derived from DEFAULT_TEXT; the golden cases compare whole sentences, this names them.
    outcomes = {key: BY_KEY[key].reasons[0].outcome for key in DEFAULT_TEXT}
    assert outcomes == {
        PREFIX + "cpu-divisor": "using 1m",
        PREFIX + "memory-divisor": "using 1",
        PREFIX + "volume-path": "using /etc/podinfo",
        PREFIX + "volume-mode": "using 0644",
        PREFIX + "ambassador-port": "using 8001",
    }


def test_every_reason_about_a_key_belongs_to_that_keys_entry() -> None:
    owners = {r: a.key for a in ANNOTATIONS for r in a.reasons}
    for reason in Reason:
        named = re.match(r"(downward\.io/[a-z-]+):", reason.problem)
        if named:
            assert owners.get(reason) == named.group(1), reason
    for reason, key in owners.items():
        assert reason.problem.startswith((key + ":", "{annotation}:")), reason


def test_the_keys_the_webhook_writes_set_no_option_and_are_not_unknown() -> None:
    written = [a for a in ANNOTATIONS if a.field is None]
    assert {a.key for a in written} == {PREFIX + "injected", PREFIX + "warnings"}
    annotations = {INJECT: "env", **{a.key: "env" for a in written}}
    _, findings = read_options(annotations)
    assert findings == []


def test_every_table_entry_has_a_one_line_meaning() -> None:
    for entry in ANNOTATIONS:
        assert entry.meaning and "\n" not in entry.meaning and len(entry.meaning) <= 90


# The mode lists outside the core.


def test_modes_are_distinct_lower_case_words_other_than_all_and_the_opt_out_words() -> None:
    assert len(set(MODES)) == len(MODES)
    assert all(re.fullmatch(r"[a-z]+", m) for m in MODES)
    assert not {ALL, *OPT_OUT} & set(MODES)


def test_all_means_every_mode() -> None:
    options, _ = read_options({INJECT: ALL})
    assert options is not None and options.modes == frozenset(MODES)


def test_the_unknown_mode_finding_lists_every_mode() -> None:
    _, findings = read_options({INJECT: "sidecar"})
    listed = re.search(r"\(use (.*)\)", findings[0].message)
    assert listed is not None
    assert re.split(r", | or ", listed.group(1)) == [*MODES, ALL, "none"]


def _render_with_modes(tmp_path: Path, modes: str) -> int:
    pod = tmp_path / "pod.yaml"
    pod.write_text("kind: Pod\napiVersion: v1\nspec: {containers: [{name: app, image: app}]}\n")
    return main(
        ["render", "-f", str(pod), "--namespace-default", "--namespace-default-inject", modes]
    )


@pytest.mark.parametrize("modes", [*MODES, ALL, ",".join(MODES)])
def test_the_cli_accepts_every_mode_as_a_namespace_default(
    tmp_path: Path, modes: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _render_with_modes(tmp_path, modes) == 0


def test_the_cli_refuses_an_unknown_namespace_default_mode_naming_every_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        _render_with_modes(tmp_path, "sidecar")
    assert exc.value.code == 2
    listed = capsys.readouterr().err.strip().rpartition("use ")[2]
    listed = listed.partition(" (")[0]  # then "(comma-separated) (see ... --help)"
    assert re.split(r", | or ", listed) == [*MODES, ALL]


def _schema_mode_words() -> list[str]:
    schema = json.loads((ROOT / "charts/downward-webhook/values.schema.json").read_text())
    pattern = schema["definitions"]["modes"]["pattern"]
    groups = re.findall(r"\(([a-z|]+)\)", pattern)
    assert groups and all(g == groups[0] for g in groups), pattern
    return groups[0].split("|")


def test_the_chart_schema_allows_exactly_the_modes_and_all() -> None:
    assert _schema_mode_words() == [*MODES, ALL]


def test_the_chart_schema_pattern_accepts_a_list_of_modes_and_rejects_others() -> None:
    schema = json.loads((ROOT / "charts/downward-webhook/values.schema.json").read_text())
    pattern = re.compile(schema["definitions"]["modes"]["pattern"])
    assert pattern.search(" , ".join(MODES))
    assert not pattern.search("sidecar") and not pattern.search("none")


def test_the_charts_injection_check_expands_all_to_every_mode() -> None:
    script = (ROOT / "charts/downward-webhook/files/check_injection.py").read_text()
    expanded = re.search(r'if "all" in wanted:\n\s+wanted = \{([^}]*)\}', script)
    assert expanded is not None
    assert sorted(re.findall(r'"([a-z]+)"', expanded.group(1))) == sorted(MODES)


# The documentation's tables of keys.


def _key_table(text: str, heading: str) -> dict[str, list[str]]:
    """``{key: cells}`` of the first table after ``heading``, keyed by its backquoted key."""
    section = text.split(heading, 1)[1]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            key = re.fullmatch(r"`([a-z-]+)`", cells[0])
            if key:
                rows[PREFIX + key.group(1)] = cells
        elif rows:
            break
    return rows


def _spec() -> Path:
    # The product contract lives beside the repository (../shared/SPEC.md), as in CI.
    path = Path(os.environ.get("DOWNWARD_SPEC", ROOT.parent / "shared" / "SPEC.md"))
    if not path.exists():
        pytest.skip(f"the spec is not at {path} (set DOWNWARD_SPEC)")
    return path


@pytest.mark.parametrize(
    ("document", "heading"),
    [(lambda: ROOT / "README.md", "## Annotations"), (_spec, "## Pod annotations")],
    ids=["README", "SPEC"],
)
def test_the_documented_keys_are_the_table_keys_with_their_defaults(
    document: object, heading: str
) -> None:
    assert callable(document)
    rows = _key_table(Path(document()).read_text(), heading)
    options = {a.key for a in ANNOTATIONS if a.field is not None}
    assert options <= set(rows) <= KNOWN_KEYS
    for key, text in DEFAULT_TEXT.items():
        default_cell = rows[key][2]
        assert default_cell.startswith(f"`{text}`"), (key, default_cell)
