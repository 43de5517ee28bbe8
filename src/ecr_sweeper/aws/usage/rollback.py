"""Rollback window: the last N ACTIVE revisions of every task-definition family in use, so a
`aws ecs update-service --task-definition web:41` rollback still finds its images.

Runs after the other sources (it needs the families they found). `ListTaskDefinitions` filters
by family *prefix*, so results are matched to the exact family.
"""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.usage.context import UsageContext, family_of
from ecr_sweeper.model import Sources

PAGE = 100


class RollbackWindow:
    """The newest `rollback_revisions` ACTIVE revisions of each family in use."""

    name = "rollback window"

    def enabled(self, sources: Sources) -> bool:
        return sources.rollback_revisions > 0

    async def collect(self, ctx: UsageContext) -> None:
        ecs = await ctx.client("ecs")
        ctx.count("families", len(ctx.families))
        async with anyio.create_task_group() as tg:
            for family in sorted(ctx.families):
                tg.start_soon(self._family, ctx, ecs, family)

    @staticmethod
    async def _family(ctx: UsageContext, ecs: Any, family: str) -> None:
        wanted = ctx.sources.rollback_revisions
        found: list[str] = []
        token: str | None = None
        while len(found) < wanted:
            page = await ctx.api.call(
                ecs.list_task_definitions,
                familyPrefix=family,
                status="ACTIVE",
                sort="DESC",
                maxResults=PAGE,
                **({"nextToken": token} if token else {}),
            )
            found += [a for a in page.get("taskDefinitionArns", []) if family_of(a) == family]
            token = page.get("nextToken")
            if not token:
                break
        # Newest first by revision number, whatever order the pages came in.
        found.sort(key=lambda arn: int(arn.rsplit(":", 1)[-1]), reverse=True)
        for arn in found[:wanted]:
            ctx.saw_task_definition(arn, f"rollback window of family {family}", "rollback")
