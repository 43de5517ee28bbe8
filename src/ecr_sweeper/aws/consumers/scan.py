"""The usage scan of one account × region: every kind at once, each read where the run reads it
and its census taken (asked only where its readers' own listings did not answer it), then the
rollback window (of the families ECS named as soon as the ECS kind is read, of the others
after every kind); every task definition named is described as soon as it is named
(ecs_scope.py). Each reader returns what it read; the scan
joins the readings and parses every image reference."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import anyio

from ecr_sweeper.aws.consumers import ecs
from ecr_sweeper.aws.consumers.ecs_rollback import ROLLBACK_WINDOW
from ecr_sweeper.aws.consumers.ecs_scope import EcsScope
from ecr_sweeper.aws.consumers.kind import ClientFor, Kind, ReadContext, Reader, Reading
from ecr_sweeper.aws.limits import Api, describe_errors
from ecr_sweeper.imageref import ForeignImage, ImageReferenceError, parse_image
from ecr_sweeper.model import (
    AccountRegion,
    AccountTarget,
    CensusEntry,
    Digest,
    Region,
    ScanError,
    Sources,
    Usage,
    UsageScan,
)
from ecr_sweeper.words import plural

TASK_DEFINITIONS = "task definitions"  # the describes of the ECS scope, as a failed "reader"
NO_READER = "no reader in this tool"


def read_context(
    target: AccountTarget,
    region: Region,
    *,
    api: Api,
    client: ClientFor,
    sources: Sources,
    now: datetime,
) -> ReadContext:
    """The context of one account × region's readers, with its own ECS scope."""
    return ReadContext(target, region, api, client, sources, now, EcsScope(target, api, client))


@dataclass(slots=True)
class _Outcome:
    """What the readers of one scan returned, and which of them failed."""

    readings: dict[str, Reading] = field(default_factory=dict)  # reader name → its reading
    errors: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)  # names of the readers that raised
    presence: dict[str, tuple[bool | None, str]] = field(default_factory=dict)  # kind → census


async def scan_usage(
    ctx: ReadContext,
    kinds: Sequence[Kind],
    progress: Callable[[str], None] = lambda _: None,
) -> UsageScan:
    """Take the census of `kinds` and read those the run reads, concurrently; then the
    rollback window. Never raises (every failure is an error of the scan: fail closed)."""
    outcome = _Outcome()
    window = ctx.sources.rollback_revisions > 0
    try:
        async with ctx.ecs.describing():
            async with anyio.create_task_group() as tg:
                # The ECS chain first (it feeds the busiest bucket); the other kinds start once
                # it has its work queued, and fill around it.
                chain_first = ecs.KIND in kinds
                ecs_read = anyio.Event()
                for kind in kinds:
                    tg.start_soon(_read_kind, kind, ctx, outcome, chain_first, ecs_read)
                if window and chain_first:
                    # The window of the families ECS named, as soon as they are known: on the
                    # critical path, it does not wait for the other kinds.
                    tg.start_soon(_window_after, ecs_read, ctx, outcome)
            if window:  # the families only the other kinds named
                await _read(ROLLBACK_WINDOW, ctx, outcome)
    except Exception as exc:  # noqa: BLE001 - every failure must become a fail-closed error
        outcome.errors.extend(describe_errors(exc))
        outcome.failed.add(TASK_DEFINITIONS)
    readings = [*outcome.readings.values(), ctx.ecs.reading()]
    return _usage_scan(ctx, kinds, outcome, readings, progress)


def _usage_scan(
    ctx: ReadContext,
    kinds: Sequence[Kind],
    outcome: _Outcome,
    readings: Sequence[Reading],
    progress: Callable[[str], None],
) -> UsageScan:
    where = f"{ctx.target.account_id}/{ctx.region}"
    census = _census_entries(ctx, kinds, outcome)
    usages: list[Usage] = []
    foreign = 0
    for seen in (s for reading in readings for s in reading.images):
        try:
            ref = parse_image(seen.image)
        except ImageReferenceError as exc:
            outcome.errors.append(f"{seen.source}: {exc}")
            continue
        if isinstance(ref, ForeignImage):
            foreign += 1
            continue
        digest = Digest(seen.digest) if seen.digest and seen.digest.startswith("sha256:") else None
        usages.append(Usage(seen.image, ref, seen.source, digest, seen.kind))
    errors = tuple(
        ScanError("usage", ctx.target.account_id, ctx.region, f"usage {where}", message)
        for message in outcome.errors
    )
    counts: dict[str, int] = {}
    for reading in readings:
        for what, n in reading.counts.items():
            counts[what] = counts.get(what, 0) + n
    # Only what is there: "0 codebuild projects, 0 eks clusters, …" says nothing per region.
    counted = ", ".join(plural(n, what) for what, n in sorted(counts.items()) if n)
    references = ", ".join(
        ([plural(len(usages), "ECR image references")] if usages else [])
        + ([f"{foreign} outside ECR"] if foreign else [])
        + ([plural(len(errors), "ERRORS")] if errors else [])
    )
    unread = "".join(
        f"; UNREAD {kind}: {line}"
        for kind, lines in sorted(_unread_details(kinds, outcome).items())
        for line in sorted(lines)
    )
    # A region with nothing to say gets no line of its own (the step "usage read" is its
    # line): a sweep of 38 empty regions is not 38 lines of "nothing running".
    if counted or references or unread:
        progress(
            f"usage {where}: {counted or 'nothing running'}"
            + (f"; {references}" if references else "")
            + unread
        )
    return UsageScan(
        AccountRegion(ctx.target.account_id, ctx.region), tuple(usages), errors, foreign, census
    )


async def _read(reader: Reader, ctx: ReadContext, outcome: _Outcome, part: str = "") -> None:
    """Run `reader`, keeping its reading (under its name, and `part` if it runs more than
    once) or its failure."""
    mine = ctx.for_reader()
    key = f"{reader.name}{part}"
    try:
        outcome.readings[key] = await reader.read(mine)
    except Exception as exc:  # noqa: BLE001 - recorded per reader so every failure is named
        outcome.readings[key] = mine.findings().reading()  # what it saw before
        outcome.failed.add(reader.name)
        outcome.errors.extend(f"{reader.name}: {line}" for line in describe_errors(exc))


async def _window_after(ecs_read: anyio.Event, ctx: ReadContext, outcome: _Outcome) -> None:
    await ecs_read.wait()
    await _read(ROLLBACK_WINDOW, ctx, outcome, " (ECS)")


async def _read_kind(
    kind: Kind, ctx: ReadContext, outcome: _Outcome, chain_first: bool, ecs_read: anyio.Event
) -> None:
    """Read `kind` where the run reads it, then take its census unless its readers' own
    listings answered it (the census's question is their first list call: asked once). With
    `chain_first`, a kind other than ECS starts once the ECS chain is under way. `ecs_read`
    is set once the ECS kind is read."""
    if chain_first and kind is not ecs.KIND:
        await ctx.ecs.chain_under_way()
    try:
        await _read_and_ask(kind, ctx, outcome)
    finally:
        if kind is ecs.KIND:
            ctx.ecs.under_way()  # its readers named what they could: the chain has its work
            ecs_read.set()


async def _read_and_ask(kind: Kind, ctx: ReadContext, outcome: _Outcome) -> None:
    if kind.reads(ctx.sources):
        async with anyio.create_task_group() as tg:
            for reader in kind.readers:
                tg.start_soon(_read, reader, ctx, outcome)
        listed = _listed_presence(kind, outcome)
        if listed is not None:
            outcome.presence[kind.name] = (listed, "")
            return
    await _take_census(kind, ctx, outcome.presence)


def _listed_presence(kind: Kind, outcome: _Outcome) -> bool | None:
    """Present if any reader listed something; absent if every reader read to the end and
    listed nothing; else unknown (a reader failed first, or does not say): the census asks."""
    readings = [outcome.readings.get(reader.name) for reader in kind.readers]
    said = [reading.present if reading is not None else None for reading in readings]
    if True in said:
        return True
    failed = any(reader.name in outcome.failed for reader in kind.readers)
    return False if said and not failed and all(s is False for s in said) else None


async def _take_census(
    kind: Kind, ctx: ReadContext, presence: dict[str, tuple[bool | None, str]]
) -> None:
    """Ask whether `kind` exists here. Never raises: a census call that fails leaves
    presence unknown, with the error as the detail."""
    try:
        presence[kind.name] = (await kind.present(ctx), "")
    except Exception as exc:  # noqa: BLE001 - an unanswered census counts as present
        presence[kind.name] = (None, "; ".join(describe_errors(exc)))


def _unread_details(kinds: Sequence[Kind], outcome: _Outcome) -> dict[str, list[str]]:
    """Kind name → the lines its readers could not read."""
    details: dict[str, list[str]] = {}
    for kind in kinds:
        for reader in kind.readers:
            reading = outcome.readings.get(reader.name)
            if reading is not None and reading.unread:
                details.setdefault(kind.name, []).extend(reading.unread)
    return details


def _census_entries(
    ctx: ReadContext, kinds: Sequence[Kind], outcome: _Outcome
) -> tuple[CensusEntry, ...]:
    """One entry per consumer kind: present or not, and read completely or not (and why)."""
    unread_details = _unread_details(kinds, outcome)
    entries: list[CensusEntry] = []
    for kind in sorted(kinds, key=lambda k: k.name):
        present, census_error = outcome.presence.get(kind.name, (None, "census not taken"))
        off = [] if kind.reads(ctx.sources) else [r.name for r in kind.readers] or [kind.title]
        failed = [r.name for r in kind.readers if r.name in outcome.failed]
        if TASK_DEFINITIONS in outcome.failed:
            failed.append(TASK_DEFINITIONS)
        unread = sorted(unread_details.get(kind.name, []))
        detail = _detail(kind, off, failed, unread)
        if census_error:
            detail = "; ".join(d for d in (detail, f"census failed: {census_error}") if d)
        entries.append(
            CensusEntry(
                kind.name,
                ctx.target.account_id,
                ctx.region,
                # a consumer found unreadable exists, whatever the census call said
                True if unread else present,
                not off and not failed and not unread,
                detail,
            )
        )
    entries.extend(_excluded_clusters(ctx))
    return tuple(entries)


def _detail(kind: Kind, off: Sequence[str], failed: Sequence[str], unread: Sequence[str]) -> str:
    if off and kind.census_only:
        return f"{', '.join(off)}: {NO_READER}"
    if off:
        return f"{', '.join(off)}: switched off"
    if failed:
        return f"read failed: {', '.join(failed)}"
    if unread:
        return "unread: " + "; ".join(unread)
    return ""


def _excluded_clusters(ctx: ReadContext) -> list[CensusEntry]:
    """Clusters the patterns leave out run workloads too, and nothing reads them."""
    excluded = ctx.ecs.excluded_clusters
    if not excluded:
        return []
    names = ", ".join(excluded[:3]) + (
        f" and {len(excluded) - 3} more" if len(excluded) > 3 else ""
    )
    detail = f"{len(excluded)} cluster(s) excluded by the cluster patterns: {names}"
    return [CensusEntry("ecs", ctx.target.account_id, ctx.region, True, False, detail)]
