"""``webhook.core.divisors``: the divisors a pod may ask for, as Kubernetes accepts them."""

from __future__ import annotations

from tests.support.kube import validation_errors
from tests.unit.core.units import CPU_UNITS, MEMORY_UNITS
from webhook.core.divisors import CPU_DIVISORS, DEFAULT_CPU, DEFAULT_MEMORY, MEMORY_DIVISORS


def test_cpu_divisors_are_millicores_and_cores() -> None:
    assert {q: d.unit for q, d in CPU_DIVISORS.items()} == CPU_UNITS


def test_memory_divisors_are_the_documented_binary_and_decimal_powers() -> None:
    assert {q: d.unit for q, d in MEMORY_DIVISORS.items()} == MEMORY_UNITS


def test_each_divisor_is_keyed_by_its_own_canonical_quantity() -> None:
    for table in (CPU_DIVISORS, MEMORY_DIVISORS):
        assert all(key == divisor.quantity for key, divisor in table.items())


def test_the_defaults_are_millicores_and_bytes() -> None:
    assert (DEFAULT_CPU.quantity, DEFAULT_CPU.unit) == ("1m", "MILLICORES")
    assert (DEFAULT_MEMORY.quantity, DEFAULT_MEMORY.unit) == ("1", "BYTES")


def test_every_divisor_passes_the_api_servers_divisor_rules() -> None:
    env = [
        {"name": f"V{i}", "valueFrom": {"resourceFieldRef": {"resource": res, "divisor": q}}}
        for i, (res, q) in enumerate(
            [("limits.cpu", q) for q in CPU_DIVISORS]
            + [
                (r, q)
                for r in ("limits.memory", "requests.ephemeral-storage")
                for q in MEMORY_DIVISORS
            ]
        )
    ]
    assert validation_errors({"spec": {"containers": [{"name": "app", "env": env}]}}) == []
    # The rules are real: a memory divisor is not a cpu divisor.
    bad = [
        {
            "name": "V",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1Mi"}},
        }
    ]
    assert validation_errors({"spec": {"containers": [{"name": "app", "env": bad}]}}) != []
