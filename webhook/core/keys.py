"""The names every part of the webhook shares: annotation keys, injection modes, opt-out words.

A leaf module (it imports nothing of ours), so the parser (``annotations``), the planner, the
patch renderer, the reasons table, the metrics and the CLI can all name the same things
without importing each other. What each key *means* (its parser, default and findings) is
the table in ``annotations``; here are only the names and the defaults as they are written.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "ALL",
    "AMBASSADOR",
    "AMBASSADOR_PORT",
    "AMBASSADOR_READ_ONLY",
    "CPU_DIVISOR",
    "DEFAULT_TEXT",
    "ENV",
    "INJECT",
    "INJECTED",
    "MEMORY_DIVISOR",
    "MODES",
    "OPT_OUT",
    "PREFIX",
    "VOLUME",
    "VOLUME_MODE",
    "VOLUME_PATH",
    "WARNINGS",
]

PREFIX: Final = "downward.io/"
#: What the pod asks for (and the namespace label that turns on the namespace default).
INJECT: Final = PREFIX + "inject"
#: Written by the webhook: the modes it applied.
INJECTED: Final = PREFIX + "injected"
#: Written by the webhook: the findings of the review, one per line.
WARNINGS: Final = PREFIX + "warnings"

#: Keys whose default a finding names ("using 8001"): see ``DEFAULT_TEXT``.
CPU_DIVISOR: Final = PREFIX + "cpu-divisor"
MEMORY_DIVISOR: Final = PREFIX + "memory-divisor"
VOLUME_PATH: Final = PREFIX + "volume-path"
VOLUME_MODE: Final = PREFIX + "volume-mode"
AMBASSADOR_PORT: Final = PREFIX + "ambassador-port"
#: Named by the finding for a bad value (``Reason.BAD_BOOLEAN`` says which key).
AMBASSADOR_READ_ONLY: Final = PREFIX + "ambassador-read-only"

#: The default of each of those keys, written as a user would write the annotation. The
#: parser's default is this text parsed (``annotations.ANNOTATIONS``), and the finding for a
#: bad value says ``using <this text>`` (``reasons.Reason``): one fact, one place.
DEFAULT_TEXT: Final = MappingProxyType(
    {
        CPU_DIVISOR: "1m",
        MEMORY_DIVISOR: "1",
        VOLUME_PATH: "/etc/podinfo",
        VOLUME_MODE: "0644",
        AMBASSADOR_PORT: "8001",
    }
)

ENV: Final = "env"
VOLUME: Final = "volume"
AMBASSADOR: Final = "ambassador"
#: Every injection mode, in canonical order (the order of ``downward.io/injected``). A new
#: mode is added here; the planner's mode sets, the metrics and the CLI follow.
MODES: Final[tuple[str, ...]] = (ENV, VOLUME, AMBASSADOR)
#: ``downward.io/inject`` word for every mode.
ALL: Final = "all"
#: ``downward.io/inject`` words that opt a pod out (also of a namespace default).
OPT_OUT: Final = frozenset({"none", "false"})
