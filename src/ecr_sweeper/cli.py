"""The `ecr-sweeper` command: parse, build the run, `anyio.run`, render. No logic of its own.

Exit codes (documented in the README; CI jobs act on them):
  0  success (plan written / apply finished; there may be nothing to do)
  1  error: bad input (flags, accounts file, plan file) or an unexpected failure
  2  command-line usage error (unknown flag, missing argument)
  3  blocked by safety: a usage source could not be read, so nothing is (or was) deleted
  4  incomplete: some repositories could not be listed (plan), or some deletions failed (apply)
  5  deletions planned (plan --detailed-exit-codes only; 0 then means nothing to delete)
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import anyio
import typer
from rich.console import Console

from ecr_sweeper.aws.org import ORGANIZATIONS_REGION, discover_accounts
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.config import (
    ConfigError,
    account_id,
    load_config,
    resolve_policy,
    resolve_sources,
    resolve_targets,
    role_arn_for,
)
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
from ecr_sweeper.pipeline import ApplyResult, apply_plan, make_plan, plan_from_scans, scan
from ecr_sweeper.planfile import PlanFileError, read_plan, write_plan
from ecr_sweeper.render import ProgressDisplay, Renderer
from ecr_sweeper.report import ECR_PRICE_PER_GB_MONTH, find_decisions, human_bytes, markdown, totals
from ecr_sweeper.shardfile import parse_shard, read_shards, shard_targets, write_shard

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BLOCKED = 3
EXIT_INCOMPLETE = 4
EXIT_DELETIONS = 5  # with --detailed-exit-codes only
FORMATS = ("table", "json", "markdown", "csv")

app = typer.Typer(
    name="ecr-sweeper",
    help=(
        "Delete the ECR images that no ECS workload uses — across accounts, regions and "
        "clusters — and never one that is in use.\n\n"
        "Workflow: `plan` (read-only) writes a reviewable plan file; `apply PLAN` re-checks "
        "usage and deletes what the plan lists and is still unused.\n\n"
        "Exit codes: 0 ok, 1 error/bad input, 2 usage error, 3 blocked by safety (a usage "
        "source could not be read; nothing deleted), 4 incomplete (some repositories "
        "unreadable or some deletions failed), 5 deletions planned (plan "
        "--detailed-exit-codes only)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Off a terminal (CI logs, pipes) rich would wrap at 80 columns; plan tables need more.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)
render = Renderer(out, err)


LogFormat = Annotated[
    str,
    typer.Option("--log-format", help="Progress and log lines: text, or json (one object a line)."),
]


@app.command()
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
        str | None,
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
    schedules: Annotated[
        bool | None,
        typer.Option(
            "--schedules/--no-schedules",
            help="Read EventBridge rules and Scheduler schedules that run ECS tasks (default on).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    lambdas: Annotated[
        bool | None,
        typer.Option(
            "--lambdas/--no-lambdas",
            help="Read image-packaged Lambda functions, every version (default on).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    daemons: Annotated[
        bool | None,
        typer.Option(
            "--daemons/--no-daemons",
            help="Read ECS Managed Daemons: revisions and daemon task definitions (default on).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    batch: Annotated[
        bool | None,
        typer.Option(
            "--batch/--no-batch",
            help="Read AWS Batch job definitions (default on).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    step_functions: Annotated[
        bool | None,
        typer.Option(
            "--step-functions/--no-step-functions",
            help="Read Step Functions state machines, every version (default on).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    codebuild: Annotated[
        bool | None,
        typer.Option(
            "--codebuild/--no-codebuild",
            help="Read CodeBuild projects' build images (default on).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    sagemaker: Annotated[
        bool | None,
        typer.Option(
            "--sagemaker/--no-sagemaker",
            help="Read SageMaker models' containers (default on).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    app_runner: Annotated[
        bool | None,
        typer.Option(
            "--app-runner/--no-app-runner",
            help="Read App Runner services' images (default on).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    emr: Annotated[
        bool | None,
        typer.Option(
            "--emr/--no-emr",
            help="Read EMR Serverless applications' custom images (default on).",
            rich_help_panel="Usage sources",
        ),
    ] = None,
    pipes: Annotated[
        bool | None,
        typer.Option(
            "--pipes/--no-pipes",
            help="Read EventBridge Pipes that run ECS tasks or Batch jobs (default on).",
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
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="How to print the plan: table, json, markdown or csv.",
            rich_help_panel="Output",
        ),
    ] = "table",
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    log_format: LogFormat = "text",
) -> None:
    """Scan usage and inventory (read-only) and write a plan of what to delete, with reasons."""
    if output_format not in FORMATS:
        err.print(f"error: --format: expected one of {', '.join(FORMATS)}", markup=False)
        raise typer.Exit(EXIT_ERROR)
    if log_format not in ("text", "json"):
        err.print("error: --log-format: expected text or json", markup=False)
        raise typer.Exit(EXIT_ERROR)
    say = ProgressDisplay(err, quiet=quiet, log_format=log_format)
    if shard_files and not merge:
        err.print("error: shard files are read only with --merge", markup=False)
        raise typer.Exit(EXIT_ERROR)
    if merge:
        if account or region or config or role_name or shard:
            err.print(
                "error: --merge plans from shard files only: no account options", markup=False
            )
            raise typer.Exit(EXIT_ERROR)
        try:
            targets, policy, sources, usage, inventory = read_shards(shard_files or [])
        except PlanFileError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(EXIT_ERROR) from exc
        result = plan_from_scans(
            usage, inventory, policy, datetime.now(UTC), targets=targets, sources=sources
        )
        _finish_plan(
            result, output, output_format, markdown_file, price_per_gb_month, detailed_exit_codes
        )
    try:
        file_config = load_config(config) if config else None
        excluded = [account_id(a, "--exclude-account") for a in exclude_account or []]
        accounts = _accounts_to_sweep(account or [], org, org_unit, org_tag, excluded)
        targets = _excluding(
            resolve_targets(
                config=file_config,
                accounts=accounts,
                cli_regions=region or [],
                role_name=role_name,
            ),
            excluded,
        )
        policy = resolve_policy(
            file_config,
            keep_last,
            min_age_days,
            protect_tags=tuple(protect_tag or ()),
            keep_pulled_within_days=keep_pulled_within_days,
            untagged=untagged,
            opt_in_tag=opt_in_tag,
            accepted_accounts=tuple(accept_account or ()),
            max_delete_percent=max_delete_percent,
            max_delete_images=max_delete_images,
        )
        sources = resolve_sources(
            file_config,
            external_files=external_images or [],
            stdin=sys.stdin,
            service_revisions=service_revisions,
            rollback_revisions=rollback_revisions,
            stopped_within_hours=stopped_within_hours,
            schedules=schedules,
            lambdas=lambdas,
            daemons=daemons,
            batch=batch,
            step_functions=step_functions,
            codebuild=codebuild,
            sagemaker=sagemaker,
            app_runner=app_runner,
            emr=emr,
            pipes=pipes,
        )
        share = parse_shard(shard) if shard else None
    except (ConfigError, ValueError) as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(EXIT_ERROR) from exc
    if share is not None:
        _plan_shard(share, targets, policy, sources, output, say)
    everywhere = sum(1 for t in targets if not t.regions)
    err.print(
        f"planning {len(targets)} account(s): {sum(len(t.regions) for t in targets)} "
        f"account-region(s)"
        + (f" + every enabled region of {everywhere} account(s)" if everywhere else "")
        + f"; policy: keep last {policy.keep_last}, min age {policy.min_age_days} days",
        markup=False,
    )

    async def run() -> Plan:
        async with Connections() as connections:
            return await make_plan(
                targets, policy, connections, datetime.now(UTC), say, sources=sources
            )

    with say:
        result = anyio.run(run)
    _finish_plan(
        result, output, output_format, markdown_file, price_per_gb_month, detailed_exit_codes
    )


def _accounts_to_sweep(
    given: list[str],
    org: bool,
    units: list[str] | None,
    tag: str | None,
    excluded: list[AccountId],
) -> list[str]:
    if not org:
        if units or tag:
            raise ConfigError("--org-unit and --org-tag need --org")
        return given
    return [*given, *_organization_accounts(units, tag, excluded)]


def _excluding(
    targets: tuple[AccountTarget, ...], excluded: list[AccountId]
) -> tuple[AccountTarget, ...]:
    kept = tuple(t for t in targets if t.account_id not in excluded)
    if not kept:
        raise ConfigError("no accounts left to sweep after --exclude-account")
    return kept


def _organization_accounts(
    units: list[str] | None, tag: str | None, exclude: list[AccountId]
) -> list[str]:
    wanted_tag = None
    if tag is not None:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise ConfigError(f"--org-tag: expected KEY=VALUE, got {tag!r}")
        wanted_tag = (key, value)

    async def run() -> list[AccountId]:
        async with Connections() as connections:
            organizations = await connections.base_client(
                "organizations", Region(ORGANIZATIONS_REGION)
            )
            api = connections.api(AccountId("organization"), Region(ORGANIZATIONS_REGION))
            return await discover_accounts(
                organizations, api, units=units or (), tag=wanted_tag, exclude=exclude
            )

    try:
        found = anyio.run(run)
    except Exception as exc:
        raise ConfigError(f"--org: cannot list the organization's accounts: {exc}") from exc
    if not found:
        raise ConfigError("--org: no ACTIVE account matches")
    err.print(f"--org: {len(found)} account(s) found", markup=False)
    return list(found)


def _plan_shard(
    share: tuple[int, int],
    targets: tuple[AccountTarget, ...],
    policy: Policy,
    sources: Sources,
    output: Path,
    say: ProgressDisplay,
) -> NoReturn:
    index, count = share
    mine = shard_targets(targets, index, count)
    err.print(
        f"shard {index}/{count}: scanning {len(mine)} of {len(targets)} account(s)", markup=False
    )

    async def run() -> tuple[list[UsageScan], list[InventoryScan]]:
        async with Connections() as connections:
            return await scan(
                mine,
                connections,
                datetime.now(UTC),
                say,
                sources,
                read_tags=policy.opt_in_tag is not None,
            )

    with say:
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
    errors = sum(len(s.errors) for s in usage) + sum(len(s.errors) for s in inventory)
    out.print(
        f"shard {index}/{count} written to {output} ({errors} errors; `plan --merge` reports them)",
        markup=False,
    )
    raise typer.Exit(EXIT_OK)


def _finish_plan(
    result: Plan,
    output: Path,
    output_format: str,
    markdown_file: Path | None,
    price_per_gb_month: float,
    detailed_exit_codes: bool,
) -> NoReturn:
    write_plan(result, output)
    if markdown_file is not None:
        markdown_file.write_text(markdown(result, price_per_gb_month), encoding="utf-8")
    render.plan_as(result, output_format, price_per_gb_month)
    err.print(f"plan written to {output}", markup=False)
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
    plan_file: Annotated[Path, typer.Argument(help="A plan file written by `plan`.")],
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Delete without asking (required without a terminal)."),
    ] = False,
    role_name: Annotated[
        str | None,
        typer.Option(
            help="Assume this role in every account instead of the one the plan recorded (a "
            "delete-capable apply role, while plan runs read-only).",
        ),
    ] = None,
    max_plan_age_hours: Annotated[
        float,
        typer.Option(min=0, help="Refuse a plan older than this: what was reviewed is stale."),
    ] = 72.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    log_format: LogFormat = "text",
) -> None:
    """Carry out a plan: re-scan usage, then delete the planned images that are still unused."""
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
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(EXIT_ERROR) from exc
    age_hours = (datetime.now(UTC) - reviewed.created_at).total_seconds() / 3600
    if age_hours > max_plan_age_hours:
        err.print(
            f"error: {plan_file} is {age_hours:.0f} hours old, older than "
            f"--max-plan-age-hours {max_plan_age_hours:g}; make a new plan",
            markup=False,
        )
        raise typer.Exit(EXIT_ERROR)
    if reviewed.blocked:
        render.errors(reviewed)
        err.print("error: this plan is blocked (fail closed); it deletes nothing", markup=False)
        raise typer.Exit(EXIT_BLOCKED)
    if reviewed.refusals:
        render.refusals(reviewed)
        err.print("error: this plan exceeds a safety cap; nothing deleted", markup=False)
        raise typer.Exit(EXIT_BLOCKED)
    if not reviewed.deletions:
        out.print("nothing to delete", markup=False)
        raise typer.Exit(EXIT_OK)
    summary = totals(reviewed)
    question = (
        f"Delete up to {summary['to_delete']} images "
        f"({human_bytes(summary['bytes_reclaimed'])}) in {len(reviewed.targets)} account(s)?"
    )
    if not yes:
        if not sys.stdin.isatty():
            err.print(
                "error: refusing to delete without confirmation: no terminal; pass --yes",
                markup=False,
            )
            raise typer.Exit(EXIT_ERROR)
        if not typer.confirm(question):
            err.print("aborted; nothing deleted", markup=False)
            raise typer.Exit(EXIT_ERROR)
    say = ProgressDisplay(err, quiet=quiet, log_format=log_format)

    async def run() -> ApplyResult:
        async with Connections() as connections:
            return await apply_plan(
                reviewed, connections, datetime.now(UTC), say, Journal.beside(plan_file)
            )

    with say:
        result = anyio.run(run)
    render.apply(result)
    raise typer.Exit(apply_exit_code(result))


def apply_exit_code(result: ApplyResult) -> int:
    """3 when the re-check was blocked, 4 when some deletions failed, else 0."""
    if result.fresh.blocked:
        return EXIT_BLOCKED
    return EXIT_OK if result.complete else EXIT_INCOMPLETE


@app.command()
def show(
    plan_file: Annotated[Path, typer.Argument(help="A plan file written by `plan`.")],
    details: Annotated[
        bool, typer.Option("--details", "-d", help="Every image with its verdict and reason.")
    ] = False,
    output_format: Annotated[
        str, typer.Option("--format", help="table, json, markdown or csv.")
    ] = "table",
) -> None:
    """Print the summary of a saved plan (and, with --details, every verdict)."""
    saved = _read_or_exit(plan_file)
    if output_format not in FORMATS:
        err.print(f"error: --format: expected one of {', '.join(FORMATS)}", markup=False)
        raise typer.Exit(EXIT_ERROR)
    render.plan_as(saved, output_format, ECR_PRICE_PER_GB_MONTH)
    if details:
        render.decisions(saved, list(saved.kept) + list(saved.deletions))


@app.command()
def explain(
    plan_file: Annotated[Path, typer.Argument(help="A plan file written by `plan`.")],
    image: Annotated[
        str,
        typer.Argument(
            help="A digest (or its first characters), a tag, or an image URI "
            "(repo:tag or repo@sha256:...)."
        ),
    ],
) -> None:
    """Say why an image is kept or would be deleted."""
    saved = _read_or_exit(plan_file)
    matches = find_decisions(saved, image)
    if not matches:
        err.print(f"error: no image in {plan_file} matches {image!r}", markup=False)
        raise typer.Exit(EXIT_ERROR)
    render.decisions(saved, matches)


def _read_or_exit(plan_file: Path) -> Plan:
    try:
        return read_plan(plan_file)
    except PlanFileError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(EXIT_ERROR) from exc


@app.command()
def demo(
    keep_server: Annotated[
        bool, typer.Option(help="Leave moto's server running until Ctrl-C after the demo.")
    ] = False,
) -> None:
    """Run a plan and an apply against an embedded moto server seeded with a small org."""
    from ecr_sweeper.demo import run_demo

    raise typer.Exit(run_demo(render, keep_server=keep_server))


def main() -> None:
    """Console-script entry point."""
    app()
