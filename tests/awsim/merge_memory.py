"""Peak RSS of `ecr-sweeper plan --merge` over shard files of a given size (no emulator: the
shards are written here, as `plan --shard` writes them).

    PYTHONPATH=tests python -m awsim.merge_memory --images 100000 [--shards 4]
        [--format table|json|markdown|csv] [--src DIR]

Writes `--shards` shard files holding `--images` images (repositories of 100 images over 8
accounts × 2 regions, a few in use) in one process, then runs the CLI's `plan --merge` on them
in another (its `src` from `--src`: another checkout's, to compare) and prints one JSON line:
its peak RSS (the child's ru_maxrss), exit code and the plan file's size. The CLI is started
by a small launcher (`python -S`, the standard library only): Linux counts the RSS of the
process a child is forked from in the child's ru_maxrss (it keeps the largest across exec),
and this module's process holds awsim's ~100 MB. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_SRC_DIR = Path(__file__).resolve().parent.parent.parent / "src"
ACCOUNTS = tuple(f"{n:012d}" for n in range(100000000001, 100000000009))
REGIONS = ("us-east-1", "eu-west-1")
PER_REPOSITORY = 100


def write_shards(where: Path, images: int, shards: int) -> list[Path]:
    """`shards` shard files holding `images` images between them."""
    # Imported here: the process that measures the CLI imports none of it.
    from ecr_sweeper.model import (
        AccountId,
        AccountTarget,
        InventoryScan,
        Policy,
        Region,
        Repository,
        Sources,
    )
    from ecr_sweeper.shardfile import write_shard
    from planning import image, key, uri, usage_scan, use

    places = [(a, r) for a in ACCOUNTS for r in REGIONS]
    repositories = max(1, images // PER_REPOSITORY)
    targets = tuple(AccountTarget(AccountId(a), tuple(map(Region, REGIONS))) for a in ACCOUNTS)
    paths = []
    for index in range(1, shards + 1):
        mine = [p for n, p in enumerate(places) if n % shards == index - 1]
        scans = []
        for account, region in mine:
            repos = tuple(
                Repository(
                    key(f"team/app-{n}", account, region),
                    tuple(
                        image(f"{account}{region}{n}-{i}", f"v{i}", days_old=i + 1, size=1000 + i)
                        for i in range(PER_REPOSITORY)
                    ),
                )
                for n in range(repositories)
                if n % len(places) == places.index((account, region))
            )
            scans.append(InventoryScan(AccountId(account), Region(region), repos))
        usage = [
            usage_scan(use(uri(key(f"team/app-{n}", a, r), ":v3")), account=a, region=r)
            for n, (a, r) in enumerate(mine)
        ]
        path = where / f"shard-{index}.json"
        write_shard(
            path,
            index=index,
            count=shards,
            targets=targets,
            policy=Policy(keep_last=5, min_age_days=10),
            sources=Sources(),
            usage=usage,
            inventory=scans,
        )
        paths.append(path)
    return paths


# Runs argv[1:] and prints its exit code and ru_maxrss (KiB): a process of a few MB (no
# import of awsim, ~100 MB) is the one the CLI is forked from.
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=open(os.environ["OUT"], "wb"),
                         stderr=open(os.environ["ERR"], "wb"))
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def merge_rss(paths: list[Path], where: Path, src: Path, output_format: str) -> dict[str, object]:
    """Run `plan --merge` on `paths` in a fresh process: its peak RSS, exit code, plan size."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PYTHONPATH=str(src), OUT=str(where / "stdout"), ERR=str(where / "stderr"))
    output = where / "plan.json"
    command = [sys.executable, "-m", "ecr_sweeper", "plan", "--merge", *map(str, paths)]
    command += ["--output", str(output), "--format", output_format, "--quiet"]
    launched = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, *command],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    code, rss_kib = map(int, launched.stdout.split())
    return {
        "rss_mb": round(rss_kib / 1024, 1),  # this child's own peak (KiB on Linux)
        "exit": code,
        "plan_mb": round(output.stat().st_size / 2**20, 1) if output.exists() else None,
        "stderr": (where / "stderr").read_text()[-500:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--format", default="table", dest="output_format")
    parser.add_argument("--src", type=Path, default=_SRC_DIR)
    parser.add_argument("--write-to", type=Path, help=argparse.SUPPRESS)  # the writing child
    args = parser.parse_args()
    if args.write_to:
        write_shards(args.write_to, args.images, args.shards)
        return
    with tempfile.TemporaryDirectory() as where:
        writer = [sys.executable, "-m", "awsim.merge_memory", "--write-to", where]
        writer += ["--images", str(args.images), "--shards", str(args.shards)]
        subprocess.run(writer, check=True)
        paths = sorted(Path(where).glob("shard-*.json"))
        shard_mb = sum(p.stat().st_size for p in paths) / 2**20
        result = merge_rss(paths, Path(where), args.src.resolve(), args.output_format)
    print(json.dumps({"images": args.images, "shards_mb": round(shard_mb, 1), **result}))


if __name__ == "__main__":
    main()
