"""The `ecr-sweeper` command: parse, build the run, `anyio.run`, render. No logic of its own.

Every bad input fails before any AWS call but one (`sts:GetCallerIdentity`, the up-front check
of the base credentials), in one line on stderr: `error: <flag, file or key>: <what is wrong>`.

Exit codes (documented in the README; CI jobs act on them):
  0  success (plan written / apply finished; there may be nothing to do)
  1  error: bad input (accounts file, plan file, an output path that cannot be written, an
     unknown region, missing credentials, an endpoint that cannot be reached) or an
     unexpected failure
  2  command-line usage error (unknown flag, missing argument, a value out of range or not
     one of the choices)
  3  blocked by safety: a usage source could not be read, or a consumer exists that the run
     did not read and nobody accepted (--accept-unread), so nothing is (or was) deleted
  4  incomplete: some repositories could not be listed (plan), or some deletions failed (apply)
  5  deletions planned (plan --detailed-exit-codes only; 0 then means nothing to delete)
  130, 143  apply stopped by Ctrl-C or SIGTERM: the batches in flight were journaled; run
     apply again to resume
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import anyio
import typer
from rich.console import Console

# typer 0.29 carries its own copy of click: its parser errors are these classes.
from typer._click import exceptions as click
from typer.core import TyperArgument, TyperOption

from ecr_sweeper import __version__
from ecr_sweeper.aws.consumers import registry
from ecr_sweeper.aws.org import ORGANIZATIONS_REGION, discover_accounts, organization_id
from ecr_sweeper.aws.regions import unknown_region
from ecr_sweeper.aws.session import (
    Connections,
    CredentialsError,
    base_session,
    caller_account,
)
from ecr_sweeper.cli_switches import with_switches
from ecr_sweeper.config import (
    ConfigError,
    FileConfig,
    account_id,
    kubeconfig_sources,
    load_config,
    resolve_policy,
    resolve_sources,
    resolve_targets,
    role_arn_for,
)
from ecr_sweeper.interrupt import restore_default_handlers, run_until_signalled
from ecr_sweeper.journal import Journal
from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    InventoryScan,
    Plan,
    Policy,
    Region,
    Sources,
    UsageScan,
)
from ecr_sweeper.pipeline import apply_plan, make_plan, plan_from_scans, scan
from ecr_sweeper.planfile import PlanFileError, read_plan, write_plan
from ecr_sweeper.render import ProgressDisplay, Renderer
from ecr_sweeper.report import ECR_PRICE_PER_GB_MONTH, find_decisions, human_bytes, markdown, totals
from ecr_sweeper.results import ApplyResult
from ecr_sweeper.shardfile import parse_shard, read_shards, shard_targets, write_shard
from ecr_sweeper.words import plural

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3
EXIT_INCOMPLETE = 4
EXIT_DELETIONS = 5  # with --detailed-exit-codes only
FORMATS = ("table", "json", "markdown", "csv")
LOG_FORMATS = ("text", "json")

app = typer.Typer(
    name="ecr-sweeper",
    help=(
        "Delete the ECR images that no ECS workload uses — across accounts, regions and "
        "clusters — and never one that is in use.\n\n"
        "Workflow: `plan` (read-only) writes a reviewable plan file; `apply PLAN` re-checks "
        "usage and deletes what the plan lists and is still unused.\n\n"
        "Exit codes: 0 ok, 1 error/bad input, 2 usage error, 3 blocked by safety (a usage "
        "source could not be read, or a consumer exists that was not read and is not "
        "accepted; nothing deleted), 4 incomplete (some repositories unreadable or some "
        "deletions failed), 5 deletions planned (plan --detailed-exit-codes only), 130/143 "
        "apply stopped by Ctrl-C/SIGTERM (run it again to resume)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Off a terminal (CI logs, pipes) rich would wrap at 80 columns: tables are as wide as their
# content and messages are never wrapped (soft_wrap), so a log line stays one line.
UNWRAPPED = 100_000
out = Console(highlight=False, width=None if sys.stdout.isatty() else UNWRAPPED)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else UNWRAPPED)
log = ProgressDisplay(err)  # every stderr line; each command sets --quiet and --log-format
render = Renderer(out, log)


# Options shared by several commands, in one style: a metavar for every value (flags get
# none: see _plain_metavars), choices through click.Choice so a wrong one is a usage error.
LogFormat = Annotated[
    Literal["text", "json"],
    typer.Option(
        "--log-format",
        help="stderr lines: text, or json (every line one JSON object).",
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress or information lines; errors only.")
]
OutputFormat = Annotated[
    Literal["table", "json", "markdown", "csv"],
    typer.Option(
        "--format",
        help="How to print the plan: table, json, markdown or csv.",
        rich_help_panel="Output",
    ),
]
EveryRepository = Annotated[
    bool,
    typer.Option(
        "--all",
        help="The table lists every repository (default: those with something to delete).",
        rich_help_panel="Output",
    ),
]
PlanFile = Annotated[
    Path, typer.Argument(metavar="PLAN_FILE", help="A plan file written by `plan`.")
]


def _version(value: bool) -> None:
    if value:
        out.print(f"ecr-sweeper {__version__}", markup=False)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Delete the ECR images no ECS workload uses (see the commands)."""


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """One line on stderr, then exit: `error: <what is at fault>: <why>`."""
    log.error(f"error: {message}")
    raise typer.Exit(code)


def _usage_error(message: str) -> NoReturn:
    """A command-line mistake the parser cannot see (exit 2, the parser's own style)."""
    _fail(message, EXIT_USAGE)


def check_writable(path: Path, flag: str) -> None:
    """Fail now, before any scan, if `path` cannot be written: a missing folder, a folder in
    its place, no permission. The plan file is written next to it first (`.partial`)."""
    folder = path.parent
    if path.is_dir():
        _fail(f"{flag}: {path} is a folder, not a file")
    if not folder.exists():
        _fail(f"{flag}: {path}: the folder {folder} does not exist")
    if not folder.is_dir():
        _fail(f"{flag}: {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        _fail(f"{flag}: {path}: no permission to write in {folder}")
    if path.exists() and not os.access(path, os.W_OK):
        _fail(f"{flag}: {path}: no permission to overwrite it")


def check_regions(names: Sequence[str], origin: str) -> None:
    """Every region must be one botocore knows (a typo fails now, not after retries)."""
    for name in names:
        if (why := unknown_region(name)) is not None:
            _fail(f"{origin}: {why}")


class _Base:
    """The base credentials' session of this command: checked once up front, then used by
    its Connections, so a web identity is exchanged once. Made when first needed (the
    environment of the command, not of the import)."""

    session: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls.session is None:
            cls.session = base_session()
        return cls.session


def check_credentials() -> AccountId:
    """The account of the base credentials; missing credentials or a dead endpoint is one
    line and exit 1 within seconds, before anything is scanned or written."""
    try:
        return anyio.run(caller_account, _Base.get())
    except CredentialsError as exc:
        _fail(str(exc))


@app.command()
@with_switches(registry.KINDS)
def plan(
    account: Annotated[
        list[str] | None,
        typer.Option(
            "--account",
            "-a",
            help="Account id to sweep (repeatable). With --config, "
            "selects those accounts from the file.",
        ),
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", "-r", help="Region to sweep (repeatable); replaces the file's."),
    ] = None,
    org: Annotated[
        bool,
        typer.Option(
            "--org",
            help="Sweep the accounts of the AWS organization the base credentials can read "
            "(management account or delegated administrator).",
            rich_help_panel="Organization",
        ),
    ] = False,
    org_unit: Annotated[
        list[str] | None,
        typer.Option(
            help="With --org: only accounts under this OU (or root) id, recursively (repeatable).",
            rich_help_panel="Organization",
        ),
    ] = None,
    org_tag: Annotated[
        str | None,
        typer.Option(
            help="With --org: only accounts carrying this tag, KEY=VALUE.",
            rich_help_panel="Organization",
        ),
    ] = None,
    exclude_account: Annotated[
        list[str] | None,
        typer.Option(help="Leave this account out (repeatable).", rich_help_panel="Organization"),
    ] = None,
    role_name: Annotated[
        str | None,
        typer.Option(
            help="Role assumed in each account: arn:aws:iam::<id>:role/<ROLE_NAME>. "
            "Without one, the base credentials are used and must be in the account."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Accounts file (TOML); see accounts.example.toml."),
    ] = None,
    keep_last: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Keep the N most recently pushed images of every repository "
            "(default: 10, or the file's policy.keep_last).",
        ),
    ] = None,
    min_age_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Never delete an image pushed less than N days ago "
            "(default: 14, or the file's policy.min_age_days).",
        ),
    ] = None,
    protect_tag: Annotated[
        list[str] | None,
        typer.Option(
            help="Keep every image with a tag matching this glob, or regex written re:<regex> "
            "(repeatable; adds to the file's policy.protect_tags).",
            rich_help_panel="Retention",
        ),
    ] = None,
    keep_pulled_within_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Keep images pulled within N days (lastRecordedPullTime: evidence only, AWS "
            "updates it at most daily).",
            rich_help_panel="Retention",
        ),
    ] = None,
    untagged: Annotated[
        Literal["delete", "keep"] | None,
        typer.Option(
            help="Untagged images nothing references: delete (default) or keep.",
            rich_help_panel="Retention",
        ),
    ] = None,
    opt_in_tag: Annotated[
        str | None,
        typer.Option(
            help="Sweep only repositories carrying this resource tag, KEY=VALUE.",
            rich_help_panel="Retention",
        ),
    ] = None,
    accept_account: Annotated[
        list[str] | None,
        typer.Option(
            help="An account outside the sweep that a repository policy lets pull, whose use "
            "you accept losing; without it such repositories are left alone (repeatable).",
            rich_help_panel="Safety",
        ),
    ] = None,
    accept_unread: Annotated[
        list[str] | None,
        typer.Option(
            help="KIND or KIND@ACCOUNT: a consumer kind present and not read (switched off, or "
            "no reader, like eks) whose images you list with --external-images or accept "
            "losing; without it the plan is blocked (repeatable).",
            rich_help_panel="Safety",
        ),
    ] = None,
    max_delete_percent: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=100,
            help="Refuse to apply if a repository would lose more than this % of its images.",
            rich_help_panel="Safety",
        ),
    ] = None,
    max_delete_images: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Refuse to apply if the run would delete more than N images.",
            rich_help_panel="Safety",
        ),
    ] = None,
    external_images: Annotated[
        list[Path] | None,
        typer.Option(
            help="A file of image URIs in use elsewhere (EKS, App Runner, a deploy manifest), "
            "one per line; '-' reads standard input (repeatable).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    service_revisions: Annotated[
        bool | None,
        typer.Option(
            "--service-revisions/--no-service-revisions",
            help="Read ECS service revisions for the digests deployments resolved (default on).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    rollback_revisions: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Protect the last N ACTIVE revisions of every task definition family in use "
            "(default 5).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    stopped_within_hours: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Protect images of tasks stopped within N hours (default 24; ECS lists stopped "
            "tasks for about an hour).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    kubeconfig: Annotated[
        list[Path] | None,
        typer.Option(
            help="Also read the clusters of this kubeconfig (its current context, or each "
            "--kube-context), with its own auth (repeatable).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    kube_context: Annotated[
        list[str] | None,
        typer.Option(
            help="With --kubeconfig: read this context (repeatable).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    usage_regions: Annotated[
        list[str] | None,
        typer.Option(
            "--usage-regions",
            help="Read usage only in this region (repeatable) and the swept ones, instead of "
            "every enabled region of every account; the plan warns which were not read.",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Scan only shard I of N (I/N) of the accounts and write what it read to "
            "--output, for `plan --merge`; plans nothing itself.",
            rich_help_panel="Scale",
        ),
    ] = None,
    merge: Annotated[
        bool,
        typer.Option(
            "--merge",
            help="Plan from SHARD_FILES (every `--shard` run's file, shards 1..N exactly once) "
            "instead of scanning.",
            rich_help_panel="Scale",
        ),
    ] = False,
    shard_files: Annotated[
        list[Path] | None,
        typer.Argument(help="With --merge: the shard files.", show_default=False),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the plan file (JSON).")
    ] = Path("plan.json"),
    output_format: OutputFormat = "table",
    every_repository: EveryRepository = False,
    markdown_file: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            help="Also write a Markdown summary here (for CI job summaries).",
            rich_help_panel="Output",
        ),
    ] = None,
    price_per_gb_month: Annotated[
        float,
        typer.Option(
            min=0,
            help="Storage price for the estimated monthly savings, USD per GB-month.",
            rich_help_panel="Output",
        ),
    ] = ECR_PRICE_PER_GB_MONTH,
    detailed_exit_codes: Annotated[
        bool,
        typer.Option(
            help="Exit 5 when the plan deletes something (0 then means nothing to do).",
            rich_help_panel="Output",
        ),
    ] = False,
    quiet: Quiet = False,
    log_format: LogFormat = "text",
    switches: dict[str, bool | None] | None = None,  # --NAME/--no-NAME of each kind (cli_switches)
) -> None:
    """Scan usage and inventory (read-only) and write a plan of what to delete, with reasons.

    Without --account, --config accounts or --org, sweeps the account of the base
    credentials."""
    log.configure(quiet=quiet, log_format=log_format)
    show = Shown(output, output_format, markdown_file, price_per_gb_month, every_repository)
    check_writable(output, "--output")
    if markdown_file is not None:
        check_writable(markdown_file, "--markdown")
    if shard_files and not merge:
        _usage_error("shard files are read only with --merge")
    if merge:
        if account or region or config or role_name or shard or org:
            _usage_error("--merge plans from shard files only: no account options")
        _plan_merge(shard_files or [], show, detailed_exit_codes)
    check_regions(region or [], "--region")
    check_regions(usage_regions or [], "--usage-regions")
    try:
        file_config = load_config(config) if config else None
        # Every local input is checked before the first AWS call (--org lists the accounts).
        sources = resolve_sources(
            file_config,
            external_files=external_images or [],
            stdin=sys.stdin,
            switches=switches,
            service_revisions=service_revisions,
            rollback_revisions=rollback_revisions,
            stopped_within_hours=stopped_within_hours,
            kubeconfigs=kubeconfig_sources(kubeconfig or [], kube_context or []),
            usage_regions=tuple(usage_regions or ()),
        )
        if file_config is not None:
            _check_file_regions(file_config, config)
        excluded = [account_id(a, "--exclude-account") for a in exclude_account or []]
        for given in account or []:
            account_id(given)
        if role_name is not None:  # checked now; resolve_targets applies it after the call
            role_arn_for(AccountId("000000000000"), role_name, None, "--role-name")
        policy = resolve_policy(
            file_config,
            keep_last,
            min_age_days,
            protect_tags=tuple(protect_tag or ()),
            keep_pulled_within_days=keep_pulled_within_days,
            untagged=untagged,
            opt_in_tag=opt_in_tag,
            accepted_accounts=tuple(accept_account or ()),
            accepted_unread=tuple(accept_unread or ()),
            max_delete_percent=max_delete_percent,
            max_delete_images=max_delete_images,
        )
        share = parse_shard(shard) if shard else None
    except (ConfigError, ValueError) as exc:
        _fail(str(exc))
    if not org and (org_unit or org_tag):
        _usage_error("--org-unit and --org-tag need --org")
    # Everything local is checked: now the one call that checks the credentials.
    caller = check_credentials()
    try:
        accounts, organization = _accounts_to_sweep(account or [], org, org_unit, org_tag, excluded)
        policy = replace(policy, organization=organization) if organization else policy
        if not accounts and not (file_config and file_config.targets):
            log.info(f"no --account given: sweeping the account of the base credentials, {caller}")
            accounts = [caller]
        targets = _excluding(
            resolve_targets(
                config=file_config,
                accounts=accounts,
                cli_regions=region or [],
                role_name=role_name,
            ),
            excluded,
        )
    except ConfigError as exc:
        _fail(str(exc))
    if share is not None:
        _plan_shard(share, targets, policy, sources, output)
    everywhere = sum(1 for t in targets if not t.regions)
    log.info(
        f"planning {plural(len(targets), 'accounts')}: "
        f"{plural(sum(len(t.regions) for t in targets), 'account-regions')}"
        + (f" + every enabled region of {plural(everywhere, 'accounts')}" if everywhere else "")
        + f"; policy: keep last {policy.keep_last}, min age {plural(policy.min_age_days, 'days')}"
    )

    async def run() -> Plan:
        async with Connections(_Base.get()) as connections:
            connections.on_retry = log
            return await make_plan(
                targets, policy, connections, datetime.now(UTC), log, sources=sources
            )

    with log:
        result = anyio.run(run)
    _finish_plan(result, show, detailed_exit_codes)


def _plan_merge(shard_files: list[Path], show: Shown, detailed_exit_codes: bool) -> NoReturn:
    """`plan --merge`: the plan from every shard's scans (no AWS call)."""
    try:
        targets, policy, sources, usage, inventory = read_shards(shard_files)
    except PlanFileError as exc:
        _fail(str(exc))
    result = plan_from_scans(
        usage, inventory, policy, datetime.now(UTC), targets=targets, sources=sources
    )
    _finish_plan(result, show, detailed_exit_codes)


def _check_file_regions(file_config: FileConfig, path: Path | None) -> None:
    """The accounts file's regions, each a region botocore knows."""
    for index, target in enumerate(file_config.targets):
        check_regions(target.regions, f"{path}: accounts[{index}].regions")
    if file_config.defaults is not None:
        check_regions(file_config.defaults.regions, f"{path}: defaults.regions")


@dataclass(frozen=True, slots=True)
class Shown:
    """Where and how a plan is written and printed (plan's output options)."""

    output: Path
    output_format: str
    markdown_file: Path | None
    price_per_gb_month: float
    every_repository: bool


def _accounts_to_sweep(
    given: list[str],
    org: bool,
    units: list[str] | None,
    tag: str | None,
    excluded: list[AccountId],
) -> tuple[list[str], str | None]:
    """The accounts to sweep, and the organization every account of which is among them
    (`--org` with no filter; a repository policy granting that organization is then swept)."""
    if not org:
        if units or tag:
            raise ConfigError("--org-unit and --org-tag need --org")
        return given, None
    found, organization = _organization_accounts(units, tag, excluded)
    whole = not (units or tag or excluded)
    return [*given, *found], organization if whole else None


def _excluding(
    targets: tuple[AccountTarget, ...], excluded: list[AccountId]
) -> tuple[AccountTarget, ...]:
    kept = tuple(t for t in targets if t.account_id not in excluded)
    if not kept:
        raise ConfigError("no accounts left to sweep after --exclude-account")
    return kept


def _organization_accounts(
    units: list[str] | None, tag: str | None, exclude: list[AccountId]
) -> tuple[list[str], str | None]:
    wanted_tag = None
    if tag is not None:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise ConfigError(f"--org-tag: expected KEY=VALUE, got {tag!r}")
        wanted_tag = (key, value)

    async def run() -> tuple[list[AccountId], str | None]:
        async with Connections(_Base.get()) as connections:
            organizations = await connections.base_client(
                "organizations", Region(ORGANIZATIONS_REGION)
            )
            api = connections.api(AccountId("organization"), Region(ORGANIZATIONS_REGION))
            accounts = await discover_accounts(
                organizations, api, units=units or (), tag=wanted_tag, exclude=exclude
            )
            return accounts, await organization_id(organizations, api)

    try:
        found, organization = anyio.run(run)
    except Exception as exc:
        raise ConfigError(f"--org: cannot list the organization's accounts: {exc}") from exc
    if not found:
        raise ConfigError("--org: no ACTIVE account matches")
    log.info(f"--org: {plural(len(found), 'accounts')} found")
    return list(found), organization


def _plan_shard(
    share: tuple[int, int],
    targets: tuple[AccountTarget, ...],
    policy: Policy,
    sources: Sources,
    output: Path,
) -> NoReturn:
    index, count = share
    mine = shard_targets(targets, index, count)
    log.info(f"shard {index}/{count}: scanning {len(mine)} of {plural(len(targets), 'accounts')}")

    async def run() -> tuple[list[UsageScan], list[InventoryScan]]:
        async with Connections(_Base.get()) as connections:
            connections.on_retry = log
            return await scan(
                mine,
                connections,
                datetime.now(UTC),
                log,
                sources,
                read_tags=policy.opt_in_tag is not None,
            )

    with log:
        usage, inventory = anyio.run(run)
    write_shard(
        output,
        index=index,
        count=count,
        targets=targets,
        policy=policy,
        sources=sources,
        usage=usage,
        inventory=inventory,
    )
    usage_errors = sum(len(s.errors) for s in usage)
    errors = usage_errors + sum(len(s.errors) for s in inventory)
    log.info(
        f"shard {index}/{count} written to {output} "
        f"({plural(errors, 'errors')}; `plan --merge` reports them)"
    )
    # A shard that could not read everything fails its own job (the merge would be blocked
    # or incomplete anyway): 3 when usage is missing, 4 when only repositories are.
    if usage_errors:
        log.error(f"error: shard {index}/{count}: {plural(usage_errors, 'usage errors')}")
        raise typer.Exit(EXIT_BLOCKED)
    if errors:
        log.error(f"error: shard {index}/{count}: {plural(errors, 'inventory errors')}")
        raise typer.Exit(EXIT_INCOMPLETE)
    raise typer.Exit(EXIT_OK)


def _finish_plan(result: Plan, show: Shown, detailed_exit_codes: bool) -> NoReturn:
    try:
        write_plan(result, show.output)
        if show.markdown_file is not None:
            show.markdown_file.write_text(
                markdown(result, show.price_per_gb_month), encoding="utf-8"
            )
    except OSError as exc:  # checked up front; this is the disk filling up, or a race
        _fail(f"cannot write {exc.filename}: {exc.strerror}")
    render.plan_as(
        result,
        show.output_format,
        show.price_per_gb_month,
        every_repository=show.every_repository,
    )
    log.info(f"plan written to {show.output}")
    raise typer.Exit(plan_exit_code(result, detailed=detailed_exit_codes))


def plan_exit_code(result: Plan, *, detailed: bool = False) -> int:
    """3 when blocked or over a cap, 4 when some repositories could not be read; else 0, or
    with `detailed`, 5 when there is something to delete."""
    if result.blocked or result.refusals:
        return EXIT_BLOCKED
    if result.errors:
        return EXIT_INCOMPLETE
    return EXIT_DELETIONS if detailed and result.deletions else EXIT_OK


@app.command()
def apply(
    plan_file: PlanFile,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Delete without asking (required without a terminal)."),
    ] = False,
    role_name: Annotated[
        str | None,
        typer.Option(
            metavar="ROLE_NAME",
            help="Assume this role in every account instead of the one the plan recorded (a "
            "delete-capable apply role, while plan runs read-only).",
        ),
    ] = None,
    max_plan_age_hours: Annotated[
        float,
        typer.Option(
            min=0,
            metavar="HOURS",
            help="Refuse a plan older than this: what was reviewed is stale.",
        ),
    ] = 72.0,
    quiet: Quiet = False,
    log_format: LogFormat = "text",
) -> None:
    """Carry out a plan: re-scan usage, then delete the planned images that are still unused."""
    log.configure(quiet=quiet, log_format=log_format)
    reviewed = _read_or_exit(plan_file)
    if role_name is not None:
        try:
            reviewed = replace(
                reviewed,
                targets=tuple(
                    replace(t, role_arn=role_arn_for(t.account_id, role_name, None, "--role-name"))
                    for t in reviewed.targets
                ),
            )
        except ConfigError as exc:
            _fail(str(exc))
    age_hours = (datetime.now(UTC) - reviewed.created_at).total_seconds() / 3600
    if age_hours > max_plan_age_hours:
        _fail(
            f"{plan_file} is {age_hours:.0f} hours old, older than "
            f"--max-plan-age-hours {max_plan_age_hours:g}; make a new plan"
        )
    if reviewed.blocked:
        log.error("error: this plan is blocked (fail closed); it deletes nothing")
        render.errors(reviewed)
        raise typer.Exit(EXIT_BLOCKED)
    if reviewed.refusals:
        log.error("error: this plan exceeds a safety cap; nothing deleted")
        render.refusals(reviewed)
        raise typer.Exit(EXIT_BLOCKED)
    if not reviewed.deletions:
        out.print("nothing to delete", markup=False)
        raise typer.Exit(EXIT_OK)
    journal = Journal.beside(plan_file)
    check_writable(journal.path, "the apply journal")
    if not yes and not sys.stdin.isatty():
        _fail("refusing to delete without confirmation: no terminal; pass --yes")
    check_credentials()
    if not yes:
        summary = totals(reviewed)
        render.confirmation_summary(reviewed)
        question = (
            f"Delete up to {summary['to_delete']} images "
            f"({human_bytes(summary['bytes_reclaimed'])}) in "
            f"{plural(len(reviewed.targets), 'accounts')}?"
        )
        if not typer.confirm(question):
            _fail("aborted; nothing deleted")

    async def run() -> ApplyResult | signal.Signals:
        async with Connections(_Base.get()) as connections:
            connections.on_retry = log
            return await run_until_signalled(
                lambda: apply_plan(reviewed, connections, datetime.now(UTC), log, journal)
            )

    restore_default_handlers()  # an inherited "ignore" must not make apply unstoppable
    with log:
        result = anyio.run(run)
    if isinstance(result, signal.Signals):
        log.warning(
            f"apply stopped by {result.name}: {plural(journal.deleted, 'images')} deleted "
            f"(journaled in {journal.path}); run `ecr-sweeper apply {plan_file}` again to resume"
        )
        raise typer.Exit(128 + result.value)
    render.apply(result)
    raise typer.Exit(apply_exit_code(result))


def apply_exit_code(result: ApplyResult) -> int:
    """3 when the re-check was blocked, 4 when some deletions failed, else 0."""
    if result.fresh.blocked:
        return EXIT_BLOCKED
    return EXIT_OK if result.complete else EXIT_INCOMPLETE


@app.command()
def show(
    plan_file: PlanFile,
    details: Annotated[
        bool, typer.Option("--details", "-d", help="Every image with its verdict and reason.")
    ] = False,
    output_format: OutputFormat = "table",
    every_repository: EveryRepository = False,
) -> None:
    """Print the summary of a saved plan (and, with --details, every verdict)."""
    saved = _read_or_exit(plan_file)
    render.plan_as(saved, output_format, ECR_PRICE_PER_GB_MONTH, every_repository=every_repository)
    if details:
        render.decisions(saved, list(saved.kept) + list(saved.deletions))


@app.command()
def explain(
    plan_file: PlanFile,
    image: Annotated[
        str,
        typer.Argument(
            metavar="IMAGE",
            help="A digest (or its first characters), a tag, or an image URI "
            "(repo:tag or repo@sha256:...).",
        ),
    ],
) -> None:
    """Say why an image is kept or would be deleted."""
    saved = _read_or_exit(plan_file)
    matches = find_decisions(saved, image)
    if not matches:
        _fail(f"no image in {plan_file} matches {image!r}")
    render.decisions(saved, matches)


def _read_or_exit(plan_file: Path) -> Plan:
    try:
        return read_plan(plan_file)
    except PlanFileError as exc:
        _fail(str(exc))


def _plain_metavars(command: Any) -> None:
    """Help in one style, for every option of every command (those added later too): flags
    show no `<bool>`, values their metavar (the option's own, else its name in capitals),
    arguments their name in capitals (`PLAN_FILE`, not typer's `{plan_file}`)."""
    for param in command.params:
        if isinstance(param, TyperOption) and (param.is_flag or param.count):
            param.metavar = ""
        elif isinstance(param, TyperArgument):
            name = param.metavar or (param.name or "value").upper()
            param.metavar = name
            shown = (name if param.required else f"[{name}]") + ("..." if param.nargs != 1 else "")
            # typer 0.29 has no setting for the usage line's `{name}`: this instance's own.
            param._usage_display_name = partial(str, shown)  # type: ignore[method-assign]
        elif param.metavar is None and not param.type_descriptor.is_choice:  # choices: a|b
            param.metavar = (param.name or "value").upper()
    own_help_option = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = own_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)


def _usage_line(exc: click.ClickException) -> str:
    """A parser error in the style of every other: `error: --flag: why (see --help)`."""
    message = exc.format_message()
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        hint = exc.param_hint or " / ".join(getattr(exc.param, "opts", []) or [exc.param.name])
        hint = hint if isinstance(hint, str) else " / ".join(hint)
        message = f"{hint.strip(chr(39))}: {exc.message.removeprefix('Value error, ')}"
    elif isinstance(exc, click.UsageError):
        message = message[0].lower() + message[1:] if message else message
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "ecr-sweeper"
    return f"{message} (see `{command} --help`)"


class _LogLines(logging.Handler):
    """Warnings the libraries log (Python's logging) as one line of the display each, so
    `--log-format json` holds for them too. botocore's credential warnings are left out: a
    credentials failure is reported once, by the up-front check or as the account's error."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[-1] == "credentials" and "botocore" in record.name:
            return
        first, *_ = record.getMessage().splitlines() or [""]
        log.warning(f"warning: {record.name}: {first}")


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: every error one line on stderr (JSON with --log-format
    json), parser errors included. Returns the exit code when `argv` is given (the demo)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--log-format=json" in args or ("--log-format", "json") in itertools.pairwise(args):
        log.configure(log_format="json")
    root = logging.getLogger()
    if not any(isinstance(h, _LogLines) for h in root.handlers):
        root.addHandler(_LogLines())
    command = typer.main.get_command(app)
    _plain_metavars(command)
    try:
        code = command.main(args, prog_name="ecr-sweeper", standalone_mode=False)
    except click.NoArgsIsHelpError as exc:
        code = exc.exit_code  # the help was printed
    except click.ClickException as exc:
        log.error(f"error: {_usage_line(exc)}")  # noqa: TRY400 - one line, no traceback
        code = exc.exit_code
    except typer.Abort:
        log.error("error: aborted")  # noqa: TRY400 - one line, no traceback
        code = EXIT_ERROR
    except Exception as exc:
        if not log.json:
            raise  # a bug: the traceback, as Python prints it
        # Even a bug is one JSON line: the traceback goes in its own field.
        log.error(  # noqa: TRY400 - the traceback is a field of the one line
            f"error: unexpected {type(exc).__name__}: {exc}",
            traceback="".join(traceback.format_exception(exc)),
        )
        code = EXIT_ERROR
    code = code if isinstance(code, int) else EXIT_OK
    if argv is None:
        sys.exit(code)
    return code
