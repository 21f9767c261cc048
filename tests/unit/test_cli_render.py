"""``downward-webhook render``: the same injection as the webhook, for every workload kind."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.kube import kubectl_patch, schema_errors
from webhook.cli import main

GOLDEN = Path(__file__).resolve().parents[1] / "testdata" / "golden"
_REQUEST_ONLY = {"operation", "api_version", "sub_resource", "endpoint", "namespace_default_inject"}


def _render_cases() -> list[Path]:
    cases = []
    for case in sorted(p for p in GOLDEN.iterdir() if p.is_dir()):
        flags = (
            yaml.safe_load((case / "flags.yaml").read_text())
            if (case / "flags.yaml").exists()
            else {}
        )
        if not _REQUEST_ONLY & set(flags) and not flags.get("strict"):
            cases.append(case)
    return cases


def _flags(case: Path) -> list[str]:
    flags = (
        yaml.safe_load((case / "flags.yaml").read_text()) if (case / "flags.yaml").exists() else {}
    )
    args = []
    if flags.get("native_sidecar") is False:
        args.append("--no-native-sidecar")
    if "ambassador_image" in flags:
        args += ["--ambassador-image", flags["ambassador_image"]]
    return args


def _render(
    capsys: pytest.CaptureFixture[str], path: Path, *args: str
) -> tuple[int, list[Any], str]:
    code = main(["render", "-f", str(path), *args])
    out = capsys.readouterr()
    return code, [d for d in yaml.safe_load_all(out.out) if d is not None], out.err


@pytest.mark.parametrize("case", _render_cases(), ids=lambda c: c.name)
def test_render_of_a_pod_equals_the_webhook_patch_applied_by_kubectl(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pod = yaml.safe_load((case / "input.yaml").read_text())
    patch = json.loads((case / "expected.patch.json").read_text())
    expected = kubectl_patch(pod, patch) if patch else pod
    code, docs, _ = _render(capsys, case / "input.yaml", *_flags(case))
    assert code == 0
    assert docs == [expected]


def _workloads(pod_template: dict[str, Any]) -> list[dict[str, Any]]:
    t = copy.deepcopy(pod_template)
    sel = {"matchLabels": {"app": "web"}}
    meta = {"name": "web", "namespace": "team-a"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {"selector": sel, "template": t},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta,
            "spec": {"selector": sel, "serviceName": "web", "template": t},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": meta,
            "spec": {"selector": sel, "template": t},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": meta,
            "spec": {"selector": sel, "template": t},
        },
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": meta,
            "spec": {"selector": {"app": "web"}, "template": t},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta,
            "spec": {"template": {**t, "spec": {**t["spec"], "restartPolicy": "Never"}}},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta,
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {
                    "spec": {"template": {**t, "spec": {**t["spec"], "restartPolicy": "OnFailure"}}}
                },
            },
        },
        {"apiVersion": "v1", "kind": "PodTemplate", "metadata": meta, "template": t},
    ]


TEMPLATE = {
    "metadata": {"labels": {"app": "web"}, "annotations": {"downward.io/inject": "all"}},
    "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
}


def test_render_injects_every_workload_kind_and_passes_other_objects_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"a": "b"},
    }
    docs = [*_workloads(TEMPLATE), config_map]
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    code, rendered, err = _render(capsys, path)
    assert code == 0
    assert rendered[-1] == config_map
    for doc in rendered[:-1]:
        assert schema_errors(doc) == [], doc["kind"]
        text = json.dumps(doc)
        assert '"downward.io/injected": "env,volume,ambassador"' in text, doc["kind"]
        assert "downward-ambassador" in text and "downward-podinfo" in text, doc["kind"]
    assert 'Deployment/web: container "app" has no cpu, memory limit' in err


def test_render_reads_stdin_and_kind_list(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    listing = {"apiVersion": "v1", "kind": "List", "items": _workloads(TEMPLATE)[:2]}
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(yaml.safe_dump(listing).encode())))
    assert main(["render"]) == 0
    (doc,) = yaml.safe_load_all(capsys.readouterr().out)
    assert all("downward-ambassador" in json.dumps(item) for item in doc["items"])


@pytest.mark.parametrize(
    ("annotations", "exit_code"),
    [
        ({"downward.io/inject": "env"}, 0),
        ({"downward.io/inject": "env,sidecar"}, 1),
        ({"downward.io/inject": "env", "downward.io/cpu-divisor": "3"}, 1),
    ],
    ids=["clean", "unknown-mode", "bad-divisor"],
)
def test_render_check_fails_only_on_bad_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], annotations: dict[str, str], exit_code: int
) -> None:
    template = {**TEMPLATE, "metadata": {"annotations": annotations}}
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(_workloads(template)[0]))
    assert main(["render", "-f", str(path), "--check"]) == exit_code
    out = capsys.readouterr()
    assert out.out == ""
    if exit_code:
        assert out.err.startswith("Deployment/web: downward.io/")


def test_render_refuses_a_broken_pod_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {"containers": "nginx"}}
        )
    )
    assert main(["render", "-f", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(
    ("template", "where"),
    [
        (
            {"metadata": {"annotations": {"prometheus.io/port": 9090}}, "spec": {}},
            "Deployment/web: Expected `str`, got `int` - at "
            '`spec.template.metadata.annotations["prometheus.io/port"]`',
        ),
        (
            {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": "80"}]}]}},
            "Deployment/web: Expected `int | null`, got `str` - at "
            "`spec.template.spec.containers[0].ports[0].containerPort`",
        ),
        ({"spec": {"containers": []}}, "Deployment/web: spec.template.spec.containers must not"),
    ],
    ids=["unquoted-number-annotation", "port-as-string", "no-containers"],
)
def test_render_names_the_bad_part_of_a_workload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], template: dict[str, Any], where: str
) -> None:
    path = tmp_path / "bad.yaml"
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    path.write_text(yaml.safe_dump({**deployment, "spec": {"template": template}}))
    assert main(["render", "-f", str(path)]) == 2
    err = capsys.readouterr().err
    assert where in err and err.count("\n") == 1


# --- The real CLI as a subprocess: exit codes and one-line errors ------------------------------

_CLI = [sys.executable, "-m", "webhook.cli", "render"]
ASKS = {"annotations": {"downward.io/inject": "env"}}
_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
}


def _cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNWARD_")}
    return subprocess.run(
        [*_CLI, *args], input=stdin, env=env, capture_output=True, timeout=60, check=False
    )


def _file(tmp_path: Path, content: bytes | str, name: str = "in.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


@pytest.mark.parametrize(
    ("make", "line"),
    [
        (lambda t: str(t / "missing.yaml"), "missing.yaml: no such file"),
        (lambda t: str(t), ": is a directory, not a YAML file"),
        (lambda t: _file(t, b"kind: Pod\nx: \xff\xfe\n"), "in.yaml:2:4: not UTF-8 (byte 0xff)"),
        (
            lambda t: _file(t, "kind: Pod\nmetadata:\n  name: a\n b: c\n"),
            "in.yaml:4:2: not YAML: did not find expected key",
        ),
        (lambda t: _file(t, "a: [1, 2\n"), "in.yaml:2:1: not YAML:"),
        (
            lambda t: _file(
                t,
                "a: &a [x, x, x, x, x, x, x, x]\n"
                + "".join(
                    f"{k}: &{k} [{', '.join([f'*{j}'] * 8)}]\n"
                    for j, k in zip("abcdefg", "bcdefgh", strict=True)
                ),
            ),
            "in.yaml:1:1: YAML refused: aliases expand to more than 1,000,000 values",
        ),
        (
            lambda t: _file(t, yaml.safe_dump({**_DEPLOYMENT, "spec": {"template": {"spec": 1}}})),
            "in.yaml:7:11: Deployment/web: Expected `object`, got `int` - at `spec.template.spec`",
        ),
        (
            lambda t: _file(t, yaml.safe_dump({**_DEPLOYMENT, "spec": {"template": 5}})),
            "in.yaml:6:13: Deployment/web: Expected `object`, got `int` - at `spec.template`",
        ),
        (
            lambda t: _file(
                t, yaml.safe_dump({"apiVersion": "batch/v1", "kind": "CronJob", "spec": "x"})
            ),
            "in.yaml:3:7: CronJob/<unnamed>: Expected `object`, got `str` - at `spec`",
        ),
        (
            lambda t: _file(
                t,
                yaml.safe_dump(
                    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", **ASKS}}
                ),
            ),
            "in.yaml:1:1: Pod/x: asks for injection (downward.io/inject) but has no spec: "
            "not a pod",
        ),
        (
            lambda t: _file(
                t, yaml.safe_dump({**_DEPLOYMENT, "spec": {"template": {"metadata": ASKS}}})
            ),
            "Deployment/web: asks for injection (downward.io/inject) but has no "
            "spec.template.spec: not a pod",
        ),
        # Not pods where it cannot matter: passed through unchanged.
        (lambda t: _file(t, yaml.safe_dump({**_DEPLOYMENT, "spec": {"replicas": 3}})), None),
        (lambda t: _file(t, yaml.safe_dump({**_DEPLOYMENT, "spec": {"template": None}})), None),
        (
            lambda t: _file(
                t, yaml.safe_dump({**_DEPLOYMENT, "spec": {"template": {"metadata": {}}}})
            ),
            None,
        ),
        (
            lambda t: _file(
                t, yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}})
            ),
            None,
        ),
        (
            lambda t: _file(
                t,
                yaml.safe_dump(
                    {**_DEPLOYMENT, "apiVersion": "example.com/v1", "spec": {"template": 5}}
                ),
            ),
            None,
        ),
        (
            lambda t: _file(
                t, yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": 1}})
            ),
            "in.yaml:4:15: Pod/<unnamed>: Expected `array",
        ),
    ],
    ids=[
        "missing",
        "directory",
        "not-utf8",
        "bad-indentation",
        "unclosed-flow",
        "alias-bomb",
        "template-spec-not-an-object",
        "template-not-an-object",
        "workload-spec-not-an-object",
        "pod-asks-without-spec",
        "template-asks-without-spec",
        "partial-workload",
        "null-template",
        "template-without-spec",
        "pod-without-spec",
        "custom-resource-of-the-same-kind",
        "bad-pod",
    ],
)
def test_render_errors_are_one_line_with_exit_2(
    tmp_path: Path, make: Any, line: str | None
) -> None:
    path = make(tmp_path)
    done = _cli("-f", path)
    err = done.stderr.decode()
    assert "Traceback" not in err
    if line is None:  # not a pod template where it could matter: passed through unchanged
        assert done.returncode == 0, err
        assert done.stdout == Path(path).read_bytes()
        return
    assert done.returncode == 2, err
    assert err.count("\n") == 1 and line in err, err
    assert err.startswith("downward-webhook: ")
    assert done.stdout == b""


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_render_names_an_unreadable_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "a: b\n")
    os.chmod(path, 0)
    done = _cli("-f", path)
    assert done.returncode == 2 and b"permission denied" in done.stderr


@pytest.mark.parametrize("stdin", [False, True], ids=["file", "stdin"])
def test_render_of_an_endless_input_stops_at_64_mib_with_one_line(stdin: bool) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNWARD_")}
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run(
            [*_CLI, "-f", "-" if stdin else "/dev/zero"],
            stdin=zero if stdin else subprocess.DEVNULL,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    name = "stdin" if stdin else "/dev/zero"
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode() == (
        f"downward-webhook: {name}: more than 64 MiB, too large to render "
        "(split it into smaller files)\n"
    )


def test_render_reads_up_to_its_bound_and_no_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from webhook import render

    text = yaml.safe_dump(_DEPLOYMENT)
    monkeypatch.setattr(render, "MAX_INPUT_BYTES", len(text.encode()))
    assert main(["render", "-f", _file(tmp_path, text)]) == 0
    capsys.readouterr()
    assert main(["render", "-f", _file(tmp_path, text + " ")]) == 2
    assert "too large to render" in capsys.readouterr().err


def test_render_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    docs = yaml.safe_dump_all([_DEPLOYMENT] * 3000, sort_keys=False)
    path = _file(tmp_path, docs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNWARD_")}
    with (tmp_path / "stderr").open("w+b") as stderr:  # a file: a full pipe would block
        render = subprocess.Popen(
            [*_CLI, "-f", path], stdout=subprocess.PIPE, stderr=stderr, env=env
        )
        assert render.stdout is not None
        assert render.stdout.read(10)  # like `| head -c 10`
        render.stdout.close()
        assert render.wait(timeout=120) == 141
        stderr.seek(0)
        err = stderr.read()
    assert b"Traceback" not in err
    assert b"Broken pipe" not in err and b"Exception ignored" not in err


@pytest.mark.parametrize(
    ("redirect", "args", "code", "err"),
    [
        ("<&-", ["-f", "-"], 2, b"downward-webhook: stdin: closed, nothing to read"),
        (">&-", [], 141, b""),
    ],
    ids=["stdin-closed", "stdout-closed"],
)
def test_render_with_stdin_or_stdout_closed_gives_one_line_or_stops_quietly(
    tmp_path: Path, redirect: str, args: list[str], code: int, err: bytes
) -> None:
    path = _file(tmp_path, yaml.safe_dump(_DEPLOYMENT))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNWARD_")}
    shell = f'exec "$@" {redirect}'  # the shell closes the descriptor, then runs the CLI
    done = subprocess.run(
        ["bash", "-c", shell, "bash", *_CLI, *(args or ["-f", path])],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == code, done.stderr
    assert b"Traceback" not in done.stderr and b"Error" not in done.stderr
    if err:
        assert done.stderr.count(b"\n") == 1 and done.stderr.startswith(err), done.stderr


def test_render_strict_prints_the_servers_denial_and_exits_1(tmp_path: Path) -> None:
    bad = {**TEMPLATE, "metadata": {"annotations": {"downward.io/inject": "env,sidecar"}}}
    path = _file(tmp_path, yaml.safe_dump({**_DEPLOYMENT, "spec": {"template": bad}}))
    done = _cli("-f", path, "--strict")
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert (
        'Deployment/web: downward-webhook (strict mode): downward.io/inject: unknown mode "sidecar"'
        in err
    )
    assert b"downward.io/injected" not in done.stdout  # denied: nothing injected


def test_render_namespace_default_injects_pods_without_the_annotation(tmp_path: Path) -> None:
    plain = {"metadata": {"labels": {"app": "web"}}, "spec": TEMPLATE["spec"]}
    path = _file(tmp_path, yaml.safe_dump({**_DEPLOYMENT, "spec": {"template": plain}}))
    assert b"downward.io/injected" not in _cli("-f", path).stdout
    done = _cli("-f", path, "--namespace-default", "--namespace-default-inject", "volume")
    assert done.returncode == 0
    (doc,) = yaml.safe_load_all(done.stdout)
    # The volume mode took effect; the missing limits its files read are a finding, on the pod.
    annotations = doc["spec"]["template"]["metadata"]["annotations"]
    assert annotations["downward.io/injected"] == "volume"
    assert set(annotations) == {"downward.io/injected", "downward.io/warnings"}
    refused = _cli("-f", path, "--namespace-default-inject", "volume")
    assert refused.returncode == 2 and b"applies only with --namespace-default" in refused.stderr


@pytest.mark.parametrize(
    ("args", "env", "code", "injected"),
    [
        ([], {"DOWNWARD_NAMESPACE_DEFAULT_INJECT": "bad"}, 0, None),  # serve's; render ignores it
        (["--namespace-default"], {"DOWNWARD_NAMESPACE_DEFAULT_INJECT": "bad"}, 2, None),
        (["--namespace-default"], {"DOWNWARD_NAMESPACE_DEFAULT_INJECT": "volume"}, 0, "volume"),
        (
            [],
            {"DOWNWARD_NAMESPACE_DEFAULT": "true", "DOWNWARD_NAMESPACE_DEFAULT_INJECT": "volume"},
            0,
            "volume",
        ),
        (
            [],
            {"DOWNWARD_NAMESPACE_DEFAULT": "true", "DOWNWARD_NAMESPACE_DEFAULT_INJECT": "x"},
            2,
            None,
        ),
    ],
    ids=["ignored", "bad-with-flag", "used-with-flag", "used-with-variable", "bad-with-variable"],
)
def test_the_namespace_default_inject_variable_counts_only_with_namespace_default(
    tmp_path: Path, args: list[str], env: dict[str, str], code: int, injected: str | None
) -> None:
    plain = {"metadata": {"labels": {"app": "web"}}, "spec": TEMPLATE["spec"]}
    path = _file(tmp_path, yaml.safe_dump({**_DEPLOYMENT, "spec": {"template": plain}}))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOWNWARD_")}
    done = subprocess.run(
        [*_CLI, "-f", path, *args], env={**clean, **env}, capture_output=True, timeout=60
    )
    err = done.stderr.decode()
    assert done.returncode == code, err
    if code == 2:
        assert err.count("\n") == 1 and "DOWNWARD_NAMESPACE_DEFAULT_INJECT=" in err, err
        return
    (doc,) = yaml.safe_load_all(done.stdout)
    annotations = doc["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("downward.io/injected") == injected


@pytest.mark.parametrize("key", ["downward.io/inject", "Downward.io/Inject", " downward.io/inject"])
def test_an_inject_annotation_on_the_workloads_own_metadata_is_a_finding(
    tmp_path: Path, key: str
) -> None:
    plain = {"metadata": {"labels": {"app": "web"}}, "spec": TEMPLATE["spec"]}
    deployment = {
        **_DEPLOYMENT,
        "metadata": {"name": "web", "annotations": {key: "env"}},
        "spec": {"template": plain},
    }
    path = _file(tmp_path, yaml.safe_dump(deployment))
    done = _cli("-f", path, "--check")
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert f"Deployment/web: {json.dumps(key)} is on the workload's own metadata" in err
    assert "move it to the pod template's metadata.annotations" in err
    assert _cli("-f", path).returncode == 0  # a warning without --check


def test_the_inject_annotation_on_a_pod_is_not_misplaced(tmp_path: Path) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **TEMPLATE["metadata"]}}
    path = _file(tmp_path, yaml.safe_dump({**pod, "spec": TEMPLATE["spec"]}))
    done = _cli("-f", path, "--check")
    assert b"own metadata" not in done.stderr
