"""The stages wired together, top to bottom.

    place every target in its regions
    usage (every account × region at once: the census of every  ┐ at the same time: they
           consumer kind and the readers of those read)         │ draw on different buckets
    inventory (every account × region at once: ECR repositories ┘
           and images), read into a bounded buffer while usage is read
      ── barrier: the whole run's usage set is known ──
    each repository judged by the planner (pure, plan.py) once the usage is complete (those in
           the buffer first, then each as it is read); only decisions are kept
    plan
    apply: re-scan and re-plan, delete only what both plans delete, per repository at once

Per-account/region failures become ScanErrors (values), never exceptions that cancel the
siblings: one account denying access must not stop the others from being read — and the
planner then deletes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import anyio

from ecr_sweeper import wording
from ecr_sweeper.aws.consumers import registry
from ecr_sweeper.aws.consumers.scan import read_context
from ecr_sweeper.aws.consumers.scan import scan_usage as scan_usage_of
from ecr_sweeper.aws.ecr import delete_images, scan_inventory
from ecr_sweeper.aws.limits import describe_errors
from ecr_sweeper.aws.session import Connections, enabled_regions
from ecr_sweeper.collection import fewer_collections
from ecr_sweeper.events import Note, Progress, Step, as_notes, ignore
from ecr_sweeper.external import external_usage
from ecr_sweeper.journal import DONE, Journal, JournalKey
from ecr_sweeper.kube.usage import kubeconfig_usage
from ecr_sweeper.model import (
    AccountNote,
    AccountRegion,
    AccountTarget,
    Decision,
    Digest,
    InventoryScan,
    Plan,
    Policy,
    Region,
    Repository,
    RepositoryKey,
    ScanError,
    ScanScope,
    Sources,
    UsageScan,
    origin_order,
)
from ecr_sweeper.plan import Planner, build_plan, drain, per_repository, recheck_repository
from ecr_sweeper.results import ApplyResult, DeleteOutcome
from ecr_sweeper.spool import Spilled, Spool
from ecr_sweeper.words import plural

# Progress is reported as events (events.py): a Step for each account × region read and image
# deleted, for a progress bar to follow; a Note for every other line. The readers below
# (aws/, kube/) speak lines: `as_notes` makes each a Note.

# Service principal → consumer kind, for the planner to judge repository policies.
PRINCIPAL_KINDS = registry.principal_kinds()


Place = tuple[AccountTarget, Region]  # one account × region to read
RegionsOf = Callable[[AccountTarget, Connections], Awaitable[tuple[Region, ...]]]


async def scan(
    targets: Sequence[AccountTarget],
    connections: Connections,
    now: datetime,
    progress: Progress = ignore,
    sources: Sources | None = None,
    *,
    read_tags: bool = False,
) -> tuple[list[UsageScan], list[InventoryScan]]:
    """Read usage, then inventory, of every target account × region (for `plan --shard`).
    `read_tags` reads repositories' resource tags (for the opt-in mode)."""
    with fewer_collections():
        places, usage = await scan_usage(targets, connections, now, progress, sources)
        inventory = await scan_inventories(places, connections, progress, read_tags=read_tags)
    return usage, inventory


async def scan_usage(
    targets: Sequence[AccountTarget],
    connections: Connections,
    now: datetime,
    progress: Progress = ignore,
    sources: Sources | None = None,
) -> tuple[list[Place], list[UsageScan]]:
    """Place every target in its regions (its own, else every enabled one), and read the
    usage of each account in every enabled region (or `sources.usage_regions` and the swept
    ones) concurrently. Returns the places to sweep, for the inventory to read exactly those,
    and the usage scans (failures as error values, never exceptions)."""
    sources = sources or Sources()
    places, readings, notes = await _place(targets, connections, progress, sources)
    return places, [*notes, *await read_usage(readings, connections, now, progress, sources)]


async def read_usage(
    places: Sequence[Place],
    connections: Connections,
    now: datetime,
    progress: Progress = ignore,
    sources: Sources | None = None,
    *,
    usage_of: Callable[..., Awaitable[UsageScan]] = scan_usage_of,
) -> list[UsageScan]:
    """The usage of each account × region, concurrently, and of the --kubeconfig clusters
    (failures as error values). `usage_of` reads one account × region's."""
    sources = sources or Sources()

    async def read(target: AccountTarget, region: Region) -> UsageScan:
        api = connections.api(target.account_id, region)

        async def client(service: str) -> Any:
            return await connections.client(target, region, service)

        try:
            await client("ecs")  # assumes the role: an unreachable account is one error
        except Exception as exc:  # noqa: BLE001 - an unreachable account is an error value
            errors = _unreachable("usage", target, region, exc)
            progress(Note(f"{target.account_id}/{region}: cannot connect: {errors[0].message}"))
            return UsageScan(AccountRegion(target.account_id, region), errors=errors)
        ctx = read_context(target, region, api=api, client=client, sources=sources, now=now)
        return await usage_of(ctx, registry.KINDS, as_notes(progress))

    usage = await _each_place(
        places, connections.limits.usage_regions_at_once, progress, "usage read", read
    )
    usage += await kubeconfig_usage(sources, connections.retry, as_notes(progress))  # --kubeconfig
    usage.sort(key=lambda s: origin_order(s.origin))
    return usage


async def scan_inventories(
    places: Sequence[Place],
    connections: Connections,
    progress: Progress = ignore,
    *,
    read_tags: bool = False,
    judge: Callable[[Repository], Awaitable[None]] | None = None,
    inventory_of: Callable[..., Awaitable[InventoryScan]] = scan_inventory,
) -> list[InventoryScan]:
    """Read the ECR inventory of each account × region concurrently. With `judge`, each
    repository goes to it as soon as it is read and is not kept in the scans (which then
    carry only their errors). `inventory_of` reads one account × region's."""

    repositories = anyio.Semaphore(connections.limits.repositories_at_once, fast_acquire=True)

    async def read(target: AccountTarget, region: Region) -> InventoryScan:
        api = connections.api(target.account_id, region)
        try:
            ecr = await connections.client(target, region, "ecr")
        except Exception as exc:  # noqa: BLE001 - an unreachable account is an error value
            errors = _unreachable("inventory", target, region, exc)
            return InventoryScan(target.account_id, region, (), errors)
        return await inventory_of(
            target,
            region,
            ecr,
            api,
            as_notes(progress),
            read_tags=read_tags,
            judge=judge,
            gate=repositories,
        )

    inventory = await _each_place(
        places, connections.limits.regions_at_once, progress, "inventory read", read
    )
    inventory.sort(key=lambda s: (s.account_id, s.region))
    return inventory


def _unreachable(
    scope: ScanScope, target: AccountTarget, region: Region, exc: Exception
) -> tuple[ScanError, ...]:
    """The errors of an account × region whose client cannot be made (role not assumable…)."""
    subject = f"credentials {target.account_id}/{region}"
    return tuple(
        ScanError(scope, target.account_id, region, subject, line) for line in describe_errors(exc)
    )


async def _place(
    targets: Sequence[AccountTarget],
    connections: Connections,
    progress: Progress,
    sources: Sources,
    regions_of: RegionsOf = enabled_regions,
) -> tuple[list[Place], list[Place], list[UsageScan]]:
    """Every (target, region) to sweep, and every one whose usage to read: each account's
    enabled regions (a workload in eu-west-1 may pull from a registry swept in us-east-1), or,
    with `usage_regions`, those and the swept ones, with a warning naming the regions left out.

    An account whose regions cannot be listed is a usage error (its workloads are unknown, so
    the plan is blocked), unless `usage_regions` names where to read and its regions are given.
    """
    places: list[Place] = []
    readings: list[Place] = []
    notes: list[UsageScan] = []
    narrowed = tuple(Region(r) for r in sources.usage_regions)

    def note(target: AccountTarget, **what: Any) -> None:
        notes.append(UsageScan(AccountNote(target.account_id), **what))

    async def account(target: AccountTarget) -> None:
        try:
            enabled: tuple[Region, ...] | None = await regions_of(target, connections)
        except Exception as exc:  # noqa: BLE001 - an account we cannot place is an error value
            enabled = None
            lines = describe_errors(exc)
            if not (narrowed and target.regions):
                subject = f"regions of {target.account_id}"
                errors = tuple(
                    ScanError("usage", target.account_id, None, subject, line) for line in lines
                )
                note(target, errors=errors)
                return
            note(
                target,
                warnings=(
                    f"{target.account_id}: its enabled regions could not be listed "
                    f"({'; '.join(lines)}): usage was read only in --usage-regions and the "
                    "swept regions",
                ),
            )
        swept = target.regions or enabled or ()
        if not target.regions:
            progress(Note(f"{target.account_id}: {plural(len(swept), 'enabled regions')}"))
        read = sorted(set(swept) | set(narrowed or enabled or ()))
        left_out = sorted(set(enabled or ()) - set(read))
        if left_out:  # only when narrowed: else every enabled region is read
            note(
                target,
                warnings=(
                    f"{target.account_id}: usage not read in "
                    f"{plural(len(left_out), 'enabled regions')} left out by --usage-regions, "
                    f"so their consumers protect nothing: {', '.join(left_out)}",
                ),
            )
        places.extend((target, region) for region in swept)
        readings.extend((target, region) for region in read)

    async with anyio.create_task_group() as tg:
        for target in targets:
            tg.start_soon(account, target)
    places.sort(key=lambda p: (p[0].account_id, p[1]))
    readings.sort(key=lambda p: (p[0].account_id, p[1]))
    return places, readings, notes


T = TypeVar("T")


async def _each_place(
    places: Sequence[Place],
    at_once: int,
    progress: Progress,
    what: str,
    read: Callable[[AccountTarget, Region], Awaitable[T]],
) -> list[T]:
    """`read` every place, at most `at_once` at a time, counting them off."""
    gate = anyio.CapacityLimiter(at_once)
    results: list[T] = []

    async def one(target: AccountTarget, region: Region) -> None:
        async with gate:
            results.append(await read(target, region))
        progress(Step(len(results), len(places), f"{what} {target.account_id}/{region}"))

    async with anyio.create_task_group() as tg:
        for target, region in places:
            tg.start_soon(one, target, region)
    return results


@dataclass(frozen=True, slots=True)
class Readers:
    """What `make_plan` reads and judges with: the real ones by default (tests pass fakes)."""

    regions: RegionsOf = enabled_regions  # an account's enabled regions
    usage: Callable[..., Awaitable[UsageScan]] = scan_usage_of  # one account × region's usage
    inventory: Callable[..., Awaitable[InventoryScan]] = scan_inventory  # and its inventory
    planner: type[Planner] = Planner


async def make_plan(
    targets: Sequence[AccountTarget],
    policy: Policy,
    connections: Connections,
    now: datetime,
    progress: Progress = ignore,
    *,
    sources: Sources | None = None,
    readers: Readers = Readers(),
) -> Plan:
    """Read the whole run's usage and, at the same time, its inventory; judge each repository
    once the whole usage is known.

    Nothing is judged before the whole usage set is known (services in one account pull from
    a registry in another): a repository read before that waits, in a buffer of at most
    `Limits.images_waiting` images, else on disk (spool.Spilled), so memory stays bounded; the
    images of a judged repository are not kept, and its decisions go to disk (spool.Spool).
    """
    with fewer_collections():
        return await _make_plan(
            targets, policy, connections, now, progress, sources=sources, readers=readers
        )


async def _make_plan(
    targets: Sequence[AccountTarget],
    policy: Policy,
    connections: Connections,
    now: datetime,
    progress: Progress,
    *,
    sources: Sources | None,
    readers: Readers,
) -> Plan:
    sources = sources or Sources()
    places, readings, notes = await _place(targets, connections, progress, sources, readers.regions)
    judged_after = _AfterUsage(connections.limits.images_waiting)

    async def usage_then_planner() -> None:
        read = await read_usage(
            readings, connections, now, progress, sources, usage_of=readers.usage
        )
        usage = [*notes, *read]
        judged_after.usage_known(
            readers.planner(
                _with_external(usage, sources),
                policy,
                now,
                targets,
                sources,
                principal_kinds=PRINCIPAL_KINDS,
                store=Spool(),  # decisions on disk as repositories are judged
            )
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(usage_then_planner)
        inventory = await scan_inventories(
            places,
            connections,
            progress,
            read_tags=policy.opt_in_tag is not None,
            judge=judged_after.judge,
            inventory_of=readers.inventory,
        )
    return judged_after.planner().plan(e for scan in inventory for e in scan.errors)


class _AfterUsage:
    """The barrier between the inventory and the planner. Until the whole run's usage is known
    (`usage_known` makes the planner from it), `judge` keeps each repository: in a buffer of at
    most `images_waiting` images, else on disk; its reading slot is free for the next
    repository either way. Then every repository goes to the planner: the buffer's first."""

    def __init__(self, images_waiting: int) -> None:
        self._planner: Planner | None = None
        self._buffer: list[Repository] = []
        self._room = images_waiting
        # Beyond the buffer, on disk: memory stays flat however many images are read early.
        self._spilled = Spilled()

    def usage_known(self, planner: Planner) -> None:
        """The usage of every account × region is read; `planner` was made from all of it."""
        self._planner = planner
        for repository in self._buffer:
            planner.judge(repository)
        self._buffer.clear()
        for repository in self._spilled.drain():
            planner.judge(repository)

    async def judge(self, repository: Repository) -> None:
        """Judge a repository once the whole usage is known (keep it until then: in the
        buffer, else on disk)."""
        if self._planner is not None:
            self._planner.judge(repository)
        elif len(repository.images) <= self._room:
            self._room -= len(repository.images)
            self._buffer.append(repository)
        else:
            self._spilled.put(repository)

    def planner(self) -> Planner:
        """The planner (only once the usage is known)."""
        if self._planner is None:
            raise RuntimeError("the usage is not known yet: nothing can be judged")
        return self._planner


def plan_from_scans(
    usage: Sequence[UsageScan],
    inventory: list[InventoryScan],
    policy: Policy,
    now: datetime,
    *,
    targets: Sequence[AccountTarget],
    sources: Sources,
) -> Plan:
    """Plan from every shard's scans. Consumes `inventory` (emptied as it is planned, so
    each scan's images are freed once judged)."""
    everything = _with_external(usage, sources)
    return build_plan(
        everything,
        drain(inventory),
        policy,
        now,
        targets,
        sources=sources,
        principal_kinds=PRINCIPAL_KINDS,
        store=Spool(),
    )


def _with_external(usage: Sequence[UsageScan], sources: Sources) -> list[UsageScan]:
    """The run's usage and the external references (a file or stdin)."""
    return [*usage, external_usage(sources.external_images)]


async def apply_plan(
    reviewed: Plan,
    connections: Connections,
    now: datetime,
    progress: Progress = ignore,
    journal: Journal | None = None,
) -> ApplyResult:
    """Re-scan, keep only the deletions the fresh plan agrees with, and delete them.

    With a journal, what an earlier (killed) run of this plan deleted is skipped, and every
    batch's outcome is appended as soon as AWS answers.
    """
    recorded = journal.open_for(reviewed) if journal else {}
    previously_done = [d for d in reviewed.deletions if recorded.get(_key(d)) in DONE]
    if previously_done:
        progress(Note(f"journal: {len(previously_done)} images were deleted by an earlier run"))
    fresh = await make_plan(
        reviewed.targets, reviewed.policy, connections, now, progress, sources=reviewed.sources
    )
    outcome = DeleteOutcome()
    skipped: list[tuple[Decision, str]] = []
    targets = {t.account_id: t for t in reviewed.targets}
    planned = len(reviewed.deletions) - len(previously_done)  # at most this many to delete
    unread = {(e.account_id, e.region) for e in fresh.errors}
    # Repository by repository: a few in memory at once (those being deleted), never the plan.
    at_once = anyio.Semaphore(connections.limits.repositories_at_once)

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
        progress(Step(deleted_so_far, planned, "images processed"))

    async def delete_in(key: RepositoryKey, decisions: list[Decision]) -> None:
        try:
            ecr = await connections.client(targets[key.account_id], key.region, "ecr")
        except Exception as exc:  # noqa: BLE001 - reported per image; other repositories go on
            why = "; ".join(describe_errors(exc))
            outcome.failed.extend((d, why) for d in decisions)
            return
        api = connections.api(key.account_id, key.region)
        await delete_images(ecr, api, key, decisions, outcome, on_batch=batch_done)
        progress(Note(f"apply {key}: {plural(len(decisions), 'images')} processed"))

    async def one_repository(key: RepositoryKey, decisions: list[Decision]) -> None:
        try:
            await delete_in(key, decisions)
        finally:
            at_once.release()

    async with anyio.create_task_group() as tg:
        for group, (still, now_kept) in per_repository(
            reviewed.deletions, fresh.deletions, fresh.kept
        ):
            todo = [d for d in group if recorded.get(_key(d)) not in DONE]
            to_delete, why_skipped = recheck_repository(
                todo, still, now_kept, blocked=fresh.blocked
            )
            # A planned image the re-check's inventory no longer has, where that inventory was
            # read without error (its repository, or just the image, was deleted since):
            # already gone.
            seen = {d.digest for d in (*still, *now_kept)}
            gone = [] if fresh.blocked else _vanished([d for d, _ in why_skipped], seen, unread)
            if gone:
                outcome.already_gone.extend(gone)
                if journal is not None:
                    journal.record(DeleteOutcome(already_gone=gone))
            gone_now = set(gone)
            # In words here: ApplyResult carries them as text (the renderer's, with its flags).
            skipped += ((d, wording.reason(why)) for d, why in why_skipped if d not in gone_now)
            if to_delete:
                await at_once.acquire()
                tg.start_soon(one_repository, to_delete[0].repository, to_delete)
    return ApplyResult(fresh, outcome, skipped, previously_done)


def _vanished(
    decisions: Sequence[Decision], seen: set[Digest], unread: Container[tuple[object, object]]
) -> list[Decision]:
    """Those of `decisions` (of one repository) the re-check did not see (`seen`: the digests
    its fresh plan has there), in an account × region it read without error."""
    return [
        d
        for d in decisions
        if d.digest not in seen
        and (d.repository.account_id, d.repository.region) not in unread
        and (d.repository.account_id, None) not in unread
    ]


def _key(d: Decision) -> JournalKey:
    return (d.repository.account_id, d.repository.region, d.repository.name, d.digest)
