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
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecr_sweeper.model import Sources
from ecr_sweeper.planfile import sources_to_json

from . import emulated
from .faults import Faults
from .generate import generate_org
from .remote import run_child, spawn_emulator

_TESTS_DIR = Path(__file__).resolve().parent.parent
_SRC_DIR = _TESTS_DIR.parent / "src"
MB = 1024 * 1024
# What the sweep reads: the tool's defaults, less what the emulator does not serve.
SOURCES = emulated(Sources(off=frozenset({"apprunner", "ecs-daemons"})))


def _cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) a process of this machine has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    *,
    accounts: int,
    regions: int,
    services: int,
    images: int,
    seed: int = 0,
    central_share: float | None = None,
    faults: Faults | None = None,
    quotas: str = "unlimited",
    sources: Sources = SOURCES,
    apply: bool = True,
    limits: dict[str, int] | None = None,
    tracemalloc: bool = False,
    step_mb: float = 100.0,
    top: int = 25,
    plan_file: Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Serve `generate_org(accounts, regions, services, images, seed)` (the emulator generates
    it: this process never holds it) and run `plan` (and `apply` from its file), each in its
    own process that imports only the sweeper (memory_child.py), so that its peak RSS is the
    sweeper's own. Each command's result is echoed as a JSON line."""
    # The org's accounts and regions (its shape does not depend on its services or images).
    shape = generate_org(accounts, regions, 1, 10 * accounts * regions)
    targets = [(a.id, [r.name for r in a.regions]) for a in shape.accounts]
    generate = {
        "accounts": accounts,
        "regions": regions,
        "services_per_region": services,
        "images_total": images,
        "seed": seed,
        # The central registry's share of the images (generate_org's 0.3 unless given): its
        # repositories are the largest, so this sizes the largest without the whole org.
        **({} if central_share is None else {"central_share": central_share}),
    }
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        written = plan_file or Path(tmp) / "plan.json"
        base = {
            "targets": targets,
            "plan_file": str(written),
            "tracemalloc": tracemalloc,
            "step_mb": step_mb,
            "top": top,
            "sources": sources_to_json(sources),
            "limits": limits or {},
        }
        with spawn_emulator(
            generate=generate, faults=faults or Faults(), quotas=quotas, startup_timeout=3600
        ) as emu:
            for command in ("plan", "apply") if apply else ("plan",):
                emulator_cpu = _cpu_seconds(emu.pid)
                result = run_child(emu, {**base, "command": command}, module="memory_child")
                result["emulator_cpu_s"] = round(_cpu_seconds(emu.pid) - emulator_cpu, 1)
                result["plan_file_mb"] = round(written.stat().st_size / MB, 1)
                result.setdefault("images", results[0]["images"] if results else images)
                results.append(result)
                echo(json.dumps(result))
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m awsim.memory", description=__doc__.split("\n")[0])
    p.add_argument("--accounts", type=int, default=30)
    p.add_argument("--regions", type=int, default=3)
    p.add_argument("--services", type=int, default=40)
    p.add_argument("--images", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--central-share",
        type=float,
        help="the central registry's share of the images (the largest repositories are there)",
    )
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    p.add_argument("--quotas", default="unlimited", help="default | unlimited | uniform:R,B")
    p.add_argument("--apply", action="store_true", help="apply the plan too (its own process)")
    p.add_argument("--plan-file", help="keep the plan file here (default: a temporary one)")
    p.add_argument("--tracemalloc", action="store_true", help="top allocation sites at the peak")
    p.add_argument("--step", type=float, default=100.0, help="MB of growth between snapshots")
    p.add_argument("--top", type=int, default=25, help="allocation sites to print")
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=N",
        help="a Limits field other than its default, e.g. images_in_memory=20000 (repeatable)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    done = measure(
        accounts=args.accounts,
        regions=args.regions,
        services=args.services,
        images=args.images,
        seed=args.seed,
        central_share=args.central_share,
        faults=Faults(latency_s=args.latency, latency_jitter_s=0.0),
        quotas=args.quotas,
        apply=args.apply,
        limits={name: int(n) for name, n in (item.split("=", 1) for item in args.limit)},
        tracemalloc=args.tracemalloc,
        step_mb=args.step,
        top=args.top,
        plan_file=Path(args.plan_file) if args.plan_file else None,
    )
    for result in done:
        sites = result.get("tracemalloc", {}).get("sites", [])
        for where, mb, count in sites:
            print(f"  {result['command']:5} {mb:8.1f} MB {count:9d} blocks  {where}")
        print(
            f"{result['command']}: peak_rss_mb={result['peak_rss_mb']} "
            f"wall_s={result['wall_s']} cpu_s={result['cpu_s']} "
            f"emulator_cpu_s={result['emulator_cpu_s']} images={result['images']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
