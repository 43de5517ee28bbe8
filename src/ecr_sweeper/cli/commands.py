"""The commands: each parses, checks every local input, calls ONE entry of the pipeline
(runs.py), and renders what it returns. Errors come out as `exits.SweeperError`s."""

from __future__ import annotations

import shlex
import signal
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ecr_sweeper import __version__, runs
from ecr_sweeper.aws.consumers import registry
from ecr_sweeper.cli.console import (
    bad_input,
    check_regions,
    check_writable,
    log,
    out,
    render,
)
from ecr_sweeper.cli.options import (
    AcceptAccount,
    AcceptUnread,
    Account,
    ApplyFormat,
    Config,
    DetailedExitCodes,
    EveryRepository,
    ExcludeAccount,
    ExternalImages,
    KeepLast,
    Kubeconfig,
    KubeContext,
    LogFormat,
    MarkdownFile,
    MaxDeleteImages,
    MaxDeletePercent,
    Merge,
    MinAgeDays,
    OptInTag,
    Org,
    OrgTag,
    OrgUnit,
    Output,
    OutputFormat,
    PlanFile,
    PricePerGbMonth,
    ProtectTag,
    PulledWithinDays,
    Quarantined,
    QuarantineDays,
    Quiet,
    Region,
    RoleName,
    RollbackRevisions,
    ServiceRevisions,
    Shard,
    ShardFiles,
    StoppedWithinHours,
    Untagged,
    UsageRegions,
    key_value,
)
from ecr_sweeper.cli.switches import with_switches
from ecr_sweeper.config import (
    FileConfig,
    account_id,
    check_file_kubeconfigs,
    check_kubeconfigs,
    checked_role_name,
    kubeconfig_sources,
    load_config,
    resolve_policy,
    resolve_sources,
    role_arn_for,
)
from ecr_sweeper.exits import ExitCode, InputError, UsageError, help_text
from ecr_sweeper.journal import Journal, quarantine_files, quarantined, select
from ecr_sweeper.model import AccountId, AccountTarget, Plan
from ecr_sweeper.model import Quarantined as QuarantineRecord
from ecr_sweeper.planfile import read_plan, write_plan
from ecr_sweeper.report import (
    ECR_PRICE_PER_GB_MONTH,
    find_decisions,
    human_bytes,
    markdown,
    quarantine_cost,
    totals,
)
from ecr_sweeper.results import ApplyResult, DeleteOutcome
from ecr_sweeper.shardfile import parse_shard
from ecr_sweeper.words import plural

app = typer.Typer(
    name="ecr-sweeper",
    help=(
        "Delete the ECR images that no workload uses (ECS, Lambda, Batch, EKS, Step Functions, "
        "and more) — across accounts, regions and "
        "clusters — and never one that is in use.\n\n"
        "Workflow: `plan` (read-only) writes a reviewable plan file; `apply PLAN` re-checks "
        "usage and deletes what the plan lists and is still unused.\n\n" + help_text()
    ),
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        out.print(f"ecr-sweeper {__version__}", markup=False)
        raise typer.Exit(ExitCode.OK)


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    version: Annotated[  # noqa: ARG001 - its eager callback prints it and exits
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Delete the ECR images no workload uses (see the commands)."""
    if ctx.invoked_subcommand is None:  # no command: the help, as a usage error
        ctx.get_help()  # typer prints it
        raise typer.Exit(ExitCode.USAGE)


@app.command()
@with_switches(registry.KINDS)
def plan(
    account: Account = None,
    region: Region = None,
    org: Org = False,
    org_unit: OrgUnit = None,
    org_tag: OrgTag = None,
    exclude_account: ExcludeAccount = None,
    role_name: RoleName = None,
    config: Config = None,
    keep_last: KeepLast = None,
    min_age_days: MinAgeDays = None,
    protect_tag: ProtectTag = None,
    pulled_within_days: PulledWithinDays = None,
    untagged: Untagged = None,
    opt_in_tag: OptInTag = None,
    accept_account: AcceptAccount = None,
    accept_unread: AcceptUnread = None,
    max_delete_percent: MaxDeletePercent = None,
    max_delete_images: MaxDeleteImages = None,
    quarantined_files: Quarantined = None,
    quarantine_days: QuarantineDays = None,
    external_images: ExternalImages = None,
    service_revisions: ServiceRevisions = None,
    rollback_revisions: RollbackRevisions = None,
    stopped_within_hours: StoppedWithinHours = None,
    kubeconfig: Kubeconfig = None,
    kube_context: KubeContext = None,
    usage_regions: UsageRegions = None,
    shard: Shard = None,
    merge: Merge = False,
    shard_files: ShardFiles = None,
    output: Output = Path("plan.json"),
    output_format: OutputFormat = "table",
    every_repository: EveryRepository = False,
    markdown_file: MarkdownFile = None,
    price_per_gb_month: PricePerGbMonth = ECR_PRICE_PER_GB_MONTH,
    detailed_exit_codes: DetailedExitCodes = False,
    quiet: Quiet = False,
    log_format: LogFormat = "text",
    switches: dict[str, bool | None] | None = None,  # --NAME/--no-NAME of each kind (switches.py)
) -> int:
    """Scan usage and inventory (read-only) and write a plan of what to delete, with reasons.

    Without --account, --config accounts or --org, sweeps the account of the base
    credentials."""
    log.configure(quiet=quiet, log_format=log_format)
    show = Shown(output, output_format, markdown_file, price_per_gb_month, every_repository)
    _check_outputs(output, markdown_file)
    if shard_files and not merge:
        raise UsageError("shard files are read only with --merge")
    if merge:
        if account or region or config or role_name or shard or org:
            raise UsageError("--merge plans from shard files only: no account options")
        records = _quarantine_records(quarantined_files or [])
        return _finish_plan(runs.merge(shard_files or [], records), show, detailed_exit_codes)
    check_regions(region or [], "--region")
    check_regions(usage_regions or [], "--usage-regions")
    with bad_input():
        file_config = load_config(config) if config else None
        kubeconfigs = kubeconfig_sources(kubeconfig or [], kube_context or [])
        check_kubeconfigs(kubeconfigs)
        if file_config is not None and config is not None:
            check_file_kubeconfigs(file_config, config)
        # Every local input is checked before the first AWS call (the credentials' check).
        sources = resolve_sources(
            file_config,
            external_files=external_images or [],
            stdin=sys.stdin,
            service_revisions=service_revisions,
            rollback_revisions=rollback_revisions,
            stopped_within_hours=stopped_within_hours,
            switches=switches,
            kubeconfigs=kubeconfigs,
            usage_regions=tuple(usage_regions or ()),
        )
        if file_config is not None:
            _check_file_regions(file_config, config)
        excluded = tuple(account_id(a, "--exclude-account") for a in exclude_account or [])
        if role_name is not None:  # checked now; the targets' roles are made after the call
            checked_role_name(role_name, "--role-name")
        policy = resolve_policy(
            file_config,
            keep_last,
            min_age_days,
            protect_tags=tuple(protect_tag or ()),
            pulled_within_days=pulled_within_days,
            untagged=untagged,
            opt_in_tag=opt_in_tag,
            accepted_accounts=tuple(accept_account or ()),
            accepted_unread=tuple(accept_unread or ()),
            max_delete_percent=max_delete_percent,
            max_delete_images=max_delete_images,
            quarantine_days=quarantine_days,
        )
        records = _quarantine_records(quarantined_files or [])
    if not org and (org_unit or org_tag):
        raise UsageError("--org-unit and --org-tag need --org")
    sweep = runs.Sweep(
        policy,
        sources,
        config=file_config,
        accounts=tuple(AccountId(a) for a in account or ()),
        regions=tuple(region or ()),
        role_name=role_name,
        organization=(
            runs.Organization(tuple(org_unit or ()), key_value(org_tag) if org_tag else None)
            if org
            else None
        ),
        excluded=excluded,
        quarantined=records,
    )
    with log:
        if shard is not None:
            index, count = parse_shard(shard)  # its form was checked as it was parsed
            return _shard_written(runs.shard(sweep, index, count, output, log))
        result = runs.plan(sweep, log)
    return _finish_plan(result, show, detailed_exit_codes)


@dataclass(frozen=True, slots=True)
class Shown:
    """Where and how a plan is written and printed (plan's output options)."""

    output: Path
    output_format: str
    markdown_file: Path | None
    price_per_gb_month: float
    every_repository: bool


def _quarantine_records(paths: list[Path]) -> tuple[QuarantineRecord, ...]:
    """What the quarantines of these plans or journals archived (an input error if one is
    neither)."""
    records: list[QuarantineRecord] = []
    for path in paths:
        try:
            journal_path, _ = quarantine_files(path)
            records += quarantined(journal_path)
        except ValueError as exc:
            raise InputError(f"--quarantined: {exc}") from exc
    return tuple(sorted(set(records)))


def _check_outputs(output: Path, markdown_file: Path | None) -> None:
    check_writable(output, "--output")
    if markdown_file is not None:
        if markdown_file.resolve() == output.resolve():
            raise UsageError(
                f"--markdown: {markdown_file} is the --output file: the Markdown summary would "
                "overwrite the plan file"
            )
        check_writable(markdown_file, "--markdown")


def _check_file_regions(file_config: FileConfig, path: Path | None) -> None:
    """The accounts file's regions, each a region botocore knows."""
    for index, target in enumerate(file_config.targets):
        check_regions(target.regions, f"{path}: accounts[{index}].regions")
    if file_config.defaults is not None:
        check_regions(file_config.defaults.regions, f"{path}: defaults.regions")


def _shard_written(shard: runs.ShardResult) -> int:
    where = f"shard {shard.index}/{shard.count}"
    log.info(
        f"{where} written to {shard.output} "
        f"({plural(shard.errors, 'errors')}; `plan --merge` reports them)"
    )
    # A shard that could not read everything fails its own job (the merge would be blocked
    # or incomplete anyway): 3 when usage is missing, 4 when only repositories are.
    if shard.usage_errors:
        log.error(f"error: {where}: {plural(shard.usage_errors, 'usage errors')}")
        return ExitCode.BLOCKED
    if shard.errors:
        log.error(f"error: {where}: {plural(shard.errors, 'inventory errors')}")
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def _finish_plan(result: Plan, show: Shown, detailed_exit_codes: bool) -> int:
    try:
        write_plan(result, show.output)
        if show.markdown_file is not None:
            show.markdown_file.write_text(
                markdown(result, show.price_per_gb_month), encoding="utf-8"
            )
    except OSError as exc:  # checked up front; this is the disk filling up, or a race
        raise InputError(f"cannot write {exc.filename}: {exc.strerror}") from exc
    render.plan_as(
        result,
        show.output_format,
        show.price_per_gb_month,
        every_repository=show.every_repository,
    )
    log.info(f"plan written to {show.output}")
    if result.deletions and not (result.blocked or result.refusals):
        log.info(f"review it, then apply it: ecr-sweeper apply {shlex.quote(str(show.output))}")
    return plan_exit_code(result, detailed=detailed_exit_codes)


def plan_exit_code(result: Plan, *, detailed: bool = False) -> ExitCode:
    """3 when blocked or over a cap, 4 when some repositories could not be read; else 0, or
    with `detailed`, 5 when there is something to delete."""
    if result.blocked or result.refusals:
        return ExitCode.BLOCKED
    if result.errors:
        return ExitCode.INCOMPLETE
    return ExitCode.DELETIONS if detailed and result.deletions else ExitCode.OK


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
    quarantine: Annotated[
        bool | None,
        typer.Option(
            "--quarantine/--no-quarantine",
            envvar="ECR_SWEEPER_QUARANTINE",  # the GitLab template's variable ("true"/"false")
            help="Archive the planned images (ECR's archive storage class) instead of deleting "
            "them: `ecr-sweeper restore` undoes it, and a plan --quarantine-days later deletes "
            "what stayed archived. Default: the plan's policy (`quarantine` in the accounts "
            "file).",
        ),
    ] = None,
    output_format: ApplyFormat = "table",
    quiet: Quiet = False,
    log_format: LogFormat = "text",
) -> int:
    """Carry out a plan: re-scan usage, then delete the planned images that are still unused."""
    log.configure(quiet=quiet, log_format=log_format)
    with bad_input():
        reviewed = read_plan(plan_file)
        if role_name is not None:
            reviewed = replace(
                reviewed,
                targets=tuple(
                    replace(t, role_arn=role_arn_for(t.account_id, role_name, None, "--role-name"))
                    for t in reviewed.targets
                ),
            )
    age_hours = (datetime.now(UTC) - reviewed.created_at).total_seconds() / 3600
    if age_hours > max_plan_age_hours:
        raise InputError(
            f"{plan_file} is {_age(age_hours)} old, older than "
            f"--max-plan-age-hours {max_plan_age_hours:g}; make a new plan"
        )
    if reviewed.blocked:
        log.error("error: this plan is blocked (fail closed); it deletes nothing")
        render.errors(reviewed)
        return ExitCode.BLOCKED
    if reviewed.refusals:
        log.error("error: this plan exceeds a safety cap; nothing deleted")
        render.refusals(reviewed)
        return ExitCode.BLOCKED
    if not reviewed.deletions:
        if output_format == "table":
            out.print("nothing to delete", markup=False)
        else:  # the same document, with no image in it
            render.apply_as(ApplyResult(reviewed, DeleteOutcome()), output_format)
        return ExitCode.OK
    journal = Journal.beside(plan_file)
    check_writable(journal.path, "the apply journal")
    if not yes and not sys.stdin.isatty():
        raise InputError("refusing to delete without confirmation: no terminal; pass --yes")
    archive = reviewed.policy.quarantine if quarantine is None else quarantine
    if archive:  # the cost, before anything is asked or archived
        cost = quarantine_cost(totals(reviewed)["bytes_reclaimed"], reviewed.policy.archive_prices)
        out.print(cost, markup=False)

    def confirm() -> None:  # once the credentials are checked, before anything is deleted
        if yes:
            return
        summary = totals(reviewed)
        render.confirmation_summary(reviewed)
        question = (
            f"{'Archive' if archive else 'Delete'} up to {summary['to_delete']} images "
            f"({human_bytes(summary['bytes_reclaimed'])}) in "
            f"{plural(len(reviewed.targets), 'accounts')}?"
        )
        if not typer.confirm(question):
            raise InputError("aborted; nothing deleted")

    with log:
        result = runs.apply(reviewed, journal, confirm, log, quarantine=archive)
    if isinstance(result, signal.Signals):
        log.warning(
            f"apply stopped by {result.name}: {plural(journal.deleted, 'images')} "
            f"{'archived' if archive else 'deleted'} "
            f"(journaled in {journal.path}); run "
            f"`ecr-sweeper apply{' --quarantine' if archive else ''} {plan_file}` again to resume"
        )
        return 128 + result.value
    render.apply_as(result, output_format)
    return apply_exit_code(result)


def _age(hours: float) -> str:
    """`100 hours`, `5 minutes`, `12 seconds`: never "0 hours old" (--max-plan-age-hours 0)."""
    if hours >= 1:
        return plural(round(hours), "hours")
    if hours * 60 >= 1:
        return plural(round(hours * 60), "minutes")
    return plural(round(hours * 3600), "seconds")


def apply_exit_code(result: ApplyResult) -> ExitCode:
    """3 when the re-check was blocked, 4 when some deletions failed, else 0."""
    if result.fresh.blocked:
        return ExitCode.BLOCKED
    return ExitCode.OK if result.complete else ExitCode.INCOMPLETE


@app.command()
def restore(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="PLAN|JOURNAL",
            help="The plan an `apply --quarantine` carried out, or its journal "
            "(plan.json.journal).",
        ),
    ],
    repository: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME", help="Only this repository (repeatable)."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(metavar="TAG", help="Only images carrying this tag (repeatable)."),
    ] = None,
    digest: Annotated[
        list[str] | None,
        typer.Option(metavar="DIGEST", help="Only this image (repeatable)."),
    ] = None,
    role_name: Annotated[
        str | None,
        typer.Option(
            metavar="ROLE_NAME",
            help="Assume this role in every account instead of the one the plan recorded.",
        ),
    ] = None,
    quiet: Quiet = False,
    log_format: LogFormat = "text",
) -> int:
    """Undo a quarantine: restore what `apply --quarantine` archived (ACTIVATING, then ACTIVE
    within about 20 minutes). Running it again restores nothing twice."""
    log.configure(quiet=quiet, log_format=log_format)
    with bad_input():
        try:
            journal_path, plan_path = quarantine_files(source)
            records = quarantined(journal_path)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        targets = read_plan(plan_path).targets if plan_path is not None else ()
    if role_name is not None:
        accounts = {r.repository.account_id for r in records} | {t.account_id for t in targets}
        known = {t.account_id: t for t in targets}
        targets = tuple(
            replace(
                known.get(a) or AccountTarget(a, ()),
                role_arn=role_arn_for(a, role_name, None, "--role-name"),
            )
            for a in sorted(accounts)
        )
    chosen = select(records, tuple(repository or ()), tuple(digest or ()))
    if not chosen:
        out.print(
            f"nothing to restore: {journal_path} records no such archived image", markup=False
        )
        return ExitCode.OK
    with log:
        lines = runs.restore(chosen, targets, tuple(tag or ()), log)
    render.restore(lines)
    return ExitCode.INCOMPLETE if any(line.after == "FAILED" for line in lines) else ExitCode.OK


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
    with bad_input():
        saved = read_plan(plan_file)
    render.plan_as(saved, output_format, ECR_PRICE_PER_GB_MONTH, every_repository=every_repository)
    if details:
        render.every_decision(saved)  # streamed from the file


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
    with bad_input():
        saved = read_plan(plan_file)
    matches = find_decisions(saved, image)
    if not matches:
        raise InputError(f"no image in {plan_file} matches {image!r}")
    render.decisions(saved, matches)
