"""Micro-benchmark of the pure core: time per review, without HTTP or TLS.

``core`` = parse options + plan + render patch + serialize the patch, for a decoded pod: the
budget "at most 20 microseconds for a 3-container pod, growing linearly". ``admit`` is the
whole ``webhook.core.admission.admit``, request body in, response body out (typed decode with
its checks, the above, base64 and the response envelope); ``decode`` is the typed decode of
the request body alone (part of ``admit``), and ``loads`` is orjson decoding it generically,
as the ceiling server does.

    python bench/core_bench.py [--json OUT] [--repeat 7]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
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
