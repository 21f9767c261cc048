"""Write AdmissionReview v1 bodies for the benchmark: pods as the API server sends them.

A Deployment's pod at admission time: ``generateName`` and no name or uid, every defaulted
field filled in (imagePullPolicy, terminationMessagePath, dnsPolicy, schedulerName,
tolerations, ...), the ``kube-api-access-*`` projected service-account volume mounted into
every container, about 10 labels and 8 annotations (one of them
``downward.io/inject: env,volume,ambassador``), 5 env vars and 2 mounts per container.

    python bench/bodies.py OUT_DIR 1 3 30     # writes OUT_DIR/review-<n>.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.reviews import admission_review

TOKEN_VOLUME = "kube-api-access-x7k2p"


def _container(i: int) -> dict[str, object]:
    return {
        "name": f"app-{i}",
        "image": f"registry.example.com/team/app-{i}:1.4.{i}",
        "imagePullPolicy": "IfNotPresent",
        "args": ["--config", "/etc/app/config.yaml", "--port", str(8080 + i)],
        "ports": [{"name": f"http-{i}", "containerPort": 8080 + i, "protocol": "TCP"}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "APP_MODE", "value": "production"},
            {
                "name": "GOMAXPROCS",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1"}},
            },
            {
                "name": "DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "password"}},
            },
            {
                "name": "FEATURE_FLAGS",
                "valueFrom": {"configMapKeyRef": {"name": "app-flags", "key": "flags"}},
            },
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/app", "readOnly": True},
            {
                "name": TOKEN_VOLUME,
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            },
        ],
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": 8080 + i, "scheme": "HTTP"},
            "timeoutSeconds": 1,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
    }


def pod(containers: int) -> dict[str, object]:
    labels = {
        "app.kubernetes.io/name": "checkout",
        "app.kubernetes.io/instance": "checkout-prod",
        "app.kubernetes.io/version": "1.4.2",
        "app.kubernetes.io/component": "api",
        "app.kubernetes.io/part-of": "shop",
        "app.kubernetes.io/managed-by": "Helm",
        "pod-template-hash": "5d9c8b7f6d",
        "team": "payments",
        "environment": "production",
        "tier": "backend",
    }
    annotations = {
        "downward.io/inject": "env,volume,ambassador",
        "kubectl.kubernetes.io/restartedAt": "2026-11-20T10:15:00Z",
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
        "prometheus.io/path": "/metrics",
        "checksum/config": "3f2a9c0d1e5b7a8f6c4d2e0b9a7c5e3f1d2b4a6c8e0f1a3b5c7d9e1f3a5b7c9d",
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
        "seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "checkout-5d9c8b7f6d-",
            "namespace": "shop",
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "checkout-5d9c8b7f6d",
                    "uid": "0b7e5c1a-2f7d-4e35-9a55-6f0c2d8e4b11",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "volumes": [
                {"name": "config", "configMap": {"name": "checkout-config", "defaultMode": 420}},
                {
                    "name": TOKEN_VOLUME,
                    "projected": {
                        "defaultMode": 420,
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "path": "namespace",
                                            "fieldRef": {
                                                "apiVersion": "v1",
                                                "fieldPath": "metadata.namespace",
                                            },
                                        }
                                    ]
                                }
                            },
                        ],
                    },
                },
            ],
            "containers": [_container(i) for i in range(containers)],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "checkout",
            "serviceAccount": "checkout",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {"phase": "Pending", "qosClass": "Burstable"},
    }


def review(containers: int) -> dict[str, object]:
    return admission_review(pod(containers), uid="b1f0c4de-8a51-4d7e-9c3a-2e6f7a9b0c11")


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for n in (int(a) for a in argv[1:]):
        (out / f"review-{n}.json").write_bytes(orjson.dumps(review(n)))


if __name__ == "__main__":
    main(sys.argv[1:])
