"""Plans and apply results as rows and totals (pure). Rendering with rich stays in cli.py."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecr_sweeper.model import Decision, Plan, RepositoryKey

if TYPE_CHECKING:
    from ecr_sweeper.pipeline import ApplyResult


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
    (`…/repo:tag`, `…/repo@sha256:…`)."""
    repository: str | None = None
    needle = query
    if "/" in query or "@" in query:
        rest, _, digest = query.partition("@")
        path = rest.split("/", 1)[1] if "/" in rest and "." in rest.split("/", 1)[0] else rest
        name, _, tag = path.rpartition(":") if ":" in path else (path, "", "")
        repository = name or path
        needle = digest or tag or "latest"
    found = []
    for d in (*plan.kept, *plan.deletions):
        if repository is not None and d.repository.name != repository:
            continue
        if (
            (needle.startswith("sha256:") and d.digest.startswith(needle))
            or needle in d.tags
            or (len(needle) >= 6 and d.digest.removeprefix("sha256:").startswith(needle))
        ):
            found.append(d)
    return sorted(found, key=lambda d: (d.repository, d.digest))
