"""The measured process of `python -m awsim.memory`: one command (`plan` or `apply`) of a sweep,
its peak RSS (VmHWM) and, with tracemalloc, what held the memory at the peak. Outside the awsim
package on purpose: importing the emulator's package would add its own ~50 MB to the RSS
measured, which the sweeper (`ecr-sweeper plan`) never holds. Imports only the standard library
and ecr_sweeper.

    python -m memory_child --child SPEC   (SPEC: JSON, made by awsim.memory)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecr_sweeper.model import AccountTarget

MB = 1024 * 1024


class _Sampler:
    """Snapshots of the traced memory each time it grows by `step` bytes past the last one."""

    def __init__(self, step: int, top: int, depth: int = 8) -> None:
        self.depth = depth  # frames kept: a site is the innermost frame of the sweeper's own
        self.step = step
        self.top = top
        self.largest: tuple[int, Any] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Sampler:
        import tracemalloc

        tracemalloc.start(self.depth)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(force=False)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self._sample(force=False)

    def _sample(self, *, force: bool) -> None:
        import tracemalloc

        current, _ = tracemalloc.get_traced_memory()
        if force or self.largest is None or current > self.largest[0] + self.step:
            snapshot = tracemalloc.take_snapshot()
            size = sum(s.size for s in snapshot.statistics("filename"))
            if self.largest is None or size > self.largest[0]:
                self.largest = (size, snapshot)

    def report(self) -> dict[str, Any]:
        import tracemalloc

        if self.largest is None:
            return {}
        size, snapshot = self.largest
        _, peak = tracemalloc.get_traced_memory()
        by_site: dict[str, list[int]] = {}
        for stat in snapshot.statistics("traceback"):
            frames = list(reversed(stat.traceback))  # most recent call first
            own = next((f for f in frames if "ecr_sweeper" in f.filename), frames[0])
            where = f"{_short(own.filename)}:{own.lineno}"
            if own is not frames[0]:
                where += f" ({_short(frames[0].filename)}:{frames[0].lineno})"
            total = by_site.setdefault(where, [0, 0])
            total[0] += stat.size
            total[1] += stat.count
        ranked = sorted(by_site.items(), key=lambda item: -item[1][0])[: self.top]
        sites = [[where, round(size / MB, 1), count] for where, (size, count) in ranked]
        return {
            "traced_mb_at_snapshot": round(size / MB, 1),
            "traced_peak_mb": round(peak / MB, 1),
            "sites": sites,
        }


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def targets_of(places: list[tuple[str, list[str]]]) -> tuple[AccountTarget, ...]:
    """The sweep's targets from a child's spec: (account, its regions), each reached through
    the emulator's EcrSweeper role (the bench's children make theirs with it too)."""
    from ecr_sweeper.model import AccountId, AccountTarget, Region

    return tuple(
        AccountTarget(
            account_id=AccountId(a),
            regions=tuple(Region(r) for r in regions),
            role_arn=f"arn:aws:iam::{a}:role/EcrSweeper",
        )
        for a, regions in places
    )


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One command (`plan` or `apply`) in this process, measured."""
    from datetime import UTC, datetime

    import anyio

    from ecr_sweeper.aws.limits import Limits
    from ecr_sweeper.aws.session import Connections
    from ecr_sweeper.journal import Journal
    from ecr_sweeper.model import Policy
    from ecr_sweeper.pipeline import apply_plan, make_plan
    from ecr_sweeper.planfile import read_plan, sources_from_json, write_plan

    targets = targets_of(spec["targets"])
    sources = sources_from_json(spec["sources"])
    policy = Policy(keep_last=10, min_age_days=14)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    plan_file = Path(spec["plan_file"])
    limits = Limits(**spec.get("limits", {}))  # the defaults, but for those the spec names
    out: dict[str, Any] = {"command": spec["command"]}

    async def plan() -> None:
        async with Connections(limits=limits) as connections:
            made = await make_plan(targets, policy, connections, now, sources=sources)
            write_plan(made, plan_file)
            out["deletions"] = len(made.deletions)
            out["kept"] = len(made.kept)
            out["errors"] = len(made.errors)
            out["images"] = len(made.deletions) + len(made.kept)

    async def apply() -> None:
        reviewed = read_plan(plan_file)
        async with Connections(limits=limits) as connections:
            result = await apply_plan(reviewed, connections, now, journal=Journal.beside(plan_file))
            out["deleted"] = len(result.outcome.deleted)
            out["skipped"] = len(result.skipped)
            out["errors"] = len(result.fresh.errors)

    sampler = _Sampler(int(spec["step_mb"] * MB), spec["top"]) if spec["tracemalloc"] else None
    wall0 = time.perf_counter()
    if sampler is not None:
        with sampler:
            anyio.run(plan if spec["command"] == "plan" else apply)
        out["tracemalloc"] = sampler.report()
    else:
        anyio.run(plan if spec["command"] == "plan" else apply)
    out["wall_s"] = round(time.perf_counter() - wall0, 1)
    out["cpu_s"] = round(time.process_time(), 1)
    out["peak_rss_mb"] = round(_peak_rss_mb())
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "--child":
        print("usage: python -m memory_child --child SPEC", file=sys.stderr)
        return 2
    print(json.dumps(child(json.loads(args[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
