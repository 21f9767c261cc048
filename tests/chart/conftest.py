"""Fixtures for the chart tests: the real `helm` binary and cached renders of the chart.

`helm` comes from scripts/install-tools.sh (it downloads helm v4 and kubectl once into a cache
and prints their folder). If the script fails, every chart test fails: nothing is skipped.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.chart.rendering import INSTALL_TOOLS, Renderer


@pytest.fixture(scope="session")
def helm() -> str:
    """Path of the real helm binary (installed on first use)."""
    result = subprocess.run(
        ["bash", str(INSTALL_TOOLS)], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"install-tools.sh failed:\n{result.stderr}"
    printed = result.stdout.split()
    assert printed, "install-tools.sh printed no folder"
    binary = Path(printed[-1]) / "helm"
    assert binary.is_file(), f"install-tools.sh printed no folder holding helm: {result.stdout!r}"
    return str(binary)


@pytest.fixture(scope="session")
def chart(helm: str) -> Renderer:
    return Renderer(helm)
