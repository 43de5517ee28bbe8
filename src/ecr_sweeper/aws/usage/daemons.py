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

from ecr_sweeper.aws.limits import chunks
from ecr_sweeper.aws.usage.context import UsageContext, family_of, short_name
from ecr_sweeper.aws.usage.ecs_services import check_failures
from ecr_sweeper.model import Sources

PAGE = 100
DESCRIBE_REVISIONS_MAX = 20
DESCRIBE_DEPLOYMENTS_MAX = 20
KIND = "ecs-daemons"


class EcsDaemons:
    """Managed daemons, their current revisions and daemon task definitions."""

    name = "ecs daemons"
    kind = KIND

    def enabled(self, sources: Sources) -> bool:
        return sources.daemons

    async def present(self, ctx: UsageContext) -> bool:
        ecs = await ctx.client("ecs")
        answer = await ctx.api.call(ecs.list_daemons, maxResults=1)
        return bool(answer.get("daemonSummariesList"))

    async def collect(self, ctx: UsageContext) -> None:
        ecs = await ctx.client("ecs")
        clusters = set(await ctx.clusters())
        summaries = await ctx.api.pages(ecs.list_daemons, "daemonSummariesList", maxResults=PAGE)
        revisions: dict[str, str] = {}  # revision ARN → daemon label
        deployments: dict[str, str] = {}  # deployment ARN → daemon label

        async def describe(arn: str) -> None:
            daemon = (await ctx.api.call(ecs.describe_daemon, daemonArn=arn))["daemon"]
            if daemon.get("clusterArn") not in clusters:
                return
            ctx.count("daemons")
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
                tg.start_soon(self._deployments, ctx, ecs, batch, deployments, revisions)
        definitions: dict[str, str] = {}  # daemon task definition ARN → used by
        async with anyio.create_task_group() as tg:
            for batch in chunks(sorted(revisions), DESCRIBE_REVISIONS_MAX):
                tg.start_soon(self._revisions, ctx, ecs, batch, revisions, definitions)
        await self._rollback_window(ctx, ecs, definitions)
        ctx.count("daemon task definitions", len(definitions))
        async with anyio.create_task_group() as tg:
            for arn, used_by in sorted(definitions.items()):
                tg.start_soon(self._task_definition, ctx, ecs, arn, used_by)

    @staticmethod
    async def _deployments(
        ctx: UsageContext,
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

    @staticmethod
    async def _revisions(
        ctx: UsageContext,
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
                ctx.saw_image(image.get("image", ""), where, image.get("imageDigest"), KIND)
            if revision.get("daemonTaskDefinitionArn"):
                definitions.setdefault(revision["daemonTaskDefinitionArn"], label)

    @staticmethod
    async def _rollback_window(ctx: UsageContext, ecs: Any, definitions: dict[str, str]) -> None:
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

    @staticmethod
    async def _task_definition(ctx: UsageContext, ecs: Any, arn: str, used_by: str) -> None:
        answer = await ctx.api.call(ecs.describe_daemon_task_definition, daemonTaskDefinition=arn)
        definition = answer["daemonTaskDefinition"]
        label = short_name(definition.get("daemonTaskDefinitionArn", arn))
        for container in definition.get("containerDefinitions", []):
            where = f"daemon task definition {label} container {container.get('name')} ({used_by})"
            ctx.saw_image(container.get("image", ""), where, None, KIND)
