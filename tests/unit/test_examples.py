"""The examples' rendered output stays what ``render`` prints today, and is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.kube import schema_errors, validation_errors
from webhook.cli import main

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*/pod.yaml"))


@pytest.mark.parametrize("pod", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_renders_to_its_committed_output(
    pod: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "-f", str(pod)]) == 0
    out = capsys.readouterr()
    assert out.out == (pod.parent / "rendered.yaml").read_text()
    assert out.err == (pod.parent / "warnings.txt").read_text()
    (rendered,) = yaml.safe_load_all(out.out)
    assert schema_errors(rendered) == []
    assert validation_errors(rendered) == []
