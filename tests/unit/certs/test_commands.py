"""Tests for the ``certs generate`` and ``certs ensure`` subcommands.

Each runs through ``webhook.cli.main``, as the command line does; ``ensure`` talks to the
HTTP fake of the Kubernetes API (``tests/fakes/kube_api.py``) through a kubeconfig file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from tests.fakes.kube_api import SECRETS, FakeKubeApi, serve
from tests.support.fake_clients import write_kubeconfig
from webhook import cli
from webhook.certs.commands import MAX_DAYS
from webhook.certs.generate import dns_names
from webhook.certs.pem import not_after
from webhook.core import values

NS = "downward-system"


@pytest.fixture(autouse=True)
def _no_downward_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DOWNWARD_"):
            monkeypatch.delenv(name)


def _run(*argv: str) -> int:
    """``downward-webhook certs ARGV``'s exit code, as the command line gets it."""
    try:
        return cli.main(["certs", *argv])
    except SystemExit as exc:  # argparse's usage errors
        assert isinstance(exc.code, int)
        return exc.code


def test_certs_generate_writes_ca_crt_tls_crt_and_tls_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run("generate", "--service", "downward", "--namespace", NS, "--out-dir", str(tmp_path))

    assert code == 0
    leaf = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    leaf.verify_directly_issued_by(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert tuple(sans.get_values_for_type(x509.DNSName)) == dns_names("downward", NS)
    assert stat.S_IMODE((tmp_path / "tls.key").stat().st_mode) == 0o600
    out = capsys.readouterr().out
    assert str(tmp_path / "tls.key") in out and "valid until" in out


def test_certs_generate_reads_its_flags_from_downward_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOWNWARD_SERVICE", "from-env")
    monkeypatch.setenv("DOWNWARD_NAMESPACE", NS)
    monkeypatch.setenv("DOWNWARD_OUT_DIR", str(tmp_path))
    monkeypatch.setenv("DOWNWARD_DAYS", "7")

    assert _run("generate") == 0

    expiry = not_after((tmp_path / "tls.crt").read_bytes())
    assert expiry - datetime.now(UTC) < timedelta(days=7, minutes=1)
    leaf = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    assert "from-env" in str(leaf.subject)


def test_a_flag_wins_over_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOWNWARD_OUT_DIR", str(tmp_path / "env"))

    assert _run("generate", "--service", "s", "--namespace", NS, "--out-dir", str(tmp_path)) == 0

    assert (tmp_path / "tls.crt").exists() and not (tmp_path / "env").exists()


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["generate", "--namespace", NS, "--out-dir", "x"], {}),
        (["generate", "--service", "s", "--namespace", NS, "--out-dir", "x", "--days", "0"], {}),
        (["generate", "--service", "s", "--namespace", NS, "--out-dir", "x"], {"DAYS": "many"}),
        (["ensure", "--namespace", NS, "--service", "s", "--secret", "t"], {}),
    ],
)
def test_missing_or_bad_flags_are_usage_errors(
    argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"DOWNWARD_{name}", value)

    assert _run(*argv) == 2


@pytest.mark.parametrize(
    ("out_dir", "line"),
    [
        ("file", "argument --out-dir: '{tmp}/file': is a file, not a folder"),
        ("file/x", "argument --out-dir: '{tmp}/file/x': {tmp}/file is a file"),
    ],
    ids=["a-file", "under-a-file"],
)
def test_certs_generate_into_a_file_is_bad_input_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], out_dir: str, line: str
) -> None:
    (tmp_path / "file").write_text("")

    code = _run(
        "generate", "--service", "s", "--namespace", NS, "--out-dir", str(tmp_path / out_dir)
    )

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("downward-webhook certs generate: ") and err.count("\n") == 1
    assert line.format(tmp=tmp_path) in err


def test_certs_generate_that_cannot_write_names_the_folder_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*_: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / ".tls.key.x"))

    monkeypatch.setattr("webhook.certs.files.write_bundle", refuse)

    assert _run("generate", "--service", "s", "--namespace", NS, "--out-dir", str(tmp_path)) == 1

    err = capsys.readouterr().err
    assert err == (
        f"downward-webhook certs generate: error: {tmp_path}: cannot write the files: "
        "Permission denied\n"
    )


@pytest.mark.parametrize(
    ("flag", "value", "what"),
    [
        ("--service", "bad name!", "not a Service name (a DNS-1035 label"),
        ("--service", "a" * 300, "not a Service name"),
        ("--service", "a" * 64, "not a Service name"),
        ("--service", "1st", "not a Service name"),  # DNS-1035: a letter first
        ("--service", "Web", "not a Service name"),
        ("--namespace", "nämespace", "not a namespace name (a DNS-1123 label"),
        ("--namespace", "team_a", "not a namespace name"),
        ("--namespace", "a-", "not a namespace name"),
    ],
)
@pytest.mark.parametrize("command", ["generate", "ensure"])
def test_service_and_namespace_must_be_kubernetes_names(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    flag: str,
    value: str,
    what: str,
) -> None:
    names = {"--service": "s", "--namespace": NS, flag: value}
    argv = [command, *(x for pair in names.items() for x in pair)]
    if command == "generate":
        argv += ["--out-dir", str(tmp_path / "out")]
    else:
        argv += ["--secret", "t", "--webhook-config", "w", "--kubeconfig", "/nope"]

    assert _run(*argv) == 2

    err = capsys.readouterr().err
    assert f"argument {flag}: {value!r}: {what}" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--secret", "Webhook-TLS"),
        ("--secret", "tls_secret"),
        ("--secret", "a" * 254),
        ("--secret", "a..b"),
        ("--webhook-config", "downward webhook"),
        ("--webhook-config", "w-"),
    ],
)
def test_secret_and_webhook_config_must_be_object_names(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    names = {"--secret": "t", "--webhook-config": "w", flag: value}
    argv = ["ensure", "--service", "s", "--namespace", NS, "--kubeconfig", "/nope"]
    argv += [x for pair in names.items() for x in pair]

    assert _run(*argv) == 2

    err = capsys.readouterr().err
    what = "not an object name (a DNS-1123 subdomain"
    assert f"argument {flag}: {value!r}: {what}" in err and err.count("\n") == 1, err


def test_a_dotted_object_name_of_253_characters_is_taken() -> None:
    name = ".".join(["a" * 63] * 4)[:253]
    assert values.object_name(name) == name and len(name) == 253


@pytest.mark.parametrize(("service", "namespace"), [("a" * 63, "1-" + "b" * 61), ("w-1", "0")])
def test_the_longest_and_shortest_names_are_taken(
    tmp_path: Path, service: str, namespace: str
) -> None:
    argv = ["--service", service, "--namespace", namespace, "--out-dir", str(tmp_path)]

    assert _run("generate", *argv) == 0

    leaf = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"{service}.{namespace}.svc" in sans.get_values_for_type(x509.DNSName)


@pytest.mark.parametrize(
    ("argv", "env", "line"),
    [
        (["generate", "--days", "99999999"], {}, "argument --days: '99999999': at most 36500 days"),
        (["generate", "--days", str(MAX_DAYS + 1)], {}, f"'{MAX_DAYS + 1}': at most 36500 days"),
        (["generate"], {"DAYS": "99999999"}, "DOWNWARD_DAYS='99999999': at most 36500 days"),
        (["ensure", "--validity-days", "36501"], {}, "argument --validity-days: '36501': at most"),
        (["ensure"], {"RENEW_BEFORE_DAYS": "40000"}, "DOWNWARD_RENEW_BEFORE_DAYS='40000': at most"),
    ],
    ids=["days-huge", "days-just-over", "days-env", "validity-days", "renew-before-days-env"],
)
def test_day_counts_past_100_years_are_refused_when_parsed_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    line: str,
) -> None:
    required = ["--service", "s", "--namespace", NS]
    if argv[0] == "generate":
        required += ["--out-dir", str(tmp_path / "out")]
    else:
        required += ["--secret", "t", "--webhook-config", "w", "--kubeconfig", "/nope"]
    for name, value in env.items():
        monkeypatch.setenv(f"DOWNWARD_{name}", value)

    assert _run(*argv, *required) == 2

    err = capsys.readouterr().err
    assert line in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_certs_generate_takes_the_longest_validity(tmp_path: Path) -> None:
    argv = ["--service", "s", "--namespace", NS, "--out-dir", str(tmp_path)]

    assert _run("generate", *argv, "--days", str(MAX_DAYS)) == 0

    expiry = not_after((tmp_path / "tls.crt").read_bytes())
    assert expiry - datetime.now(UTC) > timedelta(days=MAX_DAYS - 1)


@pytest.fixture
def kubeconfig(fake: FakeKubeApi, tmp_path: Path) -> Iterator[Path]:
    with serve(fake) as url:
        yield write_kubeconfig(tmp_path, url)


def _ensure_argv(kubeconfig: Path, *extra: str) -> list[str]:
    return [
        "ensure",
        "--namespace",
        NS,
        "--secret",
        "downward-tls",
        "--service",
        "downward",
        "--webhook-config",
        "dw",
        "--kubeconfig",
        str(kubeconfig),
        *extra,
    ]


def test_certs_ensure_creates_the_secret_sets_the_ca_bundle_and_writes_the_files(
    fake: FakeKubeApi, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "certs"

    code = _run(*_ensure_argv(kubeconfig, "--out-dir", str(out_dir)))

    assert code == 0
    stored = fake.secret_data(NS, "downward-tls")
    assert (out_dir / "tls.crt").read_bytes() == stored["tls.crt"]
    assert (out_dir / "tls.key").read_bytes() == stored["tls.key"]
    assert fake.ca_bundles("dw") == [stored["ca.crt"], stored["ca.crt"]]
    out = capsys.readouterr().out
    assert f"Secret {NS}/downward-tls created" in out and "caBundle updated" in out
    assert "PRIVATE KEY" not in out


def test_certs_ensure_reads_its_flags_from_downward_environment_variables(
    fake: FakeKubeApi, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"NAMESPACE": NS, "SECRET": "downward-tls", "SERVICE": "downward"}
    env |= {"WEBHOOK_CONFIG": "dw", "KUBECONFIG": str(kubeconfig), "VALIDITY_DAYS": "40"}
    env |= {"RENEW_BEFORE_DAYS": "10"}
    for name, value in env.items():
        monkeypatch.setenv(f"DOWNWARD_{name}", value)

    assert _run("ensure") == 0

    expiry = not_after(fake.secret_data(NS, "downward-tls")["tls.crt"])
    assert expiry - datetime.now(UTC) < timedelta(days=40, minutes=1)


def test_certs_ensure_reports_a_missing_webhook_configuration_and_succeeds(
    kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _ensure_argv(kubeconfig)
    argv[argv.index("dw")] = "not-there"

    assert _run(*argv) == 0

    assert "MutatingWebhookConfiguration not-there not found" in capsys.readouterr().out


def test_certs_ensure_reports_forbidden_in_one_line_and_fails(
    fake: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fail_next("POST", SECRETS, 403)

    assert _run(*_ensure_argv(kubeconfig)) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("downward-webhook certs ensure: error: create Secret ")
    assert "HTTP 403" in err


def test_certs_ensure_with_a_missing_kubeconfig_is_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(*_ensure_argv(tmp_path / "missing")) == 2

    err = capsys.readouterr().err
    assert "cannot load Kubernetes credentials" in err and err.count("\n") == 1


def test_certs_ensure_refuses_a_renewal_window_as_long_as_the_validity(
    kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _ensure_argv(kubeconfig, "--validity-days", "30", "--renew-before-days", "30")

    assert _run(*argv) == 2

    assert "must be shorter than the validity" in capsys.readouterr().err


def _previous_cas_left(fake: FakeKubeApi) -> bool:
    secret = fake.secret(NS, "downward-tls") or {}
    return "downward.io/previous-cas" in (secret.get("metadata", {}).get("annotations") or {})


@pytest.mark.parametrize(
    ("extra", "env", "dropped"),
    [
        ([], {}, False),
        (["--drop-old-cas"], {}, True),
        (["--no-drop-old-cas"], {"DROP_OLD_CAS": "true"}, False),
        ([], {"DROP_OLD_CAS": "true"}, True),
        ([], {"DROP_OLD_CAS": "false"}, False),
    ],
)
def test_certs_ensure_drop_old_cas_comes_from_the_flag_or_its_environment_variable(
    fake: FakeKubeApi,
    kubeconfig: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    env: dict[str, str],
    dropped: bool,
) -> None:
    assert _run(*_ensure_argv(kubeconfig)) == 0
    fake.delete_secret(NS, "downward-tls")
    assert _run(*_ensure_argv(kubeconfig)) == 0  # the first CA is now a previous one
    for name, value in env.items():
        monkeypatch.setenv(f"DOWNWARD_{name}", value)

    assert _run(*_ensure_argv(kubeconfig, *extra)) == 0

    counts = [len(x509.load_pem_x509_certificates(b)) for b in fake.ca_bundles("dw")]
    assert counts == ([1, 1] if dropped else [2, 2])
    assert _previous_cas_left(fake) is not dropped


def test_a_bad_drop_old_cas_environment_value_is_a_usage_error(
    kubeconfig: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOWNWARD_DROP_OLD_CAS", "maybe")

    assert _run(*_ensure_argv(kubeconfig)) == 2

    err = capsys.readouterr().err
    assert "DOWNWARD_DROP_OLD_CAS='maybe': not a boolean" in err and err.count("\n") == 1
