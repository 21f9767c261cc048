"""Loading Kubernetes credentials for ``certs ensure`` and ``audit``: one line naming the file.

Both commands go through ``webhook.certs.credentials``, so a bad kubeconfig reads the same in
each and exits 2 (bad input) in each, whether it came from ``--kubeconfig`` or ``$KUBECONFIG``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from webhook import cli
from webhook.certs.credentials import kubeconfig_paths

_ENSURE = ["certs", "ensure", "--namespace", "n", "--secret", "s", "--service", "s"]
COMMANDS = {
    "certs-ensure": ([*_ENSURE, "--webhook-config", "w"], "downward-webhook certs ensure: error: "),
    "audit": (["audit"], "downward-webhook audit: error: "),
}
PREFIX = "cannot load Kubernetes credentials: "


@pytest.fixture(autouse=True)
def _outside_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DOWNWARD_") or name.startswith("KUBERNETES_"):
            monkeypatch.delenv(name)


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    return str(path)


CASES = [
    (lambda t: str(t / "nope"), "{path}: no such file"),
    (lambda t: str(t), "{path}: is a directory, not a kubeconfig"),
    (
        lambda t: _write(t, "this: is: not: yaml\n"),
        "{path}:1:9: not a kubeconfig: not YAML: mapping values are not allowed here",
    ),
    (lambda t: _write(t, "just a string\n"), "{path}: not a kubeconfig: a YAML list or scalar"),
    (lambda t: _write(t, ""), "{path}: not a kubeconfig: empty"),
    (
        lambda t: _write(t, "apiVersion: v1\nkind: Config\ncurrent-context: nope\n"),
        "{path}: not a kubeconfig: Invalid kube-config file. Expected object with name nope",
    ),
    (lambda t: _write(t, "contexts: 5\n"), "{path}: not a kubeconfig: "),
]
IDS = ["missing", "directory", "not-yaml", "scalar", "empty", "no-such-context", "bad-shape"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("make", "line"), CASES, ids=IDS)
@pytest.mark.parametrize("source", ["flag", "env"])
def test_a_bad_kubeconfig_is_one_line_naming_the_file_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    make: object,
    line: str,
    source: str,
) -> None:
    argv, prefix = COMMANDS[command]
    path = make(tmp_path)  # type: ignore[operator]
    if source == "flag":
        argv = [*argv, "--kubeconfig", path]
    else:
        monkeypatch.setenv("KUBECONFIG", path)
    if source == "env" and line.endswith("no such file"):  # kubectl skips missing list entries
        line = f"not in a cluster, and KUBECONFIG={path} names no file"

    assert cli.main(argv) == 2

    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith(prefix + PREFIX + line.format(path=path)), err


def test_the_kubeconfig_files_are_the_flag_else_each_of_kubeconfig_else_the_default() -> None:
    home = Path("~/.kube/config").expanduser()
    assert kubeconfig_paths("/a", {"KUBECONFIG": "/b"}) == [Path("/a")]
    assert kubeconfig_paths(None, {"KUBECONFIG": f"/b{os.pathsep}{os.pathsep}/c"}) == [
        Path("/b"),
        Path("/c"),
    ]
    assert kubeconfig_paths(None, {}) == [home]
