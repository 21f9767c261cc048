"""Bounds on the work one review may cause, and on what it says back.

Without a cap, the patch grows with the product of the pod's containers and the env vars each
gets: a 0.35 MB review of 20,000 containers made a 50 MB patch. So, before any per-container
work, a pod over ``max_containers`` (containers plus init containers) is allowed with nothing
injected but its status annotation and one finding, and so is a pod whose container names
Kubernetes will refuse anyway (names become volume item paths and ``containerName`` values:
a 1 MB name would be copied into the patch eight times). ``downward.io/env-fields`` is capped
at ``MAX_ENV_FIELDS`` entries, so the response for a pod within the caps stays under 2 MB
(``docs/security.md``). Findings are capped too: the first ``MAX_WARNINGS`` lines, then
``and N more``, in the admission warnings, in the denial and in ``downward.io/warnings``.
A map of annotations is counted before it is built (``crowded_annotations``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

import msgspec

from webhook.core.ambassador import CONTAINER_NAME
from webhook.core.annotations import Options
from webhook.core.keys import AMBASSADOR, PREFIX
from webhook.core.model import OurAnnotations, PodSpec, our_annotations_decoder, pod_probe_decoder
from webhook.core.reasons import Finding, Reason
from webhook.core.validation import is_dns1123_label

__all__ = [
    "DEFAULT_MAX_CONTAINERS",
    "MAX_ENV_FIELDS",
    "MAX_VALUE_CHARS",
    "MAX_WARNINGS",
    "PROBE_BYTES",
    "bounded_annotations",
    "bounded_options",
    "capped",
    "crowded_annotations",
    "over_annotation_bounds",
    "over_bounds",
]

DEFAULT_MAX_CONTAINERS = 100
#: Env fields per pod: the default set is 10, the catalog 15; each label or annotation key
#: adds one. 16 keeps the patch of the largest pod within the caps under 2 MB.
MAX_ENV_FIELDS = 16
MAX_WARNINGS = 20
#: Characters in one ``downward.io/*`` value: 16 label keys of 317 characters fit; a longer
#: value (parsed item by item, each maybe a finding) is ignored whole, with a finding.
MAX_VALUE_CHARS = 16384
#: Kubernetes' own limit on a pod's annotations, keys and values together
#: (``TotalAnnotationSizeLimitB`` in apimachinery's ``ValidateAnnotationsSize``).
ANNOTATIONS_MAX_BYTES = 256 * 1024
#: Our bound on their number (Kubernetes has none; real pods have tens): every later step
#: that looks at each key (ours, typos) stays cheap.
MAX_ANNOTATIONS = 1024


def over_annotation_bounds(annotations: Mapping[str, str]) -> Finding | None:
    """The finding that stops all injection, for a pod with too many annotations, or more
    than Kubernetes accepts (it would refuse the pod anyway). Sizes are summed in C
    (``map``): 10 ms for 250,000 keys, where a Python loop over them takes 30."""
    if len(annotations) > MAX_ANNOTATIONS:
        return Finding.of(
            Reason.TOO_MANY_ANNOTATIONS, count=str(len(annotations)), limit=str(MAX_ANNOTATIONS)
        )
    # Characters, not UTF-8 bytes: never more than Kubernetes counts, so never a pod it takes.
    size = sum(map(len, annotations)) + sum(map(len, annotations.values()))
    if size > ANNOTATIONS_MAX_BYTES:
        return Finding.of(Reason.ANNOTATIONS_TOO_LARGE, length=str(size))
    return None


def bounded_annotations(
    annotations: Mapping[str, str], findings: list[Finding]
) -> Mapping[str, str]:
    """``annotations`` without our keys whose values are over ``MAX_VALUE_CHARS``."""
    long = [k for k, v in annotations.items() if k.startswith(PREFIX) and len(v) > MAX_VALUE_CHARS]
    if not long:
        return annotations
    for key in long:
        findings.append(
            Finding.of(
                Reason.ANNOTATION_TOO_LONG,
                key=key,
                length=str(len(annotations[key])),
                limit=str(MAX_VALUE_CHARS),
            )
        )
    return {k: v for k, v in annotations.items() if k not in long}


def bounded_options(options: Options, findings: list[Finding]) -> Options:
    """``options`` with at most ``MAX_ENV_FIELDS`` env fields (the first ones)."""
    count = len(options.env_fields)
    if count <= MAX_ENV_FIELDS:
        return options
    findings.append(
        Finding.of(Reason.TOO_MANY_ENV_FIELDS, count=str(count), limit=str(MAX_ENV_FIELDS))
    )
    return dataclasses.replace(options, env_fields=options.env_fields[:MAX_ENV_FIELDS])


def over_bounds(spec: PodSpec, max_containers: int, injected: str | None = None) -> Finding | None:
    """The finding that stops all injection into this pod, if any; cheap (no per-container
    work beyond a name check, and none at all over the cap)."""
    count = len(spec.containers) + len(spec.initContainers or ()) - _ours(spec, injected)
    if count > max_containers:
        return Finding.of(Reason.TOO_MANY_CONTAINERS, count=str(count), limit=str(max_containers))
    for container in (*spec.containers, *(spec.initContainers or ())):
        if not is_dns1123_label(container.name):
            return Finding.of(Reason.BAD_CONTAINER_NAME, name=container.name)
    return None


def _ours(spec: PodSpec, injected: str | None) -> int:
    """Our ambassador, where we put it (last container, or first init container as a native
    sidecar) on a pod whose ``downward.io/injected`` says we did: not counted, so that a pod
    at the cap stays under it when reviewed again (``reinvocationPolicy: IfNeeded``) and a
    re-review stays ``[]``. A container of the user's that has the name is counted."""
    if injected is None or AMBASSADOR not in (m.strip() for m in injected.split(",")):
        return 0
    last = spec.containers[-1].name if spec.containers else None
    inits = spec.initContainers
    return (last == CONTAINER_NAME) + bool(inits and inits[0].name == CONTAINER_NAME)


def capped(lines: Sequence[str], limit: int = MAX_WARNINGS) -> list[str]:
    """The first ``limit`` lines, then ``and N more`` when there are more (SPEC)."""
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"and {len(lines) - limit} more"]


#: Bodies from this size get a look at their annotations before the pod is decoded.
PROBE_BYTES = 64 * 1024
#: A key's closing quote and its colon: a ``"`` after an even number of backslashes (inside
#: a JSON string every ``"`` is escaped, and a value string is never followed by ``:``).
_KEY_END = re.compile(rb'(?<!\\)(?:\\\\)*":')


def crowded_annotations(raw_pod: msgspec.Raw) -> tuple[OurAnnotations, int] | None:
    """For a pod (raw JSON) whose annotations map has more than ``MAX_ANNOTATIONS`` keys:
    the keys we need and the number of keys, found without building the map.

    msgspec builds a map key by key: 220,000 annotations in 2.75 MB take 50-350 ms to decode
    on a loaded 2-core machine, before any bound could look at them. Here the map is skipped
    (``Raw``), its keys counted by their closing quotes (1-3 ms in C; a regex only when the
    map holds a backslash), and only our keys decoded. The count is exact for the compact
    JSON the API server sends; whitespace before a colon makes it low, never high, so a pod
    is never taken for crowded by mistake (it is then decoded and bounded as usual).
    ``None`` also for anything that does not probe cleanly: the usual path says what is wrong.
    """
    try:
        raw = bytes(pod_probe_decoder.decode(raw_pod).metadata.annotations)
        if len(raw) <= 6 * MAX_ANNOTATIONS:  # each key takes at least 6 bytes: "k":"",
            return None
        count = raw.count(b'":') if b"\\" not in raw else len(_KEY_END.findall(raw))
        if count <= MAX_ANNOTATIONS:
            return None
        return our_annotations_decoder.decode(raw), count
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return None
