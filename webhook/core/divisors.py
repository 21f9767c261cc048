"""Resource divisors accepted by ``downward.io/cpu-divisor`` and ``downward.io/memory-divisor``.

Kubernetes validates ``resourceFieldRef.divisor`` against a fixed set per resource (for cpu
only ``1m`` and ``1``; for memory and ephemeral-storage the binary and decimal powers). We
accept the subset the spec names, and each divisor names the unit suffix of its env var.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CPU_DIVISORS", "DEFAULT_CPU", "DEFAULT_MEMORY", "MEMORY_DIVISORS", "Divisor"]


@dataclass(frozen=True, slots=True)
class Divisor:
    """A divisor quantity as Kubernetes writes it (canonical form) and its env var unit."""

    quantity: str
    unit: str


CPU_DIVISORS: dict[str, Divisor] = {
    "1m": Divisor("1m", "MILLICORES"),
    "1": Divisor("1", "CORES"),
}

MEMORY_DIVISORS: dict[str, Divisor] = {
    "1": Divisor("1", "BYTES"),
    "1Ki": Divisor("1Ki", "KIBIBYTES"),
    "1Mi": Divisor("1Mi", "MEBIBYTES"),
    "1Gi": Divisor("1Gi", "GIBIBYTES"),
    "1k": Divisor("1k", "KILOBYTES"),
    "1M": Divisor("1M", "MEGABYTES"),
    "1G": Divisor("1G", "GIGABYTES"),
}

DEFAULT_CPU = CPU_DIVISORS["1m"]
DEFAULT_MEMORY = MEMORY_DIVISORS["1"]
