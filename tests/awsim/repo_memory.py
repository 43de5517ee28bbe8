"""What one repository costs in memory, per image: its images as the inventory makes them from
DescribeImages answers, judging it (the planner, its decisions going to the spool, as `plan`
does), and writing its decisions to the plan file's text. tracemalloc, in this process; no
emulator (the answers are made here). A repository of the memory scenario's largest size at
5,000,000 images holds about 136,000 images.

    PYTHONPATH=tests python -m awsim.repo_memory --images 136000

Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ecr_sweeper.aws.ecr import _image
from ecr_sweeper.model import AccountId, Policy, Region, Repository, RepositoryKey, RepositoryName
from ecr_sweeper.plan import Planner
from ecr_sweeper.planfile import plan_text
from ecr_sweeper.spool import Spool

NOW = datetime(2025, 6, 1, tzinfo=UTC)
KEY = RepositoryKey(
    AccountId("111111111111"), Region("us-east-1"), RepositoryName("platform/envoy")
)


def details(n: int) -> Iterator[dict[str, Any]]:
    """DescribeImages details as botocore gives them: one image a minute, 6 of 7 tagged."""
    for k in range(n):
        detail: dict[str, Any] = {
            "imageDigest": "sha256:" + hashlib.sha256(str(k).encode()).hexdigest(),
            "imagePushedAt": NOW - timedelta(minutes=n - k),
            "imageSizeInBytes": 12_345_678,
            "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "lastRecordedPullTime": NOW - timedelta(days=k % 90),
        }
        if k % 7:
            detail["imageTags"] = [f"build-{k}"] + ([f"v1.{k // 5}.0"] if k % 5 == 0 else [])
        yield detail


def measure(n: int) -> dict[str, float]:
    """Bytes per image: the images held, the judging's peak beyond them, the writing's peak."""
    tracemalloc.start()
    repo = Repository(KEY, tuple(_image(d) for d in details(n)))
    gc.collect()
    images = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    planner = Planner([], Policy(keep_last=10, min_age_days=14), NOW, store=Spool())
    planner.judge(repo)
    judged = tracemalloc.get_traced_memory()[1]
    del repo
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    chars = sum(len(piece) for piece in plan_text(planner.plan()))
    written = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "images_b_per_image": round(images / n),
        "judge_peak_b_per_image_beyond_images": round((judged - images) / n),
        "write_peak_b_per_image": round((written - before) / n),
        "plan_text_chars_per_image": round(chars / n),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m awsim.repo_memory", description=__doc__)
    p.add_argument("--images", type=int, default=136_000)
    args = p.parse_args(argv)
    for name, value in measure(args.images).items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
