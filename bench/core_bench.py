"""Micro-benchmark of the pure core: time per review, without HTTP or TLS.

``core`` = check the keys for typos + parse options + plan + render patch + serialize the
patch, for a decoded pod: the budget "at most 20 microseconds for a 3-container pod, growing
linearly". ``--annotations`` adds rows for a 3-container pod with 0, 10 and 200 more
unrelated annotations: ``core`` (the keys seen before, as for every pod of a workload) and
``spell`` (the typo check alone with its cache emptied each time: a stream of new keys).

``admit`` is the whole ``webhook.core.admission.admit``, request body in, response body out
(typed decode with its checks, the above, base64 and the response envelope); ``decode`` is the
typed decode of the request body alone (part of ``admit``), and ``loads`` is orjson decoding
it generically, as the ceiling server does.

    python bench/core_bench.py [--json OUT] [--repeat 7] [--annotations]
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path

import orjson

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from bodies import review  # noqa: E402

from webhook.core.admission import Settings, admit  # noqa: E402
from webhook.core.annotations import read_options  # noqa: E402
from webhook.core.patch import render  # noqa: E402
from webhook.core.plan import plan_injection  # noqa: E402
from webhook.core.review import parse_review  # noqa: E402
from webhook.core.spelling import VERDICTS, misspelled_keys  # noqa: E402

SIZES = (1, 3, 30, 100)


def _best_us(stmt: object, repeat: int) -> float:
    timer = timeit.Timer(stmt)  # type: ignore[arg-type]
    number, _ = timer.autorange()
    number = max(number, 10)
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def measure(containers: int, repeat: int) -> dict[str, float]:
    body = orjson.dumps(review(containers))
    pod = parse_review(body).pod
    assert pod is not None and pod.metadata.annotations is not None
    settings = Settings()
    annotations = pod.metadata.annotations

    def core() -> bytes:
        misspelled_keys(annotations)
        options, _ = read_options(annotations)
        assert options is not None
        return render(plan_injection(pod, options, settings.ambassador)).encode()

    return {
        "containers": containers,
        "core_us": _best_us(core, repeat),
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
    decoded = pod.metadata.annotations

    def core() -> bytes:
        misspelled_keys(decoded)
        options, _ = read_options(decoded)
        assert options is not None
        return render(plan_injection(pod, options, settings.ambassador)).encode()

    def spell_uncached() -> None:
        VERDICTS.clear()
        misspelled_keys(decoded)

    return {
        "annotations": len(decoded),
        "core_us": _best_us(core, repeat),
        "spell_uncached_us": _best_us(spell_uncached, repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--annotations", action="store_true")
    args = parser.parse_args()
    if args.annotations:
        print(f"{'annotations':>11} {'core µs':>9} {'spell µs (uncached)':>20}")
        for extra in (0, 10, 200):
            r = measure_annotations(extra, args.repeat)
            print(f"{r['annotations']:>11} {r['core_us']:>9.1f} {r['spell_uncached_us']:>20.1f}")
        return
    rows = [measure(n, args.repeat) for n in SIZES]
    print(
        f"{'containers':>10} {'core µs':>9} {'µs/cont':>8} {'admit µs':>9} {'decode µs':>9}"
        f" {'loads µs':>9}"
    )
    for r in rows:
        print(
            f"{r['containers']:>10} {r['core_us']:>9.1f} {r['core_us'] / r['containers']:>8.2f}"
            f" {r['admit_us']:>9.1f} {r['decode_us']:>9.1f} {r['loads_us']:>9.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
