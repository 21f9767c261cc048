"""Hypothesis profiles for the property tier, chosen with ``HYPOTHESIS_PROFILE``.

* ``default`` (local runs): random, about 1,500 pods per property.
* ``ci``: the same budget, derandomized (a fixed seed per test), so a CI run is repeatable
  and a failure reproduces by re-running.
* ``thorough``: 5,000 pods per property; for a long local run before a release.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("default", max_examples=1500, **_COMMON)
settings.register_profile("ci", max_examples=1500, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=5000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
