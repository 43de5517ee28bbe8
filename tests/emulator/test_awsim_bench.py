"""The bench's own helpers (awsim/bench.py): the environment's enabled regions, and when the
binding bucket was first called."""

from __future__ import annotations

import math

from awsim.bench import bucket_start, holds, with_enabled_regions
from awsim.generate import generate_org
from awsim.quotas import Quotas


def test_the_environment_has_every_region_of_the_partition_enabled_and_only_its_own_swept() -> None:
    scenario = generate_org(1, 1, 5, 50)
    (account,) = with_enabled_regions(scenario, 0).accounts
    names = [r.name for r in account.regions]
    assert len(names) == len(set(names)) >= 17
    assert [r.name for r in account.regions if holds(r)] == [scenario.accounts[0].regions[0].name]
    assert account.regions[0] == scenario.accounts[0].regions[0]  # its own, unchanged
    (fewer,) = with_enabled_regions(scenario, 17).accounts
    assert len(fewer.regions) == 17


def test_the_binding_bucket_starts_at_its_first_call_after_the_sweeps_first() -> None:
    quotas = Quotas()
    stats = {
        "first_at": [
            ["1", "us-east-1", "sts", "AssumeRole", 100.0],
            ["1", "us-east-1", "ecs", "ListTaskDefinitions", 104.5],
            ["1", "us-east-1", "ecs", "DescribeTaskDefinition", 102.5],
            ["1", "eu-west-1", "ecs", "DescribeTaskDefinition", 101.0],
        ]
    }
    bucket = quotas.bucket_for("ecs:DescribeTaskDefinition")
    assert bucket_start(stats, quotas, f"1/us-east-1 {bucket}") == 2.5
    assert math.isnan(bucket_start({"first_at": []}, quotas, f"1/us-east-1 {bucket}"))
