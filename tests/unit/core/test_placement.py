"""``webhook.core.placement``: where the ambassador may not go, read from the pod itself."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.core import ambassador as amb
from webhook.core.annotations import Options
from webhook.core.keys import AMBASSADOR
from webhook.core.pieces import Kit
from webhook.core.placement import ambassador_for
from webhook.core.reasons import Reason
from webhook.core.review import pod_from_object

KIT = Kit.of(Options(frozenset({AMBASSADOR})), amb.AmbassadorSettings())


def _place(*containers: dict[str, Any], **spec: Any) -> tuple[bool, list[Reason]]:
    pod = pod_from_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {},
            "spec": {"containers": list(containers), **spec},
        }
    )
    assert KIT.ambassador is not None
    findings: list[Any] = []
    placed, _ = ambassador_for(pod.spec, KIT, frozenset(), findings)
    return placed, [f.reason for f in findings]


@pytest.mark.parametrize(
    "said",
    [
        {"args": ["--port", "8001"]},
        {"args": ["--metrics-port=8001"]},
        {"command": ["app", "-port=08001"]},
        {"command": ["sh", "-c", "exec app --listen-port 8001"]},
    ],
)
def test_a_port_flag_naming_the_port_is_a_conflict(said: dict[str, list[str]]) -> None:
    assert _place({"name": "app", "image": "x", **said}) == (
        False,
        [Reason.AMBASSADOR_PORT_CONFLICT],
    )


@pytest.mark.parametrize(
    "said",
    [
        {"args": ["--port", "18001"]},
        {"args": ["--config", "/etc/8001.yaml"]},
        {"args": ["8001"]},
        {"args": ["--port", "\uff18\uff10\uff10\uff11"]},  # not ASCII digits
    ],
)
def test_the_port_digits_elsewhere_are_no_conflict(said: dict[str, list[str]]) -> None:
    assert _place({"name": "app", "image": "x", **said}) == (True, [])


def test_a_kubectl_proxy_anywhere_in_the_command_line_comes_first() -> None:
    proxy = {"name": "p", "image": "x", "command": ["sh", "-c", "/usr/bin/kubectl proxy -p 1"]}
    busy = {"name": "app", "image": "x", "ports": [{"containerPort": 8001}]}
    assert _place(busy, proxy) == (False, [Reason.AMBASSADOR_PROXY_PRESENT])
    assert _place({"name": "p", "image": "x", "command": ["kubectl", "get", "pods"]}) == (
        True,
        [],
    )


@pytest.mark.parametrize(
    "image",
    [
        "registry.k8s.io/kubectl:v1.35.0",
        "bitnami/kubectl:1.31",
        "docker.io/bitnami/kubectl@sha256:" + "0" * 64,
        "lachlanevenson/k8s-kubectl",
        "localhost:5000/kubectl",
    ],
)
def test_a_kubectl_image_whose_entrypoint_runs_proxy_is_a_proxy(image: str) -> None:
    """No command: the image's entrypoint (kubectl) gets the args, as in Kubernetes' own
    examples/kubectl-container (``args: [proxy, -p, "8001"]``)."""
    for args in (["proxy"], ["proxy", "-p", "8001"], ["--v=2", "proxy", "--port=9001"]):
        proxy = {"name": "p", "image": image, "args": args}
        assert _place({"name": "app", "image": "x"}, proxy) == (
            False,
            [Reason.AMBASSADOR_PROXY_PRESENT],
        )


@pytest.mark.parametrize(
    "container",
    [
        {"image": "bitnami/kubectl:1.31", "args": ["get", "pods"]},  # not a proxy
        {"image": "bitnami/kubectl", "command": ["sh"], "args": ["-c", "proxy"]},  # not kubectl
        {"image": "istio/proxyv2:1.24", "args": ["proxy", "sidecar"]},  # not a kubectl image
        {"image": "example/kubectl-tools:1", "args": ["proxy"]},  # kubectl- is not -kubectl
        {"image": "kubectl.example.com/app", "args": ["proxy"]},  # the registry, not the name
    ],
)
def test_proxy_in_the_args_of_other_images_is_no_proxy(container: dict[str, object]) -> None:
    assert _place({"name": "app", "image": "x"}, {"name": "p", **container}) == (True, [])


def test_our_own_ambassador_is_known_by_its_command_line_without_the_status() -> None:
    ours = {"name": amb.CONTAINER_NAME, "image": "k", "command": list(KIT.command)}
    assert _place({"name": "app", "image": "x"}, ours) == (True, [])
    theirs = {"name": amb.CONTAINER_NAME, "image": "k", "command": ["sleep", "1"]}
    assert _place({"name": "app", "image": "x"}, theirs) == (
        False,
        [Reason.AMBASSADOR_NAME_CONFLICT],
    )
