"""Benchmark: sweep generated organizations on the emulator, and compare with what is possible.

Run with ``nox -s bench`` (or ``PYTHONPATH=tests python -m awsim.bench --help``). Not a test:
pytest does not collect it.

Scenarios (``--scenario``, default all three in one run; ``both``: environment and org)
-------------------------------------------------------------------------------------
* ``environment``: what a CI job of one environment sweeps: 1 account x 1 region,
  ``--env-services`` services (300) and ``--env-images`` images (5,000), in an account with
  every region botocore knows in the aws partition enabled (34; ``--env-enabled-regions N``
  for fewer), the others empty: usage is read in each, as in a real account. Bound by AWS's
  throttling. Prints wall, bound and their ratio (``--timeline``: when each operation was
  first called in the binding bucket's place, and the other places' first calls).
* ``org``: ``--accounts`` x ``--regions`` (30 x 3), ``--services`` per account x region (40),
  ``--images`` (50,000). Prints wall, bound, the bare-HTTP floor and
  ``org_ratio_to_floor = wall / max(bound, floor wall)``, and the sequential baseline (the
  full org unless ``--sequential-accounts N`` says otherwise, or ``--no-baseline``).
* ``memory``: the org's shape at ``--memory-images`` (1,000,000) and five times as many
  (``--no-5m`` skips it, for small machines): ``plan`` writing its file, then ``apply`` from
  that file, each in its own child process (peak RSS: its own VmHWM). The emulator generates
  the org itself. Prints each command's wall and peak RSS, and time per 100,000 images.

Each scenario is served from a *separate* emulator process (``spawn_emulator``) with the
default quotas and per-call latency (``--latency`` + uniform ``[0, --jitter)``), and swept with
the tool's default usage sources (service revisions on; ``--no-revisions`` turns them off)
except EventBridge/Scheduler and Lambda, which the emulator does not serve. Every sweep runs in
a *fresh* subprocess, so its CPU time and peak RSS are its own:

1. a reference sweep with the emulator's token buckets off: the unthrottled plan;
2. the measured concurrent sweep (default ``Limits``), whose plan must be identical to the
   reference plan, with no errors (so no call failed for throttling) -- else exit status 1;
3. (org) the same number of bare aiohttp POSTs as the sweep made calls, as many in flight: what
   the HTTP round trips alone cost one Python process here (the floor);
4. (org) ``Limits(calls_per_region=1, regions_at_once=1)`` and one call in flight in the whole
   run: one call at a time, like the original CI script (sequential baseline).

The last line reads
``env_ratio_to_bound=… org_ratio_to_floor=… speedup_vs_sequential=… cpu_ms_per_call=…
peak_rss_mb=… rss_mb_1m=… rss_mb_5m=… seconds_per_100k_5m=…`` (CPU per call and peak RSS of
the org's concurrent sweep; the larger peak RSS of plan and apply at each memory size, and
plan + apply seconds per 100,000 images at the larger; nan for a scenario not run).

The lower bound
---------------
No sweep can be faster than either of two limits:

* **Rate.** The emulator throttles with token buckets per account x region: one per ECS
  *category of actions*, one per operation elsewhere (``awsim.quotas``). A bucket that must
  admit ``n`` calls (summed over the operations sharing it), starting full, needs at least
  ``max(0, (n - b) / r)`` seconds. ``n`` is the number of calls the concurrent sweep actually
  needed there: the emulator's call count minus the calls it throttled (retries are not needed
  work). The rate bound is the max over buckets (they refill in parallel).
* **Latency.** Some calls need the answer of another: a page token, or the names a listing
  returns. The longest such chain, times the mean latency (``latency + jitter / 2``), is a
  bound even with infinite concurrency. Per account x region the chains are::

      AssumeRole -> ListClusters pages -> ListServices pages (largest cluster)
                 -> DescribeServices [-> ListServiceDeployments -> DescribeServiceRevisions]
                 -> ListTaskDefinitions (rollback window) -> DescribeTaskDefinition
      AssumeRole -> ListClusters pages -> ListTasks pages (largest cluster) -> DescribeTasks
                 -> DescribeTaskDefinition
      AssumeRole -> DescribeRepositories pages -> DescribeImages pages (largest repository)
                 -> BatchGetImage (when it holds an image index)

  with the page sizes the sweeper requests. The latency bound is the longest chain of any
  account x region.

bound = max(rate bound, latency bound). It ignores the client's own CPU time per call, so a
sweep that is CPU-bound shows up as a ratio well above 1 -- hence the floor for the org.

``--compare-botocore`` runs the concurrent sweep a second time with every AWS call through
botocore's own request machinery (``Connections(wire=False)``: neither aws/wire.py nor
aws/lean.py; the clients are still shared by the accounts).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from memory_child import targets_of

from .__main__ import parse_quotas
from .faults import Faults
from .generate import generate_org
from .quotas import PAGE_LIMITS, Quotas, RateLimit
from .remote import run_child, spawn_emulator
from .scenario import Region, Scenario

# Page sizes the sweeper requests (None: it sends no maxResults, so the API default applies).
SWEEPER_PAGE = {
    "ecs:ListClusters": None,
    "ecs:ListServices": 100,
    "ecs:ListTasks": None,
    "ecr:DescribeRepositories": None,
    "ecr:DescribeImages": 1000,
}


def page_size(op: str) -> int:
    requested = SWEEPER_PAGE[op]
    return requested if requested is not None else PAGE_LIMITS[op][0]


def pages(n: int, op: str) -> int:
    return max(1, math.ceil(n / page_size(op)))


# --------------------------------------------------------------------------- the lower bound


def rate_bound(stats: dict[str, Any], quotas: Quotas) -> tuple[float, str, int, RateLimit | None]:
    """(seconds, binding bucket, calls needed there, its limit) from the emulator's counters:
    calls summed per bucket (an ECS category is one bucket for all its actions)."""
    needed: Counter[tuple[str, str, str]] = Counter()
    limits: dict[str, RateLimit | None] = {}
    for sign, rows in ((1, stats["calls"]), (-1, stats["throttled"])):
        for account, region, service, op, n in rows:
            bucket = quotas.bucket_for(f"{service}:{op}")
            limits.setdefault(bucket, quotas.limit_for(f"{service}:{op}"))
            needed[(account, region, bucket)] += sign * n
    best: tuple[float, str, int, RateLimit | None] = (0.0, "none", 0, None)
    for (account, region, bucket), n in needed.items():
        limit = limits[bucket]
        if limit is None:
            continue
        seconds = max(0.0, (n - limit.burst) / limit.rate)
        if seconds > best[0]:
            best = (seconds, f"{account}/{region} {bucket}", n, limit)
    return best


def bucket_start(stats: dict[str, Any], quotas: Quotas, binding: str) -> float:
    """Seconds from the sweep's first call to the first call drawing on the bucket `binding`
    ("account/region bucket", as `rate_bound` names it): when the critical path got going."""
    first = stats.get("first_at") or []
    if not first:
        return math.nan
    start = min(row[4] for row in first)
    times = [
        t
        for account, region, service, op, t in first
        if f"{account}/{region} {quotas.bucket_for(f'{service}:{op}')}" == binding
    ]
    return min(times) - start if times else math.nan


def print_timeline(stats: dict[str, Any], binding: str) -> None:
    """When each operation was first called in the binding bucket's account x region, and
    when the other regions' first calls came (seconds after the sweep's first call)."""
    first = stats.get("first_at") or []
    if not first:
        return
    start = min(row[4] for row in first)
    where = binding.split(" ", 1)[0]
    print(f"  first calls in {where} (s after the sweep's first call):")
    for account, region, service, op, t in sorted(first, key=lambda row: row[4]):
        if f"{account}/{region}" == where:
            print(f"    {t - start:7.2f}  {service}:{op}")
    others = [t - start for account, region, *_, t in first if f"{account}/{region}" != where]
    if others:
        print(
            f"  other places: {len(others)} operations first called between "
            f"{min(others):.2f}s and {max(others):.2f}s"
        )


def longest_chain(scenario: Scenario, revisions: bool) -> tuple[int, str]:
    """The longest chain of dependent calls of any account x region (see the docstring)."""
    best = (0, "")
    for account in scenario.accounts:
        for region in account.regions:
            p_clusters = pages(len(region.clusters), "ecs:ListClusters")
            p_services = max(
                (pages(len(c.services), "ecs:ListServices") for c in region.clusters), default=0
            )
            p_tasks = max(
                (pages(len(c.tasks), "ecs:ListTasks") for c in region.clusters), default=0
            )
            deployments = 2 if revisions else 0
            usage = 1 + p_clusters + (p_services + 3 + deployments if region.clusters else 0)
            tasks = 1 + p_clusters + (p_tasks + 2 if region.clusters else 0)
            p_images = max(
                (
                    pages(sum(1 for _ in r.all_images()), "ecr:DescribeImages")
                    + (1 if any(i.is_index for i in r.images) else 0)
                    for r in region.repositories
                ),
                default=0,
            )
            inventory = 1 + pages(len(region.repositories), "ecr:DescribeRepositories") + p_images
            chain = max(usage, tasks, inventory)
            if chain > best[0]:
                best = (chain, f"{account.id}/{region.name}")
    return best


# --------------------------------------------------------------------------- one sweep (child)


def http_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """`calls` bare aiohttp POSTs to the emulator, `in_flight` at a time: no signing, no
    botocore, no parsing, no sweep logic. What one Python process on this machine spends on
    the HTTP round trips alone (the emulator answers them as unsigned requests)."""
    import resource

    import aiohttp
    import anyio

    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
    }

    async def run() -> None:
        gate = anyio.Semaphore(spec["in_flight"], fast_acquire=True)
        connector = aiohttp.TCPConnector(limit=spec["in_flight"])  # default pool: only 100
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one() -> None:
                async with gate, session.post(spec["url"], data=b"{}", headers=headers) as r:
                    await r.read()

            async with anyio.create_task_group() as tg:
                for _ in range(spec["calls"]):
                    tg.start_soon(one)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    anyio.run(run)
    return {
        "wall_s": time.perf_counter() - wall0,
        "cpu_s": time.process_time() - cpu0,
        "peak_rss_mb": _peak_rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one sweep in this process and measure it. Imports the sweeper only here."""
    if "in_flight" in spec:
        return http_floor(spec)
    import resource
    from datetime import UTC, datetime

    import anyio

    from ecr_sweeper.aws.limits import Limits
    from ecr_sweeper.aws.session import Connections
    from ecr_sweeper.model import Policy, Sources
    from ecr_sweeper.pipeline import apply_plan, make_plan

    from . import emulated

    targets = targets_of(spec["targets"])
    limits = Limits(**spec["limits"]) if spec["limits"] else Limits()
    if spec.get("one_at_a_time"):
        _one_call_at_a_time()
    # The emulator serves ECS, ECR, STS and Organizations only (no EventBridge, Scheduler,
    # Lambda): those usage sources stay off.
    sources = emulated(
        # a benchmark of the ECS and ECR reads: no daemons or App Runner calls either
        Sources(off=frozenset({"apprunner", "ecs-daemons"}), service_revisions=spec["revisions"])
    )
    policy = Policy(keep_last=10, min_age_days=14)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    out: dict[str, Any] = {}

    async def apply_file() -> None:
        from ecr_sweeper.planfile import read_plan

        async with Connections(limits=limits) as connections:
            plan = read_plan(Path(spec["apply_plan_file"]))
            result = await apply_plan(plan, connections, now)
            out["deleted"] = len(result.outcome.deleted)
            out["errors"] = len(result.fresh.errors) + len(result.outcome.failed)
            out["calls"] = connections.calls

    async def sweep() -> None:
        async with Connections(limits=limits, wire=spec.get("wire", True)) as connections:
            plan = await make_plan(targets, policy, connections, now, sources=sources)
            out["plan_calls"] = connections.calls
            out["plan"] = _fingerprint(plan)
            if spec.get("write_plan"):
                from ecr_sweeper.planfile import write_plan

                write_plan(plan, Path(spec["write_plan"]))
            out["deletions"] = len(plan.deletions)
            out["kept"] = len(plan.kept)
            out["errors"] = len(plan.errors)
            if spec["apply"]:
                result = await apply_plan(plan, connections, now)
                out["deleted"] = len(result.outcome.deleted)
            out["calls"] = connections.calls

    cpu0, wall0 = time.process_time(), time.perf_counter()
    anyio.run(apply_file if spec.get("apply_plan_file") else sweep)
    out["wall_s"] = time.perf_counter() - wall0
    out["cpu_s"] = time.process_time() - cpu0
    out["peak_rss_mb"] = _peak_rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def _one_call_at_a_time() -> None:
    """The sequential baseline: one call in flight in the whole run, like the original CI
    script (usage and inventory overlap in the sweep, so per-phase limits alone allow two)."""
    import anyio

    from ecr_sweeper.aws import limits

    attempt = limits.Api._attempt
    lock: list[anyio.Lock] = []

    async def serial(self: Any, *args: Any) -> Any:
        if not lock:
            lock.append(anyio.Lock())
        async with lock[0]:
            return await attempt(self, *args)

    limits.Api._attempt = serial  # type: ignore[method-assign,assignment]


def _fingerprint(plan: Any) -> str:
    """Every verdict of a plan, with its reason, hashed: equal plans, equal fingerprints."""
    import hashlib

    from ecr_sweeper.wording import reason  # the sentence, as before reasons were typed

    digest = hashlib.sha256()
    for verdict, decisions in (("delete", plan.deletions), ("keep", plan.kept)):
        for d in decisions:
            digest.update(f"{verdict} {d.repository} {d.digest} {reason(d.reason)}\n".encode())
    for error in plan.errors:
        digest.update(f"error {error}\n".encode())
    return digest.hexdigest()


def _peak_rss_mb(ru_maxrss_mb: float) -> float:
    """This process's own peak RSS. Linux keeps ru_maxrss across execve, so a child started by
    a parent holding a large generated org would report the parent's size; VmHWM belongs to the
    process's own address space and starts afresh at exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return ru_maxrss_mb


# --------------------------------------------------------------------------- main


def subset(scenario: Scenario, n: int) -> list[str]:
    """`n` accounts spread evenly over the org, the central registry (the 2nd) always in."""
    ids = [a.id for a in scenario.accounts]
    if n <= 0 or n >= len(ids):
        return ids
    step = len(ids) / n
    chosen = {ids[min(len(ids) - 1, int(i * step + step / 2))] for i in range(n)}
    if len(ids) > 1 and ids[1] not in chosen:
        chosen.discard(sorted(chosen)[-1])
        chosen.add(ids[1])
    return [i for i in ids if i in chosen]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m awsim.bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "--scenario",
        choices=("all", "both", "environment", "org", "memory"),
        default="all",
        help="what to run (all: environment, org and memory; both: environment and org)",
    )
    p.add_argument("--env-services", type=int, default=300, help="environment: services")
    p.add_argument("--env-images", type=int, default=5_000, help="environment: images")
    p.add_argument(
        "--env-enabled-regions",
        type=int,
        default=0,
        help="environment: the account's enabled regions, the swept one included, the others "
        "empty; usage is read in each (0: every region botocore knows in the aws partition)",
    )
    p.add_argument("--accounts", type=int, default=30, help="org: accounts")
    p.add_argument("--regions", type=int, default=3, help="org: regions per account")
    p.add_argument("--services", type=int, default=40, help="org: services per account x region")
    p.add_argument("--images", type=int, default=50_000, help="org: images")
    p.add_argument(
        "--memory-images",
        type=int,
        default=1_000_000,
        help="memory: images of the first size (the second is five times as many)",
    )
    p.add_argument(
        "--no-5m",
        action="store_true",
        help="memory: skip the second size (5,000,000 images by default), for small machines",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.02, help="seconds added to every call")
    p.add_argument("--jitter", type=float, default=0.01, help="plus uniform [0, jitter) seconds")
    p.add_argument("--quotas", default="default", help="default | unlimited | uniform:RATE,BURST")
    p.add_argument(
        "--sequential-accounts",
        type=int,
        default=0,
        help="org: accounts the sequential baseline sweeps (0 = all); scaled by calls if a subset",
    )
    p.add_argument(
        "--no-baseline",
        action="store_true",
        help="org: skip the sequential baseline (speedup printed as nan)",
    )
    p.add_argument(
        "--compare-botocore",
        action="store_true",
        help="also sweep concurrently with every call through botocore (no wire.py, no lean.py)",
    )
    p.add_argument(
        "--http-floor",
        action="store_true",
        help="time the bare-HTTP floor for the environment too (the org always has it)",
    )
    p.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the unthrottled reference sweep (and so the plan check): for memory curves",
    )
    p.add_argument(
        "--images-waiting",
        type=int,
        default=None,
        help="Limits.images_waiting of the concurrent sweep (0: repositories wait in their slots)",
    )
    p.add_argument("--apply", action="store_true", help="plan and apply (default: plan only)")
    p.add_argument(
        "--write-plan",
        metavar="FILE",
        help="write the concurrent sweep's plan file here (FILE.org / FILE.environment), to "
        "compare two versions of the tool byte for byte",
    )
    p.add_argument(
        "--no-revisions",
        action="store_true",
        help="do not read ECS service revisions (the tool reads them by default)",
    )
    p.add_argument(
        "--timeline",
        action="store_true",
        help="print when each operation was first called in the binding bucket's place",
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def print_comparisons(
    conc: dict[str, Any],
    stats: dict[str, Any],
    bound: float,
    floor: dict[str, Any] | None,
    botocore_run: dict[str, Any] | None,
) -> None:
    """The optional lines: the HTTP floor and the sweep through botocore."""
    bound = bound or math.nan  # no quotas (`--quotas unlimited`): no bound to compare with
    if floor is not None:
        print(
            f"HTTP floor: the same {conc['calls']} calls as bare aiohttp POSTs (no signing, "
            f"no parsing, no sweep), {stats['max_in_flight']} in flight: "
            f"{floor['wall_s']:.2f}s wall (ratio {floor['wall_s'] / bound:.2f}), "
            f"{1000 * floor['cpu_s'] / conc['calls']:.2f} ms CPU/call"
        )
    if botocore_run is not None:
        print(
            f"same concurrent sweep, every call through botocore: "
            f"{botocore_run['wall_s']:.2f}s wall, ratio {botocore_run['wall_s'] / bound:.2f}, "
            f"{1000 * botocore_run['cpu_s'] / botocore_run['calls']:.2f} ms CPU/call, "
            f"peak RSS {botocore_run['peak_rss_mb']:.0f} MB, "
            f"{botocore_run['deletions']} deletions / {botocore_run['kept']} kept"
        )


def print_sweep(
    conc: dict[str, Any],
    stats: dict[str, Any],
    reference: dict[str, Any] | None,
    quotas: Quotas,
    *,
    same_plan: bool,
) -> None:
    """The concurrent sweep's lines: totals, the plan check, calls per operation."""
    by_op: dict[str, int] = defaultdict(int)
    for _a, _r, service, op, n in stats["calls"]:
        by_op[f"{service}:{op}"] += n
    throttled_by_op: dict[str, int] = defaultdict(int)
    for _a, _r, service, op, n in stats["throttled"]:
        throttled_by_op[f"{service}:{op}"] += n
    print(
        f"concurrent sweep: {conc['wall_s']:.2f}s wall, {conc['calls']} client calls "
        f"({stats['total_calls']} served, {stats['total_throttled']} throttled), "
        f"{conc['deletions']} deletions / {conc['kept']} kept, {conc['errors']} errors, "
        f"max {stats['max_in_flight']} calls in flight"
    )
    if reference is None:
        print("plan: not compared (--no-reference)")
    else:
        print(
            f"plan: {'identical to' if same_plan else 'DIFFERENT FROM'} the unthrottled plan "
            f"({reference['deletions']} deletions / {reference['kept']} kept, "
            f"{reference['wall_s']:.2f}s unthrottled)"
        )
    print("  calls by operation (served / throttled), bucket:")
    for op in sorted(by_op, key=lambda o: -by_op[o]):
        print(
            f"    {op:<32} {by_op[op]:>7} / {throttled_by_op.get(op, 0):<5} {quotas.bucket_for(op)}"
        )


def print_sequential(
    seq: dict[str, Any] | None,
    seq_stats: dict[str, Any],
    accounts: int,
    seq_accounts: list[str],
    conc: dict[str, Any],
) -> float:
    """The sequential baseline's line; its wall time (scaled by calls if a subset; nan if
    skipped)."""
    if seq is None:
        print("sequential baseline: skipped")
        return math.nan
    if len(seq_accounts) == accounts:
        print(
            f"sequential sweep (all {len(seq_accounts)} accounts): {seq['wall_s']:.2f}s wall, "
            f"{seq['calls']} client calls, {seq_stats['total_throttled']} throttled"
        )
        return float(seq["wall_s"])
    seq_wall = float(seq["wall_s"] * conc["calls"] / seq["calls"])
    print(
        f"sequential sweep on a SUBSET of {len(seq_accounts)} accounts "
        f"({', '.join(seq_accounts)}): {seq['wall_s']:.2f}s wall for {seq['calls']} "
        f"client calls ({seq_stats['total_throttled']} throttled);"
    )
    print(
        f"  SCALED linearly by calls to the full org's {conc['calls']} calls: "
        f"{seq_wall:.1f}s (estimate, not measured)"
    )
    return seq_wall


def holds(region: Any) -> bool:
    """A region the scenario put something in (the others are enabled and empty)."""
    return bool(region.clusters or region.repositories or region.eks_clusters)


def with_enabled_regions(scenario: Scenario, count: int) -> Scenario:
    """`scenario` with each account's other enabled regions, empty (as most of a real
    account's are): every region botocore knows in the aws partition (`count` 0), else the
    first `count` of them in all (the scenario's own included). The emulator's DescribeRegions
    names them, so the sweep reads usage in each, and sweeps only the scenario's own."""
    from botocore.loaders import create_loader

    endpoints = create_loader().load_data("endpoints")
    known = sorted(next(p for p in endpoints["partitions"] if p["partition"] == "aws")["regions"])
    accounts = []
    for account in scenario.accounts:
        own = {r.name for r in account.regions}
        others = [r for r in known if r not in own]
        if count:
            others = others[: max(0, count - len(own))]
        extra = tuple(Region(name) for name in others)
        accounts.append(replace(account, regions=(*account.regions, *extra)))
    return replace(scenario, accounts=tuple(accounts))


def sweep_scenario(
    name: str,
    scenario: Scenario,
    args: argparse.Namespace,
    *,
    floor_wanted: bool,
    baseline_wanted: bool,
) -> dict[str, Any]:
    """Serve `scenario`, sweep it (reference, concurrent, floor, baseline), print the figures;
    return them."""
    regions = sorted({r.name for a in scenario.accounts for r in a.regions if holds(r)})
    every = [(a.id, regions) for a in scenario.accounts]
    enabled = len({r.name for a in scenario.accounts for r in a.regions})
    revisions = not args.no_revisions
    print(
        f"\n=== {name}: {len(scenario.accounts)} accounts x {len(regions)} regions swept "
        f"({enabled} enabled, usage read in each), "
        f"{scenario.image_count()} images, service revisions {'on' if revisions else 'off'}",
        flush=True,
    )
    faults = Faults(latency_s=args.latency, latency_jitter_s=args.jitter)
    base_spec: dict[str, Any] = {"apply": args.apply, "revisions": revisions}
    quotas = parse_quotas(args.quotas, 3)
    with spawn_emulator(scenario, faults=faults, quotas=args.quotas) as emu:
        print(
            f"emulator: pid {emu.pid}, {emu.endpoint_url}, quotas {args.quotas}, "
            f"latency {args.latency * 1000:.0f}ms + [0, {args.jitter * 1000:.0f})ms",
            flush=True,
        )
        reference: dict[str, Any] | None = None
        if not args.no_reference:
            emu.set_quotas_enabled(False)
            spec = {**base_spec, "apply": False, "targets": every, "limits": None}
            reference = run_child(emu, spec)
            emu.set_quotas_enabled(quotas.enabled)
        emu.reset_stats()
        tuned = None if args.images_waiting is None else {"images_waiting": args.images_waiting}
        written = {"write_plan": f"{args.write_plan}.{name}"} if args.write_plan else {}
        conc = run_child(emu, {**base_spec, "targets": every, "limits": tuned, **written})
        stats = emu.stats()
        floor: dict[str, Any] | None = None
        if floor_wanted:
            time.sleep(1)
            url = emu.endpoint_url
            spec = {"calls": conc["calls"], "in_flight": stats["max_in_flight"], "url": url}
            floor = run_child(emu, spec)
        botocore_run: dict[str, Any] | None = None
        if args.compare_botocore:
            emu.set_quotas_enabled(quotas.enabled)  # buckets full again
            spec = {**base_spec, "targets": every, "limits": None, "wire": False}
            botocore_run = run_child(emu, spec)

        seq_accounts = subset(scenario, args.sequential_accounts)
        seq: dict[str, Any] | None = None
        seq_stats: dict[str, Any] = {}
        if baseline_wanted:
            emu.set_quotas_enabled(quotas.enabled)
            emu.reset_stats()
            seq_targets = [(a, regions) for a in seq_accounts]
            limits = {"calls_per_region": 1, "regions_at_once": 1}
            spec = {**base_spec, "targets": seq_targets, "limits": limits, "one_at_a_time": True}
            seq = run_child(emu, spec)
            seq_stats = emu.stats()

    rate_s, bucket, bucket_n, bucket_limit = rate_bound(stats, quotas)
    chain, chain_where = longest_chain(scenario, revisions)
    latency_s = chain * (args.latency + args.jitter / 2)
    bound = max(rate_s, latency_s)
    by_op: dict[str, int] = defaultdict(int)
    for _a, _r, service, op, n in stats["calls"]:
        by_op[f"{service}:{op}"] += n
    throttled_by_op: dict[str, int] = defaultdict(int)
    for _a, _r, service, op, n in stats["throttled"]:
        throttled_by_op[f"{service}:{op}"] += n

    same_plan = reference is None or conc["plan"] == reference["plan"]
    print_sweep(conc, stats, reference, quotas, same_plan=same_plan)
    print(f"lower bound: {bound:.2f}s = max(")
    print(
        f"  rate    {rate_s:.2f}s  (binding bucket {bucket}: {bucket_n} calls needed, "
        f"{bucket_limit or '-'}, first called {bucket_start(stats, quotas, bucket):.2f}s "
        "after the sweep's first call),"
    )
    print(
        f"  latency {latency_s:.2f}s  (longest chain {chain} calls in {chain_where} "
        f"x {(args.latency + args.jitter / 2) * 1000:.0f}ms mean latency))"
    )
    if args.timeline:
        print_timeline(stats, bucket)
    ratio = conc["wall_s"] / bound if bound > 0 else float("inf")
    print(f"ratio wall / bound: {ratio:.2f}")
    print_comparisons(conc, stats, bound, floor, botocore_run)
    floor_ratio = math.nan
    if floor is not None:
        floor_ratio = conc["wall_s"] / max(bound, floor["wall_s"])
        print(f"ratio wall / max(bound, floor): {floor_ratio:.2f}")

    seq_wall = print_sequential(seq, seq_stats, len(scenario.accounts), seq_accounts, conc)
    speedup = seq_wall / conc["wall_s"]
    if seq is not None:
        print(f"speedup sequential / concurrent: {speedup:.1f}")
    cpu_ms = 1000 * conc["cpu_s"] / conc["calls"]
    print(
        f"client CPU: {conc['cpu_s']:.2f}s for {conc['calls']} calls ({cpu_ms:.2f} ms/call), "
        f"peak RSS {conc['peak_rss_mb']:.0f} MB (concurrent sweep)"
    )
    if seq is not None:
        print(
            f"sequential: {1000 * seq['cpu_s'] / seq['calls']:.2f} ms CPU/call, "
            f"peak RSS {seq['peak_rss_mb']:.0f} MB"
        )
    return {
        "ratio": ratio,
        "floor_ratio": floor_ratio,
        "speedup": speedup,
        "cpu_ms": cpu_ms,
        "peak_rss_mb": conc["peak_rss_mb"],
        "ok": same_plan and conc["errors"] == 0,
    }


def memory_scenario(args: argparse.Namespace) -> dict[str, Any]:
    """Plan, then apply from the plan file, at `--memory-images` images and (unless --no-5m)
    five times as many, each command in its own child process that imports only the sweeper
    (awsim.memory): their peak RSS and wall time. The org's shape is the org scenario's
    (`--accounts` x `--regions` x `--services`); the emulator generates it itself."""
    from . import memory

    sizes = [args.memory_images] + ([] if args.no_5m else [5 * args.memory_images])
    measured: list[dict[str, Any]] = []
    ok = True
    for images in sizes:
        print(
            f"\n=== memory: {args.accounts} accounts x {args.regions} regions x "
            f"{args.services} services, {images} images: plan, then apply from its file",
            flush=True,
        )
        plan, applied = memory.measure(
            accounts=args.accounts,
            regions=args.regions,
            services=args.services,
            images=images,
            seed=args.seed,
            faults=Faults(latency_s=args.latency, latency_jitter_s=args.jitter),
            quotas=args.quotas,
            sources=replace(memory.SOURCES, service_revisions=not args.no_revisions),
            echo=lambda _: None,
        )
        wall = plan["wall_s"] + applied["wall_s"]
        print(
            f"plan:  {plan['wall_s']:.1f}s wall, peak RSS {plan['peak_rss_mb']:.0f} MB, "
            f"{plan['deletions']} deletions / {plan['kept']} kept, {plan['errors']} errors"
        )
        print(
            f"apply: {applied['wall_s']:.1f}s wall, peak RSS {applied['peak_rss_mb']:.0f} MB, "
            f"{applied['deleted']} deleted, {applied['errors']} errors"
        )
        print(f"plan + apply: {wall:.1f}s, {wall / (images / 100_000):.2f}s per 100,000 images")
        ok = ok and plan["errors"] == 0 and applied["errors"] == 0
        measured.append(
            {
                "rss_mb": max(plan["peak_rss_mb"], applied["peak_rss_mb"]),
                "seconds_per_100k": wall / (images / 100_000),
                "wall_s": wall,
            }
        )
    if len(measured) == 2:
        ratio = measured[1]["wall_s"] / measured[0]["wall_s"]
        print(f"time at x5 images: x{ratio:.2f} (linear: 5)")
    return {
        "rss_mb_1m": measured[0]["rss_mb"],
        "rss_mb_5m": measured[1]["rss_mb"] if len(measured) == 2 else math.nan,
        "seconds_per_100k_5m": (
            measured[1]["seconds_per_100k"] if len(measured) == 2 else math.nan
        ),
        "ok": ok,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        profile_to = os.environ.get("AWSIM_BENCH_PROFILE")
        if profile_to and "in_flight" not in spec and not spec.get("one_at_a_time"):
            # A developer's tool: the measured sweeps' cProfile stats (one file per sweep).
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(child, spec)
            profiler.dump_stats(f"{profile_to}.{os.getpid()}")
        else:
            result = child(spec)
        print(json.dumps(result))
        return 0

    nan = math.nan
    env: dict[str, Any] = {"ratio": nan}
    org: dict[str, Any] = {"floor_ratio": nan, "speedup": nan, "cpu_ms": nan, "peak_rss_mb": nan}
    memory: dict[str, Any] = {"rss_mb_1m": nan, "rss_mb_5m": nan, "seconds_per_100k_5m": nan}
    ok = True
    if args.scenario in ("all", "both", "environment"):
        scenario = with_enabled_regions(
            generate_org(1, 1, args.env_services, args.env_images, args.seed),
            args.env_enabled_regions,
        )
        env = sweep_scenario(
            "environment", scenario, args, floor_wanted=args.http_floor, baseline_wanted=False
        )
        ok = ok and env["ok"]
        if args.scenario == "environment":
            org = {**org, "cpu_ms": env["cpu_ms"], "peak_rss_mb": env["peak_rss_mb"]}
    if args.scenario in ("all", "both", "org"):
        scenario = generate_org(args.accounts, args.regions, args.services, args.images, args.seed)
        org = sweep_scenario(
            "org", scenario, args, floor_wanted=True, baseline_wanted=not args.no_baseline
        )
        ok = ok and org["ok"]
    if args.scenario in ("all", "memory"):
        memory = memory_scenario(args)
        ok = ok and memory["ok"]
    if not ok:
        print("FAILED: a plan differs from the unthrottled plan, or the sweep had errors")
    print(
        f"env_ratio_to_bound={env['ratio']:.2f} org_ratio_to_floor={org['floor_ratio']:.2f} "
        f"speedup_vs_sequential={org['speedup']:.1f} cpu_ms_per_call={org['cpu_ms']:.2f} "
        f"peak_rss_mb={org['peak_rss_mb']:.0f} rss_mb_1m={memory['rss_mb_1m']:.0f} "
        f"rss_mb_5m={memory['rss_mb_5m']:.0f} "
        f"seconds_per_100k_5m={memory['seconds_per_100k_5m']:.1f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
