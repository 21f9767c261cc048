"""Clients of the HTTP FAKES of the Kubernetes API server (``tests/fakes/``).

A kubeconfig file that points the real ``kubernetes`` client (and so the CLI) at a fake, and
the certificate code's ``KubeApis`` on a fake ``FakeKubeApi``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fakes.kube_api import FakeKubeApi, api_client_for, serve
from webhook.certs.kube import KubeApis

__all__ = ["kube_apis", "kubeconfig_text", "write_kubeconfig"]


def kubeconfig_text(url: str) -> str:
    """A kubeconfig whose one context talks to ``url`` with a token the fakes ignore."""
    return f"""\
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {url}
users:
- name: fake
  user:
    token: not-a-real-token
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
current-context: fake
"""


def write_kubeconfig(directory: Path, url: str) -> Path:
    """Write ``kubeconfig_text(url)`` to ``directory/kubeconfig`` and return its path."""
    path = directory / "kubeconfig"
    path.write_text(kubeconfig_text(url))
    return path


@contextmanager
def kube_apis(fake: FakeKubeApi) -> Iterator[KubeApis]:
    """``fake`` served over HTTP, and the certificate code's clients on it (closed after)."""
    with serve(fake) as url:
        apis = KubeApis.from_api_client(api_client_for(url))
        yield apis
        apis.close()
