"""Rollback window: the last N ACTIVE revisions of every task-definition family in use, so a
`aws ecs update-service --task-definition web:41` rollback still finds its images.

Runs once the ECS readers are done, for the families they found (the critical path: the
revisions it names are described in the region's busiest bucket), and again after every other
source, for the families only those found. One listing of the region's
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

from ecr_sweeper.aws.consumers.ecs_scope import family_of
from ecr_sweeper.aws.consumers.kind import ReadContext, Reader, Reading

PAGE = 100


async def read_rollback_window(ctx: ReadContext) -> Reading:
    """The newest `rollback_revisions` ACTIVE revisions of each family in use that an earlier
    read of the window did not cover (named to the ECS scope, which describes them)."""
    found = ctx.findings()
    ecs = await ctx.client("ecs")
    families = sorted(ctx.ecs.families - ctx.ecs.windowed)
    ctx.ecs.windowed.update(families)
    found.count("families", len(families))
    if not families:
        return found.reading()
    revisions: dict[str, list[str]] = defaultdict(list)
    remaining = await _listing(ctx, ecs, set(families), revisions)
    async with anyio.create_task_group() as tg:
        for family in sorted(remaining):
            tg.start_soon(_one_family, ctx, ecs, family, revisions)
    for family in families:
        newest = sorted(revisions[family], key=_revision, reverse=True)
        for arn in newest[: ctx.sources.rollback_revisions]:
            found.task_definition(arn, f"rollback window of family {family}", "rollback")
    return found.reading()


# Widens the ECS reading with the families named so far: once the ECS readers are done, and
# after every kind was read (the families only the others named); no consumer kind of its own.
ROLLBACK_WINDOW = Reader("rollback window", read_rollback_window)


async def _listing(
    ctx: ReadContext, ecs: Any, families: set[str], revisions: dict[str, list[str]]
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


async def _one_family(
    ctx: ReadContext, ecs: Any, family: str, revisions: dict[str, list[str]]
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
