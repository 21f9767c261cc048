"""Micro-benchmark of the pure core: time per review, without HTTP or TLS.

``core`` = the recipe of the pod's annotations (typos, options, pre-encoded pieces: looked
up, as for every pod of a workload after the first) + plan + render patch + serialize the
patch, for a decoded pod: the budget "at most 20 microseconds for a 3-container pod, growing
linearly". ``mutate`` is the whole decision (``webhook.core.admission.mutate``: the bounds,
the findings, the status annotations too) with the patch serialized; ``first`` is ``mutate``
with the recipe cache emptied each time (a pod whose annotations are new). ``--annotations``
adds rows for a 3-container pod with 0, 10 and 200 more unrelated annotations: ``core`` and
``first`` (the typo check of every key is in the recipe).

``admit`` is the whole ``webhook.core.admission.admit``, request body in, response body out
(typed decode with its checks, the above, base64 and the response envelope); ``decode`` is the
typed decode of the request body alone (part of ``admit``), and ``loads`` is orjson decoding
it generically, as the ceiling server does.

    python bench/core_bench.py [--json OUT] [--repeat 7] [--annotations]

``--count STEP N`` runs one step N times for a 3-container pod (``--containers K``: K of
them) and nothing else, to be counted by callgrind rather than timed: ``core`` (the budget's
step), ``admit``, ``mutate``, ``decode`` or ``response``, or a part of ``mutate``: ``recipe``
(the lookup), ``bounds``,
``plan`` (which holds ``placement``, the ambassador's checks) and ``render`` (the patch,
encoded). Instructions do not move with the other jobs of a shared machine. Per review, the
difference of two runs:

    valgrind --tool=callgrind python bench/core_bench.py --count admit 0     # start-up
    valgrind --tool=callgrind python bench/core_bench.py --count admit 2000  # + 2000 reviews

Run at 1 and at 3 containers, the difference is what one more container costs each step.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from bodies import review  # noqa: E402

from webhook.core import recipe as recipes  # noqa: E402
from webhook.core.admission import Settings, admit, mutate  # noqa: E402
from webhook.core.bounds import over_annotation_bounds, over_bounds  # noqa: E402
from webhook.core.model import Pod  # noqa: E402
from webhook.core.patch import render  # noqa: E402
from webhook.core.placement import ambassador_for  # noqa: E402
from webhook.core.plan import plan_injection  # noqa: E402
from webhook.core.review import encode_response, parse_review  # noqa: E402

SIZES = (1, 3, 30, 100)
COUNTED = (
    *("core", "admit", "mutate", "decode", "response"),
    *("recipe", "bounds", "plan", "placement", "render"),
)


def _best_us(stmt: object, repeat: int) -> float:
    timer = timeit.Timer(stmt)  # type: ignore[arg-type]
    number, _ = timer.autorange()
    number = max(number, 10)
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def _core(pod: Pod, settings: Settings) -> bytes:
    made = recipes.recipe(pod.metadata.annotations or {}, None, settings.ambassador)
    assert made.kit is not None
    return render(plan_injection(pod, made.kit)).encode()


def _mutate(pod: Pod, settings: Settings) -> bytes:
    return mutate(pod, settings).patch.encode()


def _first(pod: Pod, settings: Settings) -> bytes:
    recipes.clear()
    return mutate(pod, settings).patch.encode()


def measure(containers: int, repeat: int) -> dict[str, float]:
    body = orjson.dumps(review(containers))
    pod = parse_review(body).pod
    assert pod is not None and pod.metadata.annotations is not None
    settings = Settings()
    return {
        "containers": containers,
        "core_us": _best_us(lambda: _core(pod, settings), repeat),
        "mutate_us": _best_us(lambda: _mutate(pod, settings), repeat),
        "first_us": _best_us(lambda: _first(pod, settings), repeat),
        "admit_us": _best_us(lambda: admit(body, settings), repeat),
        "decode_us": _best_us(lambda: parse_review(body), repeat),
        "loads_us": _best_us(lambda: orjson.loads(body), repeat),
        "body_bytes": len(body),
    }


def measure_annotations(extra: int, repeat: int) -> dict[str, float]:
    """A 3-container pod with ``extra`` more annotations of other tools (none near ours)."""
    body = review(3)
    annotations = body["request"]["object"]["metadata"]["annotations"]  # type: ignore[index]
    for i in range(extra):
        annotations[f"team-{i}.example.com/setting-{i}"] = "x"  # type: ignore[index]
    pod = parse_review(orjson.dumps(body)).pod
    assert pod is not None and pod.metadata.annotations is not None
    settings = Settings()
    return {
        "annotations": len(pod.metadata.annotations),
        "core_us": _best_us(lambda: _core(pod, settings), repeat),
        "first_us": _best_us(lambda: _first(pod, settings), repeat),
    }


def count(step: str, times: int, containers: int = 3) -> None:
    """Run ``step`` ``times`` times on a review of ``containers`` containers (after one
    untimed run)."""
    body = orjson.dumps(review(containers))
    settings = Settings()
    request = parse_review(body)
    assert request.pod is not None
    decision = mutate(request.pod, settings)
    patch = decision.patch.encode()
    pod = request.pod
    annotations = pod.metadata.annotations or {}
    kit = recipes.recipe(annotations, None, settings.ambassador).kit
    assert kit is not None
    plan = plan_injection(pod, kit)
    steps: dict[str, Callable[[], object]] = {
        "core": lambda: _core(pod, settings),
        "admit": lambda: admit(body, settings),
        "mutate": lambda: mutate(request.pod, settings),  # type: ignore[arg-type]
        "decode": lambda: parse_review(body),
        "response": lambda: encode_response(
            request.api_version, request.uid, patch=patch, warnings=decision.warnings
        ),
        "recipe": lambda: recipes.recipe(annotations, None, settings.ambassador),
        "bounds": lambda: (
            over_annotation_bounds(annotations),
            over_bounds(pod.spec, settings.max_containers),
        ),
        "plan": lambda: plan_injection(pod, kit),
        "render": lambda: render(plan, None).encode(),
        # As the planner calls it for a pod without a status annotation (no prior modes).
        "placement": lambda: ambassador_for(pod.spec, kit, frozenset({""}), []),
    }
    run = steps[step]
    run()
    for _ in range(times):
        run()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", nargs=2, metavar=("STEP", "N"))
    parser.add_argument("--containers", type=int, help="for --count: the pod's size (3)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--annotations", action="store_true")
    args = parser.parse_args()
    if args.count:
        step, times = args.count
        if step not in COUNTED or not times.isdigit():
            parser.error(f"--count STEP N: STEP one of {', '.join(COUNTED)}, N a count")
        if args.containers is not None and not 1 <= args.containers <= SIZES[-1]:
            parser.error(f"--containers K: K from 1 to {SIZES[-1]}")
        count(step, int(times), args.containers or 3)
        return
    if args.containers is not None:
        parser.error("--containers goes with --count")
    if args.annotations:
        print(f"{'annotations':>11} {'core µs':>9} {'first µs':>9}")
        for extra in (0, 10, 200):
            r = measure_annotations(extra, args.repeat)
            print(f"{r['annotations']:>11} {r['core_us']:>9.1f} {r['first_us']:>9.1f}")
        return
    rows = [measure(n, args.repeat) for n in SIZES]
    print(
        f"{'containers':>10} {'core µs':>9} {'µs/cont':>8} {'mutate µs':>9} {'first µs':>9}"
        f" {'admit µs':>9} {'decode µs':>9} {'loads µs':>9}"
    )
    for r in rows:
        print(
            f"{r['containers']:>10} {r['core_us']:>9.1f} {r['core_us'] / r['containers']:>8.2f}"
            f" {r['mutate_us']:>9.1f} {r['first_us']:>9.1f}"
            f" {r['admit_us']:>9.1f} {r['decode_us']:>9.1f} {r['loads_us']:>9.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
