"""The options of the commands, each one `Annotated` type: a command's signature lists them by
name. Values of a fixed form (an account id, I/N, KEY=VALUE) are checked as they are parsed, so a
wrong one is a usage error (exit 2) in the parser's own style."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import typer

from ecr_sweeper.config import ACCOUNT_ID, ConfigError, accepted_unread
from ecr_sweeper.shardfile import parse_shard


def _account_ids(values: list[str] | None) -> list[str] | None:
    for value in values or ():
        if not ACCOUNT_ID.fullmatch(value):
            raise typer.BadParameter(f"{value!r} is not a 12-digit AWS account id")
    return values


def _accepted_unread(values: list[str] | None) -> list[str] | None:
    """Each KIND or KIND@ACCOUNT names a consumer kind of the registry (or a service principal
    a plan names): a usage error naming the valid kinds otherwise."""
    for value in values or ():
        try:
            accepted_unread(value)
        except ConfigError as exc:
            raise typer.BadParameter(str(exc).removeprefix("--accept-unread: value: ")) from exc
    return values


def _key_value(value: str | None) -> str | None:
    if value is not None and not key_value(value)[0]:
        raise typer.BadParameter(f"expected KEY=VALUE, got {value!r}")
    return value


def key_value(text: str) -> tuple[str, str]:
    """`"team=web"` → ("team", "web"); the key is empty when `text` is not KEY=VALUE."""
    key, sep, value = text.partition("=")
    return (key if sep else ""), value


def _shard(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_shard(value)
        except ValueError as exc:  # parse_shard's only error: the text is not I/N
            raise typer.BadParameter(str(exc).removeprefix("--shard: ")) from exc
    return value


def _a_file(value: Path) -> Path:
    if str(value) == "-":
        raise typer.BadParameter(
            "'-' is not a file: the plan file is written to a file (print the plan with "
            "--format json)"
        )
    return value


LogFormats = Literal["text", "json"]
Formats = Literal["table", "json", "markdown", "csv"]
UntaggedImages = Literal["delete", "keep"]


def choices(values: Any) -> str:
    """The metavar of a choice, `<a|b>` (every other option's is its name in capitals)."""
    return "<" + "|".join(get_args(values)) + ">"


# Options several commands share.
LogFormat = Annotated[
    LogFormats,
    typer.Option(
        "--log-format",
        metavar=choices(LogFormats),
        help="stderr lines: text, or json (every line one JSON object).",
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No progress or information lines on stderr, only warnings and errors (what "
        "--format prints on stdout stays).",
    ),
]
OutputFormat = Annotated[
    Formats,
    typer.Option(
        "--format",
        metavar=choices(Formats),
        help="How to print the plan: table, json, markdown or csv.",
        rich_help_panel="Output",
    ),
]
ApplyFormat = Annotated[
    Formats,
    typer.Option(
        "--format",
        metavar=choices(Formats),
        help="How to print what apply did: table (the images deleted), or every image of the "
        "plan with its outcome in json, markdown or csv.",
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

# The options of `plan`.
Account = Annotated[
    list[str] | None,
    typer.Option(
        "--account",
        "-a",
        help="Account id to sweep (repeatable). With --config, "
        "selects those accounts from the file.",
        callback=_account_ids,
    ),
]

Region = Annotated[
    list[str] | None,
    typer.Option("--region", "-r", help="Region to sweep (repeatable); replaces the file's."),
]

Org = Annotated[
    bool,
    typer.Option(
        "--org",
        help="Sweep the accounts of the AWS organization the base credentials can read "
        "(management account or delegated administrator).",
        rich_help_panel="Organization",
    ),
]

OrgUnit = Annotated[
    list[str] | None,
    typer.Option(
        help="With --org: only accounts under this OU (or root) id, recursively (repeatable).",
        rich_help_panel="Organization",
    ),
]

OrgTag = Annotated[
    str | None,
    typer.Option(
        help="With --org: only accounts carrying this tag, KEY=VALUE.",
        rich_help_panel="Organization",
        callback=_key_value,
    ),
]

ExcludeAccount = Annotated[
    list[str] | None,
    typer.Option(help="Leave this account out (repeatable).", rich_help_panel="Organization"),
]

RoleName = Annotated[
    str | None,
    typer.Option(
        help="Role assumed in each account: arn:aws:iam::<id>:role/<ROLE_NAME>. "
        "Without one, the base credentials are used and must be in the account."
    ),
]

Config = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Accounts file (TOML); see accounts.example.toml."),
]

KeepLast = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Keep the N most recently pushed tagged images of every repository; untagged "
        "images do not count and follow --untagged, as in ECR lifecycle rules "
        "(default: 10, or the file's policy.keep_last).",
    ),
]

MinAgeDays = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Never delete an image pushed less than N days ago "
        "(default: 14, or the file's policy.min_age_days).",
    ),
]

ProtectTag = Annotated[
    list[str] | None,
    typer.Option(
        help="Keep every image with a tag matching this glob, or regex written re:<regex> "
        "(repeatable; adds to the file's policy.protect_tags).",
        rich_help_panel="Retention",
    ),
]

PulledWithinDays = Annotated[
    int | None,
    typer.Option(
        "--pulled-within-days",
        "--keep-pulled-within-days",  # the old name, an alias
        min=0,
        help="Keep every image pulled within N days that no consumer this run read uses "
        "(ECR's lastRecordedPullTime; a safety rule, default 30; 0 switches it off).",
        rich_help_panel="Safety",
    ),
]

Untagged = Annotated[
    UntaggedImages | None,
    typer.Option(
        metavar=choices(UntaggedImages),
        help="Untagged images nothing references: delete (default) or keep. "
        "--keep-last does not count them.",
        rich_help_panel="Retention",
    ),
]

OptInTag = Annotated[
    str | None,
    typer.Option(
        help="Sweep only repositories carrying this resource tag, KEY=VALUE.",
        rich_help_panel="Retention",
    ),
]

AcceptAccount = Annotated[
    list[str] | None,
    typer.Option(
        help="An account outside the sweep that a repository policy lets pull, whose use "
        "you accept losing; without it such repositories are left alone (repeatable).",
        rich_help_panel="Safety",
    ),
]

AcceptUnread = Annotated[
    list[str] | None,
    typer.Option(
        help="KIND or KIND@ACCOUNT: a consumer kind present and not read (switched off, "
        "census-only like elasticbeanstalk, or whose read failed, like an EKS cluster that "
        "refused the role) whose images you list with --external-images or accept losing; "
        "without it the plan is blocked (repeatable). KIND is the kind's name in the census.",
        rich_help_panel="Safety",
        callback=_accepted_unread,
    ),
]

MaxDeletePercent = Annotated[
    float | None,
    typer.Option(
        min=0,
        max=100,
        help="Refuse to apply if a repository would lose more than this % of its images.",
        rich_help_panel="Safety",
    ),
]

MaxDeleteImages = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Refuse to apply if the run would delete more than N images.",
        rich_help_panel="Safety",
    ),
]

Quarantined = Annotated[
    list[Path] | None,
    typer.Option(
        "--quarantined",
        metavar="PLAN|JOURNAL",
        help="What an `apply --quarantine` archived (its plan, or the plan's journal; "
        "repeatable): images of it archived --quarantine-days are deleted, restored ones kept.",
        rich_help_panel="Safety",
    ),
]

QuarantineDays = Annotated[
    int | None,
    typer.Option(
        min=0,
        metavar="DAYS",
        help="Days an image stays quarantined (archived) before a plan deletes it (default 14).",
        rich_help_panel="Safety",
    ),
]

ExternalImages = Annotated[
    list[Path] | None,
    typer.Option(
        help="A file of image URIs in use where no reader looks (clusters outside EKS, "
        "other clouds, a deploy manifest), one per line; '-' reads standard input "
        "(repeatable).",
        rich_help_panel="Usage sources",
    ),
]

# --- the ECS reader's options (each consumer kind's on/off switch comes from the registry:
# cli/switches.py)
ServiceRevisions = Annotated[
    bool | None,
    typer.Option(
        "--service-revisions/--no-service-revisions",
        help="Read ECS service revisions for the digests deployments resolved (default on).",
        rich_help_panel="Usage sources",
    ),
]

RollbackRevisions = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Protect the last N ACTIVE revisions of every task definition family in use "
        "(default 5).",
        rich_help_panel="Usage sources",
    ),
]

StoppedWithinHours = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Protect images of tasks stopped within N hours (default 24; ECS lists stopped "
        "tasks for about an hour).",
        rich_help_panel="Usage sources",
    ),
]


# --- end of the usage sources' switches

Kubeconfig = Annotated[
    list[Path] | None,
    typer.Option(
        help="Also read the clusters of this kubeconfig (its current context, or each "
        "--kube-context), with its own auth (repeatable).",
        rich_help_panel="Usage sources",
    ),
]

KubeContext = Annotated[
    list[str] | None,
    typer.Option(
        help="With --kubeconfig: read this context (repeatable).",
        rich_help_panel="Usage sources",
    ),
]

UsageRegions = Annotated[
    list[str] | None,
    typer.Option(
        "--usage-regions",
        help="Read usage only in this region (repeatable) and the swept ones, instead of "
        "every enabled region of every account; the plan warns which were not read.",
        rich_help_panel="Usage sources",
    ),
]

Shard = Annotated[
    str | None,
    typer.Option(
        help="Scan only shard I of N (I/N) of the accounts and write what it read to "
        "--output, for `plan --merge`; plans nothing itself.",
        rich_help_panel="Scale",
        callback=_shard,
    ),
]

Merge = Annotated[
    bool,
    typer.Option(
        "--merge",
        help="Plan from SHARD_FILES (every `--shard` run's file, shards 1..N exactly once) "
        "instead of scanning.",
        rich_help_panel="Scale",
    ),
]

ShardFiles = Annotated[
    list[Path] | None,
    typer.Argument(help="With --merge: the shard files.", show_default=False),
]

Output = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        help="Where to write the plan file (JSON).",
        callback=_a_file,
    ),
]

MarkdownFile = Annotated[
    Path | None,
    typer.Option(
        "--markdown",
        help="Also write a Markdown summary here (for CI job summaries).",
        rich_help_panel="Output",
    ),
]

PricePerGbMonth = Annotated[
    float,
    typer.Option(
        min=0,
        help="Storage price for the estimated monthly savings, USD per GB-month.",
        rich_help_panel="Output",
    ),
]

DetailedExitCodes = Annotated[
    bool,
    typer.Option(
        help="Exit 5 when the plan deletes something (0 then means nothing to do).",
        rich_help_panel="Output",
    ),
]
