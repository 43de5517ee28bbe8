"""Memory of a sweep at scale: peak RSS of `plan` and of `apply`, each in its own process, and
(with ``--tracemalloc``) what holds the memory at the peak, by allocation site.

    PYTHONPATH=tests python -m awsim.memory --images 1000000 [--apply] [--tracemalloc]

Serves ``generate_org(--accounts, --regions, --services, --images)`` from an emulator process
(unlimited quotas and no latency by default: memory, not speed, is measured), then runs

1. ``plan``: `make_plan` and `write_plan` to a plan file (what `ecr-sweeper plan` does);
2. with ``--apply``, ``apply``: `read_plan` of that file and `apply_plan` with its journal
   (what `ecr-sweeper apply` does), deleting in the emulator;

each in a fresh subprocess whose peak RSS (VmHWM) is its own. With ``--tracemalloc``, each
process samples the traced memory and keeps a snapshot each time it grows past its largest one
by ``--step`` MB, and prints the largest snapshot's top allocation sites (tracemalloc makes the
run several times slower and adds its own bookkeeping to the RSS: its figures are for sites,
the RSS for the totals). Not a test: pytest does not collect it. The bench imports `measure`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import bench
from .faults import Faults
from .generate import generate_org
from .remote import RemoteEmulator, spawn_emulator

_TESTS_DIR = Path(__file__).resolve().parent.parent
_SRC_DIR = _TESTS_DIR.parent / "src"
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


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One command (`plan` or `apply`) in this process, measured."""
    from datetime import UTC, datetime

    import anyio

    from ecr_sweeper.aws.session import Connections
    from ecr_sweeper.journal import Journal
    from ecr_sweeper.model import AccountId, AccountTarget, Policy, Region, Sources
    from ecr_sweeper.pipeline import apply_plan, make_plan
    from ecr_sweeper.planfile import read_plan, write_plan

    from . import emulated

    targets = tuple(
        AccountTarget(
            account_id=AccountId(a),
            regions=tuple(Region(r) for r in regions),
            role_arn=f"arn:aws:iam::{a}:role/EcrSweeper",
        )
        for a, regions in spec["targets"]
    )
    sources = emulated(Sources(off=frozenset({"apprunner", "ecs-daemons"})))
    policy = Policy(keep_last=10, min_age_days=14)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    plan_file = Path(spec["plan_file"])
    out: dict[str, Any] = {"command": spec["command"]}

    async def plan() -> None:
        async with Connections() as connections:
            made = await make_plan(targets, policy, connections, now, sources=sources)
            write_plan(made, plan_file)
            out["deletions"] = len(made.deletions)
            out["kept"] = len(made.kept)
            out["errors"] = len(made.errors)

    async def apply() -> None:
        reviewed = read_plan(plan_file)
        async with Connections() as connections:
            result = await apply_plan(reviewed, connections, now, journal=Journal.beside(plan_file))
            out["deleted"] = len(result.outcome.deleted)
            out["skipped"] = len(result.skipped)

    sampler = _Sampler(int(spec["step_mb"] * MB), spec["top"]) if spec["tracemalloc"] else None
    wall0 = time.perf_counter()
    if sampler is not None:
        with sampler:
            anyio.run(plan if spec["command"] == "plan" else apply)
        out["tracemalloc"] = sampler.report()
    else:
        anyio.run(plan if spec["command"] == "plan" else apply)
    out["wall_s"] = round(time.perf_counter() - wall0, 1)
    out["peak_rss_mb"] = round(_peak_rss_mb())
    return out


def run_child(emu: RemoteEmulator, spec: dict[str, Any]) -> dict[str, Any]:
    """One command (`spec["command"]`: plan or apply) in its own process (see bench.run_child)."""
    return bench.run_child(emu, spec, module="awsim.memory")


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Serve the org, run `plan` (and `apply`), each measured in its own process."""
    scenario = generate_org(args.accounts, args.regions, args.services, args.images, args.seed)
    regions = sorted({r.name for a in scenario.accounts for r in a.regions})
    every = [(a.id, regions) for a in scenario.accounts]
    faults = Faults(latency_s=args.latency, latency_jitter_s=0.0)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        plan_file = Path(args.plan_file) if args.plan_file else Path(tmp) / "plan.json"
        base = {
            "targets": every,
            "plan_file": str(plan_file),
            "tracemalloc": args.tracemalloc,
            "step_mb": args.step,
            "top": args.top,
        }
        with spawn_emulator(scenario, faults=faults, quotas=args.quotas) as emu:
            for command in ("plan", "apply") if args.apply else ("plan",):
                result = run_child(emu, {**base, "command": command})
                result["images"] = scenario.image_count()
                result["plan_file_mb"] = round(plan_file.stat().st_size / MB, 1)
                results.append(result)
                print(json.dumps(result), flush=True)
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m awsim.memory", description=__doc__.split("\n")[0])
    p.add_argument("--accounts", type=int, default=30)
    p.add_argument("--regions", type=int, default=3)
    p.add_argument("--services", type=int, default=40)
    p.add_argument("--images", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    p.add_argument("--quotas", default="unlimited", help="default | unlimited | uniform:R,B")
    p.add_argument("--apply", action="store_true", help="apply the plan too (its own process)")
    p.add_argument("--plan-file", help="keep the plan file here (default: a temporary one)")
    p.add_argument("--tracemalloc", action="store_true", help="top allocation sites at the peak")
    p.add_argument("--step", type=float, default=100.0, help="MB of growth between snapshots")
    p.add_argument("--top", type=int, default=25, help="allocation sites to print")
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    for result in measure(args):
        sites = result.get("tracemalloc", {}).get("sites", [])
        for where, mb, count in sites:
            print(f"  {result['command']:5} {mb:8.1f} MB {count:9d} blocks  {where}")
        print(
            f"{result['command']}: peak_rss_mb={result['peak_rss_mb']} "
            f"wall_s={result['wall_s']} images={result['images']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
