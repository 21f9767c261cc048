"""Placement: whether the ambassador can go into a pod, and which of its kinds.

Refused, with a finding each: Windows pods (``webhook.core.windows``), pods meant to end
without native sidecars, ``hostNetwork`` pods (the proxy's loopback port would be the node's),
a container of the ambassador's name that is not ours, volumes of its volumes' names, and a
pod that already runs ``kubectl proxy`` or uses the port (its ``ports``, a probe or handler, or
a ``--...port`` flag in its command or args). A re-review finds its own ambassador by the
``downward.io/injected`` status or by its exact command line.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from webhook.core import ambassador as amb
from webhook.core.keys import AMBASSADOR
from webhook.core.model import Container, Handler, PodSpec
from webhook.core.pieces import AmbassadorPieces, Kit
from webhook.core.reasons import Finding, Reason
from webhook.core.windows import selects_windows

__all__ = ["ambassador_for"]


def ambassador_for(
    spec: PodSpec,
    kit: Kit,
    prior: frozenset[str],
    findings: list[Finding],
) -> tuple[bool, AmbassadorPieces | None]:
    """(is the ambassador in the pod after this review, the container to add if any), for a
    kit with the ambassador mode."""
    ambassadors = kit.ambassador
    assert ambassadors is not None, "a kit without the ambassador mode"
    blocked = _ambassador_unsupported(spec, ambassadors[0].native)
    if blocked is not None:
        findings.append(blocked)
        return False, None
    if spec.hostNetwork:
        findings.append(Finding(Reason.AMBASSADOR_HOST_NETWORK))
        return False, None
    everyone = [*spec.containers, *(spec.initContainers or ())]
    existing = next((c for c in everyone if c.name == amb.CONTAINER_NAME), None)
    if existing is not None:
        # Ours from an earlier review: the status says so, or it runs exactly our proxy (a
        # pod whose hand-written status leaves it out must still re-review to ``[]``).
        if AMBASSADOR in prior or tuple(existing.command or ()) == kit.command:
            return True, None
        findings.append(Finding.of(Reason.AMBASSADOR_NAME_CONFLICT, name=amb.CONTAINER_NAME))
        return False, None
    for volume in spec.volumes or ():
        if volume.name in (amb.TMP_VOLUME, amb.TOKEN_VOLUME):
            findings.append(Finding.of(Reason.AMBASSADOR_NAME_CONFLICT, name=volume.name))
            return False, None
    if _proxy_or_port_taken(everyone, kit.options.ambassador_port, findings):
        return False, None
    return True, ambassadors[spec.automountServiceAccountToken is False]


def _ambassador_unsupported(spec: PodSpec, native_sidecar: bool) -> Finding | None:
    """Pods the ambassador cannot serve: Windows ones (``webhook.core.windows``), and, without
    native sidecars, pods that are meant to end (``restartPolicy`` absent means ``Always``):
    a plain ``kubectl proxy`` container never exits, so their Job would never complete."""
    how = selects_windows(spec)
    if how is not None:
        return Finding.of(Reason.AMBASSADOR_WINDOWS, how=how)
    policy = spec.restartPolicy
    if not native_sidecar and policy is not None and policy != "Always":
        return Finding.of(Reason.AMBASSADOR_NOT_ALWAYS, value=policy)
    return None


# ---- what the pod already runs: a kubectl proxy, ports in use -------------------------------

#: ``--port=N``, ``--port N``, ``--metrics-port=N``: any flag whose name ends in ``port``.
_PORT_FLAG = re.compile(r"--?[A-Za-z0-9-]*port(?:=(.*))?", re.IGNORECASE)


def _words(parts: tuple[str, ...]) -> list[str]:
    """Command and args, split on blanks too (``sh -c "kubectl proxy --port=8001"``)."""
    return [word for part in parts for word in part.split()]


def _said(container: Container) -> tuple[str, ...]:
    return (*(container.command or ()), *(container.args or ()))


def _runs_kubectl_proxy(container: Container) -> bool:
    """``kubectl`` and later ``proxy`` in the command line, or, without a command, ``proxy``
    in the args of an image whose entrypoint is kubectl (``bitnami/kubectl`` with ``args:
    [proxy]``)."""
    words = _words(_said(container))
    if any(
        posixpath.basename(word) == "kubectl" and "proxy" in words[i + 1 :]
        for i, word in enumerate(words)
    ):
        return True
    return not container.command and _is_kubectl_image(container.image) and "proxy" in words


def _is_kubectl_image(image: str | None) -> bool:
    """``registry.k8s.io/kubectl:v1.35.0``, ``bitnami/kubectl``, ``lachlanevenson/k8s-kubectl``
    (their entrypoint is kubectl): the repository's last name, without tag or digest."""
    if not image:
        return False
    name = image.partition("@")[0].rpartition("/")[2].partition(":")[0]
    return name == "kubectl" or name.endswith("-kubectl")


def _arg_ports(parts: tuple[str, ...]) -> frozenset[int]:
    """The ports named by ``--...port`` flags in command and args."""
    return frozenset(_flag_ports(_words(parts)))


def _flag_ports(words: list[str]) -> Iterator[int]:
    for i, word in enumerate(words):
        match = _PORT_FLAG.fullmatch(word)
        if match is None:
            continue
        value = match.group(1) if match.group(1) is not None else "".join(words[i + 1 : i + 2])
        if value.isascii() and value.isdigit():
            yield int(value)


def _handler_uses(handler: Handler | None, port: int) -> bool:
    if handler is None:
        return False
    http, tcp, grpc = handler.httpGet, handler.tcpSocket, handler.grpc
    return (
        (http is not None and http.port == port)
        or (tcp is not None and tcp.port == port)
        or (grpc is not None and grpc.port == port)
    )


def _port_use(container: Container, port: int, digits: str, said: str) -> str | None:
    """Where the container is seen to listen on ``port`` (``digits``: ``str(port)``): ports,
    a probe, a handler, args (``said``: its command and args, joined)."""
    for p in container.ports or ():
        if p.containerPort == port and p.protocol in (None, "TCP"):
            return "ports"
    for probe in (container.livenessProbe, container.readinessProbe, container.startupProbe):
        if probe is not None and _handler_uses(probe, port):
            return "probe"
    lifecycle = container.lifecycle
    if lifecycle is not None and (
        _handler_uses(lifecycle.postStart, port) or _handler_uses(lifecycle.preStop, port)
    ):
        return "lifecycle handler"
    # Only args with the port's digits in them can name the port: the usual answer, unsplit.
    if digits in said and port in _arg_ports(_said(container)):
        return "args"
    return None


def _proxy_or_port_taken(everyone: list[Container], port: int, findings: list[Finding]) -> bool:
    """A container (or init container) already runs ``kubectl proxy``, or uses the port."""
    said = [" ".join(_said(c)) for c in everyone]
    if "proxy" in " ".join(said):  # one look for the usual answer (none)
        for container, text in zip(everyone, said, strict=True):
            if "proxy" in text and _runs_kubectl_proxy(container):
                finding = Finding.of(Reason.AMBASSADOR_PROXY_PRESENT, container=container.name)
                findings.append(finding)
                return True
    digits = str(port)
    for container, text in zip(everyone, said, strict=True):
        use = _port_use(container, port, digits, text)
        if use is not None:
            findings.append(
                Finding.of(
                    Reason.AMBASSADOR_PORT_CONFLICT,
                    container=container.name,
                    port=str(port),
                    use=use,
                )
            )
            return True
    return False
