"""Each usage source end to end on moto's server (the sources moto implements: Lambda,
EventBridge, Scheduler, task-definition revisions, repository policies and tags). Every test
seeds one workload that uses an image and one unused image, and checks the exact verdicts."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from ecr_sweeper import wording
from ecr_sweeper.demo.moto_patches import account_session, moto_sources
from ecr_sweeper.demo.run import (
    cosign_tag,
    image_manifest,
    push,
    run_lambda,
    schedule_task,
)
from ecr_sweeper.model import Plan, Policy, Sources
from moto_helpers import (
    APP,
    REGISTRY,
    US,
    client,
    ecs,
    keys,
    repository,
    service,
    sweep_apply,
    sweep_plan,
    target,
    uri,
)
from planning import NO_RETENTION

pytestmark = pytest.mark.usefixtures("aws")
TARGETS = [target(REGISTRY, US), target(APP, US)]
# Every source moto can serve: all but ECS service revisions (moto answers those with HTTP 500),
# ECS Managed Daemons and App Runner (served by the emulator instead). Usage is read where the
# workloads are (moto lists 38 regions; reading each costs seconds).
SOURCES = moto_sources(Sources(service_revisions=False, usage_regions=(US,)))


def verdict(plan: Plan, repo: str, digest: str) -> str:
    for decision in (*plan.kept, *plan.deletions):
        if decision.repository.name == repo and decision.digest == digest:
            return wording.reason(decision.reason)
    raise AssertionError(f"{repo}@{digest} not in the plan")


def deleted(plan: Plan) -> set[str]:
    return {d.digest for d in plan.deletions}


def test_lambda_image_is_kept_for_every_version() -> None:
    images = repository(REGISTRY, US, "jobs", "v1", "v0")
    run_lambda(account_session(APP, US), "export", f"{uri(REGISTRY, US, 'jobs')}:v1")
    plan = sweep_plan(TARGETS, NO_RETENTION, SOURCES)
    assert deleted(plan) == {images["v0"]}
    assert verdict(plan, "jobs", images["v1"]).startswith("in use: tag 'v1' used by lambda export")


def test_lambda_source_can_be_switched_off_and_its_census_then_blocks_until_accepted() -> None:
    images = repository(REGISTRY, US, "jobs", "v1")
    run_lambda(account_session(APP, US), "export", f"{uri(REGISTRY, US, 'jobs')}:v1")
    off = replace(SOURCES, off=SOURCES.off | {"lambda"})
    blocked = sweep_plan(TARGETS, NO_RETENTION, off)
    assert blocked.blocked
    assert deleted(blocked) == set()
    assert wording.findings(blocked.findings) == [
        f"{APP}/{US}: lambda present, not read (lambda: switched off); nothing it could pull "
        "is deleted. Resolve: list its images with "
        f"--external-images FILE, or accept with --accept-unread lambda@{APP}",
    ]
    accepted = sweep_plan(TARGETS, replace(NO_RETENTION, accepted_unread=(f"lambda@{APP}",)), off)
    assert deleted(accepted) == {images["v1"]}


def test_eventbridge_scheduled_task_keeps_its_image() -> None:
    images = repository(REGISTRY, US, "jobs", "report", "old")
    schedule_task(account_session(APP, US), "weekly", f"{uri(REGISTRY, US, 'jobs')}:report")
    plan = sweep_plan(TARGETS, NO_RETENTION, SOURCES)
    assert deleted(plan) == {images["old"]}
    assert "EventBridge rule default/weekly" in verdict(plan, "jobs", images["report"])


def test_scheduler_schedule_keeps_its_image() -> None:
    images = repository(REGISTRY, US, "jobs", "nightly", "old")
    arn = ecs(APP, US).register_task_definition(
        family="nightly",
        containerDefinitions=[
            {"name": "n", "image": f"{uri(REGISTRY, US, 'jobs')}:nightly", "memory": 128}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    client(APP, US, "scheduler").create_schedule(
        Name="nightly",
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": f"arn:aws:ecs:{US}:{APP}:cluster/apps",
            "RoleArn": f"arn:aws:iam::{APP}:role/scheduler",
            "EcsParameters": {"TaskDefinitionArn": arn},
        },
    )
    plan = sweep_plan(TARGETS, NO_RETENTION, SOURCES)
    assert deleted(plan) == {images["old"]}
    assert "Scheduler schedule default/nightly" in verdict(plan, "jobs", images["nightly"])


def test_rollback_window_keeps_the_last_revisions_of_a_family_in_use() -> None:
    images = repository(REGISTRY, US, "api", "r1", "r2", "r3", "r4")
    api = ecs(APP, US)
    api.create_cluster(clusterName="apps")
    arns = [
        api.register_task_definition(
            family="api",
            containerDefinitions=[
                {"name": "api", "image": f"{uri(REGISTRY, US, 'api')}:{tag}", "memory": 128}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        for tag in ("r1", "r2", "r3", "r4")
    ]
    api.create_service(cluster="apps", serviceName="api", taskDefinition=arns[-1], desiredCount=1)
    plan = sweep_plan(TARGETS, NO_RETENTION, replace(SOURCES, rollback_revisions=2))
    # r4 runs; the window of 2 keeps r3 and r4; r1 and r2 go.
    assert deleted(plan) == {images["r1"], images["r2"]}
    assert "rollback window of family api" in verdict(plan, "api", images["r3"])


def test_signature_follows_its_image_by_cosign_tag() -> None:
    images = repository(REGISTRY, US, "app", "v1", "v2")
    registry = client(REGISTRY, US, "ecr")
    sig_v2 = push(registry, "app", image_manifest("sig-v2"), (cosign_tag(images["v2"]),))
    sig_v1 = push(registry, "app", image_manifest("sig-v1"), (cosign_tag(images["v1"]),))
    ecs(APP, US).create_cluster(clusterName="apps")
    service(APP, US, "app", {"app": f"{uri(REGISTRY, US, 'app')}:v2"})
    plan = sweep_plan(TARGETS, NO_RETENTION, SOURCES)
    assert deleted(plan) == {images["v1"], sig_v1}
    assert verdict(plan, "app", sig_v2).startswith("kept: referrer")
    result = sweep_apply(plan)
    assert result.complete


def test_repository_pullable_by_an_outside_account_is_left_alone() -> None:
    images = repository(REGISTRY, US, "shared", "v1")
    policy: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
    client(REGISTRY, US, "ecr").set_repository_policy(
        repositoryName="shared", policyText=json.dumps(policy)
    )
    plan = sweep_plan(TARGETS, NO_RETENTION, SOURCES)
    assert deleted(plan) == set()
    assert "lets 999999999999 pull" in verdict(plan, "shared", images["v1"])
    accepted = sweep_plan(TARGETS, Policy(0, 0, accepted_accounts=("999999999999",)), SOURCES)
    assert deleted(accepted) == {images["v1"]}


def test_a_negated_service_grant_holds_the_repository_naming_the_statement() -> None:
    """Issue 11 §1: "every account but an in-sweep one" is not "only the in-sweep one"."""
    images = repository(REGISTRY, US, "shared", "v1")
    policy: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CodeBuildPull",
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Condition": {"StringNotEquals": {"aws:SourceAccount": APP}},
            }
        ],
    }
    client(REGISTRY, US, "ecr").set_repository_policy(
        repositoryName="shared", policyText=json.dumps(policy)
    )
    plan = sweep_plan(TARGETS, NO_RETENTION, SOURCES)
    assert deleted(plan) == set()
    reason = verdict(plan, "shared", images["v1"])
    assert "lets anyone pull" in reason
    assert "statement 'CodeBuildPull'" in reason


def test_opt_in_mode_reads_repository_tags() -> None:
    registry = client(REGISTRY, US, "ecr")
    opted = repository(REGISTRY, US, "opted", "v1")
    other = repository(REGISTRY, US, "other", "v1")
    arn = registry.describe_repositories(repositoryNames=["opted"])["repositories"][0][
        "repositoryArn"
    ]
    registry.tag_resource(resourceArn=arn, tags=[{"Key": "sweep", "Value": "yes"}])
    plan = sweep_plan(TARGETS, Policy(0, 0, opt_in_tag=("sweep", "yes")), SOURCES)
    assert deleted(plan) == {opted["v1"]}
    assert "not opted in" in verdict(plan, "other", other["v1"])


def test_external_references_protect_images() -> None:
    images = repository(REGISTRY, US, "eks-app", "live", "dead")
    sources = replace(SOURCES, external_images=(f"{uri(REGISTRY, US, 'eks-app')}:live",))
    plan = sweep_plan(TARGETS, NO_RETENTION, sources)
    assert deleted(plan) == {images["dead"]}
    assert keys(plan.kept) == {(REGISTRY, US, "eks-app", images["live"])}


def test_an_account_without_regions_is_swept_in_every_enabled_region() -> None:
    east = repository(REGISTRY, US, "app", "v1", "v2")
    west = repository(REGISTRY, "eu-west-1", "app", "v1", seed="west")
    service(APP, US, "app", {"app": f"{uri(REGISTRY, US, 'app')}:v2"})
    everywhere = [target(REGISTRY), target(APP)]  # no regions given
    plan = sweep_plan(everywhere, NO_RETENTION, SOURCES)
    assert plan.errors == ()
    assert deleted(plan) == {east["v1"], west["v1"]}
    scanned = {(t.account_id, t.regions) for t in plan.targets}
    assert scanned == {(REGISTRY, ()), (APP, ())}  # apply re-discovers the regions too
