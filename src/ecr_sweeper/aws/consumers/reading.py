"""What a reader of a consumer kind hands back: the image references it saw, as values (the
ECS scope and the kinds both build on these, so they sit below both)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ClientFor = Callable[[str], Awaitable[Any]]  # service name → the run's client for it


@dataclass(frozen=True, slots=True)
class Seen:
    """One image reference as a reader saw it, before parsing."""

    image: str
    source: str
    digest: str | None
    kind: str  # the usage's label (ecs, task, revision, schedule, lambda…), kept in shard files


@dataclass(frozen=True, slots=True)
class Reading:
    """What one reader read in one account × region."""

    images: tuple[Seen, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)  # e.g. "lambda versions" → 3
    # why part of the kind could not be read (a cluster that denies access…): the kind is then
    # unread for the census, without failing the run's usage
    unread: tuple[str, ...] = ()
    # whether the kind is present here, as the reader's own first listing answered it (the
    # census then asks nothing); None: the reader did not say
    present: bool | None = None
