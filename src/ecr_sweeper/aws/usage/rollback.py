"""Rollback window: the last N ACTIVE revisions of every task-definition family in use, so a
`aws ecs update-service --task-definition web:41` rollback still finds its images.

Runs after the other sources (it needs the families they found). One listing of the region's
ACTIVE task definitions, newest first (`sort=DESC` orders by family name, descending, then by
revision, newest first), serves every family at once, and stops as soon as the listing has
passed the last family in use. Should that listing grow longer than asking family by family
would be, the families not yet passed are asked one by one (`familyPrefix` takes a full family
name).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import anyio

from ecr_sweeper.aws.usage.context import UsageContext, family_of
from ecr_sweeper.model import Sources

PAGE = 100


class RollbackWindow:
    """The newest `rollback_revisions` ACTIVE revisions of each family in use."""

    name = "rollback window"
    kind = None  # widens the ECS reading; no consumer kind of its own

    def enabled(self, sources: Sources) -> bool:
        return sources.rollback_revisions > 0

    async def present(self, ctx: UsageContext) -> bool:  # noqa: ARG002 - no census (kind None)
        return False

    async def collect(self, ctx: UsageContext) -> None:
        ecs = await ctx.client("ecs")
        families = sorted(ctx.families)
        ctx.count("families", len(families))
        if not families:
            return
        revisions: dict[str, list[str]] = defaultdict(list)
        remaining = await self._listing(ctx, ecs, set(families), revisions)
        async with anyio.create_task_group() as tg:
            for family in sorted(remaining):
                tg.start_soon(self._one_family, ctx, ecs, family, revisions)
        for family in families:
            found = sorted(revisions[family], key=_revision, reverse=True)
            for arn in found[: ctx.sources.rollback_revisions]:
                ctx.saw_task_definition(arn, f"rollback window of family {family}", "rollback")

    @staticmethod
    async def _listing(
        ctx: UsageContext, ecs: Any, families: set[str], revisions: dict[str, list[str]]
    ) -> set[str]:
        """Walk the region's listing; return the families it did not get to."""
        lowest = min(families)
        token: str | None = None
        pages = 0
        while True:
            page = await ctx.api.call(
                ecs.list_task_definitions,
                status="ACTIVE",
                sort="DESC",
                maxResults=PAGE,
                **({"nextToken": token} if token else {}),
            )
            pages += 1
            arns = page.get("taskDefinitionArns", [])
            for arn in arns:
                if (family := family_of(arn)) in families:
                    revisions[family].append(arn)
            token = page.get("nextToken")
            last = family_of(arns[-1]) if arns else None
            if not token or (last is not None and last < lowest):
                return set()
            # Newest-first by family, descending: families after `last` are complete; `last`
            # itself may continue on the next page, and those before it are still to come.
            not_passed = {f for f in families if last is None or f <= last}
            if pages >= len(not_passed):
                # Asking family by family is now cheaper; the last family seen may be partial.
                for family in not_passed:
                    revisions.pop(family, None)
                return not_passed

    @staticmethod
    async def _one_family(
        ctx: UsageContext, ecs: Any, family: str, revisions: dict[str, list[str]]
    ) -> None:
        wanted = ctx.sources.rollback_revisions
        token: str | None = None
        while len(revisions[family]) < wanted:
            page = await ctx.api.call(
                ecs.list_task_definitions,
                familyPrefix=family,
                status="ACTIVE",
                sort="DESC",
                maxResults=PAGE,
                **({"nextToken": token} if token else {}),
            )
            revisions[family] += [
                a for a in page.get("taskDefinitionArns", []) if family_of(a) == family
            ]
            token = page.get("nextToken")
            if not token:
                return


def _revision(arn: str) -> int:
    return int(arn.rsplit(":", 1)[-1])
