"""One entry per command: `plan`, `shard`, `merge`, `apply`. The CLI parses and checks every
local input, calls one of these, and renders what it returns.

Each entry that calls AWS makes exactly one `anyio.run`, and inside it, in this order:

    1. checks the base credentials (sts:GetCallerIdentity) before anything is scanned or
       written: the only AWS call a bad input can be reached by;
    2. with the run's own `Connections` (on the same base session, so a web identity is
       exchanged once): discovers the organization's accounts (`--org`), or falls back to the
       caller's account when no account is given;
    3. sweeps (plan, shard), or re-checks and deletes (apply).

`merge` calls no AWS at all. Errors a person can fix come out as `InputError`/`UsageError`
(exits.py); what a run found (blocked, incomplete) is in the result it returns.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import anyio

from ecr_sweeper.aws.org import ORGANIZATIONS_REGION, discover_accounts, organization_id
from ecr_sweeper.aws.session import Connections, CredentialsError, base_session, caller_account
from ecr_sweeper.config import ConfigError, FileConfig, resolve_targets
from ecr_sweeper.events import Info, Progress, as_notes, ignore
from ecr_sweeper.exits import InputError
from ecr_sweeper.interrupt import restore_default_handlers, run_until_signalled
from ecr_sweeper.journal import Journal
from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    InventoryScan,
    Plan,
    Policy,
    Quarantined,
    Region,
    Sources,
    UsageScan,
)
from ecr_sweeper.pipeline import (
    apply_plan,
    make_plan,
    plan_from_scans,
    restore_quarantined,
    scan,
    witnessed,
)
from ecr_sweeper.planfile import PlanFileError
from ecr_sweeper.results import ApplyResult, RestoreLine
from ecr_sweeper.shardfile import open_shards, shard_targets, write_shard
from ecr_sweeper.words import plural


@dataclass(frozen=True, slots=True)
class Organization:
    """`--org`: the organization's ACTIVE accounts, under `units` (recursively) and carrying
    the tag `tag` (KEY, VALUE), when given."""

    units: tuple[str, ...] = ()
    tag: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Sweep:
    """What `plan` (and each shard) sweeps, every local input already checked: the accounts
    given, the organization to discover, the accounts file, and the policy and sources."""

    policy: Policy
    sources: Sources
    config: FileConfig | None = None
    accounts: tuple[AccountId, ...] = ()
    regions: tuple[str, ...] = ()
    role_name: str | None = None
    organization: Organization | None = None
    excluded: tuple[AccountId, ...] = ()
    quarantined: tuple[Quarantined, ...] = ()  # what a quarantine archived (its journals)


ShardScans = tuple[list[UsageScan], list[InventoryScan]]


@dataclass(frozen=True, slots=True)
class ShardResult:
    """What `plan --shard I/N` read and wrote to `output` (its errors make its exit code)."""

    index: int
    count: int
    output: Path
    usage_errors: int
    errors: int  # usage and inventory


def plan(sweep: Sweep, progress: Progress = ignore) -> Plan:
    """`plan`: the plan of the sweep (one `anyio.run`: credentials, accounts, scan and plan)."""

    async def run() -> Plan:
        async with _connected(progress) as (connections, caller):
            targets, policy = await accounts_to_sweep(sweep, connections, caller, progress)
            _say_what_is_planned(targets, policy, progress)
            now = datetime.now(UTC)
            return await make_plan(
                targets,
                policy,
                connections,
                now,
                progress,
                sources=sweep.sources,
                quarantined=sweep.quarantined,
            )

    return anyio.run(run)


def shard(
    sweep: Sweep, index: int, count: int, output: Path, progress: Progress = ignore
) -> ShardResult:
    """`plan --shard I/N`: read shard `index` of `count` of the sweep's accounts and write what
    it read to `output` (one `anyio.run`: credentials, accounts, scan)."""

    async def run() -> tuple[tuple[AccountTarget, ...], Policy, ShardScans]:
        async with _connected(progress) as (connections, caller):
            targets, policy = await accounts_to_sweep(sweep, connections, caller, progress)
            mine = shard_targets(targets, index, count)
            progress(
                Info(
                    f"shard {index}/{count}: scanning {len(mine)} of "
                    f"{plural(len(targets), 'accounts')}"
                )
            )
            scans = await scan(
                mine,
                connections,
                datetime.now(UTC),
                progress,
                sweep.sources,
                read_tags=policy.opt_in_tag is not None,
                read_pull_exclusions=witnessed(policy),
                read_inspector=True,
            )
            return targets, policy, scans

    targets, policy, (usage, inventory) = anyio.run(run)
    write_shard(
        output,
        index=index,
        count=count,
        targets=targets,
        policy=policy,
        sources=sweep.sources,
        usage=usage,
        inventory=inventory,
    )
    usage_errors = sum(len(s.errors) for s in usage)
    errors = usage_errors + sum(len(s.errors) for s in inventory)
    return ShardResult(index, count, output, usage_errors, errors)


def merge(
    shard_files: Sequence[Path],
    quarantined: Sequence[Quarantined] = (),
    *,
    now: datetime | None = None,
) -> Plan:
    """`plan --merge`: the plan from every shard's scans (no AWS call), made `now` (the
    current time by default)."""
    try:
        shards = open_shards(list(shard_files))
        # Streamed: the usage in memory, each repository read from its shard as it is judged.
        return plan_from_scans(
            shards.usage,
            shards.inventory,
            shards.policy,
            now or datetime.now(UTC),
            targets=shards.targets,
            sources=shards.sources,
            quarantined=quarantined,
        )
    except PlanFileError as exc:
        raise InputError(str(exc)) from exc


def apply(
    reviewed: Plan,
    journal: Journal,
    confirm: Callable[[], None] = lambda: None,
    progress: Progress = ignore,
    *,
    quarantine: bool = False,
) -> ApplyResult | signal.Signals:
    """`apply`: re-check and delete (one `anyio.run`: credentials, then `confirm` — which may
    ask the person and raise to stop — then the work), or the signal that stopped it."""

    async def run() -> ApplyResult | signal.Signals:
        async with _connected(progress) as (connections, _):
            # Asked only once the credentials work; the loop has nothing else to run meanwhile.
            confirm()
            return await run_until_signalled(
                lambda: apply_plan(
                    reviewed,
                    connections,
                    datetime.now(UTC),
                    progress,
                    journal,
                    quarantine=quarantine,
                )
            )

    restore_default_handlers()  # an inherited "ignore" must not make apply unstoppable
    return anyio.run(run)


def restore(
    quarantined: Sequence[Quarantined],
    targets: Sequence[AccountTarget],
    tags: Sequence[str] = (),
    progress: Progress = ignore,
) -> list[RestoreLine]:
    """`restore`: what a quarantine archived, back to standard storage (one `anyio.run`:
    credentials, then every repository at once)."""

    async def run() -> list[RestoreLine]:
        async with _connected(progress) as (connections, _):
            return await restore_quarantined(quarantined, targets, connections, progress, tags=tags)

    return anyio.run(run)


@asynccontextmanager
async def _connected(progress: Progress) -> AsyncIterator[tuple[Connections, AccountId]]:
    """The base credentials checked (one sts:GetCallerIdentity, no retries: missing
    credentials or a dead endpoint is one line within seconds), then the run's Connections on
    the same session, with retries reported as progress lines. Yields (connections, caller)."""
    session = base_session()
    try:
        caller = await caller_account(session)
    except CredentialsError as exc:
        raise InputError(str(exc)) from exc
    async with Connections(session) as connections:
        connections.on_retry = as_notes(progress)
        yield connections, caller


async def accounts_to_sweep(
    sweep: Sweep, connections: Connections, caller: AccountId, progress: Progress
) -> tuple[tuple[AccountTarget, ...], Policy]:
    """The accounts to sweep (those given, the organization's, else the caller's), less the
    excluded, and the policy, which knows the organization when every account of it is swept."""
    accounts = list(sweep.accounts)
    policy = sweep.policy
    if sweep.organization is not None:
        found, org_id = await organization_accounts(
            connections, caller, sweep.organization, sweep.excluded
        )
        progress(Info(f"--org: {plural(len(found), 'accounts')} found"))
        accounts += found
        whole = sweep.organization == Organization() and not sweep.excluded
        if whole and org_id:
            # A repository policy granting this organization is then swept.
            policy = replace(policy, organization=org_id)
    if not accounts and not (sweep.config and sweep.config.targets):
        progress(
            Info(f"no --account given: sweeping the account of the base credentials, {caller}")
        )
        accounts = [caller]
    try:
        targets = resolve_targets(
            config=sweep.config,
            accounts=list(accounts),
            cli_regions=list(sweep.regions),
            role_name=sweep.role_name,
        )
    except ConfigError as exc:
        raise InputError(str(exc)) from exc
    kept = tuple(t for t in targets if t.account_id not in sweep.excluded)
    if not kept:
        raise InputError("no accounts left to sweep after --exclude-account")
    _check_roles(kept, caller)
    return kept, policy


def _check_roles(targets: Sequence[AccountTarget], caller: AccountId) -> None:
    """An account without a role is read with the base credentials, so it must be theirs: any
    other is one line now, not a blocked plan after the scan (the pipeline fails closed too)."""
    strangers = sorted({t.account_id for t in targets if t.role_arn is None} - {caller})
    if strangers:
        raise InputError(
            f"--account {', '.join(strangers)}: no role to assume, and the base credentials "
            f"belong to account {caller}; give --role-name (or a role in the accounts file)"
        )


async def organization_accounts(
    connections: Connections,
    caller: AccountId,
    organization: Organization,
    excluded: Sequence[AccountId] = (),
) -> tuple[list[AccountId], str | None]:
    """The organization's ACTIVE accounts that `organization` selects, less `excluded`, and
    the organization's id. The calls are the caller's (the base credentials'), paced in its
    account's buckets."""
    region = Region(ORGANIZATIONS_REGION)
    try:
        organizations = await connections.base_client("organizations", region)
        api = connections.api(caller, region)
        found = await discover_accounts(
            organizations,
            api,
            units=organization.units,
            tag=organization.tag,
            exclude=list(excluded),
        )
        org_id = await organization_id(organizations, api)
    except Exception as exc:
        raise InputError(f"--org: cannot list the organization's accounts: {exc}") from exc
    if not found:
        raise InputError("--org: no ACTIVE account matches")
    return list(found), org_id


def _say_what_is_planned(
    targets: Sequence[AccountTarget], policy: Policy, progress: Progress
) -> None:
    everywhere = sum(1 for t in targets if not t.regions)
    progress(
        Info(
            f"planning {plural(len(targets), 'accounts')}: "
            f"{plural(sum(len(t.regions) for t in targets), 'account-regions')}"
            + (f" + every enabled region of {plural(everywhere, 'accounts')}" if everywhere else "")
            + f"; policy: keep last {policy.keep_last}, "
            f"min age {plural(policy.min_age_days, 'days')}"
        )
    )
