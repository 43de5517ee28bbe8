"""Issue 19's must-show on moto's server, patched as the demo patches it (conftest's `aws`
fixture: `extend_moto`, the demo role in every account): an org whose in-use images are used
ONLY by a Bedrock AgentCore runtime in a region that is read but not swept, an Approved
SageMaker model package and a SageMaker pipeline's steps. plan → apply → re-plan deletes
exactly the unused images, keeps each used one with a reason naming its consumer, and then
finds nothing to delete.

Each kind's reader is what keeps its images: with the kind switched off the plan blocks, and
with it switched off and accepted as unread the plan deletes them.

The pull witness (on by default) does not interfere: moto records no `lastRecordedPullTime`
for the seeded images (only `moto_patches.record_pull` would), so no image is kept as pulled.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from ecr_sweeper import wording
from ecr_sweeper.model import Plan
from moto_helpers import (
    APP,
    EU,
    MOTO_SOURCES,
    REGISTRY,
    US,
    Key,
    client,
    keys,
    remaining,
    repository,
    sweep_apply,
    sweep_plan,
    target,
    uri,
)
from planning import NO_RETENTION

pytestmark = [pytest.mark.usefixtures("aws"), pytest.mark.timeout(120)]

# Swept: us-east-1 of both accounts. Read: us-east-1 and eu-west-1 (MOTO_SOURCES'
# usage_regions), so the AgentCore runtime in APP's eu-west-1 is read though nothing there is
# swept: a workload in one region may pull from a registry in another.
TARGETS = (target(REGISTRY, US), target(APP, US))
ROLE = f"arn:aws:iam::{APP}:role/runner"
INFERENCE = {"SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}


def seed() -> tuple[dict[str, Key], set[Key], Key]:
    """The org: returns the used images (by consumer), the unused ones in the swept
    repositories, and an image in the region that is read but not swept."""
    agents = repository(REGISTRY, US, "agents", "v1", "v0")
    models = repository(REGISTRY, US, "models", "approved", "rejected", "old")
    ml = repository(REGISTRY, US, "ml", "train", "scratch")
    tools = repository(APP, US, "tools", "unused")
    elsewhere = repository(APP, EU, "agents-local", "v1")  # not swept: never touched

    # AgentCore runtime in APP's eu-west-1, pulling from the registry in us-east-1
    client(APP, EU, "bedrock-agentcore-control").create_agent_runtime(
        agentRuntimeName="support_bot",
        agentRuntimeArtifact={
            "containerConfiguration": {"containerUri": f"{uri(REGISTRY, US, 'agents')}:v1"}
        },
        roleArn=ROLE,
        networkConfiguration={"networkMode": "PUBLIC"},
    )

    # A model package group: version 1 Approved (in use), version 2 Rejected (not)
    sagemaker = client(APP, US, "sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="ranker")
    for status, tag in (("Approved", "approved"), ("Rejected", "rejected")):
        sagemaker.create_model_package(
            ModelPackageGroupName="ranker",
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": f"{uri(REGISTRY, US, 'models')}:{tag}"}],
                **INFERENCE,
            },
        )

    # A pipeline whose Training step names its image literally
    definition: dict[str, Any] = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {
                "Name": "Train",
                "Type": "Training",
                "Arguments": {
                    "AlgorithmSpecification": {
                        "TrainingImage": f"{uri(REGISTRY, US, 'ml')}:train",
                        "TrainingInputMode": "File",
                    }
                },
            }
        ],
    }
    sagemaker.create_pipeline(
        PipelineName="retrain", PipelineDefinition=json.dumps(definition), RoleArn=ROLE
    )

    used = {
        "agentcore": (REGISTRY, US, "agents", agents["v1"]),
        "model package": (REGISTRY, US, "models", models["approved"]),
        "pipeline": (REGISTRY, US, "ml", ml["train"]),
    }
    unused = {
        (REGISTRY, US, "agents", agents["v0"]),
        (REGISTRY, US, "models", models["rejected"]),
        (REGISTRY, US, "models", models["old"]),
        (REGISTRY, US, "ml", ml["scratch"]),
        (APP, US, "tools", tools["unused"]),
    }
    return used, unused, (APP, EU, "agents-local", elsewhere["v1"])


def reasons(plan: Plan) -> dict[Key, str]:
    """Every kept image's reason, in words."""
    kept = {
        (d.repository.account_id, d.repository.region, d.repository.name, d.digest): d
        for d in plan.kept
    }
    return {key: wording.reason(d.reason) for key, d in kept.items()}


def present_in_swept_repositories() -> set[Key]:
    """Every image now in the swept repositories."""
    found: set[Key] = set()
    for account, name in (
        (REGISTRY, "agents"),
        (REGISTRY, "models"),
        (REGISTRY, "ml"),
        (APP, "tools"),
    ):
        found |= {(account, US, name, d) for d in remaining(account, US, name)}
    return found


def test_images_used_only_by_agentcore_a_model_package_and_a_pipeline_survive_a_sweep() -> None:
    used, unused, elsewhere = seed()

    # Each reader is what keeps its images: switched off, the kind blocks the plan (present,
    # not read); switched off and accepted as unread, its images are planned for deletion.
    for kind, region, images in (
        ("agentcore", EU, {used["agentcore"]}),
        ("sagemaker", US, {used["model package"], used["pipeline"]}),
    ):
        off = replace(MOTO_SOURCES, off=MOTO_SOURCES.off | {kind})
        blocked = sweep_plan(TARGETS, NO_RETENTION, off)
        assert blocked.blocked, kind
        findings = wording.findings(blocked.findings)
        assert any(f.startswith(f"{APP}/{region}: {kind} present, not read") for f in findings)
        accepted = sweep_plan(TARGETS, replace(NO_RETENTION, accepted_unread=(kind,)), off)
        assert images <= keys(accepted.deletions), kind

    plan = sweep_plan(TARGETS)
    assert not plan.blocked
    assert plan.errors == ()
    assert plan.unexplained_pulls == ()  # moto records no pull: the witness keeps nothing
    assert keys(plan.deletions) == unused
    kept = reasons(plan)
    assert kept[used["agentcore"]] == (
        "in use: tag 'v1' used by AgentCore runtime support_bot version 1 (current version)"
    )
    assert kept[used["model package"]] == (
        "in use: tag 'approved' used by SageMaker model package ranker/1 "
        "(InferenceSpecification.Containers[0])"
    )
    assert kept[used["pipeline"]] == (
        "in use: tag 'train' used by SageMaker pipeline retrain step Train "
        "(AlgorithmSpecification.TrainingImage)"
    )

    result = sweep_apply(plan)
    assert result.complete
    assert present_in_swept_repositories() == set(used.values())
    assert elsewhere[3] in remaining(APP, EU, "agents-local")  # read, not swept

    replan = sweep_plan(TARGETS)
    assert not replan.blocked
    assert replan.deletions == ()
    assert set(used.values()) <= set(reasons(replan))
