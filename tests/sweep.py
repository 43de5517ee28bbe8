"""A sweep against a backend, from synchronous tests: the backend is whatever the environment
points at (moto's server through the `aws` fixture, the emulator through `use_only`), the
connections retry with the run's policy (instant in tests: conftest.py's `set_testing`), and
`plan`, `apply`, `usage` and `connected` run the pipeline's stages as the CLI does.

One place for it: a test that needs a patient policy or tighter limits passes them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import anyio

from ecr_sweeper.aws.limits import Limits
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.events import Event, Progress
from ecr_sweeper.journal import Journal
from ecr_sweeper.model import AccountTarget, Plan, Policy, Quarantined, Sources, UsageScan
from ecr_sweeper.pipeline import apply_plan, make_plan, scan_usage
from ecr_sweeper.results import ApplyResult
from ecr_sweeper.retry import RetryPolicy
from planning import NO_RETENTION

T = TypeVar("T")


def _quiet(_: Event) -> None:
    pass


def connected(
    work: Callable[[Connections], Awaitable[T]],
    *,
    retry: RetryPolicy | None = None,
    limits: Limits | None = None,
) -> T:
    """`work(connections)` in a fresh event loop, with connections to the current endpoint."""

    async def run() -> T:
        async with Connections(retry=retry, limits=limits) as connections:
            return await work(connections)

    return anyio.run(run)


def plan(
    targets: Iterable[AccountTarget],
    policy: Policy = NO_RETENTION,
    *,
    sources: Sources | None = None,
    now: datetime | None = None,
    progress: Progress = _quiet,
    retry: RetryPolicy | None = None,
    limits: Limits | None = None,
    quarantined: Sequence[Quarantined] = (),
) -> Plan:
    """`make_plan` of `targets` (the wall clock's now unless `now` is given)."""
    wanted = tuple(targets)
    when = now or datetime.now(UTC)

    async def work(connections: Connections) -> Plan:
        return await make_plan(
            wanted, policy, connections, when, progress, sources=sources, quarantined=quarantined
        )

    return connected(work, retry=retry, limits=limits)


def apply(
    reviewed: Plan,
    *,
    now: datetime | None = None,
    progress: Progress = _quiet,
    journal: Journal | None = None,
    retry: RetryPolicy | None = None,
    limits: Limits | None = None,
    quarantine: bool = False,
) -> ApplyResult:
    """`apply_plan` of a reviewed plan (the wall clock's now unless `now` is given)."""
    when = now or datetime.now(UTC)

    async def work(connections: Connections) -> ApplyResult:
        return await apply_plan(
            reviewed, connections, when, progress, journal, quarantine=quarantine
        )

    return connected(work, retry=retry, limits=limits)


def usage(
    targets: Iterable[AccountTarget],
    *,
    sources: Sources | None = None,
    now: datetime | None = None,
) -> list[UsageScan]:
    """The usage scans of `targets` (every region read)."""
    wanted = tuple(targets)
    when = now or datetime.now(UTC)

    async def work(connections: Connections) -> list[UsageScan]:
        _, scans = await scan_usage(wanted, connections, when, sources=sources)
        return scans

    return connected(work)


def sweeper(*args: str, cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run the command with the current (fixture-made) environment, no terminal on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "ecr_sweeper", *args],
        cwd=cwd,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
