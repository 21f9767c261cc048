"""values.yaml is fully documented, and values.schema.json is closed and rejects bad values."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.chart.rendering import CHART, Renderer, helm_run, template_args

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    resolved = SCHEMA
    for part in ref.removeprefix("#/").split("/"):
        resolved = resolved[part]
    return {**resolved, **{k: v for k, v in node.items() if k != "$ref"}}


def object_schemas(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node (with its path) that declares properties."""
    if isinstance(node, dict):
        if "properties" in node:
            yield path or "/", node
        for key, child in node.items():
            yield from object_schemas(child, f"{path}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from object_schemas(child, f"{path}/{index}")


def test_schema_closes_every_object_it_describes() -> None:
    nodes = list(object_schemas(SCHEMA))
    assert len(nodes) > 20
    for path, node in nodes:
        if "/allOf/" in path:
            continue  # the conditional `then` only narrows properties already closed above
        assert node.get("additionalProperties") is False, path


def schema_keys(node: dict[str, Any], prefix: str = "") -> set[str]:
    node = resolve(node)
    keys: set[str] = set()
    for key, child in node.get("properties", {}).items():
        keys.add(prefix + key)
        keys |= schema_keys(child, f"{prefix}{key}.")
    return keys


def value_keys(values: Any, schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Keys of values.yaml, not descending into free-form maps (no `properties` in the schema)."""
    keys: set[str] = set()
    schema = resolve(schema)
    if not isinstance(values, dict) or "properties" not in schema:
        return keys
    for key, child in values.items():
        keys.add(prefix + key)
        keys |= value_keys(child, schema["properties"].get(key, {}), f"{prefix}{key}.")
    return keys


def test_schema_and_values_describe_the_same_keys() -> None:
    """Every value is in the schema; the schema only adds the optional ephemeral-storage."""
    in_values, in_schema = value_keys(VALUES, SCHEMA), schema_keys(SCHEMA)
    assert in_values <= in_schema
    assert all(key.endswith(".ephemeral-storage") for key in in_schema - in_values)


def documented_keys(text: str) -> Iterator[tuple[int, str, list[str]]]:
    """(line number, key, comment lines right above it) for every key in a YAML mapping."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        match = re.match(r"^\s*([A-Za-z][\w-]*):(\s|$)", line)
        if match is None:
            continue
        comments: list[str] = []
        above = number - 1
        while above >= 0 and lines[above].strip().startswith("#"):
            comments.insert(0, lines[above].strip())
            above -= 1
        yield number + 1, match.group(1), comments


def test_every_value_has_a_comment_starting_with_its_name() -> None:
    found = list(documented_keys(VALUES_TEXT))
    assert len(found) > 60
    for number, key, comments in found:
        assert comments, f"values.yaml:{number}: {key} has no comment"
        assert comments[0].startswith(f"# {key} "), f"values.yaml:{number}: {comments[0]!r}"


@pytest.mark.parametrize(
    ("sets", "why"),
    [
        (("replicaCount=two",), "a string for an integer"),
        (("webhook.timeoutSeconds=60",), "a timeout above the API server's 30 s"),
        (("webhook.failurePolicy=Sometimes",), "an unknown failure policy"),
        (("webhook.matchConditions=maybe",), "neither auto nor a boolean"),
        (("certs.mode=vault",), "an unknown certificate mode"),
        (("server.strict=maybe",), "a string for a boolean"),
        (("server.logLevel=chatty",), "an unknown log level"),
        (("namespaceDefaults.inject=env\\,bogus",), "an unknown injection mode"),
        (("ambassador.nativeSidecar=sometimes",), "neither auto nor a boolean"),
        (("ambassador.runAsUser=0",), "root for the ambassador"),
        (("securityContext.runAsUser=0",), "root for the chart's pods"),
        (("securityContext.runAsGroup=0",), "the root group for the chart's pods"),
        (("securityContext.fsGroup=0",), "the root group for the mounted files"),
        (("securityContext.runAsUser=-1",), "a negative UID"),
        (("ambassador.runAsUser=2147483648",), "a UID above Kubernetes' int32 range"),
        (("podDisruptionBudget.maxUnavailable=150%",), "a percentage above 100%"),
        (("certs.selfSigned.validityDays=36501",), "over certs ensure's 100 years"),
        (("certs.selfSigned.renewBeforeDays=36501",), "over certs ensure's 100 years"),
        (("podDisruptionBudget.maxUnavailable=-1",), "a negative number of pods"),
        (("podDisruptionBudget.maxUnavailable=one",), "neither a number nor a percentage"),
        (("namespaceDefaults.inject=NONE",), "an opt-out word as the default modes"),
        # Lower case only: the schema's patterns are ECMA-262 regexes for editors too, which
        # have no case-insensitive flag inside a pattern.
        (("namespaceDefaults.inject=ENV",), "a mode in upper case"),
        (("audit.schedule=every monday",), "a schedule that is not cron"),
        (("audit.schedule=17 3 * *",), "a cron schedule of four fields"),
        (("certs.selfSigned.renewSchedule=17 3 * * 1 2025",), "a cron schedule of six fields"),
        (("certs.selfSigned.renewSchedule=@often",), "an unknown cron macro"),
        (("resources.limits.memory=lots",), "a malformed quantity"),
        (("image.digest=latest",), "a digest that is not sha256"),
        (("imagePullSecrets[0].name=x",), "an object where a Secret name belongs"),
        (("tests.namespace=Not_A_Namespace",), "an invalid namespace name"),
        (("certs.mode=provided",), "provided mode without a Secret and CA bundle"),
        (("unknownTopLevel=1",), "an unknown top-level key"),
        (("image.tagg=1",), "a misspelled key"),
        (("webhook.extra=1",), "an unknown webhook key"),
        (("certs.selfSigned.validity=30",), "an unknown certificate key"),
        (("ambassador.resources.requests.gpu=1",), "an unknown resource"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_schema_rejects(helm: str, sets: tuple[str, ...], why: str) -> None:
    result = helm_run(helm, *template_args(sets=sets))
    assert result.returncode != 0, f"accepted {why}: {sets}"
    assert "schema" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "sets",
    [
        ("podDisruptionBudget.maxUnavailable=0",),
        ("podDisruptionBudget.maxUnavailable=0%",),
        ("podDisruptionBudget.maxUnavailable=100%",),
        ("podDisruptionBudget.maxUnavailable=25%",),
        ("audit.enabled=true", "audit.schedule=*/15 * * * *"),
        ("audit.enabled=true", "audit.schedule=0 4 * * MON-FRI"),
        ("certs.selfSigned.renewSchedule=@weekly",),
        ("certs.selfSigned.renewSchedule=@every 168h",),
    ],
    ids=lambda sets: " ".join(sets),
)
def test_schema_accepts_and_the_render_validates(chart: Renderer, sets: tuple[str, ...]) -> None:
    for doc in chart.docs(kube_version="1.35", sets=sets):
        if doc["kind"] in {"PodDisruptionBudget", "Deployment", "CronJob", "Pod"}:
            kubernetes_validate.validate(doc, "1.35", strict=True)


def test_template_refuses_provided_mode_without_values(helm: str) -> None:
    """The same check without the schema, for `--skip-schema-validation` users."""
    args = [*template_args(sets=("certs.mode=provided",)), "--skip-schema-validation"]
    result = helm_run(helm, *args)
    assert result.returncode != 0
    assert "certs.provided.secretName is required" in result.stderr


@pytest.mark.parametrize(
    ("value", "since", "feature"),
    [
        ("webhook.matchConditions", "1.28", "AdmissionWebhookMatchConditions on by default"),
        ("ambassador.nativeSidecar", "1.29", "SidecarContainers on by default"),
        ("guarantee.enabled", "1.30", "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy"),
    ],
)
def test_a_feature_forced_on_for_a_cluster_without_it_fails_with_one_line(
    helm: str, value: str, since: str, feature: str
) -> None:
    """true below the version where auto turns it on would render silently broken manifests."""
    major, minor = since.split(".")
    older = f"{major}.{int(minor) - 1}.9"
    result = helm_run(helm, *template_args(kube_version=older, sets=(f"{value}=true",)))
    assert result.returncode != 0
    message = (
        f"{value}=true needs Kubernetes {since} or later ({feature}), "
        f"but this render is for v{older}: set it to auto or false"
    )
    assert result.stderr.splitlines()[0].endswith(message), result.stderr
    for version in (f"{since}.0", f"{since}.0-gke.100"):
        assert (
            helm_run(helm, *template_args(kube_version=version, sets=(f"{value}=true",))).returncode
            == 0
        )
    for setting in ("auto", "false"):
        assert (
            helm_run(
                helm, *template_args(kube_version=older, sets=(f"{value}={setting}",))
            ).returncode
            == 0
        )


@pytest.mark.parametrize(("validity", "renew_before"), [(10, 30), (30, 30)])
def test_a_renewal_window_not_shorter_than_the_validity_fails_as_certs_ensure_would(
    helm: str, validity: int, renew_before: int
) -> None:
    """Rendered, the init container would fail with this sentence: the render fails with it."""
    from webhook.certs.ensure import EnsureTarget

    sets = (
        f"certs.selfSigned.validityDays={validity}",
        f"certs.selfSigned.renewBeforeDays={renew_before}",
    )
    with pytest.raises(ValueError, match=r"^renew-before") as ensure_error:
        EnsureTarget("ns", "s", "svc", "wh", validity, timedelta(days=renew_before))
    result = helm_run(helm, *template_args(sets=sets))
    assert result.returncode != 0
    first = result.stderr.splitlines()[0]
    assert first.endswith(f"certs.selfSigned: {ensure_error.value}"), first
    other_mode = helm_run(helm, *template_args(sets=(*sets, "certs.mode=cert-manager")))
    assert other_mode.returncode == 0, "only self-signed mode uses these values"


@pytest.mark.parametrize(
    ("duration", "renew_before", "fails"),
    [
        ("2160h", "360h", False),
        ("90m", "1.5h", True),
        ("1h", "3600000ms", True),
        ("1h", "3599999ms", False),
        ("1h30m1s", "5400s", False),
        ("24h", "48h", True),
    ],
)
def test_cert_manager_renew_before_must_be_shorter_than_the_duration(
    helm: str, duration: str, renew_before: str, fails: bool
) -> None:
    """cert-manager refuses such a Certificate, and the server pods wait for its Secret."""
    sets = (
        "certs.mode=cert-manager",
        f"certs.certManager.duration={duration}",
        f"certs.certManager.renewBefore={renew_before}",
    )
    result = helm_run(helm, *template_args(sets=sets))
    assert (result.returncode != 0) is fails, result.stderr
    if fails:
        message = f"certs.certManager: renewBefore ({renew_before}) must be shorter than the "
        assert result.stderr.splitlines()[0].endswith(f"{message}duration ({duration})")


@pytest.mark.parametrize("page", ["README.md", "docs/chart.md", "docs/guarantee.md"])
def test_every_chart_value_the_docs_name_is_in_values_yaml(page: str) -> None:
    """`chart value `server.strict: true`` and the like name a real key (with its value)."""
    text = (CHART.parents[1] / page).read_text()
    named = re.findall(r"chart values? `([\w.]+)(?::\s*([^`]+))?`", " ".join(text.split()))
    for key, value in named:
        node: Any = VALUES
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{page}: no chart value {key}"
            node = node[part]
        if value:
            assert type(yaml.safe_load(value)) is type(node), f"{page}: {key}: {value}"


@pytest.mark.parametrize(
    ("resource", "request_", "limit"),
    [
        ("memory", "1Gi", "1Mi"),
        ("memory", "1Gi", "1024Mi"),
        ("memory", "65Mi", "64Mi"),
        ("cpu", "1", "500m"),
        ("cpu", "500m", "0.5"),
        ("cpu", "100m", "0.1"),
        ("cpu", "1e3", "1k"),
        ("cpu", "2", "2000m"),
        ("cpu", "2001m", "2"),
        ("cpu", "0", "0"),
        ("memory", "0", "0Mi"),
    ],
)
def test_ambassador_resources_are_refused_by_the_chart_as_by_the_server(
    helm: str, resource: str, request_: str, limit: str
) -> None:
    """A request above its limit, or a limit of 0, would make serve exit 2 at startup (and
    every pod asking for the ambassador fail validation): the render fails with its words."""
    import argparse

    from webhook.flags import UsageError
    from webhook.injection_flags import check_resources

    args = argparse.Namespace(
        ambassador_cpu_request="10m",
        ambassador_cpu_limit="100m",
        ambassador_memory_request="32Mi",
        ambassador_memory_limit="64Mi",
    )
    setattr(args, f"ambassador_{resource}_request", request_)
    setattr(args, f"ambassador_{resource}_limit", limit)
    try:
        check_resources(args)
        server_error = None
    except UsageError as exc:
        server_error = str(exc)
    sets = (
        f"ambassador.resources.requests.{resource}={request_}",
        f"ambassador.resources.limits.{resource}={limit}",
    )
    result = helm_run(helm, *template_args(sets=sets))
    assert (result.returncode != 0) is (server_error is not None), (server_error, result.stderr)
    if server_error is None:
        return
    first = result.stderr.splitlines()[0]
    if "a limit must be more than 0" in server_error:
        assert first.endswith(
            f"ambassador.resources.limits.{resource} ({limit}): a limit must be more than 0"
        ), first
    else:
        assert first.endswith(
            f"ambassador.resources.requests.{resource} ({request_}) is more than "
            f"ambassador.resources.limits.{resource} ({limit}): Kubernetes refuses a request "
            "above its limit in every pod that gets the ambassador"
        ), first
        assert server_error.endswith(
            "Kubernetes refuses a request above its limit in every pod that gets the ambassador"
        )


def test_the_schema_bounds_the_certificate_days_as_certs_ensure_does() -> None:
    from webhook.certs.commands import MAX_DAYS

    days = SCHEMA["properties"]["certs"]["properties"]["selfSigned"]["properties"]
    assert days["validityDays"]["maximum"] == days["renewBeforeDays"]["maximum"] == MAX_DAYS
