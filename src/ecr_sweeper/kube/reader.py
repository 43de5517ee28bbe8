"""Read one cluster: every pod and every pod template that can start pods, by list calls only.

Always listed (cluster-wide, every namespace): pods, Deployments, every ReplicaSet (a
Deployment's rollback history, scaled to 0 or not), StatefulSets, DaemonSets, their
ControllerRevisions, Jobs and CronJobs. Listed where API discovery (`GET /apis`) says the group
serves them: Argo Rollouts, Knative Services, Configurations and Revisions (scaled to zero or
not), KEDA ScaledJobs (ScaledObjects scale Deployments and StatefulSets, read anyway).

A list that fails (401, 403, an API group answering 5xx past retries, a list that cannot
complete, an object that does not have its kind's schema) makes the cluster *unread*: what it
could run is not known. The reader goes on with the other lists so that the reason names
every list that failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from ecr_sweeper.kube.client import KubeClient, KubeError
from ecr_sweeper.kube.objects import ImageUse, ObjectShapeError, images_of, object_label

# (kind, list path): served by every conformant API server.
BUILTIN: tuple[tuple[str, str], ...] = (
    ("Pod", "/api/v1/pods"),
    ("Deployment", "/apis/apps/v1/deployments"),
    ("ReplicaSet", "/apis/apps/v1/replicasets"),
    ("StatefulSet", "/apis/apps/v1/statefulsets"),
    ("DaemonSet", "/apis/apps/v1/daemonsets"),
    ("ControllerRevision", "/apis/apps/v1/controllerrevisions"),
    ("Job", "/apis/batch/v1/jobs"),
    ("CronJob", "/apis/batch/v1/cronjobs"),
)


@dataclass(frozen=True, slots=True)
class Optional:
    """A kind from an API group a cluster may serve (a CRD or an add-on)."""

    kind: str
    group: str
    version: str
    plural: str


OPTIONAL: tuple[Optional, ...] = (
    Optional("Rollout", "argoproj.io", "v1alpha1", "rollouts"),
    Optional("Service.serving.knative.dev", "serving.knative.dev", "v1", "services"),
    Optional("Configuration.serving.knative.dev", "serving.knative.dev", "v1", "configurations"),
    Optional("Revision.serving.knative.dev", "serving.knative.dev", "v1", "revisions"),
    Optional("ScaledJob", "keda.sh", "v1alpha1", "scaledjobs"),
)


@dataclass(frozen=True, slots=True)
class Failure:
    """A list (or discovery call) that did not complete."""

    path: str
    status: int | None  # HTTP status; None: no answer (unreachable, timeout, TLS)
    message: str


@dataclass(slots=True)
class ClusterRead:
    """What one cluster runs and can start; `failures` empty means read completely."""

    uses: list[ImageUse] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    objects: dict[str, int] = field(default_factory=dict)  # kind → objects listed

    @property
    def complete(self) -> bool:
        return not self.failures


async def read_cluster(client: KubeClient) -> ClusterRead:
    """List every kind (the optional ones where served) and collect their images."""
    read = ClusterRead()

    async def one(kind: str, path: str) -> None:
        def page(items: list[dict[str, Any]]) -> None:
            read.objects[kind] = read.objects.get(kind, 0) + len(items)
            for item in items:
                try:
                    read.uses.extend(images_of(kind, item))
                except ObjectShapeError as exc:
                    label = _safe_label(kind, item)
                    read.failures.append(Failure(path, 200, f"{label}: {exc}"))

        try:
            await client.each_page(path, page)
        except KubeError as exc:
            read.failures.append(Failure(exc.path, exc.status, exc.message))

    async with anyio.create_task_group() as tg:
        for kind, path in BUILTIN:
            tg.start_soon(one, kind, path)
        for kind, path in await _served(client, OPTIONAL, read):
            tg.start_soon(one, kind, path)
    read.failures.sort(key=lambda f: (f.path, f.message))
    return read


async def _served(
    client: KubeClient, optional: Sequence[Optional], read: ClusterRead
) -> list[tuple[str, str]]:
    """The optional kinds this cluster serves, as (kind, list path). A group that is served
    in none of the versions this reader knows is a failure: its objects cannot be read."""
    try:
        groups = _group_versions(await client.get("/apis"))
    except (KubeError, TypeError) as exc:
        status = exc.status if isinstance(exc, KubeError) else 200
        read.failures.append(Failure("/apis", status, str(exc)))
        return []
    wanted: dict[tuple[str, str], list[Optional]] = {}
    for kind in optional:
        if kind.group not in groups:
            continue
        if kind.version not in groups[kind.group]:
            served = ", ".join(sorted(groups[kind.group]))
            read.failures.append(
                Failure(
                    f"/apis/{kind.group}",
                    200,
                    f"{kind.group} is served in version(s) {served}, which this reader does "
                    f"not read ({kind.plural} needs {kind.version})",
                )
            )
            continue
        wanted.setdefault((kind.group, kind.version), []).append(kind)
    found: list[tuple[str, str]] = []
    for (group, version), kinds in sorted(wanted.items()):
        path = f"/apis/{group}/{version}"
        try:
            resources = _resource_names(await client.get(path))
        except (KubeError, TypeError) as exc:
            status = exc.status if isinstance(exc, KubeError) else 200
            read.failures.append(Failure(path, status, str(exc)))
            continue
        found.extend((k.kind, f"{path}/{k.plural}") for k in kinds if k.plural in resources)
    return found


def _group_versions(answer: Mapping[str, Any]) -> dict[str, set[str]]:
    """APIGroupList → group name → served versions."""
    groups = answer.get("groups")
    if not isinstance(groups, list):
        raise TypeError("APIGroupList without groups")
    served: dict[str, set[str]] = {}
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("name"), str):
            raise TypeError("APIGroup without a name")
        versions = group.get("versions") or []
        served[group["name"]] = {
            str(v.get("version")) for v in versions if isinstance(v, dict) and v.get("version")
        }
    return served


def _resource_names(answer: Mapping[str, Any]) -> set[str]:
    """APIResourceList → the resource names that can be listed (subresources left out)."""
    resources = answer.get("resources")
    if not isinstance(resources, list):
        raise TypeError("APIResourceList without resources")
    return {
        str(r["name"])
        for r in resources
        if isinstance(r, dict)
        and isinstance(r.get("name"), str)
        and "/" not in r["name"]
        and "list" in (r.get("verbs") or [])
    }


def _safe_label(kind: str, item: Mapping[str, Any]) -> str:
    try:
        return object_label(kind, item)
    except ObjectShapeError:
        return kind.lower()
