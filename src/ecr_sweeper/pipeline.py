"""The stages wired together, top to bottom.

    scan (every account × region at once: ECS usage and ECR inventory)
      ── barrier: the whole run's usage set is known ──
    plan (pure, plan.py)
    apply: re-scan and re-plan, delete only what both plans delete, per repository at once

Per-account/region failures become ScanErrors (values), never exceptions that cancel the
siblings: one account denying access must not stop the others from being read — and the
planner then deletes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import anyio

from ecr_sweeper.aws.ecr import DeleteOutcome, delete_images, scan_inventory
from ecr_sweeper.aws.ecs import scan_usage
from ecr_sweeper.aws.limits import describe_errors
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.model import (
    AccountTarget,
    Decision,
    InventoryScan,
    Plan,
    Policy,
    Region,
    RepositoryKey,
    ScanError,
    Sources,
    UsageScan,
)
from ecr_sweeper.plan import build_plan, recheck

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


async def scan(
    targets: Sequence[AccountTarget],
    connections: Connections,
    progress: Progress = _quiet,
    sources: Sources | None = None,
) -> tuple[list[UsageScan], list[InventoryScan]]:
    """Read usage and inventory of every target account × region, concurrently."""
    usage: list[UsageScan] = []
    inventory: list[InventoryScan] = []
    gate = anyio.CapacityLimiter(connections.limits.regions_at_once)

    async def one(target: AccountTarget, region: Region) -> None:
        async with gate:
            api = connections.api(target.account_id, region)
            try:
                ecs = await connections.client(target, region, "ecs")
                ecr = await connections.client(target, region, "ecr")
            except Exception as exc:
                lines = describe_errors(exc)
                subject = f"credentials {target.account_id}/{region}"
                usage.append(
                    UsageScan(
                        target.account_id,
                        region,
                        errors=tuple(
                            ScanError("usage", target.account_id, region, subject, line)
                            for line in lines
                        ),
                    )
                )
                inventory.append(InventoryScan(target.account_id, region))
                progress(f"{target.account_id}/{region}: cannot connect: {lines[0]}")
                return

            async def read_usage() -> None:
                usage.append(await scan_usage(target, region, ecs, api, progress))

            async def read_inventory() -> None:
                inventory.append(await scan_inventory(target, region, ecr, api, progress))

            async with anyio.create_task_group() as tg:
                tg.start_soon(read_usage)
                tg.start_soon(read_inventory)

    async with anyio.create_task_group() as tg:
        for target in targets:
            for region in target.regions:
                tg.start_soon(one, target, region)
    usage.sort(key=lambda s: (s.account_id, s.region))
    inventory.sort(key=lambda s: (s.account_id, s.region))
    return usage, inventory


async def make_plan(
    targets: Sequence[AccountTarget],
    policy: Policy,
    connections: Connections,
    now: datetime,
    progress: Progress = _quiet,
    *,
    sources: Sources | None = None,
) -> Plan:
    """Scan everything, then plan. Nothing is planned before the whole usage set is known."""
    sources = sources or Sources()
    usage, inventory = await scan(targets, connections, progress, sources)
    return build_plan(usage, inventory, policy, now, targets, sources=sources)


@dataclass(slots=True)
class ApplyResult:
    """What `apply` did: the fresh plan it re-checked against, and each image's outcome."""

    fresh: Plan
    outcome: DeleteOutcome
    skipped: list[tuple[Decision, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every image that was still to delete is gone."""
        return not self.outcome.failed and not self.outcome.still_referenced


async def apply_plan(
    reviewed: Plan, connections: Connections, now: datetime, progress: Progress = _quiet
) -> ApplyResult:
    """Re-scan, keep only the deletions the fresh plan agrees with, and delete them."""
    fresh = await make_plan(
        reviewed.targets, reviewed.policy, connections, now, progress, sources=reviewed.sources
    )
    to_delete, skipped = recheck(reviewed, fresh)
    outcome = DeleteOutcome()
    by_repository: dict[RepositoryKey, list[Decision]] = defaultdict(list)
    for decision in to_delete:
        by_repository[decision.repository].append(decision)
    targets = {t.account_id: t for t in reviewed.targets}

    async def delete_in(key: RepositoryKey, decisions: list[Decision]) -> None:
        try:
            ecr = await connections.client(targets[key.account_id], key.region, "ecr")
        except Exception as exc:
            why = "; ".join(describe_errors(exc))
            outcome.failed.extend((d, why) for d in decisions)
            return
        api = connections.api(key.account_id, key.region)
        await delete_images(ecr, api, key, decisions, outcome)
        progress(f"apply {key}: {len(decisions)} images processed")

    async with anyio.create_task_group() as tg:
        for key, decisions in sorted(by_repository.items()):
            tg.start_soon(delete_in, key, decisions)
    return ApplyResult(fresh, outcome, skipped)
