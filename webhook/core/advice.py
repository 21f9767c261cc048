"""What to do about each finding: one line per reason, and the table of docs/findings.md.

Kept apart from ``webhook.core.reasons``: the hot path reads codes and sentences, never the
advice, which only the docs page (``findings_table``) and its test read.
"""

from __future__ import annotations

from webhook.core.reasons import Reason

__all__ = ["ADVICE", "findings_table"]

_R = Reason
#: What to do, one entry per reason: docs/findings.md is generated from it (``findings_table``)
#: and a test checks both that every reason has one and that the page is up to date.
ADVICE: dict[Reason, str] = {
    _R.UNKNOWN_ANNOTATION: "Remove the key, or use one from the annotation table in the README.",
    _R.MISSPELLED_ANNOTATION: "Rename the key to the one named (keys are case-sensitive).",
    _R.UNKNOWN_MODE: "Use env, volume, ambassador, all (or none to opt out).",
    _R.NO_MODE: "Give at least one mode, e.g. `downward.io/inject: env`.",
    _R.OPT_OUT_MIXED: "Either opt out (none/false) or list modes, not both.",
    _R.UNKNOWN_CONTAINER: "Name containers of this pod (init containers only when named).",
    _R.AMBASSADOR_NOT_TARGET: "Leave downward-ambassador out of downward.io/containers.",
    _R.UNKNOWN_FIELD: "Use a key of the env table in the README, label:KEY or annotation:KEY.",
    _R.NO_FIELDS: "List env keys, or drop the annotation (or write default) for the default set.",
    _R.BAD_FIELD_KEY: "Give a valid label/annotation key (annotation keys lower-case).",
    _R.DUPLICATE_ENV_NAME: "Drop one of the two env-fields entries that make the same name.",
    _R.BAD_ENV_PREFIX: "Use letters, digits, `_`, `-`, `.`; not starting with a digit.",
    _R.BAD_CPU_DIVISOR: "Use 1m (millicores) or 1 (cores).",
    _R.BAD_MEMORY_DIVISOR: "Use 1, 1Ki, 1Mi, 1Gi, 1k, 1M or 1G.",
    _R.BAD_VOLUME_PATH: "Use a clean absolute path other than /, without `..`.",
    _R.BAD_VOLUME_MODE: "Use an octal mode from 0000 to 0777, e.g. 0444.",
    _R.BAD_PORT: "Use a port from 1024 to 65535 that no container uses.",
    _R.BAD_IMAGE: "Give an image reference such as registry.k8s.io/kubectl:v1.35.0.",
    _R.BAD_BOOLEAN: "Write true or false.",
    _R.NO_TARGETS: "Name at least one existing container in downward.io/containers.",
    _R.ENV_CONFLICT: "Rename your env var, or set downward.io/env-prefix, to get ours too.",
    _R.VOLUME_CONFLICT: "Rename your volume named downward-podinfo.",
    _R.MOUNT_CONFLICT: "Set downward.io/volume-path to a free path, or leave it as it is.",
    _R.VOLUME_NOT_MOUNTABLE: "Set downward.io/volume-path to a path no target container uses.",
    _R.NO_LIMIT: "Set resources.limits on the containers (or pod-level spec.resources).",
    _R.AMBASSADOR_HOST_NETWORK: "Use env/volume only on hostNetwork pods; call the API directly.",
    _R.AMBASSADOR_NAME_CONFLICT: "Rename your container or volume, or drop the ambassador mode.",
    _R.AMBASSADOR_PORT_CONFLICT: "Set downward.io/ambassador-port to a free port.",
    _R.AMBASSADOR_PROXY_PRESENT: "Keep your proxy and drop the ambassador mode, or remove yours.",
    _R.WORKLOAD_ANNOTATION: "Move the key to spec.template.metadata.annotations.",
    _R.TOO_MANY_CONTAINERS: "Split the pod, or raise the chart value server.maxContainers.",
    _R.BAD_CONTAINER_NAME: "Name containers with lower-case letters, digits and `-` (63 at most).",
    _R.TOO_MANY_ANNOTATIONS: "Keep the pod's annotations under 1,024 keys.",
    _R.ANNOTATIONS_TOO_LARGE: "Shrink the annotations: Kubernetes allows 256 KiB in all.",
    _R.ANNOTATION_TOO_LONG: "Shorten the value; no downward.io value needs 16 KiB.",
    _R.TOO_MANY_ENV_FIELDS: "List at most 16 env-fields entries; read the rest from the volume.",
    _R.AMBASSADOR_WINDOWS: "Call the API server directly from Windows pods (env, volume apply).",
    _R.AMBASSADOR_NOT_ALWAYS: "Turn on ambassador.nativeSidecar (Kubernetes 1.29+), or drop it.",
}


def findings_table() -> str:
    """The Markdown table of docs/findings.md: every reason once, with what to do."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = [
        "| code | kind | message | what the webhook did | what to do |",
        "|---|---|---|---|---|",
    ]
    for reason in Reason:
        rows.append(
            f"| `{reason.code}` | {reason.severity.value} | {cell(reason.problem)} "
            f"| {cell(reason.outcome)} | {cell(ADVICE[reason])} |"
        )
    return "\n".join(rows) + "\n"
