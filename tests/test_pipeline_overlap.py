"""make_plan reads the inventory while the usage is read, and still judges nothing before the
whole usage is known (the planner's invariant 3: the usage set is global). No AWS: the usage
and inventory readers are fakes, so "the inventory read everything it could" is a fact of the
event loop (every task blocked), not a timing."""

from __future__ import annotations

from typing import Any, cast

import anyio
import pytest

from ecr_sweeper import pipeline
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


def repositories(n: int) -> list[Repository]:
    """`n` repositories of the registry account, each with a used and an unused image."""
    return [
        Repository(
            key(f"app{i}", REGISTRY),
            (image(f"used{i}", "v1"), image(f"unused{i}", "old")),
        )
        for i in range(n)
    ]


def run_sweep(repos: list[Repository], limits: Limits) -> tuple[list[tuple[str, str]], Any]:
    """make_plan with fake readers (passed in as its `Readers`): the workloads account's
    usage uses every repository's `v1` image, and finishes only once every other task is
    blocked (the inventory has read all it may); the registry's inventory hands `repos` to the
    judge. Returns the events in
    order and the plan."""
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
        target: AccountTarget, region: Region, *_: Any, judge: Any, gate: Any, **__: Any
    ) -> InventoryScan:
        async def one(repo: Repository) -> None:
            async with gate:
                events.append(("read", str(repo.key)))
                await judge(repo)

        if target.account_id == REGISTRY:
            async with anyio.create_task_group() as tg:
                for repo in repos:
                    tg.start_soon(one, repo)
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
