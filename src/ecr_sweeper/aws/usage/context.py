"""The shared context of one account × region's usage scan, and the runner."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import anyio
from botocore.exceptions import EndpointResolutionError, UnknownEndpointError

from ecr_sweeper.aws.limits import Api, describe_errors
from ecr_sweeper.aws.usage import endpoints
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

ClientFor = Callable[[str], Awaitable[Any]]  # service name → the run's client for it


@dataclass(frozen=True, slots=True)
class Seen:
    """One image reference as a source saw it, before parsing."""

    image: str
    source: str
    digest: str | None
    kind: str


@dataclass(slots=True)
class UsageContext:
    """What the sources of one account × region share: clients, the call gate, findings."""

    target: AccountTarget
    region: Region
    api: Api
    client: ClientFor
    sources: Sources
    now: datetime
    images: list[Seen] = field(default_factory=list)
    # task definition (ARN, or a family meaning its latest ACTIVE revision) → (used by, kind)
    task_definitions: dict[str, tuple[str, str]] = field(default_factory=dict)
    families: set[str] = field(default_factory=set)  # families in use (for the rollback window)
    errors: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)  # names of the sources that raised
    # consumer kind → why part of it could not be read (a cluster that denies access…): the
    # kind is unread for the census, without failing the run's usage (see `unread`)
    unread_details: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    _clusters: list[str] | None = None
    excluded_clusters: list[str] = field(default_factory=list)  # by the cluster patterns
    _clusters_lock: anyio.Lock = field(default_factory=anyio.Lock)
    # Set while the sources run (scan_usage): describes a task definition as soon as it is
    # named, so its bucket works while the sources still read theirs.
    _describe: Callable[[str, str, str], object] | None = None

    async def clusters(self) -> list[str]:
        """The ARNs of the clusters to read (listed once, shared by the ECS sources)."""
        async with self._clusters_lock:
            if self._clusters is None:
                ecs = await self.client("ecs")
                arns = await self.api.pages(ecs.list_clusters, "clusterArns", maxResults=100)
                self._clusters = [a for a in arns if self.target.clusters.matches(short_name(a))]
                self.excluded_clusters = sorted(
                    short_name(a) for a in arns if a not in self._clusters
                )
                self.count("clusters", len(self._clusters))
            return self._clusters

    async def client_if_offered(self, service: str) -> Any | None:
        """The run's client for `service` here, or None where AWS does not offer it
        (endpoints.py: botocore's data does not list it and, when the run calls AWS's own
        endpoint, AWS's host name for it there does not exist)."""
        try:
            client = await self.client(service)
        except (UnknownEndpointError, EndpointResolutionError):
            # botocore cannot name an endpoint for it here: absent only where its data does
            # not list the service either; else nothing was read (presence unknown).
            if endpoints.listed(service, self.region) is False:
                return None
            raise
        offered = await endpoints.offered(service, self.region, client.meta.endpoint_url)
        return client if offered else None

    def saw_image(self, image: str, source: str, digest: str | None, kind: str) -> None:
        """Record an image reference (parsed later, so a bad one becomes an error)."""
        self.images.append(Seen(image, source, digest, kind))

    def saw_task_definition(self, arn: str, used_by: str, kind: str) -> None:
        """Record a task definition to describe (once per run; at once, while the sources
        run) and its family."""
        if arn not in self.task_definitions:
            self.task_definitions[arn] = (used_by, kind)
            if self._describe is not None:
                self._describe(arn, used_by, kind)
        self.families.add(family_of(arn))

    def unread(self, kind: str, detail: str) -> None:
        """Record that some consumers of `kind` here could not be read (one line: which, and
        what to grant). The census then says the kind is present and unread, and the planner
        holds what it could pull, instead of the whole run's usage failing."""
        self.unread_details.setdefault(kind, []).append(detail)

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


class UsageSource(Protocol):
    """One reader of one consumer kind. `collect` reports into the context; it may raise (fail
    closed). `present` is the census: a cheap call that says whether any consumer of the kind
    exists in the account × region, whether or not the run reads it; it may raise (presence is
    then unknown, which counts as present)."""

    name: str

    @property
    def kind(self) -> str | None:
        """The consumer kind this source reads ("ecs", "lambda", "batch", "eks"…); several
        sources may read one kind (the kind is read when all of them are on and none failed).
        None: the source only widens another's reading (the rollback window), no census."""
        ...

    def enabled(self, sources: Sources) -> bool:
        """Whether the run reads this source (False for a kind the tool has no reader for)."""
        ...

    async def present(self, ctx: UsageContext) -> bool:
        """Whether any consumer of this kind exists in the context's account × region."""
        ...

    async def collect(self, ctx: UsageContext) -> None:
        """Read this source in the context's account × region."""
        ...


async def scan_usage(
    ctx: UsageContext,
    sources: Sequence[UsageSource],
    after: Sequence[UsageSource] = (),
    progress: Callable[[str], None] = lambda _: None,
) -> UsageScan:
    """Run `sources` concurrently, then `after` (which build on what they found, like the
    rollback window); every task definition they name is described as soon as it is named
    (`describe_task_definitions`). Never raises."""
    where = f"{ctx.target.account_id}/{ctx.region}"
    presence: dict[str, tuple[bool | None, str]] = {}
    try:
        async with describe_task_definitions(ctx):
            for stage in (sources, after):
                async with anyio.create_task_group() as tg:
                    if stage is sources:
                        tg.start_soon(_take_census, [*sources, *after], ctx, presence)
                    for source in stage:
                        if source.enabled(ctx.sources):
                            tg.start_soon(_collect, source, ctx)
    except Exception as exc:  # noqa: BLE001 - every failure must become a fail-closed error
        ctx.errors.extend(describe_errors(exc))
        ctx.failed.add("task definitions")
    census = _census_entries(ctx, [*sources, *after], presence)

    usages: list[Usage] = []
    foreign = 0
    for seen in ctx.images:
        try:
            ref = parse_image(seen.image)
        except ImageReferenceError as exc:
            ctx.errors.append(f"{seen.source}: {exc}")
            continue
        if isinstance(ref, ForeignImage):
            foreign += 1
            continue
        digest = Digest(seen.digest) if seen.digest and seen.digest.startswith("sha256:") else None
        usages.append(Usage(seen.image, ref, seen.source, digest, seen.kind))
    errors = tuple(
        ScanError("usage", ctx.target.account_id, ctx.region, f"usage {where}", message)
        for message in ctx.errors
    )
    counted = ", ".join(plural(n, what) for what, n in sorted(ctx.counts.items()))
    progress(
        f"usage {where}: {counted or 'nothing running'}; "
        f"{plural(len(usages), 'ECR image references')}, {foreign} outside ECR"
        + (f", {plural(len(errors), 'ERRORS')}" if errors else "")
        + "".join(
            f"; UNREAD {kind}: {line}"
            for kind, lines in sorted(ctx.unread_details.items())
            for line in sorted(lines)
        )
    )
    return UsageScan(
        AccountRegion(ctx.target.account_id, ctx.region), tuple(usages), errors, foreign, census
    )


async def _collect(source: UsageSource, ctx: UsageContext) -> None:
    try:
        await source.collect(ctx)
    except Exception as exc:  # noqa: BLE001 - recorded per source so every failure is named
        ctx.failed.add(source.name)
        ctx.errors.extend(f"{source.name}: {line}" for line in describe_errors(exc))


async def _take_census(
    sources: Sequence[UsageSource],
    ctx: UsageContext,
    presence: dict[str, tuple[bool | None, str]],
) -> None:
    """Ask each consumer kind (once, by its first source) whether it exists here. Never
    raises: a census call that fails leaves presence unknown, with the error as the detail."""

    async def ask(kind: str, source: UsageSource) -> None:
        try:
            presence[kind] = (await source.present(ctx), "")
        except Exception as exc:  # noqa: BLE001 - an unanswered census counts as present
            presence[kind] = (None, "; ".join(describe_errors(exc)))

    first: dict[str, UsageSource] = {}
    for source in sources:
        if source.kind is not None:
            first.setdefault(source.kind, source)
    async with anyio.create_task_group() as tg:
        for kind, source in first.items():
            tg.start_soon(ask, kind, source)


def _census_entries(
    ctx: UsageContext,
    sources: Sequence[UsageSource],
    presence: Mapping[str, tuple[bool | None, str]],
) -> tuple[CensusEntry, ...]:
    """One entry per consumer kind: present or not, and read completely or not (and why)."""
    by_kind: dict[str, list[UsageSource]] = {}
    for source in sources:
        if source.kind is not None:
            by_kind.setdefault(source.kind, []).append(source)
    entries: list[CensusEntry] = []
    for kind, readers in sorted(by_kind.items()):
        present, census_error = presence.get(kind, (None, "census not taken"))
        # A census-only source (census_only.py: no reader) stands in for a kind until a real
        # reader of it exists; beside one, it only takes the census.
        real = [s for s in readers if not getattr(s, "census_only", False)] or readers
        off = [s.name for s in real if not s.enabled(ctx.sources)]
        failed = [s.name for s in readers if s.name in ctx.failed]
        if "task definitions" in ctx.failed:
            failed.append("task definitions")
        unread = sorted(ctx.unread_details.get(kind, []))
        if off and all(getattr(s, "census_only", False) for s in real):
            detail = f"{', '.join(off)}: no reader in this tool"
        elif off:
            detail = f"{', '.join(off)}: switched off"
        elif failed:
            detail = f"read failed: {', '.join(failed)}"
        elif unread:
            detail = "unread: " + "; ".join(unread)
        else:
            detail = ""
        if census_error:
            detail = "; ".join(d for d in (detail, f"census failed: {census_error}") if d)
        entries.append(
            CensusEntry(
                kind,
                ctx.target.account_id,
                ctx.region,
                # a consumer found unreadable exists, whatever the census call said
                True if unread else present,
                not off and not failed and not unread,
                detail,
            )
        )
    if ctx.excluded_clusters:
        # Clusters the patterns leave out run workloads too, and nothing reads them.
        names = ", ".join(ctx.excluded_clusters[:3]) + (
            f" and {len(ctx.excluded_clusters) - 3} more" if len(ctx.excluded_clusters) > 3 else ""
        )
        detail = (
            f"{len(ctx.excluded_clusters)} cluster(s) excluded by the cluster patterns: {names}"
        )
        entries.append(CensusEntry("ecs", ctx.target.account_id, ctx.region, True, False, detail))
    return tuple(entries)


@asynccontextmanager
async def describe_task_definitions(ctx: UsageContext) -> AsyncIterator[None]:
    """Within the block, every task definition the sources name is described at once (each
    once, concurrently); on leaving it, those named before are described, and every describe
    has answered. A failed describe raises (and cancels the block: the scan is failed)."""
    ecs = await ctx.client("ecs")

    async def describe(name: str, used_by: str, kind: str) -> None:
        answer = await ctx.api.call(ecs.describe_task_definition, taskDefinition=name)
        definition = answer["taskDefinition"]
        label = short_name(definition.get("taskDefinitionArn", name))
        for container in definition.get("containerDefinitions", []):
            where = f"task definition {label} container {container.get('name')} ({used_by})"
            ctx.saw_image(container.get("image", ""), where, None, kind)

    async with anyio.create_task_group() as tg:
        for name, (used_by, kind) in sorted(ctx.task_definitions.items()):
            tg.start_soon(describe, name, used_by, kind)
        ctx._describe = lambda name, used_by, kind: tg.start_soon(describe, name, used_by, kind)
        try:
            yield
        finally:
            ctx._describe = None
    ctx.count("task definitions", len(ctx.task_definitions))


def short_name(arn: str) -> str:
    """The last path segment of an ARN (cluster, service, task, family:revision)."""
    return arn.rsplit("/", 1)[-1]


def family_of(task_definition: str) -> str:
    """`arn:…:task-definition/web:3`, `web:3` or `web` → `web`."""
    return short_name(task_definition).split(":", 1)[0]
