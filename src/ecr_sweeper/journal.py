"""The apply journal: one JSON line per image outcome, appended (and fsynced) after every
BatchDeleteImage batch, next to the plan file (`plan.json.journal`).

A run killed at any point (SIGKILL included) and started again reads the journal and skips what
an earlier run already deleted, so nothing is deleted twice and the report adds up. The first
line names the plan (its `created_at`); a journal of another plan is set aside, never trusted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ecr_sweeper.model import Plan
from ecr_sweeper.results import DeleteOutcome

JournalKey = tuple[str, str, str, str]  # account, region, repository, digest
DONE = frozenset({"deleted", "already_gone"})
# What an apply --quarantine has done: archived (with when, `at`: the tool's own record of
# what it archived, which `plan --quarantined` and `restore` read) or found gone.
QUARANTINE_DONE = frozenset({"archived", "already_gone"})


@dataclass(slots=True)
class Journal:
    """Append-only record of apply outcomes for one plan."""

    path: Path
    deleted: int = field(default=0, compare=False)  # images this run recorded as deleted
    at: datetime | None = field(default=None, compare=False)  # when (an archive's record)

    @classmethod
    def beside(cls, plan_file: Path) -> Journal:
        return cls(plan_file.with_name(plan_file.name + ".journal"))

    def open_for(self, plan: Plan) -> dict[JournalKey, str]:
        """Start (or resume) the journal of `plan`; return what earlier runs recorded."""
        header = {"plan_created_at": plan.created_at.isoformat()}
        recorded: dict[JournalKey, str] = {}
        if self.path.exists():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            if lines and _loads(lines[0]) == header:
                for line in lines[1:]:
                    entry = _loads(line)  # a torn last line (killed mid-write) is skipped
                    if entry and "image_digest" in entry:
                        key = (
                            entry["account_id"],
                            entry["region"],
                            entry["repository"],
                            entry["image_digest"],
                        )
                        recorded[key] = entry["outcome"]
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
