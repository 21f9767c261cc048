"""The divisors a pod may ask for and the unit each names, as the README documents them.

Shared by the tests of ``webhook.core.divisors`` (the tables) and ``webhook.core.envvars``
(the env var names that end in the unit).
"""

from __future__ import annotations

__all__ = ["CPU_UNITS", "MEMORY_UNITS"]

#: cpu divisor quantity -> unit name.
CPU_UNITS = {"1m": "MILLICORES", "1": "CORES"}
#: memory (and ephemeral-storage) divisor quantity -> unit name.
MEMORY_UNITS = {
    "1": "BYTES",
    "1Ki": "KIBIBYTES",
    "1Mi": "MEBIBYTES",
    "1Gi": "GIBIBYTES",
    "1k": "KILOBYTES",
    "1M": "MEGABYTES",
    "1G": "GIGABYTES",
}
