"""Kubernetes objects as `kubectl get -o json` prints them (the fields an API server fills in:
uid, resourceVersion, creationTimestamp, defaults, owner references, status), for the fake
API server of kube.py. tests/emulator/test_kube_conformance.py checks them against the Kubernetes
OpenAPI models of the `kubernetes` package."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

CREATED = "2026-11-30T09:15:00Z"
NODE = "ip-10-0-1-23.eu-west-1.compute.internal"
Containers = Sequence[tuple[str, str]]  # (name, image)


def _uid(*parts: str) -> str:
    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:10]


def metadata(
    kind: str,
    namespace: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: dict[str, Any] | None = None,
    generation: int | None = 1,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "creationTimestamp": CREATED,
        "name": name,
        "namespace": namespace,
        "resourceVersion": str(int(_hash(kind, namespace, name)[:6], 16)),
        "uid": _uid(kind, namespace, name),
    }
    if generation is not None:
        meta["generation"] = generation
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if owner:
        meta["ownerReferences"] = [owner]
    return meta


def owner_ref(api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "blockOwnerDeletion": True,
        "controller": True,
        "kind": kind,
        "name": name,
        "uid": _uid(kind, namespace, name),
    }


def container(name: str, image: str) -> dict[str, Any]:
    return {
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "name": name,
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def pod_spec(
    containers: Containers, init: Containers = (), restart: str = "Always"
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [container(n, i) for n, i in containers],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": restart,
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    }
    if init:
        spec["initContainers"] = [container(n, i) for n, i in init]
    return spec


def template(
    app: str, containers: Containers, init: Containers = (), restart: str = "Always"
) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": pod_spec(containers, init, restart),
    }


def _status_entry(name: str, image: str, image_id: str, running: bool = True) -> dict[str, Any]:
    state = (
        {"running": {"startedAt": CREATED}}
        if running
        else {
            "terminated": {
                "containerID": f"containerd://{_hash(name, image)}",
                "exitCode": 0,
                "finishedAt": CREATED,
                "reason": "Completed",
                "startedAt": CREATED,
            }
        }
    )
    entry: dict[str, Any] = {
        "image": image,
        "imageID": image_id,
        "lastState": {},
        "name": name,
        "ready": running,
        "restartCount": 0,
        "started": running,
        "state": state,
    }
    if image_id:
        entry["containerID"] = f"containerd://{_hash(name, image_id)}"
    return entry


def pod(
    namespace: str,
    name: str,
    containers: Containers,
    *,
    init: Containers = (),
    ephemeral: Containers = (),
    image_ids: dict[str, str] | None = None,  # container name → imageID the kubelet reports
    owner: dict[str, Any] | None = None,
    phase: str = "Running",
) -> dict[str, Any]:
    """A pod; `image_ids` gives each container's resolved `imageID` (none: not pulled yet)."""
    ids = image_ids or {}
    spec = pod_spec(containers, init)
    spec["nodeName"] = NODE
    spec["serviceAccountName"] = "default"
    if ephemeral:
        spec["ephemeralContainers"] = [
            {k: v for k, v in container(n, i).items() if k != "resources"} for n, i in ephemeral
        ]
    status: dict[str, Any] = {
        "conditions": [
            {"lastProbeTime": None, "lastTransitionTime": CREATED, "status": "True", "type": t}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "containerStatuses": [_status_entry(n, i, ids.get(n, "")) for n, i in containers],
        "hostIP": "10.0.1.23",
        "phase": phase,
        "podIP": "10.0.1.57",
        "qosClass": "BestEffort",
        "startTime": CREATED,
    }
    if init:
        status["initContainerStatuses"] = [
            _status_entry(n, i, ids.get(n, ""), running=False) for n, i in init
        ]
    if ephemeral:
        status["ephemeralContainerStatuses"] = [
            _status_entry(n, i, ids.get(n, "")) for n, i in ephemeral
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata("Pod", namespace, name, owner=owner, generation=None),
        "spec": spec,
        "status": status,
    }


def deployment(
    namespace: str, name: str, containers: Containers, *, revision: int = 1, replicas: int = 2
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(
            "Deployment",
            namespace,
            name,
            labels={"app": name},
            annotations={"deployment.kubernetes.io/revision": str(revision)},
            generation=revision,
        ),
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                "type": "RollingUpdate",
            },
            "template": template(name, containers),
        },
        "status": {
            "availableReplicas": replicas,
            "conditions": [
                {
                    "lastTransitionTime": CREATED,
                    "lastUpdateTime": CREATED,
                    "message": f'ReplicaSet "{name}" is progressing.',
                    "reason": "ReplicaSetUpdated",
                    "status": "True",
                    "type": "Progressing",
                }
            ],
            "observedGeneration": revision,
            "readyReplicas": replicas,
            "replicas": replicas,
            "updatedReplicas": replicas,
        },
    }


def replica_set(
    namespace: str, deployment_name: str, containers: Containers, *, revision: int, replicas: int
) -> dict[str, Any]:
    """A Deployment's ReplicaSet (`<deployment>-<pod-template-hash>`), `replicas` may be 0."""
    pod_hash = _hash(deployment_name, str(revision), *(i for _, i in containers))[:9]
    name = f"{deployment_name}-{pod_hash}"
    tpl = template(deployment_name, containers)
    tpl["metadata"]["labels"]["pod-template-hash"] = pod_hash
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": metadata(
            "ReplicaSet",
            namespace,
            name,
            labels={"app": deployment_name, "pod-template-hash": pod_hash},
            annotations={
                "deployment.kubernetes.io/desired-replicas": "2",
                "deployment.kubernetes.io/max-replicas": "3",
                "deployment.kubernetes.io/revision": str(revision),
            },
            owner=owner_ref("apps/v1", "Deployment", namespace, deployment_name),
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": deployment_name, "pod-template-hash": pod_hash}},
            "template": tpl,
        },
        "status": {
            "availableReplicas": replicas,
            "fullyLabeledReplicas": replicas,
            "observedGeneration": 1,
            "readyReplicas": replicas,
            "replicas": replicas,
        },
    }


def stateful_set(namespace: str, name: str, containers: Containers) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata("StatefulSet", namespace, name, labels={"app": name}),
        "spec": {
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
            "podManagementPolicy": "OrderedReady",
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": name}},
            "serviceName": name,
            "template": template(name, containers),
            "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
        },
        "status": {
            "availableReplicas": 1,
            "collisionCount": 0,
            "currentReplicas": 1,
            "currentRevision": f"{name}-{_hash(name)[:10]}",
            "observedGeneration": 1,
            "readyReplicas": 1,
            "replicas": 1,
            "updateRevision": f"{name}-{_hash(name)[:10]}",
            "updatedReplicas": 1,
        },
    }


def daemon_set(namespace: str, name: str, containers: Containers) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata("DaemonSet", namespace, name, labels={"app": name}, generation=2),
        "spec": {
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, containers),
            "updateStrategy": {
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
                "type": "RollingUpdate",
            },
        },
        "status": {
            "currentNumberScheduled": 3,
            "desiredNumberScheduled": 3,
            "numberAvailable": 3,
            "numberMisscheduled": 0,
            "numberReady": 3,
            "observedGeneration": 2,
            "updatedNumberScheduled": 3,
        },
    }


def controller_revision(
    namespace: str, owner_kind: str, owner_name: str, containers: Containers, revision: int
) -> dict[str, Any]:
    """A StatefulSet's or DaemonSet's stored template, as its controller writes it: a
    strategic-merge patch replacing the template."""
    name = f"{owner_name}-{_hash(owner_name, str(revision))[:10]}"
    tpl = template(owner_name, containers)
    return {
        "apiVersion": "apps/v1",
        "data": {"spec": {"template": {"$patch": "replace", **tpl}}},
        "kind": "ControllerRevision",
        "metadata": metadata(
            "ControllerRevision",
            namespace,
            name,
            labels={"app": owner_name, "controller-revision-hash": name.rsplit("-", 1)[1]},
            annotations={"deprecated.daemonset.template.generation": str(revision)},
            owner=owner_ref("apps/v1", owner_kind, namespace, owner_name),
            generation=None,
        ),
        "revision": revision,
    }


def job(namespace: str, name: str, containers: Containers) -> dict[str, Any]:
    tpl = template(name, containers, restart="Never")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata("Job", namespace, name, labels={"job-name": name}),
        "spec": {
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "completions": 1,
            "manualSelector": False,
            "parallelism": 1,
            "podReplacementPolicy": "TerminatingOrFailed",
            "suspend": False,
            "template": tpl,
        },
        "status": {"active": 1, "ready": 0, "startTime": CREATED, "terminating": 0},
    }


def cron_job(namespace: str, name: str, containers: Containers, schedule: str) -> dict[str, Any]:
    """A CronJob that has not fired yet: no jobs, no lastScheduleTime."""
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata("CronJob", namespace, name),
        "spec": {
            "concurrencyPolicy": "Forbid",
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {"creationTimestamp": None},
                "spec": {
                    "backoffLimit": 2,
                    "template": template(name, containers, restart="Never"),
                },
            },
            "schedule": schedule,
            "successfulJobsHistoryLimit": 3,
            "suspend": False,
        },
        "status": {},
    }


def rollout(namespace: str, name: str, containers: Containers) -> dict[str, Any]:
    """An Argo Rollout (argoproj.io/v1alpha1) with its own pod template."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": metadata("Rollout", namespace, name),
        "spec": {
            "replicas": 0,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
            "template": template(name, containers),
        },
        "status": {"phase": "Paused", "replicas": 0},
    }


def knative_revision(
    namespace: str, name: str, image: str, digest_ref: str | None
) -> dict[str, Any]:
    """A Knative Revision scaled to zero, with the digest Knative resolved for its image."""
    status: dict[str, Any] = {"actualReplicas": 0, "desiredReplicas": 0}
    if digest_ref:
        status["containerStatuses"] = [{"imageDigest": digest_ref, "name": "user-container"}]
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": metadata("Revision", namespace, name),
        "spec": {
            "containerConcurrency": 0,
            "containers": [{"image": image, "name": "user-container"}],
            "timeoutSeconds": 300,
        },
        "status": status,
    }


def scaled_job(namespace: str, name: str, containers: Containers) -> dict[str, Any]:
    """A KEDA ScaledJob: its job template starts pods only when its trigger fires."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledJob",
        "metadata": metadata("ScaledJob", namespace, name),
        "spec": {
            "jobTargetRef": {"template": template(name, containers, restart="Never")},
            "maxReplicaCount": 10,
            "pollingInterval": 30,
            "triggers": [{"type": "aws-sqs-queue", "metadata": {"queueURL": "q"}}],
        },
    }


def pods(
    namespace: str, prefix: str, n: int, image: str, image_id: str = ""
) -> list[dict[str, Any]]:
    """`n` pods of one ReplicaSet (for listing at scale)."""
    owner = owner_ref("apps/v1", "ReplicaSet", namespace, prefix)
    return [
        pod(
            namespace,
            f"{prefix}-{_hash(prefix, str(i))[:10]}",
            [("app", image)],
            image_ids={"app": image_id} if image_id else None,
            owner=owner,
        )
        for i in range(n)
    ]
