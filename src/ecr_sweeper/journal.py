"""The apply journal: one JSON line per image outcome, appended (and fsynced) after every
BatchDeleteImage batch, next to the plan file (`plan.json.journal`).

A run killed at any point (SIGKILL included) and started again reads the journal and skips what
an earlier run already deleted, so nothing is deleted twice and the report adds up. The first
line names the plan (its `created_at`); a journal of another plan is set aside, never trusted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ecr_sweeper.model import (
    AccountId,
    Digest,
    Plan,
    Quarantined,
    Region,
    RepositoryKey,
    RepositoryName,
)
from ecr_sweeper.results import DeleteOutcome
from ecr_sweeper.spool import IMAGES_PER_PIECE, Pieces, Where

JournalKey = tuple[str, str, str, str]  # account, region, repository, digest
DONE = frozenset({"deleted", "already_gone"})
# What an apply --quarantine has done: archived (with when, `at`: the tool's own record of
# what it archived, which `plan --quarantined` and `restore` read), found gone or archived
# already, or deleted (a quarantine that was over).
QUARANTINE_DONE = DONE | {"archived", "already_archived"}


@dataclass(slots=True)
class Journal:
    """Append-only record of apply outcomes for one plan."""

    path: Path
    deleted: int = field(default=0, compare=False)  # images this run recorded as deleted
    at: datetime | None = field(default=None, compare=False)  # when (an archive's record)

    @classmethod
    def beside(cls, plan_file: Path) -> Journal:
        return cls(plan_file.with_name(plan_file.name + ".journal"))

    def open_for(self, plan: Plan) -> Recorded:
        """Start (or resume) the journal of `plan`; return what earlier runs recorded (read
        line by line, and kept on disk: see `Recorded`)."""
        header = {"plan_created_at": plan.created_at.isoformat()}
        recorded = Recorded()
        if self.path.exists():
            with self.path.open(encoding="utf-8") as lines:
                if _loads(lines.readline()) == header:
                    for line in lines:
                        entry = _loads(line)  # a torn last line (killed mid-write) is skipped
                        if entry and "image_digest" in entry:
                            key = (
                                entry["account_id"],
                                entry["region"],
                                entry["repository"],
                                entry["image_digest"],
                            )
                            recorded.add(key, entry["outcome"])
                    return recorded
            self.path.replace(self.path.with_name(self.path.name + ".other-plan"))
        self._append([header])
        return recorded

    def record(self, outcome: DeleteOutcome) -> None:
        """Append every outcome of one batch, durably."""
        entries: list[dict[str, Any]] = []
        for name, decisions in (
            ("deleted", outcome.deleted),
            ("already_gone", outcome.already_gone),
            ("still_referenced", outcome.still_referenced),
            ("already_archived", outcome.already_archived),
        ):
            entries += [_entry(d, name) for d in decisions]
        entries += [{**_entry(d, "failed"), "why": why} for d, why in outcome.failed]
        when = {"at": self.at.isoformat()} if self.at is not None else {}
        entries += [{**_entry(d, "archived"), **when} for d in outcome.archived]
        self._append(entries)
        self.deleted += len(outcome.deleted) + len(outcome.archived)

    def _append(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write("".join(json.dumps(e) + "\n" for e in entries))
            stream.flush()
            os.fsync(stream.fileno())


Place = tuple[str, str, str]  # account, region, repository


class Recorded:
    """What earlier runs of a plan recorded (`JournalKey` → its latest outcome), on disk by
    repository: at most `buffered` outcomes, and then one repository's, in memory (a journal
    of millions of images is read back as apply goes repository by repository)."""

    def __init__(self, buffered: int = 10_000) -> None:
        self._pieces: Pieces[tuple[str, str]] | None = None  # (digest, outcome), once needed
        self._where: dict[Place, list[Where]] = {}
        self._waiting: dict[Place, list[tuple[str, str]]] = {}
        self._room = buffered
        self._count = 0
        self._read: tuple[Place, dict[str, str]] | None = None  # the last repository asked for

    def __len__(self) -> int:
        """How many outcomes were recorded (an image recorded twice counts twice)."""
        return self._count

    def add(self, key: JournalKey, outcome: str) -> None:
        """Record `outcome` of `key`, later than every outcome added before."""
        self._waiting.setdefault(key[:3], []).append((key[3], outcome))
        self._count += 1
        if self._count % self._room == 0:
            pieces = self._pieces = self._pieces or Pieces(IMAGES_PER_PIECE)
            for place, outcomes in self._waiting.items():
                self._where.setdefault(place, []).extend(pieces.put(outcomes))
            self._waiting.clear()
        self._read = None

    def get(self, key: JournalKey) -> str | None:
        """The latest outcome recorded of `key`, or None."""
        place = key[:3]
        if self._read is None or self._read[0] != place:
            latest: dict[str, str] = {}
            if self._pieces is not None:
                for where in self._where.get(place, ()):
                    latest.update(self._pieces.load(where))
            latest.update(self._waiting.get(place, ()))
            self._read = (place, latest)
        return self._read[1].get(key[3])


def quarantined(path: Path) -> tuple[Quarantined, ...]:
    """What the apply journal at `path` records as archived by `apply --quarantine`, each
    image once (its latest record), sorted. A torn or foreign line is skipped; a file that is
    not a journal (no header naming its plan) raises ValueError."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or "plan_created_at" not in (_loads(lines[0]) or {}):
        raise ValueError(f"{path}: not an apply journal (its first line names no plan)")
    found: dict[tuple[RepositoryKey, Digest], Quarantined] = {}
    for line in lines[1:]:
        entry = _loads(line)
        if not entry or entry.get("outcome") != "archived" or "at" not in entry:
            continue
        try:
            at = datetime.fromisoformat(str(entry["at"]))
            key = RepositoryKey(
                AccountId(str(entry["account_id"])),
                Region(str(entry["region"])),
                RepositoryName(str(entry["repository"])),
            )
            digest = Digest(str(entry["image_digest"]))
        except (KeyError, ValueError):
            continue
        if at.tzinfo is None:
            continue  # a time this tool did not write
        found[(key, digest)] = Quarantined(key, digest, at)
    return tuple(sorted(found.values()))


def quarantine_files(path: Path) -> tuple[Path, Path | None]:
    """(journal, plan file or None) for a PLAN|JOURNAL argument: a journal, and the plan file
    beside it if there is one; or a plan file, and its journal (`plan.json.journal`)."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    with path.open(encoding="utf-8") as stream:
        first = _loads(stream.readline()) or {}
    if "plan_created_at" in first:
        plan = path.with_name(path.name.removesuffix(".journal"))
        return path, (plan if plan != path and plan.is_file() else None)
    journal = Journal.beside(path).path
    if not journal.is_file():
        raise ValueError(
            f"{path}: its apply journal {journal} does not exist: nothing was quarantined with it"
        )
    return journal, path


def select(
    records: Iterable[Quarantined],
    repositories: Sequence[str] = (),
    digests: Sequence[str] = (),
) -> tuple[Quarantined, ...]:
    """The records of these repositories (names) and digests; every one when none is given."""
    return tuple(
        r
        for r in records
        if (not repositories or r.repository.name in repositories)
        and (not digests or r.digest in digests)
    )


def _entry(decision: Any, outcome: str) -> dict[str, Any]:
    key = decision.repository
    return {
        "account_id": key.account_id,
        "region": key.region,
        "repository": key.name,
        "image_digest": decision.digest,
        "outcome": outcome,
    }


def _loads(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
