"""make_plan reads the inventory while the usage is read, and still judges nothing before the
whole usage is known (the planner's invariant 3: the usage set is global). No AWS: the usage
and inventory readers are fakes, so "the inventory read everything it could" is a fact of the
event loop (every task blocked), not a timing."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

import anyio
import pytest

from ecr_sweeper import pipeline
from ecr_sweeper.aws.consumers.ecs_scope import FED
from ecr_sweeper.aws.consumers.kind import ReadContext
from ecr_sweeper.aws.limits import Api, Limits
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.model import (
    AccountId,
    AccountRegion,
    AccountTarget,
    InventoryScan,
    Region,
    Repository,
    UsageScan,
)
from ecr_sweeper.plan import Planner
from ecr_sweeper.retry import RetryPolicy
from planning import NO_RETENTION, NOW, image, key, uri, use

REGION = Region("us-east-1")
WORKLOADS, REGISTRY = AccountId("111111111111"), AccountId("222222222222")


class FakeConnections:
    """What the pipeline asks of Connections, without AWS."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.retry = RetryPolicy()

    def api(self, _account: AccountId, _region: Region) -> Api:
        return Api(4, RetryPolicy(), self.limits)

    async def client(self, _target: AccountTarget, _region: Region, _service: str) -> Any:
        return object()

    async def close_services(self, keep: Collection[str]) -> None:
        pass  # no clients to close


def repositories(n: int) -> list[Repository]:
    """`n` repositories of the registry account, each with a used and an unused image."""
    return [
        Repository(
            key(f"app{i}", REGISTRY),
            (image(f"used{i}", "v1"), image(f"unused{i}", "old")),
        )
        for i in range(n)
    ]


def run_sweep(
    repos: list[Repository], limits: Limits, on_disk: int = 0
) -> tuple[list[tuple[str, str]], Any]:
    """make_plan with fake readers (passed in as its `Readers`): the workloads account's
    usage uses every repository's `v1` image, and finishes only once every other task is
    blocked (the inventory has read all it may); the registry's inventory hands `repos` to the
    judge, the first `on_disk` of them as a repository whose images went to disk as it was
    read (made whole in a `whole()` block). Returns the events in order and the plan."""
    events: list[tuple[str, str]] = []

    async def fake_usage(ctx: ReadContext, *_: Any) -> UsageScan:
        await anyio.wait_all_tasks_blocked()
        usages = (
            tuple(use(uri(r.key, ":v1")) for r in repos)
            if ctx.target.account_id == (WORKLOADS)
            else ()
        )
        events.append(("usage done", str(ctx.target.account_id)))
        return UsageScan(AccountRegion(ctx.target.account_id, ctx.region), usages)

    async def fake_inventory(
        target: AccountTarget,
        region: Region,
        *_: Any,
        judge: Any,
        gate: Any,
        whole: Any,
        **__: Any,
    ) -> InventoryScan:
        async def one(repo: Repository, from_disk: bool) -> None:
            async with gate:
                events.append(("read", str(repo.key)))
                if not from_disk:
                    await judge(repo)
                    return
                async with whole():
                    events.append(("whole", str(repo.key)))
                    await judge(repo)

        if target.account_id == REGISTRY:
            async with anyio.create_task_group() as tg:
                for n, repo in enumerate(repos):
                    tg.start_soon(one, repo, n < on_disk)
        return InventoryScan(target.account_id, region, ())

    class RecordingPlanner(Planner):
        def judge(self, repo: Repository) -> None:
            events.append(("judged", str(repo.key)))
            super().judge(repo)

    async def fake_regions(*_: Any) -> tuple[Region, ...]:
        return (REGION,)  # every account's one enabled region (usage is read in each)

    readers = pipeline.Readers(
        regions=fake_regions,
        usage=fake_usage,
        inventory=fake_inventory,
        planner=RecordingPlanner,
    )
    targets = [AccountTarget(account, (REGION,)) for account in (WORKLOADS, REGISTRY)]
    connections = cast("Connections", FakeConnections(limits))

    async def sweep() -> Any:
        return await pipeline.make_plan(targets, NO_RETENTION, connections, NOW, readers=readers)

    return events, anyio.run(sweep)


@pytest.mark.parametrize("images_waiting", [0, 50_000])  # waiting in the slots, or buffered
def test_the_inventory_is_read_while_the_usage_is_but_judged_only_after_all_of_it(
    images_waiting: int,
) -> None:
    repos = repositories(5)
    limits = Limits(repositories_at_once=128, images_waiting=images_waiting)
    events, plan = run_sweep(repos, limits)
    kinds = [kind for kind, _ in events]
    last_usage = max(i for i, kind in enumerate(kinds) if kind == "usage done")
    # Overlap: every repository was read before the usage was complete...
    assert all(i < last_usage for i, kind in enumerate(kinds) if kind == "read")
    # ...and none judged before it was (a repository judged early would lose its v1 image).
    judged = [i for i, kind in enumerate(kinds) if kind == "judged"]
    assert len(judged) == len(repos)
    assert min(judged) > last_usage
    deleted = {(d.repository, d.digest) for d in plan.deletions}
    assert deleted == {(r.key, r.images[1].digest) for r in repos}
    assert not plan.errors


@pytest.mark.parametrize(
    ("images_waiting", "read_early"),
    [
        # No repository waits in its reading slot: beyond the buffer they wait on disk, so the
        # inventory is read whole while the usage is (and memory stays flat).
        (0, 7),  # no buffer: all 7 on disk
        (4, 7),  # 2 repositories of 2 images in the buffer, 5 on disk
        (50_000, 7),  # all of them in the buffer
    ],
)
def test_repositories_waiting_for_the_usage_stay_within_the_memory_bound(
    images_waiting: int, read_early: int
) -> None:
    repos = repositories(7)
    limits = Limits(repositories_at_once=3, images_waiting=images_waiting)
    events, plan = run_sweep(repos, limits)
    kinds = [kind for kind, _ in events]
    last_usage = max(i for i, kind in enumerate(kinds) if kind == "usage done")
    assert kinds[:last_usage].count("read") == read_early
    assert "judged" not in kinds[:last_usage]
    assert kinds.count("judged") == len(repos)
    assert len(plan.deletions) == len(repos)


def test_a_repository_read_to_disk_is_made_whole_only_once_the_usage_is_known() -> None:
    """Made whole earlier, it would wait whole in memory (or go to disk again) while the usage
    is read: it waits on disk instead, and the others are read beside it meanwhile."""
    repos = repositories(6)
    limits = Limits(repositories_at_once=4, images_waiting=2)
    events, plan = run_sweep(repos, limits, on_disk=2)
    kinds = [kind for kind, _ in events]
    last_usage = max(i for i, kind in enumerate(kinds) if kind == "usage done")
    assert kinds[:last_usage].count("read") == len(repos)  # the slots they hold are enough
    assert [key for kind, key in events if kind == "whole"] == [str(r.key) for r in repos[:2]]
    assert min(i for i, kind in enumerate(kinds) if kind == "whole") > last_usage
    assert kinds.count("judged") == len(repos)
    assert len(plan.deletions) == len(repos)


EU, AP = Region("eu-west-1"), Region("ap-southeast-2")


def usage_order(name_task_definitions: int) -> list[tuple[str, str]]:
    """make_plan of one account swept in REGION, with EU and AP enabled too (usage read
    there): REGION's fake usage names `name_task_definitions` task definitions to its ECS
    scope once every other task is blocked, then ends once they are blocked again. The events
    of the usage reads, in order."""
    events: list[tuple[str, str]] = []

    async def fake_usage(ctx: ReadContext, *_: Any) -> UsageScan:
        events.append(("usage started", ctx.region))
        if ctx.region == REGION:
            await anyio.wait_all_tasks_blocked()
            events.append(("chain named", ctx.region))
            for n in range(name_task_definitions):
                ctx.ecs.name_task_definition(f"web:{n}", "service web", "ecs")
            await anyio.wait_all_tasks_blocked()
        events.append(("usage done", ctx.region))
        return UsageScan(AccountRegion(ctx.target.account_id, ctx.region))

    async def fake_inventory(target: AccountTarget, region: Region, *_: Any, **__: Any) -> Any:
        return InventoryScan(target.account_id, region, ())

    async def fake_regions(*_: Any) -> tuple[Region, ...]:
        return (AP, EU, REGION)

    readers = pipeline.Readers(regions=fake_regions, usage=fake_usage, inventory=fake_inventory)
    connections = cast("Connections", FakeConnections(Limits()))
    targets = [AccountTarget(WORKLOADS, (REGION,))]

    async def sweep() -> Any:
        return await pipeline.make_plan(targets, NO_RETENTION, connections, NOW, readers=readers)

    anyio.run(sweep)
    return events


def test_the_usage_of_regions_not_swept_starts_once_the_swept_ones_chain_has_its_work() -> None:
    """The swept region's ECS chain goes first; the other enabled regions' usage starts once
    a burst of its busiest bucket (task definition reads) is named, while it is still read."""
    events = usage_order(FED)
    started = events.index(("usage started", EU)), events.index(("usage started", AP))
    assert events[0] == ("usage started", REGION)
    assert events.index(("chain named", REGION)) < min(started)  # nothing else went first
    assert max(started) < events.index(("usage done", REGION))  # they fill around it


def test_a_chain_naming_less_than_a_burst_lets_the_others_start_when_its_read_ends() -> None:
    events = usage_order(FED - 1)
    started = events.index(("usage started", EU)), events.index(("usage started", AP))
    assert events[0] == ("usage started", REGION)
    assert events.index(("usage done", REGION)) < min(started)
