"""CodeBuild: every project's build image (`environment.image`).

ListProjects → BatchGetProjects (≤ 100 a call). A project on a reserved-capacity fleet still
names its build image in `environment.image`; a fleet's own `imageId` is an AMI, not a
container image, so fleets are not read. `report_project` is the one reader of a project that
another consumer names (a Step Functions state, a Scheduler target).
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio

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

BATCH_GET_MAX = 100
NAME = "codebuild"


async def present(ctx: ReadContext) -> bool:
    """Any project in the region (none where CodeBuild is not offered)."""
    if (codebuild := await ctx.client_if_offered("codebuild")) is None:
        return False
    return bool((await ctx.api.call(codebuild.list_projects)).get("projects"))


async def read(ctx: ReadContext) -> Reading:
    """Every project's build image."""
    found = ctx.findings()
    if (codebuild := await ctx.client_if_offered("codebuild")) is None:
        return found.reading()
    names = await ctx.api.pages(codebuild.list_projects, "projects")
    found.present(bool(names))
    found.count("codebuild projects", len(names))
    async with anyio.create_task_group() as tg:
        for batch in chunks(names, BATCH_GET_MAX):
            tg.start_soon(report_projects, ctx, found, batch, "", NAME)
    return found.reading()


async def report_projects(
    ctx: ReadContext, found: Findings, names: Sequence[str], used_by: str, kind: str
) -> None:
    """The build image of each project named (names or ARNs; one that does not exist builds
    nothing)."""
    codebuild = await ctx.client("codebuild")
    answer = await ctx.api.call(codebuild.batch_get_projects, names=list(names))
    for project in answer.get("projects", []):
        image = project.get("environment", {}).get("image")
        if image:
            where = f"CodeBuild project {project.get('name')} (build image)"
            found.image(image, where + (f" ({used_by})" if used_by else ""), None, kind)


_PURPOSE = "build images, and projects workflows and schedules start (`--no-codebuild`)"
KIND = Kind(
    name=NAME,
    title="codebuild",
    present=present,
    readers=(Reader("codebuild", read),),
    switch=Switch("Read CodeBuild projects' build images (default on)."),
    iam=(
        IamAction("codebuild:ListProjects", "ReadOtherConsumers", _PURPOSE),
        IamAction("codebuild:BatchGetProjects", "ReadOtherConsumers", _PURPOSE),
    ),
    principals=("codebuild.amazonaws.com",),
    emulated="moto: projects; tests/awsim: the first list call only (none)",
)
