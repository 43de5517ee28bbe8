"""Usage scan: which images the ECS workloads of one account × region use.

clusters → services (DescribeServices ≤ 10 at a time) → the task definition of every deployment
and task set → container images; running tasks (DescribeTasks ≤ 100 at a time) → every
container's image and the digest it resolved. Each task definition is described once.

Any failure becomes a `ScanError` in the result (never an exception to the caller), and the
planner then deletes nothing: a usage source we could not read might protect anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from ecr_sweeper.aws.limits import Api, chunks, describe_errors
from ecr_sweeper.imageref import ForeignImage, ImageReferenceError, parse_image
from ecr_sweeper.model import AccountTarget, Digest, Region, ScanError, Usage, UsageScan

DESCRIBE_SERVICES_MAX = 10
DESCRIBE_TASKS_MAX = 100
BENIGN_FAILURES = frozenset({"MISSING"})  # deleted between List* and Describe*: nothing runs


@dataclass(slots=True)
class _Seen:
    """Image strings found so far, before parsing: (image, source, resolved digest)."""

    images: list[tuple[str, str, str | None]] = field(default_factory=list)
    # task definition ARN → where it is used (first place seen, for the plan's reasons)
    task_definitions: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


async def scan_usage(
    target: AccountTarget,
    region: Region,
    ecs: Any,
    api: Api,
    progress: Callable[[str], None] = lambda _: None,
) -> UsageScan:
    """Scan one account × region. Never raises for AWS errors: they come back as ScanErrors."""
    seen = _Seen()
    where = f"{target.account_id}/{region}"
    clusters: list[str] = []
    try:
        cluster_arns = await api.pages(ecs.list_clusters, "clusterArns")
        clusters = [arn for arn in cluster_arns if target.clusters.matches(_name(arn))]
        async with anyio.create_task_group() as tg:
            for arn in clusters:
                tg.start_soon(_scan_cluster, ecs, api, arn, seen)
        async with anyio.create_task_group() as tg:
            for arn, used_by in sorted(seen.task_definitions.items()):
                tg.start_soon(_scan_task_definition, ecs, api, arn, used_by, seen)
    except Exception as exc:
        seen.errors.extend(describe_errors(exc))

    usages: list[Usage] = []
    foreign = 0
    for image, source, digest in seen.images:
        try:
            ref = parse_image(image)
        except ImageReferenceError as exc:
            seen.errors.append(f"{source}: {exc}")
            continue
        if isinstance(ref, ForeignImage):
            foreign += 1
            continue
        usages.append(Usage(image=image, ref=ref, source=source, resolved_digest=_digest(digest)))
    errors = tuple(
        ScanError("usage", target.account_id, region, f"ecs {where}", message)
        for message in seen.errors
    )
    progress(
        f"usage {where}: {len(clusters)} clusters, {len(usages)} ECR image references, "
        f"{foreign} outside ECR" + (f", {len(errors)} ERRORS" if errors else "")
    )
    return UsageScan(target.account_id, region, tuple(usages), errors, foreign)


async def _scan_cluster(ecs: Any, api: Api, cluster_arn: str, seen: _Seen) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(_scan_services, ecs, api, cluster_arn, seen)
        tg.start_soon(_scan_tasks, ecs, api, cluster_arn, seen)


async def _scan_services(ecs: Any, api: Api, cluster_arn: str, seen: _Seen) -> None:
    service_arns = await api.pages(ecs.list_services, "serviceArns", cluster=cluster_arn)

    async def describe(batch: list[str]) -> None:
        answer = await api.call(ecs.describe_services, cluster=cluster_arn, services=batch)
        _check_failures(answer, f"DescribeServices in {cluster_arn}", seen)
        for service in answer.get("services", []):
            name = f"service {_name(cluster_arn)}/{service['serviceName']}"
            if service.get("taskDefinition"):
                _use_task_definition(seen, service["taskDefinition"], name)
            for deployment in service.get("deployments", []):
                where = f"{name} deployment {deployment.get('id')} ({deployment.get('status')})"
                _use_task_definition(seen, deployment["taskDefinition"], where)
            for task_set in service.get("taskSets", []):
                where = f"{name} task set {task_set.get('id')} ({task_set.get('status')})"
                _use_task_definition(seen, task_set["taskDefinition"], where)

    async with anyio.create_task_group() as tg:
        for batch in chunks(service_arns, DESCRIBE_SERVICES_MAX):
            tg.start_soon(describe, batch)


async def _scan_tasks(ecs: Any, api: Api, cluster_arn: str, seen: _Seen) -> None:
    task_arns = await api.pages(
        ecs.list_tasks, "taskArns", cluster=cluster_arn, desiredStatus="RUNNING"
    )

    async def describe(batch: list[str]) -> None:
        answer = await api.call(ecs.describe_tasks, cluster=cluster_arn, tasks=batch)
        _check_failures(answer, f"DescribeTasks in {cluster_arn}", seen)
        for task in answer.get("tasks", []):
            name = f"task {_name(cluster_arn)}/{_name(task['taskArn'])}"
            _use_task_definition(seen, task["taskDefinitionArn"], name)
            for container in task.get("containers", []):
                if container.get("image"):
                    where = f"{name} container {container.get('name')}"
                    seen.images.append((container["image"], where, container.get("imageDigest")))

    async with anyio.create_task_group() as tg:
        for batch in chunks(task_arns, DESCRIBE_TASKS_MAX):
            tg.start_soon(describe, batch)


def _use_task_definition(seen: _Seen, arn: str, used_by: str) -> None:
    seen.task_definitions.setdefault(arn, used_by)


async def _scan_task_definition(ecs: Any, api: Api, arn: str, used_by: str, seen: _Seen) -> None:
    answer = await api.call(ecs.describe_task_definition, taskDefinition=arn)
    definition = answer["taskDefinition"]
    for container in definition.get("containerDefinitions", []):
        where = f"task definition {_name(arn)} container {container.get('name')} ({used_by})"
        seen.images.append((container.get("image", ""), where, None))


def _check_failures(answer: dict[str, Any], call: str, seen: _Seen) -> None:
    for failure in answer.get("failures", []):
        if failure.get("reason") not in BENIGN_FAILURES:
            seen.errors.append(f"{call}: {failure.get('arn')}: {failure.get('reason')}")


def _name(arn: str) -> str:
    """The last path segment of an ARN (cluster, service, task or family:revision)."""
    return arn.rsplit("/", 1)[-1].rsplit(":task-definition/", 1)[-1]


def _digest(value: str | None) -> Digest | None:
    return Digest(value) if value and value.startswith("sha256:") else None
