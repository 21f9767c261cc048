"""Memory of the recipe cache (``webhook.core.recipe``), measured with ``tracemalloc``.

Fills the cache with ``MAX_RECIPES`` distinct recipes of two kinds, a workload's usual
annotations with every mode, and one with ``env`` and ``volume`` only, and prints what the
kept recipes take, in all and each (keys included).

    python bench/recipe_memory.py
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webhook.core import recipe as recipes
from webhook.core.ambassador import AmbassadorSettings

KINDS = {
    "env,volume,ambassador": "every mode",
    "env,volume": "env and volume",
}


def annotations(modes: str, i: int) -> dict[str, str]:
    return {
        "downward.io/inject": modes,
        "kubectl.kubernetes.io/restartedAt": "2026-11-20T10:15:00Z",
        "prometheus.io/scrape": "true",
        f"checksum/config-{i}": "3f2a9c0d",
    }


def main() -> None:
    settings = AmbassadorSettings()
    print(f"{'recipes':>8} {'MB in all':>10} {'KB each':>8}  kind")
    for modes, kind in KINDS.items():
        recipes.clear()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(recipes.MAX_RECIPES):
            recipes.recipe(annotations(modes, i), None, settings)
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        count = recipes.kept()[0]
        print(f"{count:>8} {used / 1e6:>10.2f} {used / count / 1e3:>8.1f}  {kind}")


if __name__ == "__main__":
    main()
