"""ECS Managed Daemons: what every daemon runs now and may roll back to.

ListDaemons (the region's) → DescribeDaemon: its `currentRevisions` (those running), and its
latest deployment (DescribeDaemonDeployments ≤ 20): the target revision, which may not run
anywhere yet, and the source revisions it replaces (a rollback returns to them) →
DescribeDaemonRevisions (≤ 20): each revision's `containerImages` (image and the digest ECS
resolved) and its daemon task definition. Daemon task definitions are not task definitions
(DescribeTaskDefinition does not know them): the newest `rollback_revisions` ACTIVE revisions
of each family in use (ListDaemonTaskDefinitions) are described here
(DescribeDaemonTaskDefinition), like the rollback window does for task definitions.
Daemons of clusters the account's cluster filter leaves out are not read, as for services.
"""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.consumers.ecs_scope import family_of, short_name
from ecr_sweeper.aws.consumers.ecs_services import check_failures
from ecr_sweeper.aws.consumers.kind import (
    Findings,
    IamAction,
    Kind,
    ReadContext,
    Reader,
    Reading,
    Switch,
)
from ecr_sweeper.aws.limits import chunks

PAGE = 100
DESCRIBE_REVISIONS_MAX = 20
DESCRIBE_DEPLOYMENTS_MAX = 20
NAME = "ecs-daemons"


async def present(ctx: ReadContext) -> bool:
    """Any daemon in the region."""
    ecs = await ctx.client("ecs")
    answer = await ctx.api.call(ecs.list_daemons, maxResults=1)
    return bool(answer.get("daemonSummariesList"))


async def read(ctx: ReadContext) -> Reading:
    """Managed daemons, their current revisions and daemon task definitions."""
    found = ctx.findings()
    ecs = await ctx.client("ecs")
    clusters = set(await ctx.ecs.clusters())
    summaries = await ctx.api.pages(ecs.list_daemons, "daemonSummariesList", maxResults=PAGE)
    found.present(bool(summaries))
    revisions: dict[str, str] = {}  # revision ARN → daemon label
    deployments: dict[str, str] = {}  # deployment ARN → daemon label

    async def describe(arn: str) -> None:
        daemon = (await ctx.api.call(ecs.describe_daemon, daemonArn=arn))["daemon"]
        if daemon.get("clusterArn") not in clusters:
            return
        found.count("daemons")
        label = f"daemon {short_name(daemon['clusterArn'])}/{short_name(arn)}"
        for revision in daemon.get("currentRevisions", []):
            revisions[revision["arn"]] = label
        if daemon.get("deploymentArn"):
            deployments[daemon["deploymentArn"]] = label

    async with anyio.create_task_group() as tg:
        for summary in summaries:
            tg.start_soon(describe, summary["daemonArn"])
    async with anyio.create_task_group() as tg:
        for batch in chunks(sorted(deployments), DESCRIBE_DEPLOYMENTS_MAX):
            tg.start_soon(_deployments, ctx, ecs, batch, deployments, revisions)
    definitions: dict[str, str] = {}  # daemon task definition ARN → used by
    async with anyio.create_task_group() as tg:
        for batch in chunks(sorted(revisions), DESCRIBE_REVISIONS_MAX):
            tg.start_soon(_revisions, ctx, found, ecs, batch, revisions, definitions)
    await _rollback_window(ctx, ecs, definitions)
    found.count("daemon task definitions", len(definitions))
    async with anyio.create_task_group() as tg:
        for arn, used_by in sorted(definitions.items()):
            tg.start_soon(_task_definition, ctx, found, ecs, arn, used_by)
    return found.reading()


async def _deployments(
    ctx: ReadContext,
    ecs: Any,
    batch: list[str],
    labels: dict[str, str],
    revisions: dict[str, str],
) -> None:
    answer = await ctx.api.call(ecs.describe_daemon_deployments, daemonDeploymentArns=batch)
    check_failures(answer, "DescribeDaemonDeployments")
    for deployment in answer.get("daemonDeployments", []):
        label = labels.get(deployment.get("daemonDeploymentArn", ""), "daemon")
        target = deployment.get("targetDaemonRevision") or {}
        for revision in [target, *deployment.get("sourceDaemonRevisions", [])]:
            if revision.get("arn"):
                revisions.setdefault(revision["arn"], label)


async def _revisions(  # noqa: PLR0917 - start_soon passes arguments by position
    ctx: ReadContext,
    found: Findings,
    ecs: Any,
    batch: list[str],
    labels: dict[str, str],
    definitions: dict[str, str],
) -> None:
    answer = await ctx.api.call(ecs.describe_daemon_revisions, daemonRevisionArns=batch)
    check_failures(answer, "DescribeDaemonRevisions")
    for revision in answer.get("daemonRevisions", []):
        arn = revision.get("daemonRevisionArn", "")
        label = f"{labels.get(arn, 'daemon')} revision {short_name(arn)}"
        for image in revision.get("containerImages", []):
            where = f"{label} container {image.get('containerName')}"
            found.image(image.get("image", ""), where, image.get("imageDigest"), NAME)
        if revision.get("daemonTaskDefinitionArn"):
            definitions.setdefault(revision["daemonTaskDefinitionArn"], label)


async def _rollback_window(ctx: ReadContext, ecs: Any, definitions: dict[str, str]) -> None:
    """Add the newest `rollback_revisions` ACTIVE revisions of every family in use."""
    window = ctx.sources.rollback_revisions
    if window <= 0:
        return

    async def family(name: str) -> None:
        page = await ctx.api.call(
            ecs.list_daemon_task_definitions,
            family=name,
            status="ACTIVE",
            sort="DESC",
            maxResults=min(window, PAGE),
        )
        for summary in page.get("daemonTaskDefinitions", [])[:window]:
            definitions.setdefault(summary["arn"], f"rollback window of daemon family {name}")

    async with anyio.create_task_group() as tg:
        for name in sorted({family_of(arn) for arn in definitions}):
            tg.start_soon(family, name)


async def _task_definition(
    ctx: ReadContext, found: Findings, ecs: Any, arn: str, used_by: str
) -> None:
    answer = await ctx.api.call(ecs.describe_daemon_task_definition, daemonTaskDefinition=arn)
    definition = answer["daemonTaskDefinition"]
    label = short_name(definition.get("daemonTaskDefinitionArn", arn))
    for container in definition.get("containerDefinitions", []):
        where = f"daemon task definition {label} container {container.get('name')} ({used_by})"
        found.image(container.get("image", ""), where, None, NAME)


_PURPOSE = "ECS Managed Daemons (`--no-ecs-daemons`)"
KIND = Kind(
    name=NAME,
    title="ecs daemons",
    present=present,
    readers=(Reader("ecs daemons", read),),
    switch=Switch(
        "Read ECS Managed Daemons: revisions and daemon task definitions (default on).",
        aliases=("daemons",),
    ),
    iam=tuple(
        IamAction(f"ecs:{action}", "ReadEcsUsage", _PURPOSE)
        for action in (
            "ListDaemons",
            "DescribeDaemon",
            "DescribeDaemonDeployments",
            "DescribeDaemonRevisions",
            "ListDaemonTaskDefinitions",
            "DescribeDaemonTaskDefinition",
        )
    ),
    emulated="moto: no daemons (ListDaemons taught to list none, demo_consumers.extend_moto); "
    "tests/awsim: daemons, revisions, deployments, daemon task definitions (ops_ecs.py)",
)
