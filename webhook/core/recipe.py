"""Recipe: everything a pod's annotations decide, made once per set of annotations.

The pods of a workload carry the same annotation keys and the same ``downward.io/*`` values,
so what follows from them alone is worked out once and kept: the findings for keys within
reach of ours (``spelling``), for over-long values and bad values (``bounds``,
``annotations``), the ``Options``, and the pre-encoded ``Kit`` of what they add
(``webhook.core.pieces``). ``recipe`` is the webhook's one cache: a least-recently-used map
from (the annotation keys, our values, the namespace default, the ambassador settings) to an
immutable ``Recipe``. Everything per pod (which containers, what they already have) is the
planner's, every time.

Bounded: at most ``MAX_RECIPES`` recipes (about 25 KB each with every mode), and at most
``MAX_KEPT_CHARS`` characters of keys and values in all the keys together; the least recently
used go first. A set larger than ``MAX_RECIPE_CHARS`` is worked out and not kept: a hostile
stream of distinct sets costs what it would cost without a cache, and evicts the recipes of
real workloads only one by one. Not locked: the server calls the core from its one event-loop
thread, and ``render`` from its one thread.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from webhook.core.ambassador import AmbassadorSettings
from webhook.core.annotations import Options, read_options
from webhook.core.bounds import bounded_annotations, bounded_options
from webhook.core.keys import PREFIX
from webhook.core.pieces import Kit
from webhook.core.reasons import Finding
from webhook.core.spelling import misspelled_keys

__all__ = [
    "MAX_KEPT_CHARS",
    "MAX_RECIPES",
    "MAX_RECIPE_CHARS",
    "Recipe",
    "clear",
    "kept",
    "make_recipe",
    "recipe",
]

#: About 25 KB each with every mode, 15 KB with env and volume (``tracemalloc``).
MAX_RECIPES = 256
#: Characters of keys and of our values in one kept recipe's key (real pods have hundreds to a
#: few thousand; 208 annotations of other tools take 6,000).
MAX_RECIPE_CHARS = 32 * 1024
#: ... and in all of them: at most 1 MB of text (1-2 bytes a character, plus 49 a key).
MAX_KEPT_CHARS = 512 * 1024


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


_Key = tuple[tuple[str, ...], tuple[str, ...], str | None, AmbassadorSettings]
#: key -> (recipe, characters in key): oldest first.
_KEPT: OrderedDict[_Key, tuple[Recipe, int]] = OrderedDict()
_kept_chars = 0


def recipe(
    annotations: Mapping[str, str], default_inject: str | None, settings: AmbassadorSettings
) -> Recipe:
    """The recipe for a pod's annotations: kept, or worked out (and kept if small enough)."""
    keys = tuple(annotations)
    values = tuple([v for k, v in annotations.items() if k.startswith(PREFIX)])
    key = (keys, values, default_inject, settings)
    hit = _KEPT.get(key)
    if hit is not None:
        _KEPT.move_to_end(key)
        return hit[0]
    made = make_recipe(annotations, default_inject, settings)
    chars = sum(map(len, keys)) + sum(map(len, values))
    if chars <= MAX_RECIPE_CHARS:
        _keep(key, made, chars)
    return made


def _keep(key: _Key, made: Recipe, chars: int) -> None:
    global _kept_chars
    _KEPT[key] = (made, chars)
    _kept_chars += chars
    while len(_KEPT) > MAX_RECIPES or _kept_chars > MAX_KEPT_CHARS:
        _, (_, gone) = _KEPT.popitem(last=False)
        _kept_chars -= gone


def kept() -> tuple[int, int]:
    """(recipes kept, characters in their keys): for tests and the docs' figures."""
    return len(_KEPT), _kept_chars


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
    global _kept_chars
    _KEPT.clear()
    _kept_chars = 0
