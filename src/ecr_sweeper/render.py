"""Rich rendering of plans and apply results for people (rows come from report.py)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
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

from ecr_sweeper import wording
from ecr_sweeper.events import Event, Info, Step
from ecr_sweeper.model import Decision, Plan
from ecr_sweeper.planfile import plan_text
from ecr_sweeper.report import (
    APPLY_CSV_COLUMNS,
    CSV_COLUMNS,
    RepositoryRow,
    account_rows,
    apply_csv_rows,
    apply_json,
    apply_markdown,
    apply_totals,
    csv_rows,
    error_line,
    human_bytes,
    markdown,
    pull_witness_lines,
    quarantine_cost,
    repository_rows,
    totals,
)
from ecr_sweeper.results import ApplyResult, RestoreLine
from ecr_sweeper.words import plural


@dataclass(frozen=True, slots=True)
class Renderer:
    """Summaries to `out`; errors and per-image problems to `log` (every stderr line goes
    through it, so `--log-format json` and `--quiet` hold for all of them)."""

    out: Console
    log: ProgressDisplay

    def plan(self, result: Plan, *, every_repository: bool = False) -> None:
        """The reason first when blocked (and no table then: it deletes nothing); else per
        repository with something to delete (every repository with `every_repository`):
        images, kept, to delete, bytes reclaimed; a total line; then the errors."""
        summary = totals(result)
        if result.blocked:
            self.errors(result)
            self.out.print(
                f"total: {summary['images']} images in {summary['repositories']} repositories; "
                "blocked: nothing is deleted",
                markup=False,
            )
            return
        rows = [r for r in repository_rows(result) if every_repository or r.to_delete]
        if rows:
            self._table(rows)
        self.out.print(
            f"total: {summary['images']} images in {summary['repositories']} repositories; "
            f"keep {summary['kept']}, delete {summary['to_delete']} "
            f"({human_bytes(summary['bytes_reclaimed'])})"
            + (
                "" if every_repository or not summary["repositories"] else "; --all lists every one"
            ),
            markup=False,
        )
        if result.policy.quarantine and result.deletions:
            self.out.print(
                quarantine_cost(summary["bytes_reclaimed"], result.policy.archive_prices),
                markup=False,
            )
        self.errors(result)
        self.refusals(result)

    def _table(self, rows: list[RepositoryRow]) -> None:
        table = Table(title="ecr-sweeper plan", title_justify="left")
        for column in ("account", "region", "repository"):
            table.add_column(column)
        for column in ("images", "kept", "to delete", "reclaimed"):
            table.add_column(column, justify="right")
        for row in rows:
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

    def errors(self, result: Plan) -> None:
        """The plan's errors and census findings, and what they block; then its warnings."""
        self.findings(result)
        if not result.errors:
            return
        if any(e.scope == "usage" for e in result.errors):
            self.log.error(
                "BLOCKED: a usage source could not be read, so this plan deletes nothing:"
            )
        else:
            self.log.warning("some repositories could not be read; nothing is deleted in them:")
        for e in result.errors:
            self.log.error(f"  {error_line(e)}")

    def findings(self, result: Plan) -> None:
        """One line per consumer present and not read (each blocks the plan), then the
        warnings (accepted consumers, regions not read, archived images in use)."""
        if result.findings:
            self.log.error(
                "BLOCKED: consumers exist that this run did not read, so this plan deletes nothing:"
            )
        # One line each, never wrapped: CI logs and scripts read them line by line. A kind
        # unread in many regions of an account is one line naming them.
        for finding in wording.grouped_findings(result.findings):
            self.log.error(f"  {finding}")
        for warning in wording.grouped_warnings(result.warnings):
            self.log.warning(f"  warning: {warning}")
        self.pull_witness(result)

    def pull_witness(self, result: Plan) -> None:
        """The images pulled that no consumer this run read uses (kept), per repository, and
        each registry's pull-time update exclusions: how a user finds the consumers this run
        does not know, and whose pulls (a scanner's) to stop counting."""
        for line in pull_witness_lines(result):
            self.log.warning(f"  {line}")

    def plan_as(
        self,
        result: Plan,
        output_format: str,
        price_per_gb_month: float,
        *,
        every_repository: bool = False,
    ) -> None:
        """The plan on stdout in `output_format`: table (with errors on stderr), json, markdown
        or csv."""
        if output_format == "json":
            # `json.dumps(plan_to_json(result), indent=2)`, streamed: one decision at a time
            self._text(itertools.chain(plan_text(result, checksum=False), ["\n"]))
        elif output_format == "markdown":
            text = markdown(result, price_per_gb_month)
            self.out.print(text, markup=False, highlight=False, soft_wrap=True, end="")
        elif output_format == "csv":
            self._csv(CSV_COLUMNS, csv_rows(result))
        else:
            self.plan(result, every_repository=every_repository)

    def _csv(self, columns: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> None:
        """The rows as CSV (`csv.writer`'s text), printed as they come, a chunk at a time."""

        def text() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(columns)
            for row in rows:
                writer.writerow(row)
                if buffer.tell() >= _CHUNK:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        self._text(text())

    def _text(self, pieces: Iterable[str]) -> None:
        """Print text as it comes, in chunks that end at a line's end (what rich does to a
        line, e.g. expanding a tab, is then what it did to the text printed at once)."""
        for chunk in in_lines(pieces):
            self.out.print(chunk, markup=False, highlight=False, soft_wrap=True, end="")

    def confirmation_summary(self, result: Plan, largest: int = 5) -> None:
        """What `apply` is about to delete, per account and in its largest repositories."""
        names = {t.account_id: t.name for t in result.targets}
        self.out.print("to delete, per account:", markup=False)
        for row in account_rows(result):
            name = f" ({names[row.account_id]})" if names.get(row.account_id) else ""
            self.out.print(
                f"  {row.account_id}{name}: {plural(row.to_delete, 'images')} in "
                f"{plural(row.repositories, 'repositories')}, {human_bytes(row.bytes_reclaimed)}",
                markup=False,
            )
        biggest = sorted(
            (r for r in repository_rows(result) if r.to_delete),
            key=lambda r: (-r.bytes_reclaimed, -r.to_delete, r.repository),
        )[:largest]
        self.out.print(f"largest repositories ({len(biggest)}):", markup=False)
        for biggest_row in biggest:
            key = biggest_row.repository
            self.out.print(
                f"  {key.account_id}/{key.region} {key.name}: "
                f"{plural(biggest_row.to_delete, 'images')}, "
                f"{human_bytes(biggest_row.bytes_reclaimed)}",
                markup=False,
            )

    def refusals(self, result: Plan) -> None:
        """The safety caps the plan exceeds."""
        for refusal in wording.refusals(result.refusals):
            self.log.error(f"  REFUSED: {refusal}")

    def decisions(self, result: Plan, decisions: list[Decision]) -> None:
        """One line per image: where, tags, digest, verdict and the rule that decided it."""
        shown = {(d.repository, d.digest) for d in decisions}
        # one pass over the plan (a file's, streamed), keeping only what is shown
        deleted = {k for d in result.deletions if (k := (d.repository, d.digest)) in shown}
        for d in decisions:
            self._decision(d, "DELETE" if (d.repository, d.digest) in deleted else "keep")

    def every_decision(self, result: Plan) -> None:
        """`decisions` of every image, kept then to delete, as the plan (a file's) is read."""
        for verdict, decisions in (("keep", result.kept), ("DELETE", result.deletions)):
            for d in decisions:
                self._decision(d, verdict)

    def _decision(self, d: Decision, verdict: str) -> None:
        tags = ",".join(d.tags) or "(untagged)"
        self.out.print(f"{verdict:6} {d.repository} {tags} {d.digest}", markup=False)
        self.out.print(f"       {wording.reason(d.reason)}", markup=False)

    def restore(self, lines: Sequence[RestoreLine]) -> None:
        """One line per image `restore` touched or found (before → after), then the counts."""
        for line in lines:
            where = f"{line.repository}@{line.digest}"
            tags = f" ({','.join(line.tags)})" if line.tags else ""
            if line.after == "FAILED":
                self.log.error(f"  FAILED {where}{tags}: {line.why}")
            elif line.before == line.after:
                self.out.print(f"  {line.after:10} {where}{tags} (nothing to do)", markup=False)
            else:
                self.out.print(f"  {line.before} → {line.after:10} {where}{tags}", markup=False)
        count = {state: sum(x.after == state for x in lines) for state in _RESTORE_STATES}
        self.out.print(
            f"restore: {sum(x.restored for x in lines)} restored now; ACTIVE {count['ACTIVE']}, "
            f"ACTIVATING {count['ACTIVATING']} (ECR restores within 20 minutes: run restore "
            f"again to see them ACTIVE), still ARCHIVED {count['ARCHIVED']}, "
            f"gone {count['GONE']}, failed {count['FAILED']}",
            markup=False,
        )

    def apply_as(self, result: ApplyResult, output_format: str) -> None:
        """What apply did on stdout in `output_format`: table (every deleted image, the
        counts, and on stderr every image not deleted and why), json, markdown or csv (every
        image of the reviewed plan with its outcome; the re-check's errors and findings still
        go to stderr)."""
        if output_format == "table":
            self.apply(result)
            return
        self.errors(result.fresh)
        if output_format == "json":
            self._text(apply_json(result))
        elif output_format == "markdown":
            self._text(apply_markdown(result))
        else:
            self._csv(APPLY_CSV_COLUMNS, apply_csv_rows(result))

    def apply(self, result: ApplyResult) -> None:
        """What apply did, with every deleted image listed and every skipped or failed one
        named."""
        counts = apply_totals(result)
        self.errors(result.fresh)
        outcome = result.outcome
        if outcome.archived:
            self._deleted_table(outcome.archived, "archived")
        if outcome.deleted:
            self._deleted_table(outcome.deleted, "deleted")
        for decision, why in result.skipped:
            self.log.warning(f"  skipped {decision.repository}@{decision.digest}: {why}")
        for decision in outcome.still_referenced:
            self.log.warning(
                f"  kept {decision.repository}@{decision.digest}: still listed by an image index"
            )
        for decision, why in outcome.failed:
            self.log.error(f"  FAILED {decision.repository}@{decision.digest}: {why}")
        for decision in outcome.already_archived:
            self.log.warning(
                f"  left {decision.repository}@{decision.digest}: archived already, not by "
                "this quarantine (a lifecycle rule or a person): not this tool's to restore"
            )
        if result.quarantine:
            self.out.print(
                f"apply --quarantine: archived {counts['archived']} "
                f"({human_bytes(counts['bytes_archived'])}), "
                f"done by an earlier run {counts['deleted_earlier']}, "
                f"already gone {counts['already_gone']}, "
                f"archived already by something else {counts['already_archived']}, "
                f"skipped {counts['skipped_now_in_use_or_kept']}, failed {counts['failed']}; "
                "`ecr-sweeper restore` undoes it",
                markup=False,
            )
            return
        self.out.print(
            f"apply: deleted {counts['deleted']} ({human_bytes(counts['bytes_reclaimed'])}), "
            f"deleted by an earlier run {counts['deleted_earlier']}, "
            f"already gone {counts['already_gone']}, "
            f"skipped {counts['skipped_now_in_use_or_kept']}, "
            f"still referenced {counts['still_referenced']}, failed {counts['failed']}",
            markup=False,
        )

    def _deleted_table(self, deleted: Iterable[Decision], done: str, rows: int = 1000) -> None:
        """The images apply `done` (deleted, or archived by a quarantine), one row each, in
        their order: a table of at most `rows` rows at a time (the first titled), so that a
        million images are printed without a million rows in memory."""
        images = iter(deleted)
        n = 0
        while batch := list(itertools.islice(images, rows)):
            table = Table(
                title=f"ecr-sweeper apply: {done}" if n == 0 else None,
                title_justify="left",
                show_header=n == 0,
            )
            for column in ("account", "region", "repository", "tags", "digest"):
                table.add_column(column)
            table.add_column("size", justify="right")
            for d in batch:
                key = d.repository
                table.add_row(
                    key.account_id,
                    key.region,
                    key.name,
                    ",".join(d.tags) or "(untagged)",
                    d.digest,
                    human_bytes(d.size_bytes),
                )
            self.out.print(table)
            n += 1


_RESTORE_STATES = ("ACTIVE", "ACTIVATING", "ARCHIVED", "GONE", "FAILED")

# What a plan's JSON or CSV text is printed in: chunks of about this many characters.
_CHUNK = 1 << 16


def in_lines(pieces: Iterable[str], size: int = _CHUNK) -> Iterator[str]:
    """The pieces' text, in chunks that end at a line's end (but the last), each cut once
    `size` characters are held: joined, they are the text."""
    held: list[str] = []
    length = 0
    for piece in pieces:
        held.append(piece)
        length += len(piece)
        if length >= size and "\n" in piece:
            text = "".join(held)
            cut = text.rindex("\n") + 1
            yield text[:cut]
            held = [text[cut:]]
            length = len(held[0])
    if length:
        yield "".join(held)


class ProgressDisplay:
    """Every line for stderr: progress, information, warnings and errors. A rich progress bar
    on a terminal, plain lines in CI and pipes (never hard-wrapped), or one JSON object per
    line with `log_format="json"` (`time`, `level`, `message`; a step adds `step`, `of`).
    `quiet` drops progress and information, never warnings or errors. Called with the run's
    events (events.py): a `Step` moves the bar, a `Note` is a progress line, an `Info` a line
    a person wants unless --quiet."""

    def __init__(self, console: Console, *, quiet: bool = False, log_format: str = "text") -> None:
        self._console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self.configure(quiet=quiet, log_format=log_format)

    def configure(self, *, quiet: bool = False, log_format: str = "text") -> None:
        """Set the mode (each command does, from its --quiet and --log-format)."""
        self._quiet = quiet
        self._json = log_format == "json"
        interactive = self._console.is_terminal and not os.environ.get("CI")
        self._bar = (
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            if interactive and not quiet and not self._json
            else None
        )
        self._task = None

    @property
    def json(self) -> bool:
        """Whether lines are JSON objects."""
        return self._json

    def __enter__(self) -> ProgressDisplay:
        # The bar starts with the first step, not here: `apply` may ask its question first.
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            if self._task is not None:
                self._bar.remove_task(self._task)
        self._task = None

    def __call__(self, event: Event) -> None:
        """One event of the run (the pipeline's `Progress`)."""
        if isinstance(event, Info):
            self.info(event.text)
        elif isinstance(event, Step):
            self._step(event)
        else:
            self.note(event.text)

    def _step(self, step: Step) -> None:
        if self._quiet:
            return
        if self._json:
            self._emit("progress", step.what, {"step": step.done, "of": step.total})
        elif self._bar is not None:
            if self._task is None:
                self._bar.start()
                self._task = self._bar.add_task(step.what, total=step.total)
            self._bar.update(
                self._task, completed=step.done, total=step.total, description=step.what
            )
        else:
            self._text(f"{datetime.now(UTC):%H:%M:%S} [{step.done}/{step.total}] {step.what}")

    def note(self, line: str) -> None:
        """A progress line: dim under the bar, timestamped in plain lines."""
        if self._quiet:
            return
        if self._json:
            self._emit("progress", line)
        elif self._bar is not None:
            self._bar.console.print(
                line, markup=False, highlight=False, style="dim", soft_wrap=True
            )
        else:
            self._text(f"{datetime.now(UTC):%H:%M:%S} {line}")

    def info(self, message: str) -> None:
        """A line a person wants unless --quiet: what the run does, where it wrote."""
        if not self._quiet:
            self._emit("info", message)

    def warning(self, message: str) -> None:
        """Something not done, and why (shown with --quiet too)."""
        self._emit("warning", message)

    def error(self, message: str, **fields: object) -> None:
        """Something wrong (shown with --quiet too); `fields` go in the JSON object only."""
        self._emit("error", message, fields)

    def _emit(self, level: str, message: str, extra: dict[str, object] | None = None) -> None:
        if self._json:
            # The level is its own field: "warning: x" and "error: x" are `x` there.
            text = message.strip().removeprefix(f"{level}: ")
            record: dict[str, object] = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "level": level,
                "message": text,
                **(extra or {}),
            }
            self._text(json.dumps(record))
        else:
            self._text(message)

    def _text(self, line: str) -> None:
        console = self._bar.console if self._bar is not None else self._console
        console.print(line, markup=False, highlight=False, soft_wrap=True)
