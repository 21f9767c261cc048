"""Spelling: annotation keys that look like ours but are not, with the key that was meant.

A key is *within reach* of ours when it starts with ``downward.io/`` in any letter case, or
when it is within edit distance 2 (optimal string alignment: insertions, deletions,
substitutions and transpositions of neighbours, letter case ignored) of a known key. Such a
key is a finding whether or not ``downward.io/inject`` is there: ``downward.io/inejct: env``
on its own is exactly the pod whose author expects an injection and gets none.

Bounded work. Most keys are rejected by ``near``, three compiled regular expressions, before
any distance is computed. ``near`` holds for every key within distance 2 of a known key (the
argument below), so the filter never hides a typo; the chart's second webhook entry asks the
same three questions in CEL to decide which pods reach the webhook at all.

Why. Every known key is ``downward.io/<suffix>``. Take three pieces of it that do not touch:
``dow`` (offset 0), ``war`` (offset 4) and ``.io/<suffix>`` (offset 8). One edit touches at
most one piece (a transposition swaps neighbours, and a gap separates the pieces), so after two
edits one piece is intact, moved by at most 2 (the insertions and deletions before it): ``dow``
at offset 0-2, ``war`` at 2-6 (``NEAR_ANY``), or ``.io/<suffix>`` at 6-10 (``NEAR_TAIL``).
In the last case both edits were spent on ``dow`` and ``war``, one each, and one edit of
``war`` leaves its ``w`` or its ``a`` in place, at offset 2-7 (``NEAR_WA``). That last test
is what keeps ``linkerd.io/inject``, which has the tail, from being sent to the webhook.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from webhook.core.annotations import KNOWN_KEYS
from webhook.core.keys import PREFIX
from webhook.core.reasons import Finding, Reason

__all__ = [
    "MAX_DISTANCE",
    "NEAR_ANY",
    "NEAR_TAIL",
    "NEAR_WA",
    "distance_within",
    "meant",
    "misspelled_keys",
    "near",
]

MAX_DISTANCE = 2
_SUFFIXES = sorted({key.removeprefix(PREFIX) for key in KNOWN_KEYS}, key=lambda s: (-len(s), s))
#: The prefilter, written for both Python's ``re`` and RE2 (CEL's ``matches``): no
#: backslashes (CEL string escapes), ``[.]`` for a literal dot, ``(?i)`` for the letter case.
NEAR_ANY = "(?i)^(.{0,2}dow|.{2,6}war)"
NEAR_TAIL = "(?i)^.{6,10}[.]io/(" + "|".join(_SUFFIXES) + ")"
NEAR_WA = "(?i)^.{2,7}[wa]"
_ANY, _TAIL, _WA = (re.compile(p, re.ASCII) for p in (NEAR_ANY, NEAR_TAIL, NEAR_WA))
_KNOWN = tuple(sorted(KNOWN_KEYS))


def distance_within(a: str, b: str, limit: int = MAX_DISTANCE) -> int | None:
    """The optimal-string-alignment distance of ``a`` and ``b`` if at most ``limit``, else None.

    Common ends are cut first (a typo of one of our keys leaves a few characters), and the
    row-by-row computation stops as soon as every cell of a row is over ``limit``.
    """
    if abs(len(a) - len(b)) > limit:
        return None
    start, shortest = 0, min(len(a), len(b))
    while start < shortest and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a, end_b = end_a - 1, end_b - 1
    return _osa(a[start:end_a], b[start:end_b], limit)


def _osa(a: str, b: str, limit: int) -> int | None:
    previous: list[int] = []
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        before, previous, row = previous, row, [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, before[j - 2] + 1)
            row[j] = best
        if min(row) > limit:
            return None
    return row[-1] if row[-1] <= limit else None


def near(key: str) -> bool:
    """The cheap test: False for every key that cannot be within distance 2 of a known key."""
    return bool(_ANY.match(key) or (_TAIL.match(key) and _WA.match(key)))


def meant(key: str) -> str | None:
    """The known key nearest to ``key`` (letter case ignored), if within reach."""
    lowered = key.lower()
    best: tuple[int, str] | None = None
    for known in _KNOWN:
        found = distance_within(lowered, known)
        if found is not None and (best is None or found < best[0]):
            best = (found, known)
    return best[1] if best is not None else None


def _verdict(key: str) -> Finding | None:
    """The finding for one key."""
    if key in KNOWN_KEYS or not near(key):
        return None
    guess = meant(key)
    if guess is not None:
        return Finding.of(Reason.MISSPELLED_ANNOTATION, key=key, meant=guess)
    if key[: len(PREFIX)].lower() == PREFIX:
        return Finding.of(Reason.UNKNOWN_ANNOTATION, key=key)
    return None


def misspelled_keys(keys: Iterable[str]) -> list[Finding]:
    """A finding for every key within reach of ours that is not one of ours. Not cached: the
    admission path checks a set of keys once per recipe (``webhook.core.recipe``), and a
    stream of new keys costs ``near`` per key, and a distance only for the few that pass it."""
    return [f for f in map(_verdict, keys) if f is not None]
