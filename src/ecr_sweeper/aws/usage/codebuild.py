"""CodeBuild: every project's build image (`environment.image`).

ListProjects → BatchGetProjects (≤ 100 a call). A project on a reserved-capacity fleet still
names its build image in `environment.image`; a fleet's own `imageId` is an AMI, not a
container image, so fleets are not read. `report_project` is the one reader of a project that
another consumer names (a Step Functions state, a Scheduler target).
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from ecr_sweeper.aws.limits import chunks
from ecr_sweeper.aws.usage.context import UsageContext
from ecr_sweeper.model import Sources

BATCH_GET_MAX = 100
KIND = "codebuild"


class CodeBuildProjects:
    """Every project's build image."""

    name = "codebuild"
    kind = KIND

    def enabled(self, sources: Sources) -> bool:
        return sources.codebuild

    async def present(self, ctx: UsageContext) -> bool:
        if (codebuild := await ctx.client_if_offered("codebuild")) is None:
            return False
        return bool((await ctx.api.call(codebuild.list_projects)).get("projects"))

    async def collect(self, ctx: UsageContext) -> None:
        if (codebuild := await ctx.client_if_offered("codebuild")) is None:
            return
        names = await ctx.api.pages(codebuild.list_projects, "projects")
        ctx.count("codebuild projects", len(names))
        async with anyio.create_task_group() as tg:
            for batch in chunks(names, BATCH_GET_MAX):
                tg.start_soon(report_projects, ctx, batch, "", KIND)


async def report_projects(ctx: UsageContext, names: Sequence[str], used_by: str, kind: str) -> None:
    """The build image of each project named (names or ARNs; one that does not exist builds
    nothing)."""
    codebuild = await ctx.client("codebuild")
    answer = await ctx.api.call(codebuild.batch_get_projects, names=list(names))
    for project in answer.get("projects", []):
        image = project.get("environment", {}).get("image")
        if image:
            where = f"CodeBuild project {project.get('name')} (build image)"
            ctx.saw_image(image, where + (f" ({used_by})" if used_by else ""), None, kind)
