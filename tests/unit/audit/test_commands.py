"""``downward-webhook audit`` end to end, against the HTTP fake of the workload APIs.

The command runs through ``webhook.cli.main`` (so the registration is tested too) with a
kubeconfig that points the real ``kubernetes`` client at ``tests/fakes/kube_workloads.py``.
A real cluster is still needed for the final word (docs/audit.md says how).
"""

from __future__ import annotations

import io
import json
import re
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.kube_workloads import FakeWorkloads, serve
from tests.support.fake_clients import write_kubeconfig
from tests.unit.audit.pods import Obj, injected, pod
from webhook import cli
from webhook.audit.restart import restarted_at

ASKS = {"downward.io/inject": "env"}
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@pytest.fixture
def fake() -> FakeWorkloads:
    return FakeWorkloads()


@pytest.fixture
def kubeconfig(fake: FakeWorkloads, tmp_path: Path) -> Iterator[Path]:
    with serve(fake) as url:
        yield write_kubeconfig(tmp_path, url)


def run(kubeconfig: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["audit", "--kubeconfig", str(kubeconfig), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def audit_json(
    kubeconfig: Path, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, dict[str, Any]]:
    code, out, err = run(kubeconfig, capsys, "-o", "json", *argv)
    assert err == ""
    return code, json.loads(out)


def put_pod(fake: FakeWorkloads, obj: Obj) -> None:
    meta = obj["metadata"]
    fake.put(
        "pods",
        meta["namespace"],
        meta["name"],
        **{k: obj[k] for k in ("spec", "status")},
        metadata=meta,
    )


def owned_by(kind: str, name: str) -> dict[str, Any]:
    ref = {"apiVersion": "v1", "kind": kind, "name": name, "uid": "u", "controller": True}
    return {"ownerReferences": [ref]}


def seed_every_owner_kind(fake: FakeWorkloads) -> None:
    """One workload of each kind, each with pods that were never injected."""
    fake.put("replicasets", "apps", "web-5d9c", metadata=owned_by("Deployment", "web"))
    fake.put("deployments", "apps", "web", spec={"template": {"metadata": {}}})
    fake.put("replicasets", "apps", "lonely", metadata={})
    fake.put("jobs", "apps", "nightly-2900", metadata=owned_by("CronJob", "nightly"))
    fake.put("jobs", "apps", "once", metadata={})
    for name in ("db", "agent"):
        kind = "statefulsets" if name == "db" else "daemonsets"
        fake.put(kind, "apps", name, spec={"template": {"metadata": {}}})
    owners = [
        ("ReplicaSet", "web-5d9c", 3),
        ("ReplicaSet", "lonely", 1),
        ("Job", "nightly-2900", 2),
        ("Job", "once", 1),
        ("StatefulSet", "db", 2),
        ("DaemonSet", "agent", 1),
        ("ReplicationController", "legacy", 1),
    ]
    for kind, owner, count in owners:
        for i in range(count):
            put_pod(fake, pod(f"{owner}-{i}", annotations=ASKS, owner=(kind, owner)))
    put_pod(fake, pod("bare", annotations=ASKS))


def test_a_clean_cluster_exits_0(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_pod(fake, injected(pod("done", annotations=ASKS)))
    put_pod(fake, pod("plain"))
    put_pod(fake, pod("out", annotations={"downward.io/inject": "none,env"}))

    code, out, err = run(kubeconfig, capsys)

    assert (code, err) == (0, "")
    assert out.strip() == "3 pods scanned: none needs attention"


def test_pods_are_listed_page_by_page_and_every_page_is_read(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = injected(pod("template", annotations=ASKS))
    for i in range(1203):
        obj = json.loads(json.dumps(done))
        obj["metadata"]["name"] = f"p{i:04d}"
        put_pod(fake, obj)
    put_pod(fake, pod("zz-missed", annotations=ASKS))

    code, report = audit_json(kubeconfig, capsys, "--page-size", "100")

    lists = fake.list_requests()
    assert len(lists) == 13
    assert all(r.path == "/api/v1/pods" and r.query["limit"] == "100" for r in lists)
    assert "continue" not in lists[0].query
    assert len({r.query["continue"] for r in lists[1:]}) == 12
    assert report["scannedPods"] == 1204
    assert code == 1
    assert [w["name"] for w in report["workloads"]] == ["zz-missed"]


def test_pods_are_grouped_by_their_owning_workload_of_every_kind(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_every_owner_kind(fake)

    code, report = audit_json(kubeconfig, capsys)

    found = {(w["kind"], w["name"]): w["pods"] for w in report["workloads"]}
    assert found == {
        ("Deployment", "web"): 3,
        ("ReplicaSet", "lonely"): 1,
        ("CronJob", "nightly"): 2,
        ("Job", "once"): 1,
        ("StatefulSet", "db"): 2,
        ("DaemonSet", "agent"): 1,
        ("ReplicationController", "legacy"): 1,
        ("Pod", "bare"): 1,
    }
    assert code == 1
    gets = [r.path for r in fake.requests if "/pods" not in r.path]
    assert sorted(gets) == sorted(
        [
            "/apis/apps/v1/namespaces/apps/replicasets/web-5d9c",  # once for three pods
            "/apis/apps/v1/namespaces/apps/replicasets/lonely",
            "/apis/batch/v1/namespaces/apps/jobs/nightly-2900",
            "/apis/batch/v1/namespaces/apps/jobs/once",
        ]
    )


def test_json_output_has_the_documented_shape(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_pod(fake, pod("web-1", annotations=ASKS, owner=("StatefulSet", "web")))

    _, report = audit_json(kubeconfig, capsys)

    assert report == {
        "apiVersion": "downward.io/audit/v1",
        "scannedPods": 1,
        "podsNeedingAttention": 1,
        "workloads": [
            {
                "namespace": "apps",
                "kind": "StatefulSet",
                "name": "web",
                "pods": 1,
                "examplePods": ["web-1"],
                "reasons": {"not-injected": 1, "incomplete": 1},
                "action": None,
                "note": "",
            }
        ],
    }


def test_restart_patches_deployments_statefulsets_and_daemonsets_as_kubectl_does(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_every_owner_kind(fake)
    before = datetime.now(UTC).replace(microsecond=0)

    code, report = audit_json(kubeconfig, capsys, "--restart")

    after = datetime.now(UTC)
    patched = {(p.resource, p.name): p for p in fake.patches}
    assert set(patched) == {("deployments", "web"), ("statefulsets", "db"), ("daemonsets", "agent")}
    for sent in patched.values():
        assert sent.content_type == "application/strategic-merge-patch+json"
        stamp = sent.body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
        assert sent.body == {
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}
        }
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
        assert before <= datetime.fromisoformat(stamp) <= after
    stored = fake.get("deployments", "apps", "web")
    assert (
        stored is not None and RESTARTED_AT in stored["spec"]["template"]["metadata"]["annotations"]
    )
    actions = {w["kind"]: w["action"] for w in report["workloads"]}
    assert actions == {
        "Deployment": "restarted",
        "StatefulSet": "restarted",
        "DaemonSet": "restarted",
        "ReplicaSet": "cannot-restart",
        "CronJob": "cannot-restart",
        "Job": "cannot-restart",
        "ReplicationController": "cannot-restart",
        "Pod": "cannot-restart",
    }
    assert code == 1  # the new pods come after the command: run it again to see them clean


def test_dry_run_says_what_it_would_restart_and_sends_no_patch(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_every_owner_kind(fake)

    code, out, err = run(kubeconfig, capsys, "--restart", "--dry-run")

    assert fake.patches == []
    assert not [r for r in fake.requests if r.method != "GET"]
    assert (code, err) == (1, "")
    assert re.search(
        r"^apps\s+Deployment\s+web\s+3\s+not-injected,incomplete\s+would-restart$",
        out,
        re.MULTILINE,
    )
    assert re.search(r"^apps\s+Pod\s+bare\s+1\s+\S+\s+cannot-restart$", out, re.MULTILINE)
    assert "Pod/bare (apps): a bare pod: delete it and create it again" in out


def test_a_paused_deployment_is_not_restarted(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.put("replicasets", "apps", "web-1", metadata=owned_by("Deployment", "web"))
    fake.put("deployments", "apps", "web", spec={"paused": True, "template": {}})
    put_pod(fake, pod("web-1-a", annotations=ASKS, owner=("ReplicaSet", "web-1")))

    _, report = audit_json(kubeconfig, capsys, "--restart")

    assert fake.patches == []
    assert report["workloads"][0]["action"] == "cannot-restart"
    assert "kubectl rollout resume" in report["workloads"][0]["note"]


def test_a_forbidden_list_exits_2_with_one_line_naming_verb_and_resource(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fail_next("GET", "pods", 403)

    code, out, err = run(kubeconfig, capsys)

    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("downward-webhook audit: error: list pods in all namespaces: HTTP 403:")
    assert 'cannot list resource "pods"' in err and "RBAC" in err


def test_a_forbidden_restart_fails_that_workload_and_exits_2(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.put("statefulsets", "apps", "db", spec={"template": {}})
    put_pod(fake, pod("db-0", annotations=ASKS, owner=("StatefulSet", "db")))
    fake.fail_next("PATCH", "statefulsets", 403)

    code, out, err = run(kubeconfig, capsys, "--restart")

    assert code == 2
    assert err == "downward-webhook audit: error: some restarts failed (see notes)\n"
    assert 'patch statefulset "db" in namespace "apps": HTTP 403' in out


def test_an_unreachable_api_server_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = write_kubeconfig(tmp_path, f"http://127.0.0.1:{port}")

    code, out, err = run(path, capsys)

    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "list pods in all namespaces: cannot reach the API server" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("--namespace", "a", "--all-namespaces"),
        ("-o", "yaml"),
        ("--page-size", "0"),
    ],
)
def test_bad_usage_exits_2(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["audit", *argv])

    assert exited.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_bad_namespace_default_exits_2_with_one_line(
    kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(kubeconfig, capsys, "--namespace-default-inject", "envv")

    assert (code, out) == (2, "")
    assert err == (
        "downward-webhook audit: error: --namespace-default-inject 'envv': "
        "use env, volume, ambassador or all\n"
    )


def test_namespace_lists_only_that_namespace(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_pod(fake, pod("a", namespace="shop", annotations=ASKS))
    put_pod(fake, pod("b", namespace="other", annotations=ASKS))

    code, report = audit_json(kubeconfig, capsys, "--namespace", "shop")

    assert code == 1
    assert [r.path for r in fake.list_requests()] == ["/api/v1/namespaces/shop/pods"]
    assert [(w["namespace"], w["name"]) for w in report["workloads"]] == [("shop", "a")]


def test_namespace_defaults_read_each_namespace_label_once(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.put("namespaces", "", "shop", metadata={"labels": {"downward.io/inject": "enabled"}})
    fake.put("namespaces", "", "other", metadata={"labels": {}})
    for i in range(3):
        put_pod(fake, pod(f"s{i}", namespace="shop"))
    put_pod(fake, pod("o", namespace="other"))
    put_pod(fake, injected(pod("done", namespace="shop"), default="env"))

    _, report = audit_json(kubeconfig, capsys, "--namespace-default-inject", "env")

    assert [(w["namespace"], w["name"]) for w in report["workloads"]] == [
        ("shop", "s0"),
        ("shop", "s1"),
        ("shop", "s2"),
    ]
    ns_gets = [r.path for r in fake.requests if r.path.startswith("/api/v1/namespaces/")]
    assert sorted(ns_gets) == ["/api/v1/namespaces/other", "/api/v1/namespaces/shop"]


def test_excluded_namespaces_finished_and_deleting_pods_are_skipped(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_pod(fake, pod("sys", namespace="kube-system", annotations=ASKS))
    put_pod(fake, pod("done", annotations=ASKS, phase="Succeeded"))
    deleting = pod("going", annotations=ASKS)
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    put_pod(fake, deleting)
    put_pod(fake, pod("mine", namespace="downward-system", annotations=ASKS))

    code, report = audit_json(
        kubeconfig,
        capsys,
        "--exclude-namespace",
        "downward-system",
        "--exclude-namespace",
        "kube-system",
    )

    assert (code, report["scannedPods"], report["workloads"]) == (0, 4, [])


def test_the_table_lists_workloads_reasons_and_a_legend(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = injected(pod("old", annotations={"downward.io/inject": "env,volume"}))
    stale["metadata"]["annotations"]["downward.io/inject"] = "env"
    put_pod(fake, stale)

    code, out, _ = run(kubeconfig, capsys)

    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["NAMESPACE", "KIND", "NAME", "PODS", "REASONS", "ACTION"]
    assert lines[1].split() == ["apps", "Pod", "old", "1", "stale", "-"]
    assert "1 pods scanned: 1 in 1 workloads need attention" in out
    assert "  stale: downward.io/injected lists a mode its annotation no longer asks for" in out


def test_no_progress_line_when_stderr_is_not_a_terminal(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_pod(fake, pod("a", annotations=ASKS))

    _, _, err = run(kubeconfig, capsys)

    assert err == ""


def test_the_restart_stamp_is_kubectls_rfc3339_in_utc() -> None:
    moment = datetime(2026, 12, 1, 23, 5, 9, 123456, tzinfo=UTC)

    assert restarted_at(moment) == "2026-12-01T23:05:09Z"
    plus_two = timezone(timedelta(hours=2))
    assert restarted_at(moment.astimezone(plus_two)) == "2026-12-02T01:05:09+02:00"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_line_is_rewritten_on_a_terminal_and_cleared(
    fake: FakeWorkloads, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        put_pod(fake, pod(f"p{i}", annotations=ASKS))
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    code = cli.main(["audit", "--kubeconfig", str(kubeconfig), "--page-size", "2", "-o", "json"])

    assert code == 1
    assert terminal.getvalue() == (
        "\r2 pods scanned, 2 need attention\r3 pods scanned, 3 need attention\r\033[K"
    )


def test_a_pod_the_webhook_cannot_read_is_reported_if_it_asks(
    fake: FakeWorkloads, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = pod("odd", annotations=ASKS)
    odd["spec"]["containers"] = []
    put_pod(fake, odd)
    quiet = pod("quiet")
    quiet["spec"]["containers"] = []
    put_pod(fake, quiet)

    code, report = audit_json(kubeconfig, capsys)

    assert code == 1
    assert [(w["name"], w["reasons"]) for w in report["workloads"]] == [("odd", {"unreadable": 1})]
