"""ECS services: every deployment and task set of every service, and the digests ECS resolved.

clusters → services (ListServices, DescribeServices ≤ 10) → the task definition of the service,
of **every** deployment (PRIMARY, ACTIVE: a rolling deploy runs both) and of every task set.

Since mid-2024 ECS resolves a tag to a digest once per deployment and launches every later task
of that deployment with that digest, even after the tag moves. With `service_revisions`, the
service revisions of recent deployments (ListServiceDeployments → DescribeServiceRevisions ≤ 20)
protect `containerImages[].imageDigest` too: the target revision of every deployment that is
not finished, and of the three most recent deployments whatever their state (the running one is
among them, including after a rollback).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import anyio

from ecr_sweeper.aws.consumers.ecs_scope import short_name
from ecr_sweeper.aws.consumers.kind import Findings, ReadContext, Reading
from ecr_sweeper.aws.limits import chunks, describe_errors, fan_out

LIST_PAGE = 100  # ListServices returns 10 a page unless asked for its maximum
DESCRIBE_SERVICES_MAX = 10
DESCRIBE_SERVICE_REVISIONS_MAX = 20
RECENT_DEPLOYMENTS = 3
FINISHED = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
BENIGN_FAILURES = frozenset({"MISSING"})  # deleted between List* and Describe*: nothing runs


async def read_services(ctx: ReadContext) -> Reading:
    """Services, their deployments and task sets (and their service revisions)."""
    found = ctx.findings()
    ecs = await ctx.client("ecs")
    async with anyio.create_task_group() as tg:
        for cluster in await ctx.ecs.clusters():
            tg.start_soon(_cluster, ctx, found, ecs, cluster)
    return found.reading()


async def _cluster(ctx: ReadContext, found: Findings, ecs: Any, cluster: str) -> None:
    arns = await ctx.api.pages(
        ecs.list_services, "serviceArns", cluster=cluster, maxResults=LIST_PAGE
    )
    found.count("services", len(arns))
    revisions: list[tuple[str, str]] = []  # (revision ARN, service label)

    async def deployments(service: dict[str, Any]) -> None:
        await _naming_the_switch(_deployments(ctx, ecs, cluster, service, revisions))

    # A service's deployments are listed as it is described; those waiting for the account
    # × region's calls wait as arguments, not as a task each.
    async with fan_out(deployments, ctx.api.calls_at_once) as put:

        async def describe(batch: list[str]) -> None:
            answer = await ctx.api.call(ecs.describe_services, cluster=cluster, services=batch)
            check_failures(answer, f"DescribeServices in {cluster}")
            for service in answer.get("services", []):
                _service(found, service, f"service {short_name(cluster)}/{service['serviceName']}")
                if ctx.sources.service_revisions:  # its name and ARN, not its whole answer
                    put({k: service[k] for k in ("serviceName", "serviceArn")})

        async with anyio.create_task_group() as tg:
            for batch in chunks(arns, DESCRIBE_SERVICES_MAX):
                tg.start_soon(describe, batch)
    if revisions:
        await _naming_the_switch(_revisions(ctx, found, ecs, revisions))


def _service(found: Findings, service: dict[str, Any], label: str) -> None:
    if service.get("taskDefinition"):
        found.task_definition(service["taskDefinition"], label, "ecs")
    for deployment in service.get("deployments", []):
        where = f"{label} deployment {deployment.get('id')} ({deployment.get('status')})"
        found.task_definition(deployment["taskDefinition"], where, "ecs")
    for task_set in service.get("taskSets", []):
        where = f"{label} task set {task_set.get('id')} ({task_set.get('status')})"
        found.task_definition(task_set["taskDefinition"], where, "ecs")


async def _deployments(
    ctx: ReadContext,
    ecs: Any,
    cluster: str,
    service: dict[str, Any],
    revisions: list[tuple[str, str]],
) -> None:
    label = f"service {short_name(cluster)}/{service['serviceName']}"
    deployments = await ctx.api.pages(
        ecs.list_service_deployments,
        "serviceDeployments",
        cluster=cluster,
        service=service["serviceArn"],
    )
    newest_first = sorted(deployments, key=lambda d: str(d.get("createdAt", "")), reverse=True)
    chosen = [
        d
        for n, d in enumerate(newest_first)
        if n < RECENT_DEPLOYMENTS or d.get("status") not in FINISHED
    ]
    revisions.extend(
        (arn, f"{label} revision {short_name(arn)}")
        for deployment in chosen
        if (arn := deployment.get("targetServiceRevisionArn"))
    )


async def _revisions(
    ctx: ReadContext, found: Findings, ecs: Any, revisions: list[tuple[str, str]]
) -> None:
    labels = dict(revisions)
    found.count("service revisions", len(labels))

    async def describe(batch: list[str]) -> None:
        answer = await ctx.api.call(ecs.describe_service_revisions, serviceRevisionArns=batch)
        check_failures(answer, "DescribeServiceRevisions")
        for revision in answer.get("serviceRevisions", []):
            label = labels.get(revision.get("serviceRevisionArn", ""), "service revision")
            found.task_definition(revision["taskDefinition"], label, "revision")
            for image in revision.get("containerImages", []):
                where = f"{label} container {image.get('containerName')}"
                found.image(image.get("image", ""), where, image.get("imageDigest"), "revision")

    async with anyio.create_task_group() as tg:
        for batch in chunks(sorted(labels), DESCRIBE_SERVICE_REVISIONS_MAX):
            tg.start_soon(describe, batch)


class ServiceRevisionsError(RuntimeError):
    """Service revisions could not be read; the message names the switch that leaves them out."""


async def _naming_the_switch(reading: Awaitable[None]) -> None:
    """A failure to read service revisions (moto's server answers ListServiceDeployments with
    HTTP 500 and no message) says which source failed and which switch leaves it out."""
    try:
        await reading
    except Exception as exc:
        raise ServiceRevisionsError(
            "service revisions could not be read ("
            + "; ".join(describe_errors(exc))
            + "); --no-service-revisions (or [sources] service_revisions = false) leaves "
            "this source out"
        ) from exc


def check_failures(answer: dict[str, Any], call: str) -> None:
    """ECS Describe* calls report per-item `failures`; any but MISSING is a read failure."""
    bad = [f for f in answer.get("failures", []) if f.get("reason") not in BENIGN_FAILURES]
    if bad:
        raise RuntimeError(
            f"{call}: " + "; ".join(f"{f.get('arn')}: {f.get('reason')}" for f in bad)
        )
