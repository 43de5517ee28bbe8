"""The consumers beyond ECS services and tasks, end to end on moto's server: Batch, Step
Functions, CodeBuild, Scheduler universal targets and EventBridge Batch targets, Pipes,
SageMaker and EMR Serverless. Each test seeds one consumer that uses an image and one unused
image, runs a real plan, and checks the verdicts and the reason naming the consumer; the
census tests check each kind's `present()` answer both ways; the fail-closed tests check that
what cannot be read blocks the plan, naming what is at fault."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

import sweep
from ecr_sweeper import wording
from ecr_sweeper.demo.moto_patches import account_session, seed_batch_and_stepfunctions
from ecr_sweeper.model import AccountId, AccountRegion, Plan, Policy, Region
from moto_helpers import (
    APP,
    MOTO_SOURCES,
    REGISTRY,
    US,
    census,
    client,
    ecs,
    repository,
    sweep_plan,
    target,
    uri,
)

pytestmark = pytest.mark.usefixtures("aws")
# Each test reads the consumers it names; the kinds it leaves unread (a Batch job definition
# a Step Functions test made, say) are accepted, else the census would block every plan (the
# census rule is tested in test_plan_census.py and test_census_*.py).
UNREAD_ACCEPTED = (
    "batch",
    "stepfunctions",
    "codebuild",
    "sagemaker",
    "emr",
    "pipes",
    "schedules",
    "agentcore",
)
NONE = Policy(keep_last=0, min_age_days=0, accepted_unread=UNREAD_ACCEPTED)
TARGETS = [target(REGISTRY, US), target(APP, US)]
ROLE = f"arn:aws:iam::{APP}:role/runner"
# Every consumer beyond ECS that moto serves, nothing else (each test names what it reads).
NOTHING = replace(
    MOTO_SOURCES,
    off=MOTO_SOURCES.off
    | {"batch", "codebuild", "emr", "pipes", "sagemaker", "stepfunctions", "agentcore"},
)


def verdict(plan: Plan, repo: str, digest: str) -> str:
    for decision in (*plan.kept, *plan.deletions):
        if decision.repository.name == repo and decision.digest == digest:
            return wording.reason(decision.reason)
    raise AssertionError(f"{repo}@{digest} not in the plan")


def deleted(plan: Plan) -> set[str]:
    return {d.digest for d in plan.deletions}


def errors(plan: Plan) -> str:
    return "\n".join(e.message for e in plan.errors)


def job_definition(name: str, **properties: Any) -> str:
    answer = client(APP, US, "batch").register_job_definition(
        jobDefinitionName=name, type="container", **properties
    )
    return str(answer["jobDefinitionArn"])


def state_machine(name: str, states: dict[str, Any], **extra: Any) -> dict[str, Any]:
    definition = {"StartAt": next(iter(states)), "States": states}
    answer: dict[str, Any] = client(APP, US, "stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE, **extra
    )
    return answer


def task_definition(family: str, image: str) -> str:
    return str(
        ecs(APP, US).register_task_definition(
            family=family, containerDefinitions=[{"name": "main", "image": image, "memory": 128}]
        )["taskDefinition"]["taskDefinitionArn"]
    )


# --------------------------------------------------------------------------- Batch


def test_batch_job_definition_image_is_kept() -> None:
    """Trap 1: a Batch job definition's image."""
    images = repository(REGISTRY, US, "etl", "v3", "v2")
    job_definition(
        "etl",
        containerProperties={"image": f"{uri(REGISTRY, US, 'etl')}:v3", "vcpus": 1, "memory": 128},
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"batch"}))
    assert plan.errors == ()
    assert deleted(plan) == {images["v2"]}
    assert verdict(plan, "etl", images["v3"]) == (
        "in use: tag 'v3' used by Batch job definition etl:1 (container)"
    )


def test_batch_keeps_the_newest_revisions_and_eks_containers() -> None:
    """(moto drops `nodeProperties` and refuses `ecsProperties`: test_usage_shapes.py reads
    those by the model.)"""
    images = repository(REGISTRY, US, "etl", "r1", "r2", "r3", "eks", "init")
    etl = uri(REGISTRY, US, "etl")
    for tag in ("r1", "r2", "r3"):
        job_definition(
            "etl", containerProperties={"image": f"{etl}:{tag}", "vcpus": 1, "memory": 128}
        )
    job_definition(
        "pods",
        eksProperties={
            "podProperties": {
                "containers": [{"name": "app", "image": f"{etl}:eks"}],
                "initContainers": [{"name": "setup", "image": f"{etl}:init"}],
            }
        },
    )
    plan = sweep_plan(
        TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"batch"}, rollback_revisions=2)
    )
    assert plan.errors == ()
    assert {d.tags for d in plan.deletions} == {("r1",)}, errors(plan)  # window of 2: r2, r3
    assert "Batch job definition pods:1 (eksProperties.podProperties.initContainers[0] setup)" in (
        verdict(plan, "etl", images["init"])
    )


def test_batch_census() -> None:
    assert (APP, US, "batch") not in census(
        [target(APP, US)], replace(NOTHING, off=NOTHING.off - {"batch"})
    )
    job_definition("etl", containerProperties={"image": "busybox", "vcpus": 1, "memory": 128})
    assert (APP, US, "batch") in census(
        [target(APP, US)], replace(NOTHING, off=NOTHING.off - {"batch"})
    )


def test_batch_managed_clusters_are_listed_by_list_clusters() -> None:
    """Batch jobs on ECS run as tasks in a Batch-managed cluster, which the ECS sources read
    because ListClusters lists it like any other."""
    role = client(APP, US, "iam").create_role(RoleName="batch", AssumeRolePolicyDocument="{}")
    batch = client(APP, US, "batch")
    environment = batch.create_compute_environment(
        computeEnvironmentName="managed",
        type="MANAGED",
        state="ENABLED",
        computeResources={
            "type": "FARGATE",
            "maxvCpus": 4,
            "subnets": [client(APP, US, "ec2").describe_subnets()["Subnets"][0]["SubnetId"]],
            "securityGroupIds": [
                client(APP, US, "ec2").describe_security_groups()["SecurityGroups"][0]["GroupId"]
            ],
        },
        serviceRole=role["Role"]["Arn"],
    )
    cluster = batch.describe_compute_environments(
        computeEnvironments=[environment["computeEnvironmentArn"]]
    )["computeEnvironments"][0]["ecsClusterArn"]
    assert cluster in ecs(APP, US).list_clusters()["clusterArns"]


# --------------------------------------------------------------------------- Step Functions


def test_step_functions_ecs_run_task_sync_image_is_kept() -> None:
    """Trap 2: a Step Functions state machine's `ecs:runTask.sync` image."""
    images = repository(REGISTRY, US, "report", "v1", "v0")
    task_definition("report", f"{uri(REGISTRY, US, 'report')}:v1")
    state_machine(
        "nightly",
        {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {"Cluster": "apps", "TaskDefinition": "report"},
                "End": True,
            }
        },
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"stepfunctions"}))
    assert plan.errors == ()
    assert deleted(plan) == {images["v0"]}
    assert verdict(plan, "report", images["v1"]) == (
        "in use: tag 'v1' used by task definition report:1 container main "
        "(Step Functions state machine nightly state Run)"
    )


def test_step_functions_walks_branches_versions_and_every_integration() -> None:
    images = repository(
        REGISTRY, US, "flow", "batch", "build", "train", "eks", "sdk", "old", "gone"
    )
    flow = uri(REGISTRY, US, "flow")
    job_definition("etl", containerProperties={"image": f"{flow}:batch", "vcpus": 1, "memory": 128})
    sdk_family = task_definition("sdk", f"{flow}:sdk")
    task_definition("old", f"{flow}:old")
    states: dict[str, Any] = {
        "Fan": {
            "Type": "Parallel",
            "End": True,
            "Branches": [
                {
                    "StartAt": "Submit",
                    "States": {
                        "Submit": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::batch:submitJob.sync",
                            "Parameters": {"JobName": "j", "JobQueue": "q", "JobDefinition": "etl"},
                            "End": True,
                        }
                    },
                },
                {
                    "StartAt": "Each",
                    "States": {
                        "Each": {
                            "Type": "Map",
                            "End": True,
                            "ItemProcessor": {
                                "StartAt": "Build",
                                "States": {
                                    "Build": {
                                        "Type": "Task",
                                        "Resource": "arn:aws:states:::codebuild:startBuild.sync",
                                        "Parameters": {
                                            "ProjectName": "missing",
                                            "ImageOverride": f"{flow}:build",
                                            "EnvironmentVariablesOverride.$": "$.env",
                                        },
                                        "End": True,
                                    }
                                },
                            },
                        }
                    },
                },
                {
                    "StartAt": "Train",
                    "States": {
                        "Train": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                            "Parameters": {
                                "TrainingJobName.$": "$.name",
                                "AlgorithmSpecification": {
                                    "TrainingImage": f"{flow}:train",
                                    "TrainingInputMode": "File",
                                },
                            },
                            "Next": "Pod",
                        },
                        "Pod": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::eks:runJob.sync",
                            "Parameters": {
                                "ClusterName": "k",
                                "Job": {
                                    "apiVersion": "batch/v1",
                                    "kind": "Job",
                                    "spec": {
                                        "template": {
                                            "spec": {
                                                "containers": [
                                                    {"name": "c", "image": f"{flow}:eks"}
                                                ]
                                            }
                                        }
                                    },
                                },
                            },
                            "Next": "Sdk",
                        },
                        "Sdk": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:ecs:runTask",
                            "Parameters": {"TaskDefinition": sdk_family},
                            "End": True,
                        },
                    },
                },
            ],
        }
    }
    made = state_machine(
        "flow",
        {
            "Old": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask",
                "Parameters": {"TaskDefinition": "old:1"},
                "End": True,
            }
        },
        publish=True,
    )
    client(APP, US, "stepfunctions").update_state_machine(
        stateMachineArn=made["stateMachineArn"],
        definition=json.dumps({"StartAt": "Fan", "States": states}),
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"stepfunctions"}))
    assert errors(plan) == ""
    assert deleted(plan) == {images["gone"]}
    assert "Step Functions state machine flow:1 state Old" in verdict(plan, "flow", images["old"])
    assert verdict(plan, "flow", images["batch"]) == (
        "in use: tag 'batch' used by Batch job definition etl:1 (container) "
        "(Step Functions state machine flow state Fan/Submit)"
    )
    assert "state Fan/Each/Build (imageOverride)" in verdict(plan, "flow", images["build"])
    assert "state Fan/Train (AlgorithmSpecification.TrainingImage)" in verdict(
        plan, "flow", images["train"]
    )
    assert "state Fan/Pod (EKS job)" in verdict(plan, "flow", images["eks"])
    assert "(Step Functions state machine flow state Fan/Sdk)" in verdict(
        plan, "flow", images["sdk"]
    )


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"Cluster": "apps", "TaskDefinition.$": "$.td"}, "taskDefinition"),
        ({"TaskDefinition": "{% $states.input.td %}"}, "taskDefinition"),
        ({"TaskDefinition.$": "States.Format('report:{}', $.rev)"}, "taskDefinition"),
        (None, "Parameters"),
    ],
)
def test_step_functions_run_time_task_definition_blocks_the_plan(
    parameters: dict[str, Any] | None, field: str
) -> None:
    images = repository(REGISTRY, US, "report", "v1")
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::ecs:runTask.sync",
        "End": True,
    }
    if parameters is not None:
        state["Parameters"] = parameters
    state_machine("dynamic", {"Launch": state})
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"stepfunctions"}))
    assert deleted(plan) == set()
    assert images["v1"] not in deleted(plan)
    message = errors(plan)
    assert "Step Functions state machine dynamic state Launch" in message
    assert f"{field} is only known at run time" in message


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"ClusterName": "k", "Job.$": "$.job"}, "Parameters.Job"),
        (
            {"Job": {"spec": {"template": {"spec": {"containers": [{"image.$": "$.i"}]}}}}},
            "Parameters.Job.spec.template.spec.containers[0].image",
        ),
    ],
)
def test_step_functions_run_time_eks_job_blocks_the_plan(
    parameters: dict[str, Any], field: str
) -> None:
    repository(REGISTRY, US, "report", "v1")
    state = {"Type": "Task", "Resource": "arn:aws:states:::eks:runJob.sync", "End": True}
    state_machine("pods", {"Pod": {**state, "Parameters": parameters}})
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"stepfunctions"}))
    assert deleted(plan) == set()
    assert f"state machine pods state Pod: {field} is only known at run time" in errors(plan)


def test_step_functions_run_time_values_elsewhere_are_fine() -> None:
    """Only a value that can name an image makes the images unknown."""
    images = repository(REGISTRY, US, "report", "v1", "v0")
    task_definition("report", f"{uri(REGISTRY, US, 'report')}:v1")
    state_machine(
        "static",
        {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {
                    "TaskDefinition": "report",
                    "Cluster.$": "$.cluster",
                    "Overrides.$": "$.o",
                },
                "End": True,
            }
        },
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"stepfunctions"}))
    assert plan.errors == ()
    assert deleted(plan) == {images["v0"]}


def test_step_functions_census() -> None:
    sources = replace(NOTHING, off=NOTHING.off - {"stepfunctions"})
    assert (APP, US, "stepfunctions") not in census([target(APP, US)], sources)
    state_machine("idle", {"Wait": {"Type": "Pass", "End": True}})
    assert (APP, US, "stepfunctions") in census([target(APP, US)], sources)


def test_demo_seed_of_batch_and_step_functions() -> None:
    images = repository(REGISTRY, US, "jobs", "etl", "report", "old")
    jobs = uri(REGISTRY, US, "jobs")
    seed_batch_and_stepfunctions(account_session(APP, US), f"{jobs}:etl", f"{jobs}:report")
    plan = sweep_plan(
        TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"stepfunctions"})
    )  # Batch off: via SFN
    assert plan.errors == ()
    assert deleted(plan) == {images["old"]}


# --------------------------------------------------------------------------- CodeBuild


def codebuild_project(name: str, image: str) -> None:
    client(APP, US, "codebuild").create_project(
        name=name,
        source={"type": "S3", "location": "bucket/source.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": image,
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=ROLE,
    )


def test_codebuild_project_build_image_is_kept() -> None:
    """Trap 3: a CodeBuild project's build image."""
    images = repository(REGISTRY, US, "builder", "2024", "2023")
    codebuild_project("app", f"{uri(REGISTRY, US, 'builder')}:2024")
    codebuild_project("curated", "aws/codebuild/standard:7.0")
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"codebuild"}))
    assert plan.errors == ()
    assert deleted(plan) == {images["2023"]}
    assert verdict(plan, "builder", images["2024"]) == (
        "in use: tag '2024' used by CodeBuild project app (build image)"
    )


def test_codebuild_census() -> None:
    sources = replace(NOTHING, off=NOTHING.off - {"codebuild"})
    assert (APP, US, "codebuild") not in census([target(APP, US)], sources)
    codebuild_project("app", "aws/codebuild/standard:7.0")
    assert (APP, US, "codebuild") in census([target(APP, US)], sources)


# --------------------------------------------------------------------- Scheduler / EventBridge


def schedule(name: str, target_: dict[str, Any]) -> None:
    client(APP, US, "scheduler").create_schedule(
        Name=name,
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, **target_},
    )


def test_scheduler_universal_target_ecs_run_task_image_is_kept() -> None:
    """Trap 4: a Scheduler schedule with the universal target aws-sdk:ecs:runTask."""
    images = repository(REGISTRY, US, "cron", "v2", "v1")
    task_definition("cron", f"{uri(REGISTRY, US, 'cron')}:v2")
    schedule(
        "hourly",
        {
            "Arn": "arn:aws:scheduler:::aws-sdk:ecs:runTask",
            "Input": json.dumps(
                {"Cluster": "apps", "TaskDefinition": "cron", "LaunchType": "FARGATE"}
            ),
        },
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"schedules"}))
    assert plan.errors == ()
    assert deleted(plan) == {images["v1"]}
    assert verdict(plan, "cron", images["v2"]) == (
        "in use: tag 'v2' used by task definition cron:1 container main "
        "(Scheduler schedule default/hourly)"
    )


def test_scheduler_universal_batch_and_codebuild_targets_keep_their_images() -> None:
    images = repository(REGISTRY, US, "cron", "batch", "build", "unused")
    cron = uri(REGISTRY, US, "cron")
    job_definition(
        "nightly", containerProperties={"image": f"{cron}:batch", "vcpus": 1, "memory": 128}
    )
    codebuild_project("release", "aws/codebuild/standard:7.0")
    schedule(
        "batch",
        {
            "Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob",
            "Input": json.dumps({"JobName": "n", "JobQueue": "q", "JobDefinition": "nightly:1"}),
        },
    )
    schedule(
        "build",
        {
            "Arn": "arn:aws:scheduler:::aws-sdk:codebuild:startBuild",
            "Input": json.dumps({"ProjectName": "release", "ImageOverride": f"{cron}:build"}),
        },
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"schedules"}))
    assert plan.errors == ()
    assert deleted(plan) == {images["unused"]}
    assert "(Scheduler schedule default/batch)" in verdict(plan, "cron", images["batch"])
    assert "Scheduler schedule default/build (imageOverride)" in verdict(
        plan, "cron", images["build"]
    )


def test_eventbridge_rule_batch_target_keeps_its_job_definition_image() -> None:
    images = repository(REGISTRY, US, "etl", "v1", "v0")
    arn = job_definition(
        "etl",
        containerProperties={"image": f"{uri(REGISTRY, US, 'etl')}:v1", "vcpus": 1, "memory": 128},
    )
    events = client(APP, US, "events")
    events.put_rule(Name="daily", ScheduleExpression="rate(1 day)")
    events.put_targets(
        Rule="daily",
        Targets=[
            {
                "Id": "etl",
                "Arn": f"arn:aws:batch:{US}:{APP}:job-queue/default",
                "RoleArn": ROLE,
                "BatchParameters": {"JobDefinition": arn, "JobName": "etl"},
            }
        ],
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"schedules"}))
    assert plan.errors == ()
    assert deleted(plan) == {images["v0"]}
    assert verdict(plan, "etl", images["v1"]) == (
        "in use: tag 'v1' used by Batch job definition etl:1 (container) "
        "(EventBridge rule default/daily)"
    )


def test_scheduler_sagemaker_pipeline_target_blocks_the_plan() -> None:
    repository(REGISTRY, US, "models", "v1")
    schedule(
        "retrain",
        {
            "Arn": f"arn:aws:sagemaker:{US}:{APP}:pipeline/retrain",
            "SageMakerPipelineParameters": {"PipelineParameterList": []},
        },
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"schedules"}))
    assert deleted(plan) == set()
    assert "Scheduler schedule default/retrain: starts SageMaker pipeline" in errors(plan)


def test_scheduler_universal_target_with_bad_input_blocks_the_plan() -> None:
    repository(REGISTRY, US, "cron", "v1")
    schedule("broken", {"Arn": "arn:aws:scheduler:::aws-sdk:ecs:runTask", "Input": "{not json"})
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"schedules"}))
    assert deleted(plan) == set()
    assert "Scheduler schedule default/broken: Input is not JSON" in errors(plan)


# --------------------------------------------------------------------------- Pipes


def pipe(name: str, target_: str, parameters: dict[str, Any]) -> None:
    queue = client(APP, US, "sqs").create_queue(QueueName=f"{name}-source")["QueueUrl"]
    source = client(APP, US, "sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    client(APP, US, "pipes").create_pipe(
        Name=name, RoleArn=ROLE, Source=source, Target=target_, TargetParameters=parameters
    )


def test_pipe_targets_keep_their_task_and_job_definition_images() -> None:
    images = repository(REGISTRY, US, "events", "task", "job", "unused")
    events = uri(REGISTRY, US, "events")
    arn = task_definition("consumer", f"{events}:task")
    job_definition(
        "ingest", containerProperties={"image": f"{events}:job", "vcpus": 1, "memory": 128}
    )
    pipe(
        "to-ecs",
        f"arn:aws:ecs:{US}:{APP}:cluster/apps",
        {"EcsTaskParameters": {"TaskDefinitionArn": arn}},
    )
    pipe(
        "to-batch",
        f"arn:aws:batch:{US}:{APP}:job-queue/default",
        {"BatchJobParameters": {"JobDefinition": "ingest", "JobName": "ingest"}},
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"pipes"}))
    assert plan.errors == ()
    assert deleted(plan) == {images["unused"]}
    assert verdict(plan, "events", images["task"]) == (
        "in use: tag 'task' used by task definition consumer:1 container main "
        "(EventBridge pipe to-ecs)"
    )
    assert "(EventBridge pipe to-batch)" in verdict(plan, "events", images["job"])


def test_pipe_with_a_run_time_task_definition_blocks_the_plan() -> None:
    repository(REGISTRY, US, "events", "task")
    pipe(
        "dynamic",
        f"arn:aws:ecs:{US}:{APP}:cluster/apps",
        {"EcsTaskParameters": {"TaskDefinitionArn": "$.body.taskDefinition"}},
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"pipes"}))
    assert deleted(plan) == set()
    assert "EventBridge pipe dynamic: TargetParameters.EcsTaskParameters.TaskDefinitionArn" in (
        errors(plan)
    )


def test_pipes_census() -> None:
    sources = replace(NOTHING, off=NOTHING.off - {"pipes"})
    assert (APP, US, "pipes") not in census([target(APP, US)], sources)
    pipe("idle", f"arn:aws:ecs:{US}:{APP}:cluster/apps", {})
    assert (APP, US, "pipes") in census([target(APP, US)], sources)


# --------------------------------------------------------------------------- SageMaker, EMR


def test_sagemaker_model_containers_are_kept() -> None:
    images = repository(REGISTRY, US, "models", "primary", "second", "unused")
    models = uri(REGISTRY, US, "models")
    sagemaker = client(APP, US, "sagemaker")
    sagemaker.create_model(
        ModelName="ranker",
        PrimaryContainer={"Image": f"{models}:primary", "Environment": {"Image": "not-an-image"}},
        ExecutionRoleArn=ROLE,
    )
    sagemaker.create_model(
        ModelName="pipeline",
        Containers=[{"Image": f"{models}:second"}],
        ExecutionRoleArn=ROLE,
    )
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"sagemaker"}))
    assert plan.errors == ()
    assert deleted(plan) == {images["unused"]}
    assert verdict(plan, "models", images["primary"]) == (
        "in use: tag 'primary' used by SageMaker model ranker (PrimaryContainer)"
    )
    assert "SageMaker model pipeline (Containers[0])" in verdict(plan, "models", images["second"])


SAGEMAKER = replace(NOTHING, off=NOTHING.off - {"sagemaker"})
INFERENCE = {"SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}


def sagemaker_census_entry(account: str = APP) -> Any:
    [scan] = [
        s
        for s in sweep.usage([target(account, US)], sources=SAGEMAKER)
        if s.origin == AccountRegion(AccountId(account), Region(US))
    ]
    [entry] = [e for e in scan.census if e.kind == "sagemaker"]
    return entry


def test_an_image_used_only_by_an_approved_model_package_is_kept() -> None:
    images = repository(REGISTRY, US, "models", "approved", "pending", "rejected", "unused")
    models = uri(REGISTRY, US, "models")
    sagemaker = client(APP, US, "sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="ranker")
    for status in ("Approved", "PendingManualApproval", "Rejected"):
        tag = {"Approved": "approved", "PendingManualApproval": "pending"}.get(status, "rejected")
        sagemaker.create_model_package(
            ModelPackageGroupName="ranker",
            ModelApprovalStatus=status,
            InferenceSpecification={"Containers": [{"Image": f"{models}:{tag}"}], **INFERENCE},
        )
    plan = sweep_plan(TARGETS, NONE, SAGEMAKER)
    assert plan.errors == ()
    assert deleted(plan) == {images["rejected"], images["unused"]}
    assert verdict(plan, "models", images["approved"]) == (
        "in use: tag 'approved' used by SageMaker model package ranker/1 "
        "(InferenceSpecification.Containers[0])"
    )
    assert "SageMaker model package ranker/2" in verdict(plan, "models", images["pending"])


def pipeline(name: str, *steps: dict[str, Any], **parameters: str) -> None:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": k, "Type": "String", "DefaultValue": v} for k, v in parameters.items()
        ],
        "Steps": list(steps),
    }
    client(APP, US, "sagemaker").create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=ROLE
    )


def training(name: str, image: object) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "HyperParameters": {"TrainingImage": "not-an-image"},  # user data
            "Environment": {"IMAGE": {"Get": "Parameters.Image"}},  # user data, at run time
        },
    }


def test_images_used_only_by_a_sagemaker_pipelines_steps_are_kept() -> None:
    images = repository(REGISTRY, US, "ml", "train", "process", "serve", "unused")
    ml = uri(REGISTRY, US, "ml")
    processing = {
        "Name": "Prepare",
        "Type": "Processing",
        "Arguments": {"AppSpecification": {"ImageUri": f"{ml}:process"}},
    }
    register = {
        "Name": "Register",
        "Type": "RegisterModel",
        "Arguments": {"InferenceSpecification": {"Containers": [{"Image": f"{ml}:serve"}]}},
    }
    condition = {
        "Name": "Good",
        "Type": "Condition",
        "Arguments": {"Conditions": [], "IfSteps": [processing], "ElseSteps": [register]},
    }
    pipeline("retrain", training("Train", f"{ml}:train"), condition)
    plan = sweep_plan(TARGETS, NONE, SAGEMAKER)
    assert plan.errors == ()
    assert deleted(plan) == {images["unused"]}
    assert verdict(plan, "ml", images["train"]) == (
        "in use: tag 'train' used by SageMaker pipeline retrain step Train "
        "(AlgorithmSpecification.TrainingImage)"
    )
    assert "SageMaker pipeline retrain step Good/IfSteps/Prepare (AppSpecification.ImageUri)" in (
        verdict(plan, "ml", images["process"])
    )
    assert "step Good/ElseSteps/Register (InferenceSpecification.Containers[0].Image)" in (
        verdict(plan, "ml", images["serve"])
    )


def test_a_pipeline_step_image_from_a_parameter_leaves_sagemaker_unread() -> None:
    images = repository(REGISTRY, US, "ml", "train")
    pipeline(
        "tune",
        training("Train", {"Get": "Parameters.Image"}),
        Image=f"{uri(REGISTRY, US, 'ml')}:train",
    )
    entry = sagemaker_census_entry()
    assert (entry.present, entry.read) == (True, False)
    assert entry.detail == (
        "unread: SageMaker pipeline tune step Train: Arguments.AlgorithmSpecification."
        "TrainingImage is only known at run time ({'Get': 'Parameters.Image'})"
    )
    accepted = tuple(k for k in UNREAD_ACCEPTED if k != "sagemaker")
    plan = sweep_plan(TARGETS, replace(NONE, accepted_unread=accepted), SAGEMAKER)
    assert plan.blocked
    assert images["train"] not in deleted(plan)
    assert (
        "sagemaker present, not read (unread: SageMaker pipeline tune step Train"
        in (wording.findings(plan.findings)[0])
    )


def test_a_sagemaker_endpoint_without_deployed_images_leaves_sagemaker_unread() -> None:
    """moto's DescribeEndpoint reports no `DeployedImages` (test_usage_shapes.py reads a full
    answer): the endpoint's images are unknown, so the kind is unread, naming the variant."""
    sagemaker = client(APP, US, "sagemaker")
    sagemaker.create_model(
        ModelName="m", PrimaryContainer={"Image": "busybox"}, ExecutionRoleArn=ROLE
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="live",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": "m",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="scorer", EndpointConfigName="live")
    entry = sagemaker_census_entry()
    assert (entry.present, entry.read) == (True, False)
    assert entry.detail == (
        "unread: SageMaker endpoint scorer ProductionVariants main: reports no DeployedImages "
        "and hosts no inference component (not yet deployed?)"
    )


@pytest.mark.parametrize("kind", ["endpoint", "package group", "pipeline"])
def test_sagemaker_census_sees_more_than_models(kind: str) -> None:
    assert (APP, US, "sagemaker") not in census([target(APP, US)], SAGEMAKER)
    sagemaker = client(APP, US, "sagemaker")
    if kind == "endpoint":
        sagemaker.create_model(
            ModelName="m", PrimaryContainer={"Image": "busybox"}, ExecutionRoleArn=ROLE
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {
                    "VariantName": "v",
                    "ModelName": "m",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")
        sagemaker.delete_model(ModelName="m")  # the endpoint runs on
    elif kind == "package group":
        sagemaker.create_model_package_group(ModelPackageGroupName="g")
    else:
        pipeline("p")
    assert (APP, US, "sagemaker") in census([target(APP, US)], SAGEMAKER)


def test_sagemaker_census() -> None:
    sources = replace(NOTHING, off=NOTHING.off - {"sagemaker"})
    assert (APP, US, "sagemaker") not in census([target(APP, US)], sources)
    client(APP, US, "sagemaker").create_model(
        ModelName="m", PrimaryContainer={"Image": "busybox"}, ExecutionRoleArn=ROLE
    )
    assert (APP, US, "sagemaker") in census([target(APP, US)], sources)


# --------------------------------------------------------------------------- Bedrock AgentCore


def agent_runtime(name: str, image: str) -> str:
    answer = client(APP, US, "bedrock-agentcore-control").create_agent_runtime(
        agentRuntimeName=name,
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": image}},
        roleArn=ROLE,
        networkConfiguration={"networkMode": "PUBLIC"},
        environmentVariables={"IMAGE": f"{uri(REGISTRY, US, 'agents')}:unused"},  # user data
    )
    return str(answer["agentRuntimeId"])


def test_an_image_used_only_by_an_agentcore_runtime_is_kept() -> None:
    images = repository(REGISTRY, US, "agents", "v1", "unused")
    agent_runtime("support_bot", f"{uri(REGISTRY, US, 'agents')}:v1")
    sources = replace(NOTHING, off=NOTHING.off - {"agentcore"})
    plan = sweep_plan(TARGETS, NONE, sources)
    assert plan.errors == ()
    assert deleted(plan) == {images["unused"]}
    assert verdict(plan, "agents", images["v1"]) == (
        "in use: tag 'v1' used by AgentCore runtime support_bot version 1 (current version)"
    )


def test_an_agentcore_endpoints_version_is_read() -> None:
    """moto answers GetAgentRuntime with the current artifact whatever the version asked, and
    its endpoint summaries name no version (the reader then describes the endpoint): the
    endpoint's version is read, by its number."""
    repository(REGISTRY, US, "agents", "v1", "v2")
    agents = uri(REGISTRY, US, "agents")
    runtime = agent_runtime("support_bot", f"{agents}:v1")
    control = client(APP, US, "bedrock-agentcore-control")
    control.update_agent_runtime(
        agentRuntimeId=runtime,
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": f"{agents}:v2"}},
        roleArn=ROLE,
        networkConfiguration={"networkMode": "PUBLIC"},
    )
    control.create_agent_runtime_endpoint(
        agentRuntimeId=runtime, name="prod", agentRuntimeVersion="1"
    )
    sources = replace(NOTHING, off=NOTHING.off - {"agentcore"})
    scans = sweep.usage([target(APP, US)], sources=sources)
    [scan] = [s for s in scans if s.origin == AccountRegion(AccountId(APP), Region(US))]
    assert sorted(u.source for u in scan.usages) == [
        "AgentCore runtime support_bot version 1 (endpoint prod (live))",
        "AgentCore runtime support_bot version 2 (current version)",
    ]


def test_agentcore_census_and_switched_off_blocks() -> None:
    sources = replace(NOTHING, off=NOTHING.off - {"agentcore"})
    assert (APP, US, "agentcore") not in census([target(APP, US)], sources)
    repository(REGISTRY, US, "agents", "v1")
    agent_runtime("support_bot", f"{uri(REGISTRY, US, 'agents')}:v1")
    assert (APP, US, "agentcore") in census([target(APP, US)], sources)
    accepted = tuple(k for k in UNREAD_ACCEPTED if k != "agentcore")
    plan = sweep_plan(TARGETS, replace(NONE, accepted_unread=accepted), NOTHING)
    assert plan.blocked
    assert wording.findings(plan.findings) == [
        f"{APP}/{US}: agentcore present, not read (agentcore runtimes: switched off); nothing "
        "it could pull is deleted. Resolve: list its images with --external-images FILE, or "
        f"accept with --accept-unread agentcore@{APP}"
    ]


def test_emr_serverless_applications_are_read_and_counted() -> None:
    """moto keeps no `imageConfiguration` (test_usage_shapes.py reads a full answer): here the
    listing and GetApplication run against moto, and the census sees the application."""
    images = repository(REGISTRY, US, "spark", "v1")
    sources = replace(NOTHING, off=NOTHING.off - {"emr"})
    assert (APP, US, "emr") not in census([target(APP, US)], sources)
    client(APP, US, "emr-serverless").create_application(
        name="etl", releaseLabel="emr-7.0.0", type="SPARK"
    )
    assert (APP, US, "emr") in census([target(APP, US)], sources)
    plan = sweep_plan(TARGETS, NONE, sources)
    assert plan.errors == ()
    assert deleted(plan) == {images["v1"]}


def test_step_functions_jsonata_arguments_and_other_accounts() -> None:
    images = repository(REGISTRY, US, "report", "v1", "v0")
    task_definition("report", f"{uri(REGISTRY, US, 'report')}:v1")
    run_task = {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True}
    jsonata = {**run_task, "Arguments": {"TaskDefinition": "report", "Cluster": "{% $c %}"}}
    state_machine("jsonata", {"Run": jsonata}, type="STANDARD")
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"stepfunctions"}))
    assert plan.errors == ()
    assert deleted(plan) == {images["v0"]}

    elsewhere = {
        **run_task,
        "Credentials": {"RoleArn": "arn:aws:iam::333333333333:role/runner"},
        "Parameters": {"TaskDefinition": "report"},
    }
    state_machine("cross-account", {"Remote": elsewhere})
    plan = sweep_plan(TARGETS, NONE, replace(NOTHING, off=NOTHING.off - {"stepfunctions"}))
    assert deleted(plan) == set()
    assert (
        "state machine cross-account state Remote: Credentials runs the task with another role"
        in (errors(plan))
    )


def test_moto_answers_the_daemon_and_app_runner_census() -> None:
    """moto has neither; extend_moto lists none of either, so a run on moto (the demo) finds
    them absent instead of unknown (and without minutes of retries)."""
    scans = sweep.usage([target(APP, US)], sources=MOTO_SOURCES)
    present = {e.kind: e.present for s in scans for e in s.census}
    assert present["ecs-daemons"] is False
    assert present["apprunner"] is False
