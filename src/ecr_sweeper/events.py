"""What a run tells the person watching it, as values: the pipeline emits them, render.py shows
them (a progress bar, plain lines, or JSON lines). Nothing here knows how they are shown.

    Step(done, total, what)   step `done` of `total` of the current phase (account × regions
                              read, images deleted): a progress bar follows these
    Note(text)                a progress line (what is being read, a retry, a region count)
    Info(text)                a line a person wants unless --quiet (what the run does)

Warnings and errors are not events: a run returns them in its result (the plan's warnings and
errors), and the CLI renders them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Step:
    """Step `done` of `total` of the current phase."""

    done: int
    total: int
    what: str


@dataclass(frozen=True, slots=True)
class Note:
    """A progress line."""

    text: str


@dataclass(frozen=True, slots=True)
class Info:
    """A line a person wants unless --quiet: what the run does, where it wrote."""

    text: str


Event = Step | Note | Info
Progress = Callable[[Event], None]


def ignore(_: Event) -> None:
    """A `Progress` that shows nothing (the default of every stage)."""


def as_notes(progress: Progress) -> Callable[[str], None]:
    """A line callback for the readers that speak lines (aws/, kube/): each line a Note."""

    def note(line: str) -> None:
        progress(Note(line))

    return note
