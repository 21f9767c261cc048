"""Recipe: everything a pod's annotations decide, made once per set of annotations.

The pods of a workload carry the same annotation keys and the same ``downward.io/*`` values,
so what follows from them alone is worked out once and kept: the findings for keys within
reach of ours (``spelling``), for over-long values and bad values (``bounds``,
``annotations``), the ``Options``, and the pre-encoded ``Kit`` of what they add
(``webhook.core.pieces``). ``recipe`` is the webhook's one cache: a least-recently-used map
from (the annotation keys, our values, the namespace default, the ambassador settings) to an
immutable ``Recipe``. Everything per pod (which containers, what they already have) is the
planner's, every time.

Bounded: ``MAX_RECIPES`` recipes, each made of at most ``CACHEABLE_CHARS`` characters of keys
and values (a larger set is worked out and not kept: a hostile stream of distinct sets costs
what it would cost without a cache, and evicts the recipes of real workloads only one by one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from webhook.core.ambassador import AmbassadorSettings
from webhook.core.annotations import Options, read_options
from webhook.core.bounds import bounded_annotations, bounded_options
from webhook.core.keys import PREFIX
from webhook.core.pieces import Kit
from webhook.core.reasons import Finding
from webhook.core.spelling import misspelled_keys

__all__ = ["CACHEABLE_CHARS", "MAX_RECIPES", "Recipe", "clear", "make_recipe", "recipe"]

#: A recipe with every mode takes about 25 KB (``docs/architecture.md``), so at most 6.5 MB.
MAX_RECIPES = 256
#: Characters of keys and of our values in a kept recipe's key (real pods have a few hundred).
CACHEABLE_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Recipe:
    """What one set of annotations decides, under one set of ambassador settings."""

    #: Typos of our keys, over-long values, bad values, too many env fields: in that order.
    findings: tuple[Finding, ...]
    #: Whether one of ``findings`` is invalid (strict mode denies the pod).
    invalid: bool
    #: ``None``: the pod is not to be injected (no ``downward.io/inject``, or opted out).
    options: Options | None
    kit: Kit | None


def recipe(
    annotations: Mapping[str, str], default_inject: str | None, settings: AmbassadorSettings
) -> Recipe:
    """The recipe for a pod's annotations, kept when they are small (the usual case)."""
    keys = tuple(annotations)
    values = tuple([v for k, v in annotations.items() if k.startswith(PREFIX)])
    if sum(map(len, keys)) + sum(map(len, values)) <= CACHEABLE_CHARS:
        return _kept(keys, values, default_inject, settings)
    return make_recipe(annotations, default_inject, settings)


@lru_cache(maxsize=MAX_RECIPES)
def _kept(
    keys: tuple[str, ...],
    values: tuple[str, ...],
    default_inject: str | None,
    settings: AmbassadorSettings,
) -> Recipe:
    ours = [k for k in keys if k.startswith(PREFIX)]
    return _make(keys, dict(zip(ours, values, strict=True)), default_inject, settings)


def make_recipe(
    annotations: Mapping[str, str], default_inject: str | None, settings: AmbassadorSettings
) -> Recipe:
    """The recipe, worked out anew (``recipe`` keeps it)."""
    ours = {k: v for k, v in annotations.items() if k.startswith(PREFIX)}
    return _make(tuple(annotations), ours, default_inject, settings)


def _make(
    keys: tuple[str, ...],
    ours: Mapping[str, str],
    default_inject: str | None,
    settings: AmbassadorSettings,
) -> Recipe:
    findings = misspelled_keys(keys)  # every pod: typos matter most without inject
    options, read = read_options(bounded_annotations(ours, findings), default_inject)
    findings += read
    kit = None
    if options is not None:
        options = bounded_options(options, findings)
        kit = Kit.of(options, settings)
    return Recipe(tuple(findings), any(f.invalid for f in findings), options, kit)


def clear() -> None:
    """Forget every kept recipe (for tests and benchmarks that measure a first review)."""
    _kept.cache_clear()
