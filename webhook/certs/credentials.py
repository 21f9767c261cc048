"""Kubernetes credentials for ``certs ensure`` and ``audit``: a kubeconfig, else in-cluster.

``api_client`` loads them the way kubectl does: the ``--kubeconfig`` file if given, else the
pod's ServiceAccount (in a cluster), else ``$KUBECONFIG`` (a list joined by ``:``) or
``~/.kube/config``. Every problem is one ``BadCredentials`` line naming the file: ``no such
file``, ``is a directory``, ``not a kubeconfig: ...`` (YAML that does not parse, or a
document the client cannot use). Each file is read and parsed here first, because the client
raises whatever its code trips over (a YAML ``ScannerError``, a ``TypeError`` for a file that
is a string) and names no file; only what passes goes on to the client.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from kubernetes import client, config

__all__ = ["BadCredentials", "api_client", "kubeconfig_paths", "one_line"]

_DEFAULT = "~/.kube/config"
# What the client raises on a kubeconfig whose YAML parses but whose content it cannot use.
_UNUSABLE = (
    config.ConfigException,
    yaml.YAMLError,
    TypeError,
    AttributeError,
    KeyError,
    ValueError,
    IndexError,
)


class BadCredentials(Exception):
    """No usable credentials: bad input (exit 2); ``str()`` is one line naming the file."""


def api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """A client from ``kubeconfig`` if given, else in-cluster, else the default kubeconfig."""
    configuration = client.Configuration()
    if not kubeconfig:
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return client.ApiClient(configuration)
        except config.ConfigException:
            pass  # not in a pod: $KUBECONFIG or ~/.kube/config
    paths = kubeconfig_paths(kubeconfig)
    for path in paths:
        _check(path)
    present = [p for p in paths if p.exists()]
    if not present:
        raise BadCredentials(_nothing_found(kubeconfig, paths))
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=os.pathsep.join(map(str, present)),
            client_configuration=configuration,
            persist_config=False,
        )
    except _UNUSABLE as exc:
        names = ", ".join(map(str, present))
        raise BadCredentials(f"{names}: not a kubeconfig: {_one_line(exc)}") from None
    return client.ApiClient(configuration)


def kubeconfig_paths(kubeconfig: str | None, environ: dict[str, str] | None = None) -> list[Path]:
    """The files to read: ``kubeconfig``, else each of ``$KUBECONFIG``, else the default."""
    env = os.environ if environ is None else environ
    if kubeconfig:
        return [Path(kubeconfig).expanduser()]
    listed = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    return [Path(p).expanduser() for p in listed] or [Path(_DEFAULT).expanduser()]


def _nothing_found(kubeconfig: str | None, paths: list[Path]) -> str:
    if kubeconfig:
        return f"{paths[0]}: no such file"
    listed = os.environ.get("KUBECONFIG", "")
    if listed:
        return f"not in a cluster, and KUBECONFIG={listed} names no file"
    return f"not in a cluster, and {paths[0]}: no such file"


def _check(path: Path) -> None:
    """Refuse a file that is there but is no kubeconfig; a missing one is left to the caller
    (kubectl skips the missing files of a ``$KUBECONFIG`` list)."""
    if path.is_dir():
        raise BadCredentials(f"{path}: is a directory, not a kubeconfig")
    if not path.exists():
        return
    try:
        document = yaml.safe_load(path.read_bytes())
    except PermissionError:
        raise BadCredentials(f"{path}: permission denied") from None
    except OSError as exc:
        raise BadCredentials(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise BadCredentials(f"{path}{at}: not a kubeconfig: not YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise BadCredentials(f"{path}: not a kubeconfig: not YAML: {_one_line(exc)}") from None
    if not isinstance(document, dict):
        what = "empty" if document is None else "a YAML list or scalar, not a mapping"
        raise BadCredentials(f"{path}: not a kubeconfig: {what}")


def one_line(text: str) -> str:
    """``text`` on one line: every run of white space one blank (for one-line errors)."""
    return " ".join(text.split())


def _one_line(exc: BaseException) -> str:
    return one_line(str(exc)) or type(exc).__name__
