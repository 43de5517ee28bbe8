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
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import anyio

from ecr_sweeper.aws.ecr import DeleteOutcome, delete_images, scan_inventory
from ecr_sweeper.aws.limits import describe_errors
from ecr_sweeper.aws.session import Connections, enabled_regions
from ecr_sweeper.aws.usage import UsageContext, scan_usage
from ecr_sweeper.aws.usage.ecs_services import EcsServices
from ecr_sweeper.aws.usage.ecs_tasks import EcsTasks
from ecr_sweeper.aws.usage.lambdas import Lambdas
from ecr_sweeper.aws.usage.rollback import RollbackWindow
from ecr_sweeper.aws.usage.schedules import Schedules
from ecr_sweeper.external import external_usage
from ecr_sweeper.journal import DONE, Journal, JournalKey
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
from ecr_sweeper.plan import build_plan, drain, recheck

# Progress is reported as lines. A line that starts with "[k/n] " marks step k of n of the
# current phase (account × regions scanned, images deleted), for a progress bar to follow.
Progress = Callable[[str], None]

# The usage sources every account × region is read with (each checks whether it is enabled);
# the rollback window runs after the others, on the families they found.
USAGE_SOURCES = (EcsServices(), EcsTasks(), Schedules(), Lambdas())
USAGE_AFTER = (RollbackWindow(),)


def _quiet(_: str) -> None:
    pass


async def scan(
    targets: Sequence[AccountTarget],
    connections: Connections,
    now: datetime,
    progress: Progress = _quiet,
    sources: Sources | None = None,
    *,
    read_tags: bool = False,
) -> tuple[list[UsageScan], list[InventoryScan]]:
    """Read usage and inventory of every target account × region, concurrently.
    `read_tags` reads repositories' resource tags (for the opt-in mode)."""
    sources = sources or Sources()
    usage: list[UsageScan] = []
    inventory: list[InventoryScan] = []
    gate = anyio.CapacityLimiter(connections.limits.regions_at_once)
    total = sum(len(t.regions) or 1 for t in targets)  # corrected as enabled regions are found
    done = 0

    async def one(target: AccountTarget, region: Region) -> None:
        nonlocal done
        async with gate:
            await read(target, region)
        done += 1
        progress(f"[{done}/{total}] scanned {target.account_id}/{region}")

    async def read(target: AccountTarget, region: Region) -> None:
        api = connections.api(target.account_id, region)
        try:
            ecr = await connections.client(target, region, "ecr")
        except Exception as exc:  # noqa: BLE001 - an unreachable account is an error value
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

        async def client(service: str) -> Any:
            return await connections.client(target, region, service)

        async def read_usage() -> None:
            ctx = UsageContext(target, region, api, client, sources, now)
            usage.append(await scan_usage(ctx, USAGE_SOURCES, USAGE_AFTER, progress))

        async def read_inventory() -> None:
            inventory.append(
                await scan_inventory(target, region, ecr, api, progress, read_tags=read_tags)
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_usage)
            tg.start_soon(read_inventory)

    async def account(target: AccountTarget) -> None:
        nonlocal total
        regions = target.regions
        if not regions:
            try:
                regions = await enabled_regions(target, connections)
            except Exception as exc:  # noqa: BLE001 - an account we cannot place is an error value
                subject = f"regions of {target.account_id}"
                usage.extend(
                    UsageScan(
                        target.account_id,
                        Region("-"),
                        errors=(ScanError("usage", target.account_id, None, subject, line),),
                    )
                    for line in describe_errors(exc)
                )
                return
            total += len(regions) - 1
            progress(f"{target.account_id}: {len(regions)} enabled regions")
        async with anyio.create_task_group() as tg:
            for region in regions:
                tg.start_soon(one, target, region)

    async with anyio.create_task_group() as tg:
        for target in targets:
            tg.start_soon(account, target)
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
    usage, inventory = await scan(
        targets, connections, now, progress, sources, read_tags=policy.opt_in_tag is not None
    )
    return plan_from_scans(usage, inventory, policy, now, targets=targets, sources=sources)


def plan_from_scans(
    usage: Sequence[UsageScan],
    inventory: list[InventoryScan],
    policy: Policy,
    now: datetime,
    *,
    targets: Sequence[AccountTarget],
    sources: Sources,
) -> Plan:
    """The barrier: every scan is in (from this process, or from every shard); add the
    external references and plan. Consumes `inventory` (emptied as it is planned, so each
    scan's images are freed once judged)."""
    everything = [*usage, external_usage(sources.external_images)]
    return build_plan(everything, drain(inventory), policy, now, targets, sources=sources)


@dataclass(slots=True)
class ApplyResult:
    """What `apply` did: the fresh plan it re-checked against, and each image's outcome."""

    fresh: Plan
    outcome: DeleteOutcome
    skipped: list[tuple[Decision, str]] = field(default_factory=list)
    previously_done: list[Decision] = field(default_factory=list)  # by an earlier, killed run

    @property
    def complete(self) -> bool:
        """Every image that was still to delete is gone."""
        return not self.outcome.failed and not self.outcome.still_referenced


async def apply_plan(
    reviewed: Plan,
    connections: Connections,
    now: datetime,
    progress: Progress = _quiet,
    journal: Journal | None = None,
) -> ApplyResult:
    """Re-scan, keep only the deletions the fresh plan agrees with, and delete them.

    With a journal, what an earlier (killed) run of this plan deleted is skipped, and every
    batch's outcome is appended as soon as AWS answers.
    """
    recorded = journal.open_for(reviewed) if journal else {}
    previously_done = [d for d in reviewed.deletions if recorded.get(_key(d)) in DONE]
    if previously_done:
        progress(f"journal: {len(previously_done)} images were deleted by an earlier run")
        reviewed = replace(
            reviewed,
            deletions=tuple(d for d in reviewed.deletions if recorded.get(_key(d)) not in DONE),
        )
    fresh = await make_plan(
        reviewed.targets, reviewed.policy, connections, now, progress, sources=reviewed.sources
    )
    to_delete, skipped = recheck(reviewed, fresh)
    outcome = DeleteOutcome()
    by_repository: dict[RepositoryKey, list[Decision]] = defaultdict(list)
    for decision in to_delete:
        by_repository[decision.repository].append(decision)
    targets = {t.account_id: t for t in reviewed.targets}

    deleted_so_far = 0

    def batch_done(batch: DeleteOutcome) -> None:
        nonlocal deleted_so_far
        if journal is not None:
            journal.record(batch)
        deleted_so_far += (
            len(batch.deleted)
            + len(batch.already_gone)
            + len(batch.still_referenced)
            + len(batch.failed)
        )
        progress(f"[{deleted_so_far}/{len(to_delete)}] images processed")

    async def delete_in(key: RepositoryKey, decisions: list[Decision]) -> None:
        try:
            ecr = await connections.client(targets[key.account_id], key.region, "ecr")
        except Exception as exc:  # noqa: BLE001 - reported per image; other repositories go on
            why = "; ".join(describe_errors(exc))
            outcome.failed.extend((d, why) for d in decisions)
            return
        api = connections.api(key.account_id, key.region)
        await delete_images(ecr, api, key, decisions, outcome, on_batch=batch_done)
        progress(f"apply {key}: {len(decisions)} images processed")

    async with anyio.create_task_group() as tg:
        for key, decisions in sorted(by_repository.items()):
            tg.start_soon(delete_in, key, decisions)
    return ApplyResult(fresh, outcome, skipped, previously_done)


def _key(d: Decision) -> JournalKey:
    return (d.repository.account_id, d.repository.region, d.repository.name, d.digest)
