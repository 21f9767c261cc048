"""The README's performance sentence quotes the run that ``docs/benchmarks.md`` shows.

``bench/run.sh`` regenerates the page; the README is written by hand, so it could go on
quoting a run that is no longer there (it did: three runs old).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _targets() -> str:
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    return page.split("## Targets", 1)[1].split("\n## ", 1)[0]


def _readme() -> str:
    """The README with its line breaks and runs of spaces as single spaces."""
    return " ".join((ROOT / "README.md").read_text().split())


def test_readme_quotes_the_throughput_ratios_of_the_page() -> None:
    ratios = re.findall(
        r"\| throughput >= [\d.]+x ceiling, \d+ container\(s\) \| ([\d.]+x)", _targets()
    )
    assert len(ratios) == 3  # 1, 3 and 30 containers
    assert " / ".join(ratios) in _readme()


def test_readme_quotes_the_peak_rss_of_the_page() -> None:
    (peak,) = re.findall(r"\| RSS <= 70 MB and flat \| peak ([\d.]+ MB)", _targets())
    assert f"peak RSS {peak}" in _readme()
