"""The consumers moto does not serve, on the emulator: ECS Managed Daemons, App Runner and
Lightsail container services.
Each test seeds one consumer that uses an image and one unused image and runs a real plan;
the census tests check `present()` both ways; a denied read blocks the plan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from awsim import (
    Account,
    Cluster,
    Emulator,
    Faults,
    Image,
    Quotas,
    Region,
    Repository,
    Scenario,
    emulated,
    image_uri,
    run_emulator,
)
from conftest import use_only
from ecr_sweeper import wording
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.model import AccountId, AccountTarget, Plan, Sources
from ecr_sweeper.model import Region as RegionName
from ecr_sweeper.pipeline import make_plan, scan_usage
from planning import NO_RETENTION
from sweep import connected

ACCOUNT, US = "111111111111", "us-east-1"
TARGET = AccountTarget(
    AccountId(ACCOUNT), (RegionName(US),), role_arn=f"arn:aws:iam::{ACCOUNT}:role/EcrSweeper"
)
SOURCES = emulated(Sources(service_revisions=False))
TAGS = ("d1", "d2", "d3", "pinned", "next", "app", "unused")
IMAGES = {tag: Image(tags=(tag,), key=tag) for tag in TAGS}
SCENARIO = Scenario(
    (
        Account(
            ACCOUNT,
            regions=(
                Region(
                    US,
                    clusters=(Cluster("hosts"),),
                    repositories=(Repository("agent", images=tuple(IMAGES.values())),),
                ),
            ),
        ),
    )
)
Seed = Callable[[Emulator], None]
NO_FAULTS = Faults()


def run(
    seed: Seed, sources: Sources, monkeypatch: pytest.MonkeyPatch, faults: Faults = NO_FAULTS
) -> tuple[Plan, set[str]]:
    """Plan after `seed`; also the consumer kinds the census found present."""
    with run_emulator(SCENARIO, quotas=Quotas.unlimited(), faults=faults) as emu:
        seed(emu)
        use_only(monkeypatch, emu.env())

        async def go(connections: Connections) -> tuple[Plan, set[str]]:
            now = datetime.now(UTC)
            plan = await make_plan([TARGET], NO_RETENTION, connections, now, sources=sources)
            _, usage = await scan_usage([TARGET], connections, now, sources=sources)
            return plan, {e.kind for s in usage for e in s.census if e.present}

        return connected(go)


def deleted_tags(plan: Plan) -> set[str]:
    return {tag for d in plan.deletions for tag in d.tags}


def reason(plan: Plan, tag: str) -> str:
    return next(wording.reason(d.reason) for d in (*plan.kept, *plan.deletions) if tag in d.tags)


def agent(tag: str) -> str:
    return image_uri(ACCOUNT, US, "agent", tag=tag)


def daemon(emu: Emulator) -> None:
    """Daemon `monitor` running revisions of task definitions 2 (d2) and 3 (by a digest whose
    tag has moved: `pinned`), mid-deployment to task definition 4 (`next`, running nowhere
    yet); its family has revisions 1..4."""
    arns = [
        emu.register_daemon_task_definition(ACCOUNT, US, "monitor", n, {"agent": agent(f"d{n}")})
        for n in (1, 2, 3)
    ]
    arns.append(
        emu.register_daemon_task_definition(ACCOUNT, US, "monitor", 4, {"agent": agent("next")})
    )
    emu.add_daemon(
        ACCOUNT,
        US,
        "hosts",
        "monitor",
        [
            (arns[1], {"agent": (agent("d2"), IMAGES["d2"].digest)}),
            (arns[2], {"agent": (agent("moving"), IMAGES["pinned"].digest)}),
        ],
        deploying=(arns[3], {"agent": (agent("next"), IMAGES["next"].digest)}),
    )


def test_daemon_revisions_and_daemon_task_definitions_keep_their_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan, present = run(daemon, replace(SOURCES, rollback_revisions=0), monkeypatch)
    assert plan.errors == ()
    assert "ecs-daemons" in present
    # the digest ECS resolved for the revision in flight, both revisions' task definitions
    assert deleted_tags(plan) == {"d1", "app", "unused"}
    assert reason(plan, "pinned").startswith(
        "in use: digest running in daemon hosts/monitor revision"
    )
    assert "daemon task definition monitor:3 container agent (daemon hosts/monitor revision" in (
        reason(plan, "d3")
    )
    # the target of the deployment in progress, not running yet
    assert reason(plan, "next").startswith("in use: tag 'next' used by daemon hosts/monitor")


def test_daemon_task_definitions_in_the_rollback_window_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan, _ = run(daemon, replace(SOURCES, rollback_revisions=4), monkeypatch)
    assert plan.errors == ()
    assert deleted_tags(plan) == {"app", "unused"}
    assert "(rollback window of daemon family monitor)" in reason(plan, "d1")


def test_daemons_census_and_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    _, present = run(lambda _: None, SOURCES, monkeypatch)
    assert "ecs-daemons" not in present
    plan, present = run(daemon, replace(SOURCES, off=SOURCES.off | {"ecs-daemons"}), monkeypatch)
    assert "ecs-daemons" in present  # the census still sees what the run does not read
    # ...and the consumer it did not read blocks the plan: nothing it could pull goes
    assert plan.blocked
    assert deleted_tags(plan) == set()
    [finding] = wording.findings(plan.findings)
    assert finding.startswith(f"{ACCOUNT}/{US}: ecs-daemons present, not read (")
    assert f"--accept-unread ecs-daemons@{ACCOUNT}" in finding


def test_denied_daemon_read_blocks_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    denied = Faults(denied_operations=frozenset({"DescribeDaemonRevisions"}))
    plan, _ = run(daemon, SOURCES, monkeypatch, denied)
    assert plan.deletions == ()
    assert any("ecs daemons" in e.message and "AccessDenied" in e.message for e in plan.errors), (
        plan.errors
    )


def app_runner(emu: Emulator) -> None:
    emu.add_app_runner_service(ACCOUNT, US, "storefront", agent("app"))
    emu.add_app_runner_service(ACCOUNT, US, "public", "public.ecr.aws/nginx/nginx:1", "ECR_PUBLIC")


def test_app_runner_service_keeps_its_image(monkeypatch: pytest.MonkeyPatch) -> None:
    plan, present = run(app_runner, SOURCES, monkeypatch)
    assert plan.errors == ()
    assert "apprunner" in present
    assert deleted_tags(plan) == set(TAGS) - {"app"}
    assert reason(plan, "app") == "in use: tag 'app' used by App Runner service storefront"


def test_app_runner_census_and_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    _, present = run(lambda _: None, SOURCES, monkeypatch)
    assert "apprunner" not in present
    plan, _ = run(app_runner, replace(SOURCES, off=SOURCES.off | {"apprunner"}), monkeypatch)
    # switched off where services exist: the census blocks the plan, and "app" stays
    assert plan.blocked
    assert deleted_tags(plan) == set()
    assert [f.split(":")[0] for f in wording.findings(plan.findings)] == [f"{ACCOUNT}/{US}"]
    assert "apprunner present, not read" in wording.findings(plan.findings)[0]


def test_denied_app_runner_read_blocks_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    denied = Faults(denied_operations=frozenset({"DescribeService"}))
    plan, _ = run(app_runner, SOURCES, monkeypatch, denied)
    assert plan.deletions == ()
    assert any("app runner" in e.message for e in plan.errors), plan.errors


def lightsail(emu: Emulator) -> None:
    emu.add_lightsail_container_service(
        ACCOUNT,
        US,
        "shop",
        {"web": agent("app"), "cache": "redis:7", "own": ":shop.web.3"},
        {"web": agent("next")},
    )


def test_lightsail_container_service_keeps_its_images(monkeypatch: pytest.MonkeyPatch) -> None:
    plan, present = run(lightsail, SOURCES, monkeypatch)
    assert plan.errors == ()
    assert "lightsail" in present
    assert deleted_tags(plan) == set(TAGS) - {"app", "next"}
    assert reason(plan, "app") == (
        "in use: tag 'app' used by Lightsail container service shop "
        "(currentDeployment.containers[web])"
    )
    assert reason(plan, "next") == (
        "in use: tag 'next' used by Lightsail container service shop "
        "(nextDeployment.containers[web])"
    )


def test_lightsail_census_and_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    _, present = run(lambda _: None, SOURCES, monkeypatch)
    assert "lightsail" not in present
    plan, _ = run(lightsail, replace(SOURCES, off=SOURCES.off | {"lightsail"}), monkeypatch)
    assert plan.blocked
    assert deleted_tags(plan) == set()
    assert wording.findings(plan.findings)[0].startswith(
        f"{ACCOUNT}/{US}: lightsail present, not read "
        "(lightsail container services: switched off); nothing it could pull is deleted."
    )


def test_denied_lightsail_read_blocks_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    denied = Faults(denied_operations=frozenset({"GetContainerServices"}))
    plan, _ = run(lightsail, SOURCES, monkeypatch, denied)
    assert plan.deletions == ()
    assert any(
        "lightsail container services" in e.message and "AccessDenied" in e.message
        for e in plan.errors
    ), plan.errors
