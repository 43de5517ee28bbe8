"""Rich rendering of plans and apply results for people (rows come from report.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ecr_sweeper.model import Decision, Plan
from ecr_sweeper.pipeline import ApplyResult
from ecr_sweeper.planfile import plan_to_json
from ecr_sweeper.report import (
    CSV_COLUMNS,
    apply_totals,
    csv_rows,
    human_bytes,
    markdown,
    repository_rows,
    totals,
)


@dataclass(frozen=True, slots=True)
class Renderer:
    """Summaries to `out`; errors and per-image problems to `err`."""

    out: Console
    err: Console

    def plan(self, result: Plan) -> None:
        """Per repository: images, kept, to delete, bytes reclaimed; then the errors."""
        table = Table(title="ecr-sweeper plan", title_justify="left")
        for column in ("account", "region", "repository"):
            table.add_column(column)
        for column in ("images", "kept", "to delete", "reclaimed"):
            table.add_column(column, justify="right")
        for row in repository_rows(result):
            key = row.repository
            table.add_row(
                key.account_id,
                key.region,
                key.name,
                str(row.images),
                str(row.kept),
                str(row.to_delete),
                human_bytes(row.bytes_reclaimed),
            )
        self.out.print(table)
        summary = totals(result)
        self.out.print(
            f"total: {summary['images']} images in {summary['repositories']} repositories; "
            f"keep {summary['kept']}, delete {summary['to_delete']} "
            f"({human_bytes(summary['bytes_reclaimed'])})",
            markup=False,
        )
        self.errors(result)
        self.refusals(result)

    def errors(self, result: Plan) -> None:
        """The plan's errors and census findings, and what they block; then its warnings."""
        self.findings(result)
        if not result.errors:
            return
        if any(e.scope == "usage" for e in result.errors):
            self.err.print(
                "BLOCKED: a usage source could not be read, so this plan deletes nothing:",
                markup=False,
            )
        else:
            self.err.print(
                "some repositories could not be read; nothing is deleted in them:", markup=False
            )
        for e in result.errors:
            where = f"{e.account_id}/{e.region}" if e.region else e.account_id
            self.err.print(f"  [{e.scope}] {where} {e.subject}: {e.message}", markup=False)

    def findings(self, result: Plan) -> None:
        """One line per consumer present and not read (each blocks the plan), then the
        warnings (accepted consumers, regions not read, archived images in use)."""
        if result.findings:
            self.err.print(
                "BLOCKED: consumers exist that this run did not read, so this plan deletes "
                "nothing:",
                markup=False,
            )
        # One line each, never wrapped: CI logs and scripts read them line by line.
        for finding in result.findings:
            self.err.print(f"  {finding}", markup=False, soft_wrap=True)
        for warning in result.warnings:
            self.err.print(f"  warning: {warning}", markup=False, soft_wrap=True)

    def plan_as(self, result: Plan, output_format: str, price_per_gb_month: float) -> None:
        """The plan on stdout in `output_format`: table (with errors on stderr), json, markdown
        or csv."""
        if output_format == "json":
            text = json.dumps(plan_to_json(result), indent=2)
            self.out.print(text, markup=False, highlight=False, soft_wrap=True)
        elif output_format == "markdown":
            text = markdown(result, price_per_gb_month)
            self.out.print(text, markup=False, highlight=False, soft_wrap=True, end="")
        elif output_format == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(csv_rows(result))
            self.out.print(buffer.getvalue(), markup=False, highlight=False, soft_wrap=True, end="")
        else:
            self.plan(result)

    def refusals(self, result: Plan) -> None:
        """The safety caps the plan exceeds."""
        for refusal in result.refusals:
            self.err.print(f"  REFUSED: {refusal}", markup=False)

    def decisions(self, result: Plan, decisions: list[Decision]) -> None:
        """One line per image: where, tags, digest, verdict and the rule that decided it."""
        deleted = {(d.repository, d.digest) for d in result.deletions}
        for d in decisions:
            verdict = "DELETE" if (d.repository, d.digest) in deleted else "keep"
            tags = ",".join(d.tags) or "(untagged)"
            self.out.print(f"{verdict:6} {d.repository} {tags} {d.digest}", markup=False)
            self.out.print(f"       {d.reason}", markup=False)

    def apply(self, result: ApplyResult) -> None:
        """What apply did, with every skipped or failed image named."""
        counts = apply_totals(result)
        self.errors(result.fresh)
        outcome = result.outcome
        for decision, why in result.skipped:
            self.err.print(
                f"  skipped {decision.repository}@{decision.digest}: {why}", markup=False
            )
        for decision in outcome.still_referenced:
            self.err.print(
                f"  kept {decision.repository}@{decision.digest}: still listed by an image index",
                markup=False,
            )
        for decision, why in outcome.failed:
            self.err.print(f"  FAILED {decision.repository}@{decision.digest}: {why}", markup=False)
        self.out.print(
            f"apply: deleted {counts['deleted']} ({human_bytes(counts['bytes_reclaimed'])}), "
            f"deleted by an earlier run {counts['deleted_earlier']}, "
            f"already gone {counts['already_gone']}, "
            f"skipped {counts['skipped_now_in_use_or_kept']}, "
            f"still referenced {counts['still_referenced']}, failed {counts['failed']}",
            markup=False,
        )


STEP = re.compile(r"\[(\d+)/(\d+)\] (.*)")


class ProgressDisplay:
    """Shows the pipeline's progress lines: a rich progress bar on a terminal, plain timestamped
    lines in CI and pipes, or one JSON object per line with `log_format="json"`. Lines starting
    with "[k/n] " move the bar."""

    def __init__(self, console: Console, *, quiet: bool = False, log_format: str = "text") -> None:
        self._console = console
        self._quiet = quiet
        self._json = log_format == "json"
        interactive = console.is_terminal and not os.environ.get("CI")
        self._bar: Progress | None = (
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            if interactive and not quiet and not self._json
            else None
        )
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressDisplay:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, line: str) -> None:
        step = STEP.fullmatch(line)
        if self._json:
            record: dict[str, object] = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "message": step.group(3) if step else line,
            }
            if step:
                record |= {"step": int(step.group(1)), "of": int(step.group(2))}
            self._console.print(json.dumps(record), markup=False, highlight=False, soft_wrap=True)
        elif self._quiet:
            return
        elif self._bar is not None and step:
            done, total, text = int(step.group(1)), int(step.group(2)), step.group(3)
            if self._task is None:
                self._task = self._bar.add_task(text, total=total)
            self._bar.update(self._task, completed=done, total=total, description=text)
        elif self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False, style="dim")
        else:
            self._console.print(
                f"{datetime.now(UTC):%H:%M:%S} {line}", markup=False, highlight=False
            )
