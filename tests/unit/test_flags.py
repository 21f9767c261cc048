"""``webhook.flags`` and ``webhook.core.values``: each flag defined once, bad values in one line."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from webhook import cli, flags, injection_flags
from webhook.certs.commands import ENSURE_FLAGS, GENERATE_FLAGS
from webhook.core import values
from webhook.flags import Flag, UsageError

CLI = [sys.executable, "-m", "webhook.cli"]
INTERFACES = Path(__file__).resolve().parents[2] / "docs" / "interfaces.md"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOWNWARD_")}
    return subprocess.run(
        [*CLI, *args], env={**clean, **(env or {})}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("100m", True),
        ("64Mi", True),
        ("1e3", True),
        ("0.5", True),
        ("1.", True),
        (".5", True),
        ("2Gi", True),
        ("+1k", True),
        ("banana", False),
        ("", False),
        ("1.5.5", False),
        ("10MB", False),
        ("Mi", False),
        ("-1", False),
        ("1 Mi", False),
    ],
)
def test_quantities_follow_kubernetes_grammar(text: str, ok: bool) -> None:
    if ok:
        assert values.quantity(text) == text
    else:
        with pytest.raises(ValueError):
            values.quantity(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("64Mi", 64 * 2**20),
        ("1Gi", 2**30),
        ("100m", Fraction(1, 10)),
        ("0.5", Fraction(1, 2)),
        ("1e3", 1000),
        ("5E-1", Fraction(1, 2)),
        ("+1k", 1000),
        ("1.5Ki", 1536),
        ("1n", Fraction(1, 1000)),  # Kubernetes rounds up to a thousandth
        ("1e99999999999999999999", 2**63 - 1),  # and caps at 2^63-1, without computing 10**1e20
        ("0e999999", 0),
    ],
)
def test_quantities_compare_by_their_value_as_kubernetes_holds_it(
    text: str, value: Fraction
) -> None:
    assert values.quantity_value(text) == value


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("registry.k8s.io/kubectl:v1.35.0", True),
        ("nginx", True),
        ("localhost:5000/a/b@sha256:" + "a" * 64, True),
        ("bad!!", False),
        ("UPPER/case", False),
        ("", False),
    ],
)
def test_image_references(text: str, ok: bool) -> None:
    assert values.is_image_reference(text) is ok


@pytest.mark.parametrize("text", ["abc", "0", "65536", "-1", "80.5"])
def test_bad_ports_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        values.port(text)


def test_a_flag_comes_from_the_command_line_then_the_environment_then_its_default() -> None:
    parser = flags.Parser(prog="t")
    flags.add(parser, Flag("port", values.port, 8443, "port"), Flag.switch("strict", "s"))
    for argv, env, expected in [
        (["--port", "1"], {"DOWNWARD_PORT": "2"}, 1),
        ([], {"DOWNWARD_PORT": "2"}, 2),
        ([], {"DOWNWARD_PORT": ""}, 8443),
        ([], {}, 8443),
    ]:
        args = parser.parse_args(argv)
        flags.resolve(args, env)
        assert args.port == expected
        assert args.strict is False


def test_a_bad_environment_value_names_the_variable() -> None:
    parser = flags.Parser(prog="t")
    flags.add(parser, Flag("port", values.port, 8443, "port"))
    args = parser.parse_args([])
    with pytest.raises(UsageError, match=r"^DOWNWARD_PORT='abc': not a port number$"):
        flags.resolve(args, {"DOWNWARD_PORT": "abc"})


def test_booleans_from_the_environment() -> None:
    parser = flags.Parser(prog="t")
    flags.add(parser, Flag.toggle("native-sidecar", "n", default=True))
    for raw, expected in [("false", False), ("0", False), ("yes", True), ("On", True)]:
        args = parser.parse_args([])
        flags.resolve(args, {"DOWNWARD_NATIVE_SIDECAR": raw})
        assert args.native_sidecar is expected
    with pytest.raises(UsageError, match="DOWNWARD_NATIVE_SIDECAR='maybe'"):
        flags.resolve(parser.parse_args([]), {"DOWNWARD_NATIVE_SIDECAR": "maybe"})
    assert parser.parse_args(["--no-native-sidecar"]).native_sidecar is False


def test_required_flags_come_from_the_command_line_or_the_environment() -> None:
    parser = flags.Parser(prog="t")
    required = (
        Flag("service", flags.text, None, "s", "NAME", required=True),
        Flag("secret", flags.text, None, "t", "NAME", required=True),
    )
    flags.add(parser, *required)
    args = parser.parse_args(["--service", "a"])
    flags.resolve(args, {"DOWNWARD_SECRET": "b"})
    assert (args.service, args.secret) == ("a", "b")
    with pytest.raises(UsageError) as missing:
        flags.resolve(parser.parse_args([]), {"DOWNWARD_SECRET": ""})
    assert str(missing.value) == (
        "missing --service (or DOWNWARD_SERVICE), --secret (or DOWNWARD_SECRET)"
    )
    assert "[DOWNWARD_SERVICE, required]" in parser.format_help()


def test_every_flag_of_a_subcommand_is_registered_once() -> None:
    from webhook.cli import SERVE_FLAGS
    from webhook.injection_flags import INJECTION_FLAGS
    from webhook.render import RENDER_FLAGS

    groups = (
        SERVE_FLAGS + INJECTION_FLAGS,
        RENDER_FLAGS + INJECTION_FLAGS,
        GENERATE_FLAGS,
        ENSURE_FLAGS,
    )
    for group in groups:
        names = [f.name for f in group]
        assert len(names) == len(set(names))
        for flag in group:
            if flag.default is not None and flag.kind == "value":
                assert flag.check(str(flag.default)) == flag.default, flag.name


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (["version"], {"DOWNWARD_PORT": "abc"}, None),
        (["serve"], {"DOWNWARD_PORT": "abc"}, "downward-webhook: DOWNWARD_PORT='abc': not a port"),
        (["serve", "--port", "abc"], {}, "argument --port: 'abc': not a port number"),
        (["serve"], {"DOWNWARD_STRICT": "maybe"}, "DOWNWARD_STRICT='maybe': not a boolean"),
        (["serve"], {"DOWNWARD_BODY_TIMEOUT": "0"}, "DOWNWARD_BODY_TIMEOUT='0': must be more"),
        (["serve"], {"DOWNWARD_LOG_LEVEL": "loud"}, "DOWNWARD_LOG_LEVEL='loud': not one of"),
        (["serve", "--ambassador-image", "bad!!"], {}, "'bad!!': not an image reference"),
        (["serve", "--ambassador-cpu-limit", "banana"], {}, "'banana': not a Kubernetes quantity"),
        (["render"], {"DOWNWARD_AMBASSADOR_CPU_LIMIT": "banana"}, "DOWNWARD_AMBASSADOR_CPU_LIMIT="),
        (["render", "--ambassador-image", "bad!!"], {}, "not an image reference"),
        (["render", "--ambassador-run-as-user", "0"], {}, "not a positive whole number"),
        (["render", "--namespace-default-inject", "env"], {}, "applies only with"),
        (
            ["render", "--ambassador-memory-request", "1Gi", "--ambassador-memory-limit", "1Mi"],
            {},
            "downward-webhook: --ambassador-memory-request 1Gi is more than "
            "--ambassador-memory-limit 1Mi: Kubernetes refuses a request above its limit",
        ),
        (
            ["serve", "--ambassador-cpu-request", "1", "--ambassador-cpu-limit", "500m"],
            {},
            "--ambassador-cpu-request 1 is more than --ambassador-cpu-limit 500m",
        ),
        (
            ["serve", "--insecure-http"],
            {"DOWNWARD_AMBASSADOR_MEMORY_REQUEST": "65Mi"},  # the default limit is 64Mi
            "--ambassador-memory-request 65Mi is more than --ambassador-memory-limit 64Mi",
        ),
        (
            ["render", "--ambassador-cpu-limit", "0", "--ambassador-cpu-request", "0"],
            {},
            "--ambassador-cpu-limit 0: a limit must be more than 0",
        ),
        (["render", "--ambassador-memory-limit", "0.0Gi"], {}, "a limit must be more than 0"),
        (["render", "--namespace-default-inject", "sidecar"], {}, "use env, volume"),
        (["serve", "--no-such-flag"], {}, "unrecognized arguments: --no-such-flag"),
        (["certs"], {}, "required: certs_command"),
        (
            [
                "certs",
                "generate",
                "--service",
                "s",
                "--namespace",
                "n",
                "--out-dir",
                "/nonexistent",
            ],
            {"DOWNWARD_DAYS": "abc"},
            "DOWNWARD_DAYS='abc': not a positive whole number",
        ),
        (
            ["certs", "ensure", "--service", "s", "--namespace", "n"],
            {"DOWNWARD_SECRET": "t"},
            "downward-webhook: missing --webhook-config (or DOWNWARD_WEBHOOK_CONFIG)",
        ),
    ],
)
def test_bad_flags_and_variables_give_one_line_and_exit_2(
    args: list[str], env: dict[str, str], line: str | None
) -> None:
    done = _run(*args, env=env)
    assert "Traceback" not in done.stderr
    if line is None:
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and line in done.stderr, done.stderr


def test_usage_errors_keep_argparse_exit_code() -> None:
    parser = flags.Parser(prog="t")
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["--nope"])
    assert exc.value.code == 2
    assert isinstance(parser, argparse.ArgumentParser)


def test_the_markdown_table_shows_each_kind_of_flag_as_help_does() -> None:
    table = flags.markdown_table(
        [
            Flag("body-timeout", values.positive_seconds, 10.0, "seconds | at most", "SECONDS"),
            Flag("tls-cert", str, None, "PEM certificate", "FILE"),
            Flag.switch("strict", "deny bad pods"),
            Flag.toggle("native-sidecar", "as a native sidecar", default=True),
        ]
    )
    assert table.splitlines() == [
        "| flag | env var | default; meaning |",
        "|---|---|---|",
        "| `--body-timeout SECONDS` | `DOWNWARD_BODY_TIMEOUT` | `10`; seconds \\| at most |",
        "| `--tls-cert FILE` | `DOWNWARD_TLS_CERT` | none; PEM certificate |",
        "| `--strict` | `DOWNWARD_STRICT` (`true`/`false`) | off; deny bad pods |",
        "| `--native-sidecar` / `--no-native-sidecar` | `DOWNWARD_NATIVE_SIDECAR` (`true`/`false`) "
        "| on; as a native sidecar |",
    ]


# ---- docs/interfaces.md ---------------------------------------------------------------------


#: Each generated table of docs/interfaces.md: its marker -> (its flags, the command).
TABLES: dict[str, tuple[tuple[Flag, ...], list[str]]] = {
    "serve-flags": (cli.SERVE_COMMAND_FLAGS, ["serve"]),
    "certs-generate-flags": (GENERATE_FLAGS, ["certs", "generate"]),
    "certs-ensure-flags": (ENSURE_FLAGS, ["certs", "ensure"]),
}


def _documented(marker: str) -> str:
    page = INTERFACES.read_text()
    start, end = f"<!-- {marker}:start -->\n", f"<!-- {marker}:end -->"
    return page[page.index(start) + len(start) : page.index(end)]


@pytest.mark.parametrize("marker", TABLES)
def test_the_interfaces_page_has_the_generated_table_of_each_command(marker: str) -> None:
    documented = _documented(marker)
    generated = flags.markdown_table(TABLES[marker][0])
    diff = "".join(
        difflib.unified_diff(
            documented.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            "docs/interfaces.md",
            f"markdown_table (the {marker} table)",
        )
    )
    assert documented == generated, f"docs/interfaces.md is out of date; rewrite it:\n{diff}"


@pytest.mark.parametrize("marker", TABLES)
def test_the_interfaces_page_names_every_option_of_each_command_once(
    marker: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read from the command's ``--help``, not from the tuple the table is made of: an option
    added to the parser some other way, or a tuple left out of the table, is caught as well."""
    command = TABLES[marker][1]
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: no wrapped help text
    with pytest.raises(SystemExit):
        cli.main([*command, "--help"])
    invocations = [
        line.strip().split("  ")[0]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("  -")
    ]
    options = set(re.findall(r"--[a-z][a-z-]*", " ".join(invocations))) - {"--help"}
    cells = [row.split(" | ")[0] for row in _documented(marker).splitlines()[2:]]
    documented = re.findall(r"`(--[a-z][a-z-]*)", " ".join(cells))
    twice = sorted(option for option, n in Counter(documented).items() if n > 1)
    assert not twice, f"listed twice in docs/interfaces.md: {twice}"
    assert not options - set(documented), f"not in docs/interfaces.md: {options - set(documented)}"
    assert not set(documented) - options, f"not options of {command}: {set(documented) - options}"


@pytest.mark.parametrize(
    ("request_", "limit"), [("1Gi", "1024Mi"), ("0", "1m"), ("500m", "0.5"), ("1e3", "1k")]
)
def test_a_request_up_to_its_limit_in_any_notation_is_taken(request_: str, limit: str) -> None:
    args = argparse.Namespace(
        ambassador_cpu_request=request_,
        ambassador_cpu_limit=limit,
        ambassador_memory_request=request_,
        ambassador_memory_limit=limit,
    )
    injection_flags.check_resources(args)
