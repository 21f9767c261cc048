"""The advice table and docs/findings.md, which is made from it (``webhook.core.advice``)."""

from __future__ import annotations

from pathlib import Path

from webhook.core.advice import ADVICE, findings_table
from webhook.core.reasons import Reason

DOCS = Path(__file__).resolve().parents[3] / "docs" / "findings.md"


def test_every_reason_says_what_to_do() -> None:
    assert set(ADVICE) == set(Reason)
    assert all(ADVICE[reason].strip() for reason in Reason)


def test_the_findings_page_is_the_table_of_reasons() -> None:
    page = DOCS.read_text()
    start, end = "<!-- findings-table:start -->\n", "<!-- findings-table:end -->"
    assert page[page.index(start) + len(start) : page.index(end)] == findings_table()


def test_the_findings_page_names_every_code_exactly_once_in_its_table() -> None:
    rows = [line for line in DOCS.read_text().splitlines() if line.startswith("| `")]
    codes = [row.split("`")[1] for row in rows]
    assert sorted(codes) == sorted(r.code for r in Reason)
    assert len(codes) == len(set(codes))


def test_the_readme_links_the_findings_page() -> None:
    assert "(docs/findings.md)" in (DOCS.parents[1] / "README.md").read_text()
