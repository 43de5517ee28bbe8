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
           (or archive it: apply --quarantine; `restore` brings it back)

Per-account/region failures become ScanErrors (values), never exceptions that cancel the
siblings: one account denying access must not stop the others from being read — and the
planner then deletes nothing.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections import defaultdict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Container,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ecr_sweeper import wording
from ecr_sweeper.aws.consumers import registry
from ecr_sweeper.aws.consumers.scan import read_context
from ecr_sweeper.aws.consumers.scan import scan_usage as scan_usage_of
from ecr_sweeper.aws.ecr import (
    BATCH_DELETE_MAX,
    CALLS_AT_ONCE,
    archive_images,
    delete_images,
    restore_images,
    scan_inventory,
)
from ecr_sweeper.aws.inspector import InspectorWitness, inspector_witness
from ecr_sweeper.aws.limits import ImageBudget, describe_errors
from ecr_sweeper.aws.session import Connections, enabled_regions
from ecr_sweeper.collection import fewer_collections
from ecr_sweeper.events import Note, Progress, Step, as_notes, ignore
from ecr_sweeper.external import external_usage
from ecr_sweeper.journal import DONE, QUARANTINE_DONE, Journal, JournalKey, Recorded
from ecr_sweeper.kube.usage import kubeconfig_usage
from ecr_sweeper.model import (
    AccountId,
    AccountNote,
    AccountRegion,
    AccountTarget,
    Code,
    Decision,
    Digest,
    InventoryScan,
    Plan,
    Policy,
    Quarantined,
    Reason,
    Region,
    Repository,
    RepositoryKey,
    ScanError,
    ScanScope,
    Sources,
    UsageScan,
    origin_order,
)
from ecr_sweeper.plan import (
    DecisionStore,
    InventoryRead,
    Planner,
    build_plan,
    drain,
    per_repository,
    recheck_repository,
)
from ecr_sweeper.results import ApplyResult, DeleteOutcome, Outcomes, RestoreLine
from ecr_sweeper.spool import Pieces, Spilled, Spool, SpooledOutcomes, Where
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
    read_pull_exclusions: bool = False,
    read_inspector: bool = False,
) -> tuple[list[UsageScan], list[InventoryScan]]:
    """Read usage, then inventory, of every target account × region (for `plan --shard`).
    `read_tags` reads repositories' resource tags (for the opt-in mode); the witnesses'
    reads are `scan_inventories`'."""
    with fewer_collections():
        places, usage = await scan_usage(targets, connections, now, progress, sources)
        inventory = await scan_inventories(
            places,
            connections,
            progress,
            read_tags=read_tags,
            read_pull_exclusions=read_pull_exclusions,
            read_inspector=read_inspector,
        )
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
    usage = await read_usage(readings, connections, now, progress, sources, swept=places)
    return places, [*notes, *usage]


async def read_usage(
    places: Sequence[Place],
    connections: Connections,
    now: datetime,
    progress: Progress = ignore,
    sources: Sources | None = None,
    *,
    usage_of: Callable[..., Awaitable[UsageScan]] = scan_usage_of,
    swept: Sequence[Place] = (),
) -> list[UsageScan]:
    """The usage of each account × region, concurrently, and of the --kubeconfig clusters
    (failures as error values). `usage_of` reads one account × region's.

    The critical path first: the usage of the `swept` places starts at once, and that of the
    others (read only for what their workloads use) once every swept place's ECS chain has its
    busiest bucket's work queued (`EcsScope.on_under_way`) or its usage is read: they fill
    around it instead of delaying it."""
    sources = sources or Sources()
    critical = _CriticalFirst(places, swept)

    async def read(target: AccountTarget, region: Region) -> UsageScan:
        try:
            return await read_one(target, region)
        finally:
            critical.under_way(target, region)

    async def read_one(target: AccountTarget, region: Region) -> UsageScan:
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
        if critical.first(target, region):
            ctx.ecs.on_under_way = partial(critical.under_way, target, region)
        return await usage_of(ctx, registry.KINDS, as_notes(progress))

    usage = await _each_place(
        critical.ordered(),
        connections.limits.usage_regions_at_once,
        progress,
        "usage read",
        read,
        wait=critical.wait,
    )
    usage += await kubeconfig_usage(sources, connections.retry, as_notes(progress))  # --kubeconfig
    usage.sort(key=lambda s: origin_order(s.origin))
    return usage


# The services the inventory reads (ECR's images, Inspector's witness) and apply calls.
INVENTORY_SERVICES = frozenset({"ecr", "inspector2"})


async def scan_inventories(
    places: Sequence[Place],
    connections: Connections,
    progress: Progress = ignore,
    *,
    read_tags: bool = False,
    judge: Callable[[Repository], Awaitable[None]] | None = None,
    whole: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext,
    inventory_of: Callable[..., Awaitable[InventoryScan]] = scan_inventory,
    read_pull_exclusions: bool = False,
    read_inspector: bool = False,
) -> list[InventoryScan]:
    """Read the ECR inventory of each account × region concurrently. With `judge`, each
    repository goes to it as soon as it is read and is not kept in the scans (which then
    carry only their errors); one whose images went to disk as it was read is made whole
    and judged in a `whole()` block. `inventory_of` reads one account × region's."""

    repositories = anyio.Semaphore(connections.limits.repositories_at_once, fast_acquire=True)
    # Repositories begun (policy read, or waiting for a place among `repositories`): a task
    # each, a few KB, so not every repository of the org at once.
    begun = anyio.Semaphore(2 * connections.limits.repositories_at_once, fast_acquire=True)
    # A repository waiting for its turn (larger than a quarter of the budget) leaves the rest
    # to the small ones.
    images = ImageBudget(
        connections.limits.images_in_memory, most=connections.limits.images_in_memory // 4
    )

    async def read(target: AccountTarget, region: Region) -> InventoryScan:
        api = connections.api(target.account_id, region)
        try:
            ecr = await connections.client(target, region, "ecr")
        except Exception as exc:  # noqa: BLE001 - an unreachable account is an error value
            errors = _unreachable("inventory", target, region, exc)
            return InventoryScan(target.account_id, region, (), errors)
        witness = (
            await _inspector(target, region, connections) if read_inspector else InspectorWitness()
        )
        scan = await inventory_of(
            target,
            region,
            ecr,
            api,
            as_notes(progress),
            read_tags=read_tags,
            judge=judge,
            gate=repositories,
            begun=begun,
            budget=images,
            whole=whole,
            read_pull_exclusions=read_pull_exclusions,
            inspector_in_use=witness.in_use or {},
        )
        if witness.error is None:
            return scan
        note = (
            f"{target.account_id}/{region}: Amazon Inspector's coverage not read "
            f"({witness.error}): its witness of images in use holds nothing here"
        )
        return replace(scan, notes=(*scan.notes, note))

    inventory = await _each_place(
        places, connections.limits.regions_at_once, progress, "inventory read", read
    )
    inventory.sort(key=lambda s: (s.account_id, s.region))
    return inventory


async def _inspector(
    target: AccountTarget, region: Region, connections: Connections
) -> InspectorWitness:
    """Amazon Inspector's witness of the images in use in one account × region (aws/inspector)."""
    try:
        inspector = await connections.client(target, region, "inspector2")
    except Exception as exc:  # noqa: BLE001 - a line of the plan, not an error of the run
        return InspectorWitness(error="; ".join(describe_errors(exc)))
    api = connections.api(target.account_id, region)
    return await inspector_witness(inspector, api, target.account_id)


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


class _CriticalFirst:
    """Which usage reads go first (those of the swept places, whose ECS chains feed the run's
    busiest buckets), and when the others may start: once each first one's chain is under way
    (`under_way`, told once per place, by its ECS scope or at the end of its read)."""

    def __init__(self, places: Sequence[Place], swept: Sequence[Place]) -> None:
        swept_keys = {(target.account_id, region) for target, region in swept}
        self._places = places
        self._first = {
            (target.account_id, region)
            for target, region in places
            if (target.account_id, region) in swept_keys
        }
        self._pending = set(self._first)
        self._all_under_way = anyio.Event()
        if not self._pending:
            self._all_under_way.set()

    def first(self, target: AccountTarget, region: Region) -> bool:
        """Whether this place's usage read is on the critical path (starts at once)."""
        return (target.account_id, region) in self._first

    def ordered(self) -> list[Place]:
        """The places, the first ones first (in their order), then the others."""
        return sorted(self._places, key=lambda place: not self.first(*place))

    def under_way(self, target: AccountTarget, region: Region) -> None:
        """This first place's chain has its work queued, or its read ended."""
        self._pending.discard((target.account_id, region))
        if not self._pending:
            self._all_under_way.set()

    async def wait(self, target: AccountTarget, region: Region) -> None:
        """Until this place may start: at once for a first one, else once all are under way."""
        if not self.first(target, region):
            await self._all_under_way.wait()


T = TypeVar("T")


async def _each_place(
    places: Sequence[Place],
    at_once: int,
    progress: Progress,
    what: str,
    read: Callable[[AccountTarget, Region], Awaitable[T]],
    *,
    wait: Callable[[AccountTarget, Region], Awaitable[None]] | None = None,
) -> list[T]:
    """`read` every place, at most `at_once` at a time (each after `wait` for it, without
    holding a slot meanwhile), counting them off."""
    gate = anyio.CapacityLimiter(at_once)
    results: list[T] = []

    async def one(target: AccountTarget, region: Region) -> None:
        if wait is not None:
            await wait(target, region)
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
    quarantined: Sequence[Quarantined] = (),
) -> Plan:
    """Read the whole run's usage and, at the same time, its inventory; judge each repository
    once the whole usage is known. `quarantined`: what this tool archived (its journal).

    Nothing is judged before the whole usage set is known (services in one account pull from
    a registry in another): a repository read before that waits, in a buffer of at most
    `Limits.images_waiting` images, else on disk (spool.Spilled), so memory stays bounded; the
    images of a judged repository are not kept, and its decisions go to disk (spool.Spool).
    """
    with fewer_collections():
        return await _make_plan(
            targets,
            policy,
            connections,
            now,
            progress,
            sources=sources,
            readers=readers,
            quarantined=quarantined,
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
    quarantined: Sequence[Quarantined],
) -> Plan:
    sources = sources or Sources()
    places, readings, notes = await _place(targets, connections, progress, sources, readers.regions)
    judged_after = _AfterUsage(connections.limits.images_waiting)

    async def usage_then_planner() -> None:
        read = await read_usage(
            readings, connections, now, progress, sources, usage_of=readers.usage, swept=places
        )
        # What the usage read through, the inventory does not: its clients go before judging.
        await connections.close_services(keep=INVENTORY_SERVICES)
        # A closed client is reference cycles (about 4,000 objects each, counted for one
        # SageMaker client): freed now, before the repositories waiting on disk are made whole,
        # not at the next full collection (rare, with fewer_collections and a large live set).
        gc.collect()
        usage = [*notes, *read]
        judged_after.usage_known(
            readers.planner(
                _with_external(usage, sources),
                policy,
                now,
                targets,
                sources,
                principal_kinds=PRINCIPAL_KINDS,
                quarantined=quarantined,
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
            whole=judged_after.whole,
            inventory_of=readers.inventory,
            read_pull_exclusions=witnessed(policy),
            read_inspector=True,
        )
    return judged_after.planner().plan(
        (e for scan in inventory for e in scan.errors),
        (scan.pull_exclusions for scan in inventory if scan.pull_exclusions),
    )


def witnessed(policy: Policy) -> bool:
    """Whether the pull witness is on for some repository (its registries' pull-time update
    exclusions are then read, to say whose pulls count)."""
    return policy.pulled_within_days > 0 or any(
        (r.retention.keep_pulled_within_days or 0) > 0 for r in policy.rules
    )


class _AfterUsage:
    """The barrier between the inventory and the planner. Until the whole run's usage is known
    (`usage_known` makes the planner from it), `judge` keeps each repository: in a buffer of at
    most `images_waiting` images, else on disk; its reading slot is free for the next
    repository either way. Then every repository goes to the planner: the buffer's first."""

    def __init__(self, images_waiting: int) -> None:
        self._planner: Planner | None = None
        self._known = anyio.Event()
        self._one_whole = anyio.Lock()
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
        self._known.set()

    @contextlib.asynccontextmanager
    async def whole(self) -> AsyncIterator[None]:
        """The block in which a repository whose images went to disk as it was read (beyond
        its share of the inventory's budget, or rather than wait for room) is made whole again
        and judged: once the usage is known (made whole earlier, it would wait whole in
        memory, or be put on disk again), and one such repository at a time."""
        await self._known.wait()
        async with self._one_whole:
            yield

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
    inventory: Iterable[InventoryRead],
    policy: Policy,
    now: datetime,
    *,
    targets: Sequence[AccountTarget],
    sources: Sources,
    quarantined: Sequence[Quarantined] = (),
    store: DecisionStore | None = None,
) -> Plan:
    """Plan from every shard's scans. Consumes `inventory` (a list is emptied as it is
    planned, so each scan's images are freed once judged; a shard file's scans read their
    repositories one at a time). The decisions go to `store` (on disk by default)."""
    everything = _with_external(usage, sources)
    return build_plan(
        everything,
        drain(inventory) if isinstance(inventory, list) else inventory,
        policy,
        now,
        targets,
        sources=sources,
        principal_kinds=PRINCIPAL_KINDS,
        quarantined=quarantined,
        store=store if store is not None else Spool(),
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
    *,
    quarantine: bool = False,
) -> ApplyResult:
    """Re-scan, keep only the deletions the fresh plan agrees with, and delete them (archive
    them, with `quarantine`: ECR's archive storage class, undone by `restore`).

    With a journal, what an earlier (killed) run of this plan deleted is skipped, and every
    batch's outcome is appended as soon as AWS answers.
    """
    recorded = journal.open_for(reviewed) if journal else Recorded()
    done = QUARANTINE_DONE if quarantine else DONE
    if journal is not None and quarantine:
        journal.at = now  # the record a later plan counts the quarantine's days from
    earlier = sum(recorded.get(_key(d)) in done for d in reviewed.deletions) if recorded else 0
    if earlier:
        done_as = "archived or deleted" if quarantine else "deleted"
        progress(Note(f"journal: {earlier} images were {done_as} by an earlier run"))
    fresh = await make_plan(
        reviewed.targets,
        reviewed.policy,
        connections,
        now,
        progress,
        sources=reviewed.sources,
        quarantined=reviewed.quarantined,
    )
    # On disk as it is done: what apply did is listed per image afterwards, never held whole.
    outcome = SpooledOutcomes()
    targets = {t.account_id: t for t in reviewed.targets}
    planned = len(reviewed.deletions) - earlier  # at most this many to delete
    unread = {(e.account_id, e.region) for e in fresh.errors}
    # The plan is read repository by repository, in its order (account, region, repository),
    # and each repository's re-checked deletions wait on disk for their account × region's
    # deleter: one per account × region, each deleting at its buckets' rate with one piece of
    # its deletions in memory, all the regions at once (up to `regions_at_once`), never one
    # region after another as the plan's order would have them.
    waiting = Pieces[Decision](BATCH_DELETE_MAX * CALLS_AT_ONCE)
    deleters = anyio.Semaphore(connections.limits.regions_at_once)

    deleted_so_far = 0

    def batch_done(batch: DeleteOutcome) -> None:
        nonlocal deleted_so_far
        if journal is not None:
            journal.record(batch)
        deleted_so_far += (
            len(batch.deleted)
            + len(batch.archived)
            + len(batch.already_archived)
            + len(batch.already_gone)
            + len(batch.still_referenced)
            + len(batch.failed)
        )
        progress(Step(deleted_so_far, planned, "images processed"))

    async def deleter(queue: MemoryObjectReceiveStream[_Waiting]) -> None:
        """One account × region's deletions, repository after repository, piece by piece."""
        async with deleters, queue:
            async for waiting_here in queue:
                key = waiting_here.key
                for where in waiting_here.pieces:  # image indexes' pieces first
                    decisions = waiting.load(where)
                    await _apply_in(
                        connections,
                        targets[key.account_id],
                        key,
                        archive=decisions if quarantine else [],
                        decisions=decisions,
                        over=waiting_here.over,
                        outcome=outcome,
                        batch_done=batch_done,
                    )
                progress(Note(f"apply {key}: {plural(waiting_here.count, 'images')} processed"))

    async with anyio.create_task_group() as tg:
        regions = _ByRegion(tg, deleter)
        for group, (still, now_kept) in per_repository(
            reviewed.deletions, fresh.deletions, fresh.kept
        ):
            todo, by_earlier_run = _not_done(group, recorded, done)
            outcome.merge(by_earlier_run)
            to_delete, why_skipped = recheck_repository(
                todo, still, now_kept, blocked=fresh.blocked
            )
            gone = _gone(why_skipped, still, now_kept, fresh.blocked, unread)
            if gone:
                outcome.merge(DeleteOutcome(already_gone=gone))
                if journal is not None:
                    journal.record(DeleteOutcome(already_gone=gone))
            gone_now = set(gone)
            # In words here: ApplyResult carries them as text (the renderer's, with its flags).
            skip = [(d, wording.reason(why)) for d, why in why_skipped if d not in gone_now]
            outcome.merge(DeleteOutcome(skipped=skip))
            await anyio.lowlevel.checkpoint()  # the deleters go on while the plan is read
            if to_delete:
                # A quarantine that is over is deleted, even by an apply that quarantines the rest.
                over = {d for d, why in still.items() if why.code is Code.QUARANTINE_OVER}
                # Image indexes before the manifests they list: their pieces first.
                ordered = sorted(to_delete, key=lambda d: not d.is_index)
                regions.put(
                    _Waiting(ordered[0].repository, waiting.put(ordered), over, len(ordered))
                )
        regions.close()
    return ApplyResult(fresh, outcome, quarantine=quarantine)


def _not_done(
    group: Sequence[Decision], recorded: Recorded, done: Container[str]
) -> tuple[list[Decision], DeleteOutcome]:
    """The planned deletions an earlier run of the plan did not do (its journal, `recorded`),
    and those it did."""
    todo: list[Decision] = []
    by_earlier_run = DeleteOutcome()
    for d in group:
        (by_earlier_run.done_earlier if recorded.get(_key(d)) in done else todo).append(d)
    return todo, by_earlier_run


class _ByRegion:
    """Work handed to one worker per account × region as it comes, in the plan's order
    (account, region, repository): a region's worker starts with its first work, and is told
    there is no more when the next region's comes."""

    def __init__(
        self,
        tg: TaskGroup,
        worker: Callable[[MemoryObjectReceiveStream[_Waiting]], Coroutine[Any, Any, None]],
    ) -> None:
        self._tg = tg
        self._worker = worker
        self._place: tuple[AccountId, Region] | None = None
        self._queue: MemoryObjectSendStream[_Waiting] | None = None

    def put(self, work: _Waiting) -> None:
        place = (work.key.account_id, work.key.region)
        if self._queue is None or place != self._place:
            self.close()
            self._place = place
            self._queue, queued = anyio.create_memory_object_stream[_Waiting](math.inf)
            self._tg.start_soon(self._worker, queued)
        self._queue.send_nowait(work)

    def close(self) -> None:
        """No more work for the current region."""
        if self._queue is not None:
            self._queue.close()


@dataclass(frozen=True, slots=True)
class _Waiting:
    """A repository's re-checked deletions, waiting on disk (`pieces`) for its region's
    deleter; `over`: those whose quarantine is over (deleted, even when quarantining)."""

    key: RepositoryKey
    pieces: list[Where]
    over: set[Digest]
    count: int


async def _apply_in(
    connections: Connections,
    target: AccountTarget,
    key: RepositoryKey,
    *,
    archive: list[Decision],
    decisions: list[Decision],
    over: set[Digest],
    outcome: Outcomes,
    batch_done: Callable[[DeleteOutcome], None],
) -> None:
    """Apply one repository's re-checked decisions: archive those of `archive` (a quarantine)
    whose quarantine is not `over`, delete the rest."""
    try:
        ecr = await connections.client(target, key.region, "ecr")
    except Exception as exc:  # noqa: BLE001 - reported per image; other repositories go on
        why = "; ".join(describe_errors(exc))
        outcome.merge(DeleteOutcome(failed=[(d, why) for d in decisions]))
        return
    api = connections.api(key.account_id, key.region)
    to_archive = [d for d in archive if d.digest not in over]
    if to_archive:
        await archive_images(ecr, api, key, to_archive, outcome, on_image=batch_done)
        decisions = [d for d in decisions if d.digest in over]
    if decisions:
        await delete_images(ecr, api, key, decisions, outcome, on_batch=batch_done)


def _gone(
    why_skipped: Sequence[tuple[Decision, Reason]],
    still: Mapping[Digest, Reason],
    now_kept: Mapping[Digest, Reason],
    blocked: bool,
    unread: Container[tuple[object, object]],
) -> list[Decision]:
    """A planned image of one repository the re-check's inventory no longer has, where that
    inventory was read without error (its repository, or just the image, was deleted since):
    already gone."""
    if blocked:
        return []
    return _vanished([d for d, _ in why_skipped], (still, now_kept), unread)


def _vanished(
    decisions: Sequence[Decision],
    seen: Sequence[Container[Digest]],
    unread: Container[tuple[object, object]],
) -> list[Decision]:
    """Those of `decisions` (of one repository) the re-check did not see (`seen`: the digests
    its fresh plan has there, in its lists), in an account × region it read without error."""
    return [
        d
        for d in decisions
        if not any(d.digest in listed for listed in seen)
        and (d.repository.account_id, d.repository.region) not in unread
        and (d.repository.account_id, None) not in unread
    ]


def _key(d: Decision) -> JournalKey:
    return (d.repository.account_id, d.repository.region, d.repository.name, d.digest)


async def restore_quarantined(
    quarantined: Sequence[Quarantined],
    targets: Sequence[AccountTarget],
    connections: Connections,
    progress: Progress = ignore,
    *,
    tags: Sequence[str] = (),
) -> list[RestoreLine]:
    """`restore`: what a quarantine archived back to ECR's standard storage class, every
    repository at once (each image by its account's target, for the role to assume). An
    account no target names is reached with the base credentials."""
    by_repository: dict[RepositoryKey, list[Quarantined]] = defaultdict(list)
    for record in quarantined:
        by_repository[record.repository].append(record)
    by_account = {t.account_id: t for t in targets}
    lines: list[RestoreLine] = []

    async def restore_in(key: RepositoryKey, records: list[Quarantined]) -> None:
        digests = [r.digest for r in records]
        target = by_account.get(key.account_id) or AccountTarget(key.account_id, (key.region,))
        try:
            ecr = await connections.client(target, key.region, "ecr")
        except Exception as exc:  # noqa: BLE001 - reported per image; other repositories go on
            why = "; ".join(describe_errors(exc))
            lines.extend(RestoreLine(key, d, (), "ARCHIVED", "FAILED", why) for d in digests)
            return
        api = connections.api(key.account_id, key.region)
        found = await restore_images(ecr, api, key, digests, tags)
        lines.extend(found)
        progress(
            Note(f"restore {key}: {plural(sum(x.restored for x in found), 'images')} restored")
        )

    async with anyio.create_task_group() as tg:
        for key, records in sorted(by_repository.items()):
            tg.start_soon(restore_in, key, records)
    return sorted(lines, key=lambda x: (x.repository, x.digest))
