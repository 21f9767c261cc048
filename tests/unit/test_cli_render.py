"""``downward-webhook render``: the same injection as the webhook, for every workload kind."""

from __future__ import annotations

import copy
import json
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
