"""What an apply did, as data (pure): the outcome of deleting images, and the apply's result.

The journal, the reports and the CLI read these; the deletion code (aws/ecr.py) and the
pipeline fill them. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ecr_sweeper.model import Decision, Digest, Plan, RepositoryKey


@dataclass(slots=True)
class DeleteOutcome:
    """What apply did for a set of decisions (a batch: BatchDeleteImage's answer read, or one
    repository's re-check), image by image, in the order it was done."""

    deleted: list[Decision] = field(default_factory=list)
    already_gone: list[Decision] = field(default_factory=list)
    still_referenced: list[Decision] = field(default_factory=list)
    failed: list[tuple[Decision, str]] = field(default_factory=list)
    archived: list[Decision] = field(default_factory=list)  # apply --quarantine: not deleted
    # apply --quarantine: archived already, by something else (not this tool's to restore)
    already_archived: list[Decision] = field(default_factory=list)
    # Not deleted: the re-check keeps them now, or could not judge them (why, in words).
    skipped: list[tuple[Decision, str]] = field(default_factory=list)
    # Deleted (or archived) by an earlier, killed run of the same plan (its journal says so).
    done_earlier: list[Decision] = field(default_factory=list)

    def merge(self, other: DeleteOutcome) -> None:
        """Add another batch's outcomes to these."""
        self.deleted += other.deleted
        self.already_gone += other.already_gone
        self.still_referenced += other.still_referenced
        self.failed += other.failed
        self.archived += other.archived
        self.already_archived += other.already_archived
        self.skipped += other.skipped
        self.done_earlier += other.done_earlier


class Outcomes(Protocol):
    """What a whole apply did, image by image: a `DeleteOutcome` in memory, or the same on
    disk (`spool.SpooledOutcomes`, an apply's own, which reads each outcome back repository by
    repository, each repository's images by digest, and holds none of them)."""

    @property
    def deleted(self) -> Sequence[Decision]: ...
    @property
    def already_gone(self) -> Sequence[Decision]: ...
    @property
    def still_referenced(self) -> Sequence[Decision]: ...
    @property
    def failed(self) -> Sequence[tuple[Decision, str]]: ...
    @property
    def archived(self) -> Sequence[Decision]: ...
    @property
    def already_archived(self) -> Sequence[Decision]: ...
    @property
    def skipped(self) -> Sequence[tuple[Decision, str]]: ...
    @property
    def done_earlier(self) -> Sequence[Decision]: ...

    def merge(self, other: DeleteOutcome) -> None:
        """Add another batch's outcomes to these."""


@dataclass(slots=True)
class ApplyResult:
    """What `apply` did: the fresh plan it re-checked against, and each image's outcome."""

    fresh: Plan
    outcome: Outcomes
    quarantine: bool = False  # archived (ECR's archive) instead of deleted

    @property
    def skipped(self) -> Sequence[tuple[Decision, str]]:
        """Images the reviewed plan deleted that the re-check keeps, with why (in words)."""
        return self.outcome.skipped

    @property
    def previously_done(self) -> Sequence[Decision]:
        """Images an earlier, killed run of the plan deleted (or archived)."""
        return self.outcome.done_earlier

    @property
    def complete(self) -> bool:
        """Every image that was still to delete is gone."""
        return not self.outcome.failed and not self.outcome.still_referenced


# What `restore` found and did for one image: its status before (ARCHIVED, ACTIVATING,
# ACTIVE, or GONE: no longer in its repository) and after (the same, or FAILED with `why`).
ImageState = Literal["ARCHIVED", "ACTIVATING", "ACTIVE", "GONE", "FAILED"]


@dataclass(frozen=True, slots=True)
class RestoreLine:
    """One image a quarantine archived, as `restore` left it."""

    repository: RepositoryKey
    digest: Digest
    tags: tuple[str, ...]
    before: ImageState
    after: ImageState
    why: str = ""

    @property
    def restored(self) -> bool:
        """This run asked ECR to restore it (and ECR took the request)."""
        return self.before == "ARCHIVED" and self.after in ("ACTIVATING", "ACTIVE")
