"""The parts of an AdmissionReview and of a Pod that the webhook reads, as typed structs.

The request body is decoded straight into these structs by msgspec, which checks every type
on the way and skips everything else (managedFields, securityContext, probes, labels: most of
a pod) without building it. That is both the validation and the speed of the hot path: a
3-container review decodes in about half the time a generic decoder takes to build its dicts,
and no later code has to check a type again. A body is decoded in one pass, its object as a
Pod; only when that fails does a second pass look closer, so that a review of something other
than a pod (an object of another kind) never has to look like one: the envelope first, with
``request.object`` kept as raw JSON, then that object as a Pod if the request is for a pod.

Field names follow the Kubernetes JSON names. Structs are frozen: planning only reads them.
``gc=False``: decoded values are trees, never cycles, so the collector need not track them.
"""

from __future__ import annotations

import msgspec
from msgspec import Raw, Struct

__all__ = [
    "Affinity",
    "Container",
    "ContainerPort",
    "EnvVar",
    "GroupVersionKind",
    "GroupVersionResource",
    "Handler",
    "Lifecycle",
    "NodeAffinity",
    "NodeSelector",
    "NodeSelectorLabels",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "ObjectMeta",
    "OurAnnotations",
    "Pod",
    "PodOS",
    "PodProbe",
    "PodReviewIn",
    "PodSpec",
    "PortAction",
    "Probe",
    "ResourceList",
    "ResourceRequirements",
    "ReviewIn",
    "Volume",
    "VolumeMount",
    "our_annotations_decoder",
    "pod_decoder",
    "pod_probe_decoder",
    "pod_review_decoder",
    "review_decoder",
]


class EnvVar(Struct, frozen=True, gc=False):
    name: str
    value: str | None = None
    #: Raw JSON, decoded only when an env var of ours has the same name (to compare sources).
    valueFrom: Raw = Raw()


class VolumeMount(Struct, frozen=True, gc=False):
    name: str
    mountPath: str


class ContainerPort(Struct, frozen=True, gc=False):
    containerPort: int | None = None
    protocol: str | None = None


class ResourceList(Struct, frozen=True, gc=False):
    """The resources whose limit we read; quantities stay raw. A struct, not a dict: msgspec
    skips the keys it does not know without building them, so a map of 250,000 keys costs
    2 ms to decode instead of 170 (``docs/security.md``). ``in`` and truth work as on a dict
    of the three keys."""

    cpu: Raw = Raw()
    memory: Raw = Raw()
    ephemeral_storage: Raw = msgspec.field(default=Raw(), name="ephemeral-storage")

    def __contains__(self, kind: str) -> bool:
        return kind in self.kinds()

    def kinds(self) -> frozenset[str]:
        """The kinds (``cpu``, ``memory``, ``ephemeral-storage``) that are here."""
        return _KINDS[bool(self.cpu), bool(self.memory), bool(self.ephemeral_storage)]

    def __bool__(self) -> bool:
        return bool(self.cpu or self.memory or self.ephemeral_storage)


#: (cpu, memory, ephemeral-storage present) -> the kinds present: every review reads them.
_KINDS = {
    (cpu, memory, storage): frozenset(
        kind
        for kind, here in (("cpu", cpu), ("memory", memory), ("ephemeral-storage", storage))
        if here
    )
    for cpu in (False, True)
    for memory in (False, True)
    for storage in (False, True)
}


class ResourceRequirements(Struct, frozen=True, gc=False):
    #: Only which resources have a limit matters.
    limits: ResourceList | None = None


class PortAction(Struct, frozen=True, gc=False):
    """``httpGet``, ``tcpSocket`` or ``grpc`` of a probe or handler: only its port matters
    (a number, or the name of a declared container port, which ``ports`` already covers)."""

    port: int | str | None = None


class Handler(Struct, frozen=True, gc=False):
    """A probe or a lifecycle handler, for the ports it reaches on the pod's own address."""

    httpGet: PortAction | None = None
    tcpSocket: PortAction | None = None
    grpc: PortAction | None = None


Probe = Handler


class Lifecycle(Struct, frozen=True, gc=False):
    postStart: Handler | None = None
    preStop: Handler | None = None


class Container(Struct, frozen=True, gc=False):
    name: str
    env: list[EnvVar] | None = None
    volumeMounts: list[VolumeMount] | None = None
    ports: list[ContainerPort] | None = None
    resources: ResourceRequirements | None = None
    #: Read for a ``kubectl proxy`` already there and for ``--port``-style arguments; the
    #: image only for that proxy run by a kubectl image's entrypoint (no ``command``).
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    livenessProbe: Handler | None = None
    readinessProbe: Handler | None = None
    startupProbe: Handler | None = None
    lifecycle: Lifecycle | None = None


class Volume(Struct, frozen=True, gc=False):
    name: str
    #: Raw JSON, decoded only for a volume named like ours (is it ours, or a conflict?).
    downwardAPI: Raw = Raw()


class PodOS(Struct, frozen=True, gc=False):
    name: str | None = None


class NodeSelectorRequirement(Struct, frozen=True, gc=False):
    key: str = ""
    operator: str = ""
    values: list[str] | None = None


class NodeSelectorTerm(Struct, frozen=True, gc=False):
    matchExpressions: list[NodeSelectorRequirement] | None = None


class NodeSelector(Struct, frozen=True, gc=False):
    nodeSelectorTerms: list[NodeSelectorTerm] | None = None


class NodeAffinity(Struct, frozen=True, gc=False):
    #: Only the required terms decide where a pod may run; preferred ones are hints.
    requiredDuringSchedulingIgnoredDuringExecution: NodeSelector | None = None


class Affinity(Struct, frozen=True, gc=False):
    nodeAffinity: NodeAffinity | None = None


class NodeSelectorLabels(Struct, frozen=True, gc=False):
    """The one ``nodeSelector`` label we read; a struct for the reason ``ResourceList`` is."""

    os: str | None = msgspec.field(default=None, name="kubernetes.io/os")


class PodSpec(Struct, frozen=True, gc=False):
    containers: list[Container] = []
    initContainers: list[Container] | None = None
    volumes: list[Volume] | None = None
    hostNetwork: bool | None = None
    automountServiceAccountToken: bool | None = None
    restartPolicy: str | None = None
    os: PodOS | None = None
    nodeSelector: NodeSelectorLabels | None = None
    affinity: Affinity | None = None
    #: Pod-level resources (PodLevelResources): a limit here is what the Downward API reports
    #: for a container without its own limit (Kubernetes 1.34 and later).
    resources: ResourceRequirements | None = None


class ObjectMeta(Struct, frozen=True, gc=False):
    name: str | None = None
    generateName: str | None = None
    annotations: dict[str, str] | None = None


class Pod(Struct, frozen=True, gc=False):
    spec: PodSpec
    metadata: ObjectMeta = ObjectMeta()


class GroupVersionResource(Struct, frozen=True, gc=False):
    group: str = ""
    version: str = ""
    resource: str = ""


class GroupVersionKind(Struct, frozen=True, gc=False):
    group: str = ""
    version: str = ""
    kind: str = ""


class _RequestFields(Struct, frozen=True, gc=False):
    uid: str = ""
    operation: str = ""
    resource: GroupVersionResource | None = None
    kind: GroupVersionKind | None = None
    subResource: str | None = None
    namespace: str | None = None


class RequestIn(_RequestFields, frozen=True, gc=False):
    """A request whose object is kept as raw JSON (the careful path)."""

    object: Raw = Raw()


class PodRequestIn(_RequestFields, frozen=True, gc=False):
    """A request whose object decodes as a Pod: one pass over the body, the usual case."""

    object: Pod | None = None


class _ReviewFields(Struct, frozen=True, gc=False):
    apiVersion: str = ""
    kind: str = ""


class ReviewIn(_ReviewFields, frozen=True, gc=False):
    request: RequestIn | None = None


class PodReviewIn(_ReviewFields, frozen=True, gc=False):
    request: PodRequestIn | None = None


class OurAnnotations(Struct, frozen=True, gc=False):
    """The few keys of an annotations map the bounds need, decoded as a struct: every other
    key is skipped, not built (for a map too large to decode as a dict, ``webhook.core.bounds``)."""

    inject: str | None = msgspec.field(default=None, name="downward.io/inject")
    injected: str | None = msgspec.field(default=None, name="downward.io/injected")
    warnings: str | None = msgspec.field(default=None, name="downward.io/warnings")
    mirror: str | None = msgspec.field(default=None, name="kubernetes.io/config.mirror")


class _MetadataProbe(Struct, frozen=True, gc=False):
    annotations: Raw = Raw()


class PodProbe(Struct, frozen=True, gc=False):
    """A pod's annotations as raw JSON, nothing else built."""

    metadata: _MetadataProbe = _MetadataProbe()


pod_probe_decoder = msgspec.json.Decoder(PodProbe)
our_annotations_decoder = msgspec.json.Decoder(OurAnnotations)
pod_review_decoder = msgspec.json.Decoder(PodReviewIn)
review_decoder = msgspec.json.Decoder(ReviewIn)
pod_decoder = msgspec.json.Decoder(Pod)
