"""Plans and apply results as rows and totals (pure). Rendering with rich is render.py's."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ecr_sweeper import wording
from ecr_sweeper.model import (
    ARCHIVE_PRICES_CHECKED,
    AccountId,
    ArchivePrices,
    Decision,
    Plan,
    RepositoryKey,
    ScanError,
)
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
        "archived": len(outcome.archived),
        "already_archived": len(outcome.already_archived),
        "bytes_archived": sum(d.size_bytes for d in outcome.archived),
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


def quarantine_cost(size_bytes: int, prices: ArchivePrices) -> str:
    """What archiving `size_bytes` instead of deleting them costs, in one sentence, from the
    documented figures (or the accounts file's): the 90 days' minimum of archive storage,
    and a restore's fee per GB."""
    gb = size_bytes / 1e9
    months = prices.minimum_days / 30
    return (
        f"quarantine cost: {gb:,.2f} GB archived instead of deleted is billed for at least "
        f"{prices.minimum_days} days: about ${gb * prices.per_gb_month * months:,.2f} at "
        f"${prices.per_gb_month:g}/GB-month (archive storage costs what standard storage "
        f"costs for the first 150 TB a month, ${prices.above_150tb_per_gb_month:g}/GB-month "
        f"above); restoring all of it would cost about ${gb * prices.restore_per_gb:,.2f} "
        f"(${prices.restore_per_gb:g}/GB). Prices: {ARCHIVE_PRICES_CHECKED}, unless the "
        "accounts file sets them."
    )


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
    if plan.policy.quarantine:
        lines[-2:-2] = [quarantine_cost(summary["bytes_reclaimed"], plan.policy.archive_prices), ""]
    for row in repository_rows(plan):
        key = row.repository
        lines.append(
            f"| {key.account_id} | {key.region} | `{key.name}` | {row.images} | {row.kept} | "
            f"{row.to_delete} | {human_bytes(row.bytes_reclaimed)} | "
            f"{monthly_savings(row.bytes_reclaimed, price_per_gb_month):,.2f} |"
        )
    if plan.findings:
        found = wording.grouped_findings(plan.findings)
        lines += ["", "## Blocked: consumers not read", "", *(f"- {f}" for f in found)]
    if plan.policy.accepted_unread:
        lines += [
            "",
            "## Accepted unread consumers",
            "",
            *(f"- `--accept-unread {a}`" for a in plan.policy.accepted_unread),
        ]
    if plan.warnings:
        said = wording.grouped_warnings(plan.warnings)
        lines += ["", "## Warnings", "", *(f"- {w}" for w in said)]
    census = [e for e in plan.census if e.present is not False]
    if census:
        lines += ["", "## Consumer census", "", "| account | region | kind | present | read |"]
        lines += ["|---|---|---|---|---|"]
        lines += [
            f"| {e.account_id} | {e.region} | {e.kind} | "
            f"{'yes' if e.present else 'unknown'} | {'yes' if e.read else 'no: ' + e.detail} |"
            for e in census
        ]
    if witness := pull_witness_lines(plan):
        lines += ["", "## Pulled, and no consumer this run read uses them", ""]
        lines += [f"- {line}" for line in witness]
    if plan.refusals:
        lines += ["", "## Refused", "", *(f"- {r}" for r in wording.refusals(plan.refusals))]
    if plan.errors:
        lines += ["", "## Errors", ""]
        lines += [f"- {error_line(e)}" for e in plan.errors]
    return "\n".join(lines) + "\n"


def pull_witness_lines(plan: Plan) -> list[str]:
    """The pull witness's part of the plan: a headline, a line per repository whose images it
    keeps, and the pull-time update exclusions (or why they are unknown) of the registries
    where it kept something. Nothing when it kept nothing."""
    window = plan.policy.pulled_within_days
    if not plan.unexplained_pulls:
        return []
    lines = [wording.pull_witness(plan.unexplained_pulls, window)]
    lines += [wording.unexplained_pulls(u) for u in plan.unexplained_pulls]
    pulled_in = {(u.repository.account_id, u.repository.region) for u in plan.unexplained_pulls}
    lines += [
        wording.pull_exclusions(e)
        for e in plan.pull_exclusions
        if (e.place.account_id, e.place.region) in pulled_in
    ]
    return lines


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


def csv_rows(plan: Plan) -> Iterator[tuple[str, ...]]:
    """One row per image (deletions first), columns `CSV_COLUMNS`; tags joined by spaces.
    A row at a time, as the plan (a file's) is read."""
    for verdict, decisions in (("delete", plan.deletions), ("keep", plan.kept)):
        for d in decisions:
            yield (
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


@dataclass(frozen=True, slots=True)
class ApplyRow:
    """One image the reviewed plan listed, and what apply did with it (`outcome`: deleted,
    archived or already-archived (a quarantine), deleted-earlier, already-gone, skipped,
    still-referenced or failed; `detail`: why, when it was not deleted)."""

    outcome: str
    decision: Decision
    detail: str = ""


def apply_rows(result: ApplyResult) -> Iterator[ApplyRow]:
    """Every image of the reviewed plan with its outcome, outcome by outcome (deleted first),
    each outcome's images as `Outcomes` gives them (an apply's own: by repository, then
    digest), one at a time."""
    outcome = result.outcome
    yield from (ApplyRow("deleted", d) for d in outcome.deleted)
    yield from (ApplyRow("archived", d) for d in outcome.archived)  # apply --quarantine
    yield from (
        ApplyRow("already-archived", d, "archived already, not by this quarantine")
        for d in outcome.already_archived
    )
    yield from (ApplyRow("deleted-earlier", d) for d in result.previously_done)
    yield from (ApplyRow("already-gone", d) for d in outcome.already_gone)
    yield from (ApplyRow("skipped", d, why) for d, why in result.skipped)
    yield from (
        ApplyRow("still-referenced", d, "still listed by an image index")
        for d in outcome.still_referenced
    )
    yield from (ApplyRow("failed", d, why) for d, why in outcome.failed)


APPLY_CSV_COLUMNS = (
    "outcome",
    "account_id",
    "region",
    "repository",
    "image_digest",
    "image_tags",
    "size_bytes",
    "detail",
)


def apply_csv_rows(result: ApplyResult) -> Iterator[tuple[str, ...]]:
    """One row per image (`APPLY_CSV_COLUMNS`; tags joined by spaces, as in the plan's CSV)."""
    for row in apply_rows(result):
        yield (
            row.outcome,
            row.decision.repository.account_id,
            row.decision.repository.region,
            row.decision.repository.name,
            row.decision.digest,
            " ".join(row.decision.tags),
            str(row.decision.size_bytes),
            row.detail,
        )


def apply_json(result: ApplyResult) -> Iterator[str]:
    """What apply did, as the text of one JSON document (`json.dumps(..., indent=2)`), piece by
    piece: `summary` (apply_totals), `blocked` (its re-check), `errors` (the re-check's, one
    line each) and `images`, one object per image of the reviewed plan with `outcome`,
    `account_id`, `region`, `repository`, `image_digest`, `image_tags`, `size_bytes` and
    `detail`. Only one image is encoded at a time."""
    head = {
        "summary": apply_totals(result),
        "blocked": result.fresh.blocked,
        "errors": [error_line(e) for e in result.fresh.errors],
        "images": [],
    }
    text = json.dumps(head, indent=2)
    yield text.removesuffix("[]\n}") + "["
    n = 0
    for n, row in enumerate(apply_rows(result), start=1):
        image = {
            "outcome": row.outcome,
            "account_id": row.decision.repository.account_id,
            "region": row.decision.repository.region,
            "repository": row.decision.repository.name,
            "image_digest": row.decision.digest,
            "image_tags": list(row.decision.tags),
            "size_bytes": row.decision.size_bytes,
            "detail": row.detail,
        }
        yield (
            ("," if n > 1 else "") + "\n    " + json.dumps(image, indent=2).replace("\n", "\n    ")
        )
    yield ("\n  ]" if n else "]") + "\n}\n"


def apply_markdown(result: ApplyResult) -> Iterator[str]:
    """What apply did, for people (CI job logs, merge requests): a status line and one table
    row per image; line by line."""
    counts = apply_totals(result)
    status = (
        "**BLOCKED** — the re-check could not read every usage source, so nothing was deleted."
        if result.fresh.blocked
        else f"Deleted **{plural(counts['deleted'], 'images')}**, reclaiming "
        f"**{human_bytes(counts['bytes_reclaimed'])}**."
    )
    yield from ("# ecr-sweeper apply\n", "\n", f"{status}\n", "\n")
    header = [
        "| outcome | account | region | repository | tags | digest | size | detail |\n",
        "|---|---|---|---|---|---|--:|---|\n",
    ]
    for r in apply_rows(result):
        yield from header
        header = []
        yield (
            f"| {r.outcome} | {r.decision.repository.account_id} | "
            f"{r.decision.repository.region} | `{r.decision.repository.name}` | "
            f"{', '.join(f'`{t}`' for t in r.decision.tags) or '(untagged)'} | "
            f"`{r.decision.digest}` | {human_bytes(r.decision.size_bytes)} | "
            f"{_cell(r.detail)} |\n"
        )
    if result.fresh.errors:
        yield from ("\n", "## Errors\n", "\n")
        yield from (f"- {error_line(e)}\n" for e in result.fresh.errors)


def _cell(text: str) -> str:
    """Text that stays in its Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")
