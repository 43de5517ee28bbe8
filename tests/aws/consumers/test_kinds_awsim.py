"""Braket hybrid jobs, Clean Rooms ML configured model algorithms, Greengrass v2 components,
GameLift container group definitions (read) and HealthOmics private workflows (census-only), on
the emulator (ops_kinds.py, ops_gamelift.py): moto serves none of them. Each seed uses
some images of one repository; a real plan keeps exactly those, naming the consumer; a denied
read blocks the plan with its census line; the census sees each kind alone, and switched off
it blocks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from awsim import (
    Account,
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
from awsim import kinds_records as records
from conftest import use_only
from ecr_sweeper import wording
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.model import AccountId, AccountTarget, CensusEntry, Plan, Policy, Sources
from ecr_sweeper.model import Region as RegionName
from ecr_sweeper.pipeline import make_plan, scan_usage
from planning import NO_RETENTION
from sweep import connected

A, US = "111111111111", "us-east-1"
TARGET = AccountTarget(AccountId(A), (RegionName(US),), role_arn=f"arn:aws:iam::{A}:role/Sweeper")
SOURCES = emulated(Sources(service_revisions=False))
TAGS = ("job", "queued", "done", "train", "infer", "edge", "edge2", "game", "sidecar", "unused")
IMAGES = {tag: Image(tags=(tag,), key=tag) for tag in TAGS}
SCENARIO = Scenario(
    (
        Account(
            A,
            regions=(Region(US, repositories=(Repository("q", images=tuple(IMAGES.values())),)),),
        ),
    )
)
Seed = Callable[[Emulator], None]


def uri(tag: str) -> str:
    return image_uri(A, US, "q", tag=tag)


def run(
    seed: Seed,
    kind: str,
    sources: Sources = SOURCES,
    faults: Faults | None = None,
    policy: Policy = NO_RETENTION,
) -> tuple[Plan, CensusEntry]:
    """Plan after `seed`; and the census entry of `kind`."""
    with run_emulator(SCENARIO, quotas=Quotas.unlimited(), faults=faults or Faults()) as emu:
        seed(emu)
        with pytest.MonkeyPatch.context() as monkeypatch:
            use_only(monkeypatch, emu.env())

            async def go(connections: Connections) -> tuple[Plan, CensusEntry]:
                now = datetime.now(UTC)
                plan = await make_plan([TARGET], policy, connections, now, sources=sources)
                _, usage = await scan_usage([TARGET], connections, now, sources=sources)
                [entry] = [e for s in usage for e in s.census if e.kind == kind]
                return plan, entry

            return connected(go)


def deleted(plan: Plan) -> set[str]:
    return {tag for d in plan.deletions for tag in d.tags}


def reason(plan: Plan, tag: str) -> str:
    return next(wording.reason(d.reason) for d in (*plan.kept, *plan.deletions) if tag in d.tags)


def add(emu: Emulator, *made: records.Record) -> None:
    for collection, key, record in made:
        emu.add_consumer(A, US, collection, key, record)


def braket(emu: Emulator) -> None:
    add(
        emu,
        records.braket_job(A, US, "vqe", "RUNNING", uri("job")),
        records.braket_job(A, US, "next", "QUEUED", uri("queued")),
        records.braket_job(A, US, "old", "COMPLETED", uri("done")),
        records.braket_job(A, US, "script", "RUNNING", None),
    )


def cleanrooms(emu: Emulator) -> None:
    add(emu, records.cleanrooms_ml_algorithm(A, US, "lookalike", uri("train"), uri("infer")))


def greengrass(emu: Emulator) -> None:
    recipe = records.docker_recipe("edge", f"docker:{uri('edge')}", "s3://code/app.zip")
    add(
        emu,
        records.greengrass_component(A, US, "edge"),
        records.greengrass_version(A, US, "edge", "1.0.0", recipe),
        records.greengrass_version(
            A, US, "edge", "1.1.0", records.docker_recipe("edge", f"docker:{uri('edge2')}")
        ),
    )


def gamelift(emu: Emulator) -> None:
    """Definition `arena`: version 1 runs `game` (by tag) with a support container resolved
    to `sidecar`'s digest (its tag has moved since); version 2, a per-instance definition, runs
    `edge`; definition `lobby` runs nothing of this repository."""
    add_definition = emu.add_gamelift_container_group_definition
    pinned = (uri("moved"), IMAGES["sidecar"].digest)
    add_definition(
        A, US, records.gamelift_definition(A, US, "arena", 1, (uri("game"), None), (pinned,))
    )
    add_definition(
        A, US, records.gamelift_definition(A, US, "arena", 2, None, ((uri("edge"), None),))
    )
    add_definition(
        A, US, records.gamelift_definition(A, US, "lobby", 1, ("public.ecr.aws/x/y:1", None))
    )


def omics(emu: Emulator) -> None:
    add(emu, records.omics_workflow(A, US, "1234567"))


def test_braket_running_and_queued_jobs_keep_their_images() -> None:
    plan, entry = run(braket, "braket")
    assert plan.errors == ()
    assert (entry.present, entry.read) == (True, True)
    assert deleted(plan) == set(TAGS) - {"job", "queued"}
    assert reason(plan, "job") == (
        "in use: tag 'job' used by Braket hybrid job vqe (algorithmSpecification.containerImage)"
    )


def test_clean_rooms_ml_algorithms_keep_their_training_and_inference_images() -> None:
    plan, entry = run(cleanrooms, "cleanrooms-ml")
    assert plan.errors == ()
    assert (entry.present, entry.read) == (True, True)
    assert deleted(plan) == set(TAGS) - {"train", "infer"}
    assert reason(plan, "train") == (
        "in use: tag 'train' used by Clean Rooms ML configured model algorithm lookalike "
        "(trainingContainerConfig)"
    )
    assert "(inferenceContainerConfig)" in reason(plan, "infer")


def test_greengrass_components_keep_their_docker_artifacts() -> None:
    plan, entry = run(greengrass, "greengrass")
    assert plan.errors == ()
    assert (entry.present, entry.read) == (True, True)
    assert deleted(plan) == set(TAGS) - {"edge", "edge2"}
    assert reason(plan, "edge") == (
        "in use: tag 'edge' used by Greengrass component edge 1.0.0 (Manifests[0].Artifacts[0].URI)"
    )


def test_gamelift_container_group_definitions_keep_every_versions_images() -> None:
    plan, entry = run(gamelift, "gamelift")
    assert plan.errors == ()
    assert (entry.present, entry.read) == (True, True)
    assert deleted(plan) == set(TAGS) - {"game", "sidecar", "edge"}
    assert reason(plan, "game") == (
        "in use: tag 'game' used by GameLift container group definition arena version 1 "
        "(GameServerContainerDefinition)"
    )
    assert reason(plan, "sidecar").startswith(
        "in use: digest running in GameLift container group definition arena version 1 "
        "(SupportContainerDefinitions[0])"
    )
    assert "arena version 2 (SupportContainerDefinitions[0])" in reason(plan, "edge")


def test_a_greengrass_recipe_that_is_not_an_object_leaves_the_kind_unread() -> None:
    def seed(emu: Emulator) -> None:
        add(
            emu,
            records.greengrass_component(A, US, "odd"),
            records.greengrass_version(A, US, "odd", "1.0.0", ["not", "an", "object"]),
        )

    plan, entry = run(seed, "greengrass")
    assert (entry.present, entry.read) == (True, False)
    assert entry.detail == "unread: Greengrass component odd 1.0.0: its recipe is not a JSON object"
    assert plan.blocked
    assert plan.deletions == ()


def test_a_healthomics_private_workflow_blocks_until_accepted() -> None:
    plan, entry = run(omics, "omics")
    assert (entry.present, entry.read) == (True, False)
    assert entry.detail == "healthomics private workflows: no reader in this tool"
    assert plan.blocked
    assert plan.deletions == ()
    assert wording.findings(plan.findings)[0].startswith(f"{A}/{US}: omics present, not read (")
    policy = replace(NO_RETENTION, accepted_unread=("omics",))
    accepted, _ = run(omics, "omics", policy=policy)
    assert not accepted.blocked
    assert deleted(accepted) == set(TAGS)


def test_a_shared_healthomics_workflow_is_not_this_accounts() -> None:
    _, entry = run(lambda emu: add(emu, records.omics_workflow(A, US, "7", "READY2RUN")), "omics")
    assert entry.present is False


@pytest.mark.parametrize(
    ("kind", "seed", "operation", "reader"),
    [
        ("braket", braket, "GetJob", "braket hybrid jobs"),
        ("cleanrooms-ml", cleanrooms, "GetConfiguredModelAlgorithm", "clean rooms ml algorithms"),
        ("greengrass", greengrass, "GetComponent", "greengrass components"),
        ("greengrass", greengrass, "ListComponentVersions", "greengrass components"),
        (
            "gamelift",
            gamelift,
            "ListContainerGroupDefinitionVersions",
            "gamelift container groups",
        ),
    ],
)
def test_a_denied_read_blocks_the_plan_with_its_census_line(
    kind: str, seed: Seed, operation: str, reader: str
) -> None:
    plan, entry = run(seed, kind, faults=Faults(denied_operations=frozenset({operation})))
    assert plan.deletions == ()
    assert (entry.present, entry.read, entry.detail) == (True, False, f"read failed: {reader}")
    assert any(operation in e.message and "AccessDenied" in e.message for e in plan.errors)
    assert (
        f"{A}/{US}: {kind} present, not read (read failed: {reader})"
        in (wording.findings(plan.findings)[0])
    )


@pytest.mark.parametrize(
    ("kind", "seed", "operation"),
    [
        ("braket", braket, "SearchJobs"),
        ("cleanrooms-ml", cleanrooms, "ListConfiguredModelAlgorithms"),
        ("greengrass", greengrass, "ListComponents"),
        ("omics", omics, "ListWorkflows"),
        ("gamelift", gamelift, "ListContainerGroupDefinitions"),
    ],
)
def test_each_census_both_ways_and_a_denied_census_blocks(
    kind: str, seed: Seed, operation: str
) -> None:
    _, absent = run(lambda _: None, kind)
    assert absent.present is False
    plan, off = run(seed, kind, replace(SOURCES, off=SOURCES.off | {kind}))
    assert off.present is True
    assert plan.blocked
    assert plan.deletions == ()
    denied = Faults(denied_operations=frozenset({operation}))
    plan, unknown = run(lambda _: None, kind, replace(SOURCES, off=SOURCES.off | {kind}), denied)
    assert unknown.present is None
    assert "census failed" in unknown.detail
    assert plan.blocked
