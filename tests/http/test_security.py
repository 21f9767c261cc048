"""Security properties: TLS versions, no plaintext, no secrets in logs, a restricted ambassador.

The Pod Security Standards table below restates the *restricted* profile (which includes
*baseline*) of https://kubernetes.io/docs/concepts/security/pod-security-standards/ for the
fields the webhook sets on its ambassador container and the volumes it adds.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonpatch
import pytest

from tests.support.kube import answer, minimal_pod
from tests.support.reviews import admission_review
from tests.support.server import CLI, RunningServer, free_port, running_server
from webhook.core.admission import Settings
from webhook.core.ambassador import CONTAINER_NAME, TOKEN_PATH, TOKEN_VOLUME, AmbassadorSettings
from webhook.server.run import CannotListen, listen

JSON = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("security")) as s:
        yield s


def _address(server: RunningServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("https://").split(":")
    return host, int(port)


def _handshake(server: RunningServer, version: ssl.TLSVersion) -> str | None:
    context = server.ssl_context()
    context.minimum_version = version
    context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client at least offer it
    with (
        socket.create_connection(_address(server), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        return tls.version()


# --- TLS ------------------------------------------------------------------------------------------


def _wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Until the plain-HTTP server of ``process`` answers ``/healthz`` (it must not exit)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").text == "ok\n"
            return
        except httpx.HTTPError:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_1_0_and_1_1_handshakes_are_refused(
    server: RunningServer, version: ssl.TLSVersion
) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(server, version)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS:DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_this_client_can_speak_tls_1_0_and_1_1_so_the_refusal_means_something(
    server: RunningServer, version: ssl.TLSVersion
) -> None:
    """The control for the refusal test: a server that allows the old versions gets them."""
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    permissive.minimum_version = ssl.TLSVersion.TLSv1
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.load_cert_chain(server.certs / "tls.crt", server.certs / "tls.key")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    client.minimum_version = client.maximum_version = version
    client.set_ciphers("DEFAULT:@SECLEVEL=0")
    listener = socket.create_server(("127.0.0.1", 0))
    done: list[str | None] = []

    def accept() -> None:
        conn, _ = listener.accept()
        with permissive.wrap_socket(conn, server_side=True) as tls:
            done.append(tls.version())

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        with (
            socket.create_connection(listener.getsockname(), timeout=5) as raw,
            client.wrap_socket(raw) as tls,
        ):
            negotiated = tls.version()
    except ssl.SSLError as exc:  # an OpenSSL built without them: the refusal test proves less
        pytest.skip(f"this OpenSSL cannot negotiate {version.name}: {exc.reason}")
    finally:
        thread.join(timeout=5)
        listener.close()
    assert negotiated == done[0] == {"TLSv1": "TLSv1", "TLSv1_1": "TLSv1.1"}[version.name]


@pytest.mark.parametrize(
    ("version", "name"), [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")]
)
def test_tls_1_2_and_1_3_handshakes_are_accepted(
    server: RunningServer, version: ssl.TLSVersion, name: str
) -> None:
    assert _handshake(server, version) == name


def test_the_tls_port_gives_no_plaintext_answer(server: RunningServer) -> None:
    with socket.create_connection(_address(server), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        try:
            while chunk := sock.recv(4096):
                data += chunk
        except (TimeoutError, ConnectionError):
            pass
    assert b"HTTP/" not in data and b"ok" not in data, data[:200]


def test_plain_http_clients_get_no_answer_from_the_tls_port(server: RunningServer) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(server.url.replace("https://", "http://") + "/healthz", timeout=5)


def test_serve_without_certificates_refuses_to_start_unless_insecure_http_is_given() -> None:
    result = subprocess.run(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if not k.startswith("DOWNWARD_")},
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "downward-webhook: cannot start: --tls-cert and --tls-key are required (or --insecure-http)"
    ]


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "Address already in use"),  # the port is taken (below)
        ("192.0.2.1", "Cannot assign requested address"),  # TEST-NET-1: not this machine's
        ("999.1.1.1", "Name or service not known"),
        ("no-such-host.invalid", "Name or service not known"),
    ],
    ids=["port-in-use", "not-our-address", "bad-ip", "unresolvable"],
)
def test_serve_that_cannot_listen_says_so_in_one_line_and_exits_2(host: str, reason: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*CLI, "serve", "--insecure-http", "--host", host, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            env={k: v for k, v in os.environ.items() if not k.startswith("DOWNWARD_")},
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"downward-webhook: cannot listen on {host}:{port}: {reason}"
    ]


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["sigint", "sigterm"]
)
def test_serve_stopped_by_ctrl_c_or_sigterm_drains_and_exits_quietly(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    port = free_port()
    with (tmp_path / "log").open("w+b") as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--insecure-http"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("DOWNWARD_")},
        )
        try:
            _wait_healthy(port, process)
            process.send_signal(sig)
            assert process.wait(15) == code
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        log.seek(0)
        output = log.read().decode()
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert "Application shutdown complete." in output


def test_listen_closes_what_it_opened_and_binds_every_address() -> None:
    sockets = listen("127.0.0.1", 0)
    try:
        assert [s.getsockname()[0] for s in sockets] == ["127.0.0.1"]
        port = sockets[0].getsockname()[1]
        with pytest.raises(CannotListen, match=f"cannot listen on 127.0.0.1:{port}: Address"):
            listen("127.0.0.1", port)
    finally:
        for sock in sockets:
            sock.close()


def test_insecure_http_serves_plaintext(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--insecure-http"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(port, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


# --- logs -----------------------------------------------------------------------------------------

SECRETS = {
    "env value": "s3cr3t-env-value-7f2a9c",
    "env from annotation": "hunter2-annotation-value-b41d",
    "bad annotation value": "topsecret-mode-91cc",
    "env name": "DB_PASSWORD_ZZQ",
    "label value": "label-secret-e0e0",
    "image": "registry.internal.example/private-image-31337",
}


def _secret_pod() -> JSON:
    pod = minimal_pod(f"env,volume,{SECRETS['bad annotation value']}")
    pod["metadata"]["labels"] = {"app": SECRETS["label value"]}
    pod["metadata"]["annotations"] |= {
        "downward.io/env-prefix": "not valid!",
        "vault.example/token": SECRETS["env from annotation"],
    }
    pod["spec"]["containers"][0] |= {
        "image": SECRETS["image"],
        "env": [{"name": SECRETS["env name"], "value": SECRETS["env value"]}],
    }
    return pod


@pytest.mark.parametrize("level", ["info", "debug"])
def test_logs_never_contain_env_values_annotation_values_or_whole_objects(
    tmp_path: Path, level: str
) -> None:
    with running_server(tmp_path, "--log-level", level) as server, server.client() as client:
        review = admission_review(_secret_pod())
        response = client.post("/mutate", json=review)
        assert response.status_code == 200
        assert response.json()["response"]["warnings"]  # the bad annotation was seen
        bad = json.dumps(review).replace('"uid": "', '"uid": 7, "x": "', 1)
        assert client.post("/mutate", content=bad).status_code == 400
        log = server.logs()
    assert '"msg":"admission"' in log
    for what, secret in SECRETS.items():
        assert secret not in log, f"{what} leaked into the log"
    assert '"containers"' not in log and '"spec"' not in log


# --- the ambassador against the restricted Pod Security Standard ----------------------------------

_ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def _sc(c: JSON) -> JSON:
    sc: JSON = c.get("securityContext") or {}
    return sc


#: (control, check on the ambassador container) from the PSS page, baseline and restricted.
RESTRICTED: list[tuple[str, Callable[[JSON], bool]]] = [
    (
        "baseline: HostProcess",
        lambda c: not (_sc(c).get("windowsOptions") or {}).get("hostProcess"),
    ),
    ("baseline: privileged containers", lambda c: _sc(c).get("privileged") in (None, False)),
    (
        "baseline: capabilities add only the baseline set",
        lambda c: (
            not set((_sc(c).get("capabilities") or {}).get("add") or [])
            - {
                "AUDIT_WRITE",
                "CHOWN",
                "DAC_OVERRIDE",
                "FOWNER",
                "FSETID",
                "KILL",
                "MKNOD",
                "NET_BIND_SERVICE",
                "SETFCAP",
                "SETGID",
                "SETPCAP",
                "SETUID",
                "SYS_CHROOT",
            }
        ),
    ),
    ("baseline: host ports", lambda c: all(not p.get("hostPort") for p in c.get("ports") or [])),
    (
        "baseline: AppArmor",
        lambda c: (
            (_sc(c).get("appArmorProfile") or {}).get("type")
            in (None, "RuntimeDefault", "Localhost")
        ),
    ),
    (
        "baseline: SELinux",
        lambda c: (
            (_sc(c).get("seLinuxOptions") or {}).get("type")
            in (
                None,
                "",
                "container_t",
                "container_init_t",
                "container_kvm_t",
                "container_engine_t",
            )
            and not {"user", "role"} & set(_sc(c).get("seLinuxOptions") or {})
        ),
    ),
    ("baseline: /proc mount type", lambda c: _sc(c).get("procMount") in (None, "Default")),
    (
        "baseline: seccomp not Unconfined",
        lambda c: (_sc(c).get("seccompProfile") or {}).get("type") != "Unconfined",
    ),
    ("restricted: privilege escalation", lambda c: _sc(c).get("allowPrivilegeEscalation") is False),
    ("restricted: running as non-root", lambda c: _sc(c).get("runAsNonRoot") is True),
    ("restricted: running as non-root user", lambda c: _sc(c).get("runAsUser") not in (None, 0)),
    (
        "restricted: seccomp RuntimeDefault or Localhost",
        lambda c: (
            (_sc(c).get("seccompProfile") or {}).get("type") in ("RuntimeDefault", "Localhost")
        ),
    ),
    (
        "restricted: capabilities drop ALL",
        lambda c: "ALL" in ((_sc(c).get("capabilities") or {}).get("drop") or []),
    ),
    (
        "restricted: capabilities add at most NET_BIND_SERVICE",
        lambda c: set((_sc(c).get("capabilities") or {}).get("add") or []) <= {"NET_BIND_SERVICE"},
    ),
    ("spec: read-only root filesystem", lambda c: _sc(c).get("readOnlyRootFilesystem") is True),
    (
        "spec: requests and limits set",
        lambda c: (
            {"cpu", "memory"} <= set(c["resources"]["requests"])
            and {"cpu", "memory"} <= set(c["resources"]["limits"])
        ),
    ),
]

VARIANTS = [
    pytest.param(
        native,
        read_only,
        automount,
        id=f"{'native' if native else 'plain'}-{'read-only' if read_only else 'rw'}-"
        f"{'own-token' if automount is False else 'pod-token'}",
    )
    for native in (True, False)
    for read_only in (True, False)
    for automount in (None, False)
]


def _inject(
    native: bool, read_only: bool, automount: bool | None, modes: str = "all"
) -> tuple[JSON, JSON]:
    pod: JSON = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-",
            "namespace": "team-a",
            "annotations": {
                "downward.io/inject": modes,
                "downward.io/ambassador-read-only": str(read_only).lower(),
            },
        },
        "spec": {
            "containers": [{"name": "app", "image": "nginx"}, {"name": "log", "image": "busybox"}],
            "initContainers": [{"name": "migrate", "image": "busybox"}],
        },
    }
    if automount is not None:
        pod["spec"]["automountServiceAccountToken"] = automount
    settings = Settings(ambassador=AmbassadorSettings(native_sidecar=native))
    review = answer(admission_review(pod), settings)
    patch = json.loads(base64.b64decode(review["response"]["patch"]))
    mutated = jsonpatch.apply_patch(pod, patch)
    spec = mutated["spec"]
    everyone = [*spec["containers"], *spec.get("initContainers", [])]
    ambassador = next(c for c in everyone if c["name"] == CONTAINER_NAME)
    return mutated, ambassador


@pytest.mark.parametrize(("native", "read_only", "automount"), VARIANTS)
@pytest.mark.parametrize(("control", "check"), RESTRICTED, ids=[r[0] for r in RESTRICTED])
def test_the_ambassador_passes_the_restricted_pod_security_standard(
    native: bool,
    read_only: bool,
    automount: bool | None,
    control: str,
    check: Callable[[JSON], bool],
) -> None:
    _, ambassador = _inject(native, read_only, automount)
    assert check(ambassador), f"{control}: {ambassador.get('securityContext')}"


@pytest.mark.parametrize(("native", "read_only", "automount"), VARIANTS)
def test_the_volumes_the_webhook_adds_are_of_restricted_types_and_the_pod_level_is_untouched(
    native: bool, read_only: bool, automount: bool | None
) -> None:
    mutated, _ = _inject(native, read_only, automount)
    for volume in mutated["spec"]["volumes"]:
        kinds = set(volume) - {"name"}
        assert kinds <= _ALLOWED_VOLUMES, volume
    for field in ("hostNetwork", "hostPID", "hostIPC", "securityContext"):
        assert field not in mutated["spec"]


@pytest.mark.parametrize(("native", "read_only", "automount"), VARIANTS)
def test_the_ambassador_binds_loopback_only(
    native: bool, read_only: bool, automount: bool | None
) -> None:
    _, ambassador = _inject(native, read_only, automount)
    command = ambassador["command"]
    assert command[:2] == ["kubectl", "proxy"]
    addresses = [a for a in command if a.startswith(("--address", "--unix-socket"))]
    assert addresses == ["--address=127.0.0.1"]
    assert r"--accept-hosts=^localhost$,^127\.0\.0\.1$" in command
    assert not ambassador.get("args")
    assert "ports" not in ambassador  # nothing advertised on the pod IP
    assert any(a.startswith("--reject-methods=") for a in command) == read_only


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("modes", ["all", "env,ambassador", "volume,ambassador", "ambassador"])
def test_with_automount_off_only_the_ambassador_holds_a_token(native: bool, modes: str) -> None:
    mutated, ambassador = _inject(native, False, False, modes)
    spec = mutated["spec"]
    token_volumes = {v["name"] for v in spec["volumes"] if "projected" in v}
    assert token_volumes == {TOKEN_VOLUME}
    for c in [*spec["containers"], *spec.get("initContainers", [])]:
        mounts = c.get("volumeMounts") or []
        holds = [
            m
            for m in mounts
            if m["name"] in token_volumes or m["mountPath"].rstrip("/") == TOKEN_PATH
        ]
        if c is ambassador:
            assert [m["name"] for m in holds] == [TOKEN_VOLUME]
            assert all(m.get("readOnly") for m in holds)
        else:
            assert holds == [], f"{c['name']} holds a token"
    assert spec["automountServiceAccountToken"] is False
