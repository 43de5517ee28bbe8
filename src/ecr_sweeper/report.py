"""Plans and apply results as rows and totals (pure). Rendering with rich is render.py's."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ecr_sweeper import wording
from ecr_sweeper.model import AccountId, Decision, Plan, RepositoryKey, ScanError
from ecr_sweeper.results import ApplyResult
from ecr_sweeper.words import plural


@dataclass(frozen=True, slots=True)
class RepositoryRow:
    """One line of the plan summary."""

    repository: RepositoryKey
    images: int
    kept: int
    to_delete: int
    bytes_reclaimed: int


def repository_rows(plan: Plan) -> list[RepositoryRow]:
    """Per repository: images, kept, to delete, bytes reclaimed."""
    kept: dict[RepositoryKey, int] = defaultdict(int)
    deleted: dict[RepositoryKey, int] = defaultdict(int)
    reclaimed: dict[RepositoryKey, int] = defaultdict(int)
    for d in plan.kept:
        kept[d.repository] += 1
    for d in plan.deletions:
        deleted[d.repository] += 1
        reclaimed[d.repository] += d.size_bytes
    return [
        RepositoryRow(key, kept[key] + deleted[key], kept[key], deleted[key], reclaimed[key])
        for key in sorted(set(kept) | set(deleted))
    ]


@dataclass(frozen=True, slots=True)
class AccountRow:
    """What a plan deletes in one account (every region)."""

    account_id: AccountId
    repositories: int
    to_delete: int
    bytes_reclaimed: int


def account_rows(plan: Plan) -> list[AccountRow]:
    """Per account with something to delete: repositories touched, images, bytes."""
    by_account: dict[AccountId, list[RepositoryRow]] = defaultdict(list)
    for row in repository_rows(plan):
        if row.to_delete:
            by_account[row.repository.account_id].append(row)
    return [
        AccountRow(
            account,
            len(rows),
            sum(r.to_delete for r in rows),
            sum(r.bytes_reclaimed for r in rows),
        )
        for account, rows in sorted(by_account.items())
    ]


def error_line(error: ScanError) -> str:
    """`[scope] account/region subject: message`, without saying a word twice (the subject
    often repeats the scope and the place: "usage 111111111111/us-east-1")."""
    where = f"{error.account_id}/{error.region}" if error.region else error.account_id
    words = [w for w in error.subject.split() if w not in (where, error.scope)]
    if words and words[-1] == "of":
        words.pop()
    subject = " ".join(words)
    return f"[{error.scope}] {where}" + (f" {subject}" if subject else "") + f": {error.message}"


def totals(plan: Plan) -> dict[str, Any]:
    """Whole-plan counts, as the plan file's `summary`."""
    rows = repository_rows(plan)
    return {
        "repositories": len(rows),
        "images": sum(r.images for r in rows),
        "kept": sum(r.kept for r in rows),
        "to_delete": sum(r.to_delete for r in rows),
        "bytes_reclaimed": sum(r.bytes_reclaimed for r in rows),
        "errors": len(plan.errors),
        "blocked": plan.blocked,
    }


def apply_totals(result: ApplyResult) -> dict[str, int]:
    """Counts of each outcome of an apply."""
    outcome = result.outcome
    return {
        "deleted_earlier": len(result.previously_done),
        "deleted": len(outcome.deleted),
        "already_gone": len(outcome.already_gone),
        "skipped_now_in_use_or_kept": len(result.skipped),
        "still_referenced": len(outcome.still_referenced),
        "failed": len(outcome.failed),
        "bytes_reclaimed": sum(d.size_bytes for d in outcome.deleted),
    }


def human_bytes(size: int) -> str:
    """1536 → '1.5 KiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - loop always returns


def find_decisions(plan: Plan, query: str) -> list[Decision]:
    """The verdicts an `explain` query names: a digest or digest prefix, a tag, or an image URI
    (`…/repo:tag`, `…/repo@sha256:…`) or a repository's name with its tag or digest
    (`worker:b2`, `team/api@sha256:…`: a tag never holds a colon, so `NAME:TAG` is no tag)."""
    repository: str | None = None
    needle = query
    if "/" in query or "@" in query or (":" in query and not query.startswith("sha256:")):
        rest, _, digest = query.partition("@")
        path = rest.split("/", 1)[1] if "/" in rest and "." in rest.split("/", 1)[0] else rest
        name, _, tag = path.rpartition(":") if ":" in path else (path, "", "")
        repository = name or path
        needle = digest or tag or "latest"
    found = []
    for d in itertools.chain(plan.kept, plan.deletions):  # streamed: a plan file's, one by one
        if repository is not None and d.repository.name != repository:
            continue
        if (
            (needle.startswith("sha256:") and d.digest.startswith(needle))
            or needle in d.tags
            or (len(needle) >= 6 and d.digest.removeprefix("sha256:").startswith(needle))
        ):
            found.append(d)
    return sorted(found, key=lambda d: (d.repository, d.digest))


ECR_PRICE_PER_GB_MONTH = 0.10  # USD, ECR private storage in most regions (a flag overrides)


def monthly_savings(size_bytes: int, price_per_gb_month: float) -> float:
    """Estimated storage cost per month of `size_bytes` at ECR's price (GB = 10^9 bytes)."""
    return size_bytes / 1e9 * price_per_gb_month


def markdown(plan: Plan, price_per_gb_month: float = ECR_PRICE_PER_GB_MONTH) -> str:
    """The plan as a Markdown summary for people (CI job summaries, merge requests)."""
    summary = totals(plan)
    status = (
        "**BLOCKED** — consumers exist that this run did not read, so nothing will be deleted."
        if plan.findings
        else "**BLOCKED** — a usage source could not be read, so nothing will be deleted."
        if plan.blocked
        else "**REFUSED** — over a safety cap; apply will refuse it."
        if plan.refusals
        else "Nothing to delete."
        if not plan.deletions
        else f"{plural(summary['to_delete'], 'images')} to delete."
    )
    saving = monthly_savings(summary["bytes_reclaimed"], price_per_gb_month)
    lines = [
        "# ecr-sweeper plan",
        "",
        f"{status} Created {plan.created_at:%Y-%m-%d %H:%M} UTC for "
        f"{plural(len(plan.targets), 'accounts')}; policy: keep last {plan.policy.keep_last}, "
        f"min age {plural(plan.policy.min_age_days, 'days')}.",
        "",
    ]
    if plan.blocked:  # why first, and no table: it deletes nothing
        lines += ["## Errors", "", *(f"- {error_line(e)}" for e in plan.errors)]
        return "\n".join(lines) + "\n"
    lines += [
        f"**{summary['images']}** images in **{summary['repositories']}** repositories: keep "
        f"**{summary['kept']}**, delete **{summary['to_delete']}**, reclaiming "
        f"**{human_bytes(summary['bytes_reclaimed'])}** (about **${saving:,.2f}/month** at "
        f"${price_per_gb_month:g}/GB-month).",
        "",
        "| account | region | repository | images | kept | deleted | reclaimed | $/month |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for row in repository_rows(plan):
        key = row.repository
        lines.append(
            f"| {key.account_id} | {key.region} | `{key.name}` | {row.images} | {row.kept} | "
            f"{row.to_delete} | {human_bytes(row.bytes_reclaimed)} | "
            f"{monthly_savings(row.bytes_reclaimed, price_per_gb_month):,.2f} |"
        )
    if plan.findings:
        found = wording.findings(plan.findings)
        lines += ["", "## Blocked: consumers not read", "", *(f"- {f}" for f in found)]
    if plan.policy.accepted_unread:
        lines += [
            "",
            "## Accepted unread consumers",
            "",
            *(f"- `--accept-unread {a}`" for a in plan.policy.accepted_unread),
        ]
    if plan.warnings:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in wording.warnings(plan.warnings))]
    census = [e for e in plan.census if e.present is not False]
    if census:
        lines += ["", "## Consumer census", "", "| account | region | kind | present | read |"]
        lines += ["|---|---|---|---|---|"]
        lines += [
            f"| {e.account_id} | {e.region} | {e.kind} | "
            f"{'yes' if e.present else 'unknown'} | {'yes' if e.read else 'no: ' + e.detail} |"
            for e in census
        ]
    if plan.refusals:
        lines += ["", "## Refused", "", *(f"- {r}" for r in wording.refusals(plan.refusals))]
    if plan.errors:
        lines += ["", "## Errors", ""]
        lines += [f"- {error_line(e)}" for e in plan.errors]
    return "\n".join(lines) + "\n"


CSV_COLUMNS = (
    "verdict",
    "account_id",
    "region",
    "repository",
    "image_digest",
    "image_tags",
    "size_bytes",
    "pushed_at",
    "reason",
)


def csv_rows(plan: Plan) -> list[tuple[str, ...]]:
    """One row per image (deletions first), columns `CSV_COLUMNS`; tags joined by spaces."""
    rows: list[tuple[str, ...]] = []
    for verdict, decisions in (("delete", plan.deletions), ("keep", plan.kept)):
        rows += [
            (
                verdict,
                d.repository.account_id,
                d.repository.region,
                d.repository.name,
                d.digest,
                " ".join(d.tags),
                str(d.size_bytes),
                d.pushed_at.isoformat(),
                wording.reason(d.reason),
            )
            for d in decisions
        ]
    return rows
