"""Usage sources on the emulator that moto cannot express: recently stopped tasks (with their
resolved digests), and the rollback window over many ACTIVE revisions across listing pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from awsim import (
    Account,
    Cluster,
    Container,
    ContainerDefinition,
    Image,
    Quotas,
    Region,
    Repository,
    Scenario,
    Service,
    Task,
    TaskDefinition,
    emulated,
    image_uri,
    run_emulator,
)
from conftest import use_only
from ecr_sweeper import wording
from ecr_sweeper.model import AccountId, AccountTarget, Plan, Sources
from ecr_sweeper.model import Region as RegionName
from planning import NOW
from sweep import plan as sweep_plan

ACCOUNT, US = "111111111111", "us-east-1"
NO_SCHEDULES_NO_LAMBDA = emulated(Sources(service_revisions=False))


def sweep(scenario: Scenario, sources: Sources, monkeypatch: pytest.MonkeyPatch) -> Plan:
    target = AccountTarget(
        AccountId(ACCOUNT), (RegionName(US),), role_arn=f"arn:aws:iam::{ACCOUNT}:role/EcrSweeper"
    )
    with run_emulator(scenario, quotas=Quotas.unlimited()) as emu:
        use_only(monkeypatch, emu.env())
        return sweep_plan([target], sources=sources, now=NOW)


def in_one_region(**region: Any) -> Scenario:
    """An org of one account with one region (US) holding `region`'s clusters, task
    definitions and repositories."""
    return Scenario((Account(ACCOUNT, regions=(Region(US, **region),)),))


def deleted_tags(plan: Plan) -> set[str]:
    return {tag for d in plan.deletions for tag in d.tags}


def test_recently_stopped_tasks_keep_the_digest_they_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    images = {tag: Image(tags=(tag,), key=tag) for tag in ("crashed", "finished", "old")}
    uri = image_uri(ACCOUNT, US, "jobs", tag="batch")
    # "batch" now points at "moved"; the task that crashed a minute ago ran "crashed" by digest.
    moved = Image(tags=("batch",), key="moved-batch")
    crashed = Task(
        "jobs:1",
        (Container("job", uri, images["crashed"].digest),),
        last_status="STOPPED",
        desired_status="STOPPED",
        stopped_at=NOW - timedelta(minutes=1),
    )
    finished = Task(
        "jobs:1",
        (Container("job", image_uri(ACCOUNT, US, "jobs", tag="finished")),),
        last_status="STOPPED",
        desired_status="STOPPED",
        stopped_at=NOW - timedelta(minutes=30),
    )
    scenario = in_one_region(
        clusters=(Cluster("batch", tasks=(crashed, finished)),),
        task_definitions=(
            TaskDefinition(
                "jobs",
                1,
                (ContainerDefinition("job", image_uri(ACCOUNT, US, "jobs", tag="old-def")),),
            ),
        ),
        repositories=(Repository("jobs", images=(*images.values(), moved)),),
    )
    plan = sweep(scenario, NO_SCHEDULES_NO_LAMBDA, monkeypatch)
    assert plan.errors == ()
    # kept: the digest the crashed task ran, the image the finished task used, and what
    # "batch" points at now; deleted: only "old"
    assert deleted_tags(plan) == {"old"}
    reasons = {d.tags: wording.reason(d.reason) for d in plan.kept}
    assert "stopped task batch/" in reasons[("crashed",)]

    ignoring = sweep(
        scenario,
        emulated(Sources(service_revisions=False, stopped_within_hours=0)),
        monkeypatch,
    )
    assert deleted_tags(ignoring) == {"old", "crashed", "finished", "batch"}


def test_rollback_window_across_listing_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    revisions = tuple(
        TaskDefinition(
            "web", n, (ContainerDefinition("web", image_uri(ACCOUNT, US, "web", tag=f"r{n}")),)
        )
        for n in range(1, 131)  # 130 revisions: two pages of ListTaskDefinitions
    )
    others = tuple(
        TaskDefinition(f"zz-{n}", 1, (ContainerDefinition("x", "docker.io/library/busybox"),))
        for n in range(120)  # families after "web" in DESC order: the listing passes them first
    )
    images = tuple(Image(tags=(f"r{n}",), key=f"r{n}") for n in range(120, 131))
    scenario = in_one_region(
        clusters=(Cluster("apps", services=(Service("web", "web:130"),)),),
        task_definitions=revisions + others,
        repositories=(Repository("web", images=images),),
    )
    window = emulated(Sources(service_revisions=False, rollback_revisions=5))
    plan = sweep(scenario, window, monkeypatch)
    assert plan.errors == ()
    kept = {tag for d in plan.kept for tag in d.tags}
    assert kept == {"r126", "r127", "r128", "r129", "r130"}
    assert deleted_tags(plan) == {f"r{n}" for n in range(120, 126)}


def test_rollback_window_asks_family_by_family_when_the_listing_is_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used = tuple(
        TaskDefinition(
            "aaa", n, (ContainerDefinition("a", image_uri(ACCOUNT, US, "aaa", tag=f"r{n}")),)
        )
        for n in range(1, 8)
    )
    crowd = tuple(
        TaskDefinition(f"zz-{n:03d}", 1, (ContainerDefinition("x", "docker.io/library/busybox"),))
        for n in range(250)  # listed before "aaa": walking to it would take three pages
    )
    images = tuple(Image(tags=(f"r{n}",), key=f"a{n}") for n in range(1, 8))
    scenario = in_one_region(
        clusters=(Cluster("apps", services=(Service("aaa", "aaa:7"),)),),
        task_definitions=used + crowd,
        repositories=(Repository("aaa", images=images),),
    )
    window = emulated(Sources(service_revisions=False, rollback_revisions=5))
    plan = sweep(scenario, window, monkeypatch)
    assert plan.errors == ()
    assert deleted_tags(plan) == {"r1", "r2"}
