"""The census, replication with deletes and archived images, end to end against the emulator
over HTTP (moto implements neither `deleteReplication` nor `imageStatus`)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import anyio
import pytest

import sweep
import test_sweep_awsim
from awsim import (
    Account,
    Cluster,
    Image,
    Region,
    Repository,
    Scenario,
    image_uri,
)
from ecr_sweeper import wording
from ecr_sweeper.aws.consumers import ecs, registry
from ecr_sweeper.aws.consumers.kind import Kind, ReadContext, Reader, Reading
from ecr_sweeper.aws.consumers.scan import read_context, scan_usage
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.model import AccountTarget, Patterns, Plan, Policy, Sources, UsageScan
from ecr_sweeper.model import Region as RegionName
from planning import NO_RETENTION
from test_sweep_awsim import (
    NOW,
    SOURCES,
    US,
    StartEmulator,
    apply,
    keys,
    service_using,
    target,
)

emulator = test_sweep_awsim.emulator  # the fixture, shared

A, B, C = "111111111111", "222222222222", "333333333333"  # C is outside the sweep
EU = "eu-west-1"
V1, V2 = Image(tags=("v1",), key="v1"), Image(tags=("v2",), key="v2")


def plan(targets: list[AccountTarget], policy: Policy = NO_RETENTION) -> Plan:
    return sweep.plan(targets, policy, sources=SOURCES, now=NOW)


def replication(*rules: tuple[bool, str, str, tuple[str, ...]]) -> str:
    """Rules (deleteReplication enabled, destination account, region, repository prefixes)."""
    return json.dumps(
        {
            "rules": [
                {
                    "destinations": [{"region": region, "registryId": account}],
                    **({"deleteReplication": {"enabled": deletes}} if deletes else {}),
                    **(
                        {
                            "repositoryFilters": [
                                {"filter": p, "filterType": "PREFIX_MATCH"} for p in prefixes
                            ]
                        }
                        if prefixes
                        else {}
                    ),
                }
                for deletes, account, region, prefixes in rules
            ]
        }
    )


def test_replicated_deletions_to_a_registry_outside_the_sweep_hold_the_source(
    emulator: StartEmulator,
) -> None:
    rules = replication((True, C, US, ("mirrored/",)), (False, C, EU, ()))
    region = Region(
        US,
        repositories=(Repository("mirrored/app", (V1,)), Repository("local", (V2,))),
        replication=rules,
    )
    with emulator(Scenario((Account(A, (region,)),))):
        result = plan([target(A)])
    assert keys(result.deletions) == {(A, US, "local", V2.digest)}  # copied, deletes not replayed
    [held] = result.kept
    assert wording.reason(held.reason) == (
        f"kept: replication replays its deletions in {C}/{US}, whose usage this run did not "
        "read (add the account and region to the sweep)"
    )


def test_usage_at_a_replicated_destination_in_the_sweep_protects_the_source_image(
    emulator: StartEmulator,
) -> None:
    replica = image_uri(B, EU, "app", tag="v2")  # B's copy, which ECR empties when A deletes
    svc, td, task = service_using("api", "api", replica, V2.digest)
    source = Region(
        US, repositories=(Repository("app", (V1, V2)),), replication=replication((True, B, EU, ()))
    )
    destination = Region(
        EU, (Cluster("apps", (svc,), (task,)),), (td,), (Repository("app", (V1, V2)),)
    )
    with emulator(Scenario((Account(A, (source,)), Account(B, (destination,))))):
        result = plan([target(A, US), target(B, EU)])
    assert keys(result.deletions) == {(A, US, "app", V1.digest), (B, EU, "app", V1.digest)}
    assert (A, US, "app", V2.digest) in keys(result.kept)


def test_an_eks_cluster_blocks_the_plan_until_accepted(emulator: StartEmulator) -> None:
    registry = Region(US, repositories=(Repository("app", (V1,)),))
    apps = Region(EU, eks_clusters=("k8s",))
    with emulator(Scenario((Account(A, (registry, apps)),))):
        blocked = plan([target(A, US)])  # EU is not swept; its usage (and census) is read
        accepted = plan([target(A, US)], policy=replace(NO_RETENTION, accepted_unread=("eks",)))
    assert blocked.blocked
    assert blocked.deletions == ()
    [finding] = wording.findings(blocked.findings)
    assert finding.startswith(f"{A}/{EU}: eks present, not read (unread: cluster k8s: ")
    assert "401 Unauthorized" in finding
    assert keys(accepted.deletions) == {(A, US, "app", V1.digest)}


def test_clusters_excluded_by_the_patterns_are_present_but_unread(
    emulator: StartEmulator,
) -> None:
    region = Region(
        US, (Cluster("prod"), Cluster("batch-1")), repositories=(Repository("app", (V1,)),)
    )
    narrowed = replace(target(A), clusters=Patterns(exclude=("batch-*",)))
    with emulator(Scenario((Account(A, (region,)),))):
        result = plan([narrowed])
    assert result.blocked
    assert wording.findings(result.findings)[0].startswith(
        f"{A}/{US}: ecs present, not read (1 cluster(s) excluded by the cluster patterns: batch-1)"
    )


def test_an_archived_image_in_use_is_kept_and_reported_and_an_unused_one_is_deleted(
    emulator: StartEmulator,
) -> None:
    used = Image(tags=("v1",), key="used", status="ARCHIVED")
    unused = Image(tags=("v0",), key="unused", status="ARCHIVED")
    svc, td, task = service_using("api", "api", image_uri(A, US, "app", tag="v1"), None)
    region = Region(
        US, (Cluster("apps", (svc,), (task,)),), (td,), (Repository("app", (used, unused)),)
    )
    with emulator(Scenario((Account(A, (region,)),))) as emu:
        result = plan([target(A)])
        assert keys(result.deletions) == {(A, US, "app", unused.digest)}
        assert [w.split(": ")[0] for w in wording.warnings(result.warnings)] == [
            f"{A}/{US}/app@{used.digest}"
        ]
        assert "archived and in use: tag 'v1' used by" in wording.warnings(result.warnings)[0]
        assert (
            "a workload cannot pull it until it is restored" in wording.warnings(result.warnings)[0]
        )
        done = apply(result)
        assert keys(done.outcome.deleted) == {(A, US, "app", unused.digest)}
        assert emu.image_digests(A, US, "app") == {used.digest}


def test_describe_images_hides_archived_images_unless_asked(emulator: StartEmulator) -> None:
    import boto3

    archived = Image(tags=("old",), key="old", status="ARCHIVED")
    region = Region(US, repositories=(Repository("app", (V1, archived)),))
    with emulator(Scenario((Account(A, (region,)),))):
        ecr = boto3.client("ecr", region_name=US)
        default = ecr.describe_images(repositoryName="app")["imageDetails"]
        every = ecr.describe_images(repositoryName="app", filter={"imageStatus": "ANY"})
        with pytest.raises(ecr.exceptions.InvalidParameterException):
            ecr.describe_images(repositoryName="app", filter={"imageStatus": "SOME"})
    assert [d["imageDigest"] for d in default] == [V1.digest]
    assert {d["imageDigest"]: d["imageStatus"] for d in every["imageDetails"]} == {
        V1.digest: "ACTIVE",
        archived.digest: "ARCHIVED",
    }


def test_a_service_without_an_endpoint_in_a_region_has_no_consumers_there(
    emulator: StartEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lightsail's endpoint does not answer (nothing listens there). Where botocore's endpoint
    data lists Lightsail (us-east-1) the consumer may be there and was not read; where it does
    not (me-south-1), and the run's endpoint is not AWS's own (so DNS cannot tell a launch
    newer than the data), the data decides: not offered there."""
    regions = (Region(US), Region("me-south-1"))
    with emulator(Scenario((Account(A, regions),))):
        monkeypatch.setenv("AWS_ENDPOINT_URL_LIGHTSAIL", "http://127.0.0.1:9")  # discard: closed
        result = plan([target(A, US, "me-south-1")])
    lightsail = {e.region: e.present for e in result.census if e.kind == "lightsail"}
    assert lightsail == {US: None, "me-south-1": False}
    assert [f.split(";")[0] for f in wording.findings(result.findings)] == [
        f"{A}/{US}: lightsail may be present (the census call failed), not read (read failed: "
        "lightsail container services"
    ]


# The first list call of every kind the run reads, which is also its census's question
# (service, operation): each is asked once per account × region, whoever asks it.
LISTED_ONCE = (
    ("ecs", "ListClusters"),
    ("ecs", "ListDaemons"),
    ("lambda", "ListFunctions"),
    ("scheduler", "ListSchedules"),
    ("events", "ListEventBuses"),
    ("events", "ListRules"),
    ("eks", "ListClusters"),
    ("batch", "DescribeJobDefinitions"),
    ("states", "ListStateMachines"),
    ("codebuild", "ListProjects"),
    ("apprunner", "ListServices"),
    ("pipes", "ListPipes"),
    ("sagemaker", "ListModels"),
    ("sagemaker", "ListEndpoints"),
    ("sagemaker", "ListModelPackageGroups"),
    ("sagemaker", "ListModelPackages"),
    ("sagemaker", "ListPipelines"),
    ("emr-serverless", "ListApplications"),
    ("lightsail", "GetContainerServices"),
    ("bedrock-agentcore", "ListAgentRuntimes"),
    ("sagemaker", "ListInferenceComponents"),
    ("sagemaker", "ListMonitoringSchedules"),
    ("sagemaker", "ListAlgorithms"),
    ("sagemaker", "ListImages"),
    ("braket", "SearchJobs"),
    ("cleanrooms-ml", "ListConfiguredModelAlgorithms"),
    ("greengrass", "ListComponents"),
    ("gamelift", "ListContainerGroupDefinitions"),
)
# Running SageMaker jobs are listed once per status that can still run (InProgress, Stopping).
LISTED_PER_STATUS = tuple(
    ("sagemaker", operation)
    for operation in (
        "ListTrainingJobs",
        "ListProcessingJobs",
        "ListTransformJobs",
        "ListHyperParameterTuningJobs",
    )
)


def test_the_census_of_a_kind_read_is_its_readers_first_listing_asked_once(
    emulator: StartEmulator,
) -> None:
    """With every source on, each kind's census is answered by its readers' own listings: one
    call per list, not the census's and then the reader's; and the census says the same."""
    region = Region(US, repositories=(Repository("app", (V1,)),))
    with emulator(Scenario((Account(A, (region,)),))) as emu:
        result = sweep.plan([target(A)], sources=Sources(service_revisions=False), now=NOW)
        calls = {
            (service, operation): emu.call_count(A, US, operation, service)
            for service, operation in (*LISTED_ONCE, *LISTED_PER_STATUS)
        }
    assert calls == dict.fromkeys(LISTED_ONCE, 1) | dict.fromkeys(LISTED_PER_STATUS, 2)
    assert not result.errors
    census = {e.kind: (e.present, e.read) for e in result.census if e.region == US}
    # every kind read, and absent (as the emulator answers for them all), the census-only
    # kinds (no reader: elasticbeanstalk, omics) included; ECS was told by its clusters
    census_only = {kind.name for kind in registry.KINDS if not kind.readers}
    assert census_only >= {"elasticbeanstalk", "omics"}
    assert census == dict.fromkeys(registry.names(), (False, True)) | dict.fromkeys(
        census_only, (False, False)
    )


def test_the_ecs_chain_goes_first_and_the_other_kinds_after_it_has_its_work(
    emulator: StartEmulator,
) -> None:
    """In an account × region with ECS services, the other kinds' census starts once the ECS
    chain has named its task definitions (here: once its readers are done, fewer than a
    burst being named): every other kind's first call reaches the emulator after the
    chain's DescribeServices and DescribeTasks were answered (an order, not a timing)."""
    svc, td, task = service_using("api", "api", image_uri(A, US, "app", tag="v1"), None)
    region = Region(US, (Cluster("apps", (svc,), (task,)),), (td,), (Repository("app", (V1,)),))
    with emulator(Scenario((Account(A, (region,)),))) as emu:
        result = sweep.plan([target(A)], sources=Sources(service_revisions=False), now=NOW)
        first = {
            (key.service, key.operation): at
            for key, at in emu.first_calls().items()
            if (key.account, key.region) == (A, US)
        }
    assert not result.errors
    chain = {("ecs", "ListClusters"), ("ecs", "ListServices"), ("ecs", "DescribeServices")}
    chain |= {("ecs", "ListTasks"), ("ecs", "DescribeTasks"), ("ecs", "DescribeTaskDefinition")}
    # (inspector2: the inventory's witness, one status call per region, not a consumer kind)
    others = {op for op in first if op[0] not in ("ecs", "ecr", "sts", "ec2", "inspector2")}
    assert others >= {("lambda", "ListFunctions"), ("eks", "ListClusters")}
    named = max(first[("ecs", "DescribeServices")], first[("ecs", "DescribeTasks")])
    assert all(first[op] > named for op in others), sorted(first.items(), key=lambda i: i[1])
    assert chain <= set(first)


def test_the_rollback_window_of_what_ecs_named_does_not_wait_for_the_other_kinds(
    emulator: StartEmulator,
) -> None:
    """The window of the families the ECS readers named is read as soon as they are done (its
    revisions are described in the region's busiest bucket): a kind whose reader ends only once
    the emulator has seen ListTaskDefinitions is read without error. Were the window read only
    after every kind, that reader would wait for it in vain (an order, not a timing: the wait's
    bound only stops the test)."""
    svc, td, task = service_using("api", "api", image_uri(A, US, "app", tag="v1"), None)
    region = Region(US, (Cluster("apps", (svc,), (task,)),), (td,), (Repository("app", (V1,)),))
    with emulator(Scenario((Account(A, (region,)),))) as emu:

        def window_listed() -> bool:
            return any(k.operation == "ListTaskDefinitions" for k in emu.first_calls())

        async def waits_for_the_window(ctx: ReadContext) -> Reading:  # noqa: ARG001
            with anyio.fail_after(120):
                while not await anyio.to_thread.run_sync(window_listed):  # noqa: ASYNC110
                    await anyio.sleep(0.05)  # the emulator's record: polled, not an event
            return Reading()

        async def present(ctx: ReadContext) -> bool:  # noqa: ARG001 - no I/O
            return True

        late = Kind("late", "late things", present, (Reader("late", waits_for_the_window),))
        swept = target(A)

        async def scan(connections: Connections) -> UsageScan:
            async def client(service: str) -> Any:
                return await connections.client(swept, RegionName(US), service)

            ctx = read_context(
                swept,
                RegionName(US),
                api=connections.api(swept.account_id, RegionName(US)),
                client=client,
                sources=Sources(service_revisions=False),
                now=NOW,
            )
            return await scan_usage(ctx, [ecs.KIND, late])

        usage = sweep.connected(scan)
    assert usage.errors == ()
    assert {u.image for u in usage.usages} == {image_uri(A, US, "app", tag="v1")}
    assert {(e.kind, e.read) for e in usage.census} == {("ecs", True), ("late", True)}
