"""``webhook.core.envvars``: the env var catalog, names, sources and the block for one pod."""

from __future__ import annotations

import pytest

from tests.support.kube import validation_errors
from tests.unit.core.units import CPU_UNITS, MEMORY_UNITS
from webhook.core.divisors import CPU_DIVISORS, DEFAULT_CPU, DEFAULT_MEMORY, MEMORY_DIVISORS
from webhook.core.envvars import (
    CATALOG,
    DEFAULT_FIELDS,
    api_url_var,
    build_env,
    env_block,
    env_name,
    env_source,
    metadata_key_field,
)

#: The catalog as the README documents it: key -> (env var, fieldPath or resource).
DOCUMENTED = {
    "name": ("POD_NAME", "metadata.name"),
    "namespace": ("POD_NAMESPACE", "metadata.namespace"),
    "uid": ("POD_UID", "metadata.uid"),
    "podIP": ("POD_IP", "status.podIP"),
    "podIPs": ("POD_IPS", "status.podIPs"),
    "node": ("NODE_NAME", "spec.nodeName"),
    "hostIP": ("HOST_IP", "status.hostIP"),
    "hostIPs": ("HOST_IPS", "status.hostIPs"),
    "serviceAccount": ("SERVICE_ACCOUNT", "spec.serviceAccountName"),
    "cpuRequest": ("CPU_REQUEST", "requests.cpu"),
    "cpuLimit": ("CPU_LIMIT", "limits.cpu"),
    "memoryRequest": ("MEMORY_REQUEST", "requests.memory"),
    "memoryLimit": ("MEMORY_LIMIT", "limits.memory"),
    "ephemeralStorageRequest": ("EPHEMERAL_STORAGE_REQUEST", "requests.ephemeral-storage"),
    "ephemeralStorageLimit": ("EPHEMERAL_STORAGE_LIMIT", "limits.ephemeral-storage"),
}
NOT_DEFAULT = {"podIPs", "hostIPs", "ephemeralStorageRequest", "ephemeralStorageLimit"}


def test_the_catalog_is_the_documented_one_keyed_case_insensitively() -> None:
    assert set(CATALOG) == {k.lower() for k in DOCUMENTED}
    for key, (name, _source) in DOCUMENTED.items():
        assert CATALOG[key.lower()].key == key
        assert CATALOG[key.lower()].base_name == name


def test_the_default_set_is_every_field_but_the_plural_ips_and_ephemeral_storage() -> None:
    assert [f.key for f in DEFAULT_FIELDS] == [k for k in DOCUMENTED if k not in NOT_DEFAULT]


@pytest.mark.parametrize("key", [k for k in DOCUMENTED if "Request" not in k and "Limit" not in k])
def test_a_field_env_var_reads_its_field_path_with_no_unit(key: str) -> None:
    name, path = DOCUMENTED[key]
    [(_, var)] = build_env([CATALOG[key.lower()]], "APP_", DEFAULT_CPU, DEFAULT_MEMORY)
    assert var == {
        "name": "APP_" + name,
        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}},
    }


def _resource_cases() -> list[tuple[str, str]]:
    cases = []
    for key, (_, resource) in DOCUMENTED.items():
        if "Request" in key or "Limit" in key:
            table = CPU_DIVISORS if resource.endswith("cpu") else MEMORY_DIVISORS
            cases += [(key, quantity) for quantity in table]
    return cases


@pytest.mark.parametrize(("key", "quantity"), _resource_cases())
def test_a_resource_env_var_names_the_unit_of_its_divisor(key: str, quantity: str) -> None:
    base, resource = DOCUMENTED[key]
    cpu = resource.endswith("cpu")
    unit = (CPU_UNITS if cpu else MEMORY_UNITS)[quantity]
    divisors = (
        (CPU_DIVISORS[quantity], DEFAULT_MEMORY)
        if cpu
        else (DEFAULT_CPU, MEMORY_DIVISORS[quantity])
    )
    [(_, var)] = build_env([CATALOG[key.lower()]], "", *divisors)
    # No containerName: an env var's resource is the container's own.
    assert var == {
        "name": f"{base}_{unit}",
        "valueFrom": {"resourceFieldRef": {"resource": resource, "divisor": quantity}},
    }


def test_the_prefix_goes_before_every_name_and_the_unit_after() -> None:
    field = CATALOG["memorylimit"]
    assert (
        env_name(field, "MY_", DEFAULT_CPU, MEMORY_DIVISORS["1Mi"]) == "MY_MEMORY_LIMIT_MEBIBYTES"
    )


@pytest.mark.parametrize(
    ("kind", "key", "name", "path"),
    [
        ("label", "app", "LABEL_APP", "metadata.labels['app']"),
        (
            "label",
            "app.kubernetes.io/name",
            "LABEL_APP_KUBERNETES_IO_NAME",
            "metadata.labels['app.kubernetes.io/name']",
        ),
        ("annotation", "Team-Owner", "ANNOTATION_TEAM_OWNER", "metadata.annotations['Team-Owner']"),
        ("label", "x_y.z", "LABEL_X_Y_Z", "metadata.labels['x_y.z']"),
    ],
)
def test_a_label_or_annotation_key_becomes_an_upper_case_c_identifier(
    kind: str, key: str, name: str, path: str
) -> None:
    field = metadata_key_field(kind, key)
    assert field.key == f"{kind}:{key}"
    [(_, var)] = build_env([field], "", DEFAULT_CPU, DEFAULT_MEMORY)
    assert var == {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def test_a_repeated_env_var_name_keeps_the_first_field_and_reports_the_others() -> None:
    fields = (
        metadata_key_field("label", "a.b"),
        CATALOG["name"],
        metadata_key_field("label", "a-b"),
        metadata_key_field("label", "a_b"),
    )
    block = env_block(fields, "", DEFAULT_CPU, DEFAULT_MEMORY, None)
    assert [v["name"] for v in block.env] == ["LABEL_A_B", "POD_NAME"]
    assert block.env[0]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['a.b']"
    assert block.duplicates == (("label:a-b", "LABEL_A_B"), ("label:a_b", "LABEL_A_B"))
    assert block.names == {"LABEL_A_B", "POD_NAME"}


def test_the_block_lists_the_resources_whose_limit_a_var_reads_once_in_order() -> None:
    fields = tuple(CATALOG[k] for k in ("memorylimit", "cpurequest", "cpulimit", "memorylimit"))
    block = env_block(fields, "", DEFAULT_CPU, DEFAULT_MEMORY, None)
    assert block.limits == ("memory", "cpu")
    assert env_block((CATALOG["cpurequest"],), "", DEFAULT_CPU, DEFAULT_MEMORY, None).limits == ()


def test_with_the_ambassador_the_api_url_comes_last_with_the_prefix() -> None:
    block = env_block(DEFAULT_FIELDS, "APP_", DEFAULT_CPU, DEFAULT_MEMORY, 9001)
    assert block.env[-1] == {"name": "APP_KUBERNETES_API_URL", "value": "http://127.0.0.1:9001"}
    assert block.env[-1] == api_url_var("APP_", 9001)
    assert "APP_KUBERNETES_API_URL" in block.names
    without = env_block(DEFAULT_FIELDS, "APP_", DEFAULT_CPU, DEFAULT_MEMORY, None)
    assert len(block.env) == len(without.env) + 1


def test_every_catalog_var_passes_the_api_servers_env_rules() -> None:
    fields = tuple(CATALOG.values())
    env = [var for _, var in build_env(fields, "X.", CPU_DIVISORS["1"], MEMORY_DIVISORS["1G"])]
    pod = {"spec": {"containers": [{"name": "app", "env": env}]}}
    assert validation_errors(pod) == []


FIELD = {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((None, FIELD), (None, {"fieldRef": {"fieldPath": "metadata.name"}})),
        ((None, None), ("", None)),
        (
            (None, {"resourceFieldRef": {"resource": "limits.cpu"}}),
            (None, {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1"}}),
        ),
        (
            (None, {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}),
            (
                None,
                {
                    "resourceFieldRef": {
                        "resource": "limits.cpu",
                        "divisor": "1m",
                        "containerName": "app",
                    }
                },
            ),
        ),
    ],
    ids=["apiVersion omitted", "no value", "divisor 1 omitted", "own container named"],
)
def test_env_sources_that_read_the_same_thing_are_equal(
    a: tuple[object, object], b: tuple[object, object]
) -> None:
    assert env_source(*a, "app") == env_source(*b, "app")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((None, FIELD), (None, {"fieldRef": {"fieldPath": "metadata.uid"}})),
        (("x", None), (None, FIELD)),
        (("x", None), ("y", None)),
        (
            (None, {"resourceFieldRef": {"resource": "limits.cpu"}}),
            (None, {"resourceFieldRef": {"resource": "limits.cpu", "containerName": "other"}}),
        ),
        (
            (None, {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}),
            (None, {"resourceFieldRef": {"resource": "limits.cpu"}}),
        ),
        (
            (None, {"secretKeyRef": {"name": "s", "key": "k"}}),
            (None, {"configMapKeyRef": {"name": "s", "key": "k"}}),
        ),
    ],
    ids=["other field", "value vs field", "other value", "other container", "other divisor",
         "secret vs config map"],
)  # fmt: skip
def test_env_sources_that_read_different_things_differ(
    a: tuple[object, object], b: tuple[object, object]
) -> None:
    assert env_source(*a, "app") != env_source(*b, "app")
