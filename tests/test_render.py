"""A plan printed as JSON or CSV, and `show --details`, come out as they did when the whole
text was made first (byte for byte, through rich, on a pipe and on a terminal), but streamed:
printing starts before the plan's last decision is read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from ecr_sweeper import wording
from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    Decision,
    LazyDecisions,
    Plan,
    Region,
    Repository,
)
from ecr_sweeper.plan import build_plan
from ecr_sweeper.planfile import plan_to_json, read_plan, write_plan
from ecr_sweeper.render import ProgressDisplay, Renderer, in_lines
from ecr_sweeper.report import CSV_COLUMNS, csv_rows
from planning import NO_RETENTION, NOW, image, inventory, key, uri, usage_scan, use


def big_plan(images: int = 3000) -> Plan:
    """More than a chunk of text (64 KiB) as JSON and as CSV: several chunks are printed."""
    repos = [
        Repository(
            key(f"team/app-{r}"),
            tuple(image(f"{r}-{i}", f"v{i}", "tab\there", size=i) for i in range(images // 3)),
        )
        for r in range(3)
    ]
    used = [use(uri(key("team/app-0"), ":v1"))]
    return build_plan([usage_scan(*used)], inventory(*repos), NO_RETENTION, NOW)


def plans() -> list[Plan]:
    uni = Repository(key("uni"), (image("a", "café", "v1"), image("b", "日本", ":smile:")))
    unicode = build_plan(
        [usage_scan(use(uri(key("uni"), ":v1")))], inventory(uni), NO_RETENTION, NOW
    )
    target = AccountTarget(AccountId("111111111111"), (Region("us-east-1"),))
    blocked = build_plan([usage_scan(error="denied")], [], NO_RETENTION, NOW, [target])
    big = big_plan()
    return [unicode, blocked, replace(unicode, kept=()), big]


def consoles() -> list[Callable[[], Console]]:
    return [
        lambda: Console(file=io.StringIO(), width=40),
        lambda: Console(file=io.StringIO(), width=40, force_terminal=True, color_system=None),
    ]


def renderer(console: Console) -> Renderer:
    return Renderer(console, ProgressDisplay(Console(file=io.StringIO())))


def printed(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def whole_json(plan: Plan, out: Console) -> None:
    """How `--format json` printed before: the whole document's text at once."""
    text = json.dumps(plan_to_json(plan), indent=2)
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def whole_csv(plan: Plan, out: Console) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(list(csv_rows(plan)))
    out.print(buffer.getvalue(), markup=False, highlight=False, soft_wrap=True, end="")


def whole_details(plan: Plan, out: Console) -> None:
    """`show --details` before: every decision in a list, each looked up among the deletions."""
    decisions = list(plan.kept) + list(plan.deletions)
    deleted = {(d.repository, d.digest) for d in plan.deletions}
    for d in decisions:
        verdict = "DELETE" if (d.repository, d.digest) in deleted else "keep"
        tags = ",".join(d.tags) or "(untagged)"
        out.print(f"{verdict:6} {d.repository} {tags} {d.digest}", markup=False)
        out.print(f"       {wording.reason(d.reason)}", markup=False)


STREAMED: dict[str, tuple[Callable[[Plan, Console], None], Callable[[Renderer, Plan], None]]] = {
    "json": (whole_json, lambda r, p: r.plan_as(p, "json", 0.1)),
    "csv": (whole_csv, lambda r, p: r.plan_as(p, "csv", 0.1)),
    "details": (whole_details, lambda r, p: r.every_decision(p)),
}


@pytest.mark.parametrize("console", consoles())
@pytest.mark.parametrize("plan", plans())
@pytest.mark.parametrize("output", sorted(STREAMED))
def test_the_streamed_text_is_the_whole_texts(
    plan: Plan, console: Callable[[], Console], output: str
) -> None:
    whole, streamed = STREAMED[output]
    before, now = console(), console()
    whole(plan, before)
    streamed(renderer(now), plan)
    assert printed(now) == printed(before)
    assert printed(now) or not (plan.kept or plan.deletions)  # something was printed


def test_a_plan_files_json_is_printed_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(big_plan(), path)
    saved = read_plan(path)
    before, now = consoles()[0](), consoles()[0]()
    whole_json(saved, before)
    renderer(now).plan_as(saved, "json", 0.1)
    assert printed(now) == printed(before)
    data = json.loads(printed(now))
    assert len(data["deletions"]) + len(data["kept"]) == 3000


class Watched(LazyDecisions):
    """Decisions that note how much had been printed when the last of them was read."""

    def __init__(self, decisions: tuple[Decision, ...], out: io.StringIO) -> None:
        self._decisions = decisions
        self._out = out
        self.printed_before_last = -1

    def __len__(self) -> int:
        return len(self._decisions)

    def __iter__(self) -> Iterator[Decision]:
        for n, decision in enumerate(self._decisions):
            if n == len(self._decisions) - 1:
                self.printed_before_last = len(self._out.getvalue())
            yield decision


@pytest.mark.parametrize("output", sorted(STREAMED))
def test_printing_starts_before_the_last_decision_is_read(output: str) -> None:
    plan = big_plan(6000)  # its deletions alone are many chunks of JSON or CSV
    out = io.StringIO()
    deletions = Watched(tuple(plan.deletions), out)
    _, streamed = STREAMED[output]
    streamed(renderer(Console(file=out, width=40)), replace(plan, deletions=deletions))
    assert deletions.printed_before_last > 0  # the whole text first would print nothing yet
    assert len(out.getvalue()) > deletions.printed_before_last


@given(
    pieces=st.lists(st.text(alphabet="ab\n\t", max_size=12), max_size=30), size=st.integers(1, 20)
)
def test_in_lines_cuts_the_text_at_lines_ends(pieces: list[str], size: int) -> None:
    chunks = list(in_lines(pieces, size))
    assert "".join(chunks) == "".join(pieces)
    assert all(chunk.endswith("\n") for chunk in chunks[:-1])
    assert all(chunks)
