"""Consumers beyond ECS for the demo and the tests on moto's server: seeding a Batch job
definition and a Step Functions state machine, and the reads moto 5.2.5 lacks.

moto serves Batch, Step Functions, CodeBuild, SageMaker, Scheduler, EventBridge, Pipes and EMR
Serverless, but not ListStateMachineVersions (HTTP 500), ECS Managed Daemons or App Runner.
`extend_moto` teaches a moto server running in this process ListStateMachineVersions (from
moto's own state), and ECS ListDaemons and App Runner ListServices: moto cannot create a daemon
or an App Runner service, so it lists none, and the census finds none there instead of failing
(a failed App Runner census costs 45 s of retries per account × region, and its presence would
be unknown); and ECR's ListPullTimeUpdateExclusions, which lists none. `record_pull` records a
pull of an image (`lastRecordedPullTime`, which moto never sets) for the pull witness. The
project's emulator (tests/awsim) serves daemons and App Runner for their tests; a run on moto
switches both readers off (`moto_sources`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import boto3

from ecr_sweeper.model import Sources

ROLE_NAME = "EcrSweeper"  # the role the demo and the moto tests assume in every account


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port; yields its URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def account_session(account_id: str, region: str) -> boto3.Session:
    """A boto3 session in `account_id`, by assuming the demo role (as the sweeper does)."""
    sts = boto3.client("sts", region_name=region)
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE_NAME}", RoleSessionName="demo-seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def moto_sources(sources: Sources) -> Sources:
    """`sources` without the ones moto cannot serve (ECS Managed Daemons, App Runner)."""
    return replace(sources, off=sources.off | {"ecs-daemons", "apprunner"})


def extend_moto() -> None:
    """Teach moto's Step Functions ListStateMachineVersions, and its AgentCore to list no
    runtimes in a region where it has none (idempotent; in-process moto)."""
    from moto.bedrockagentcorecontrol.responses import BedrockAgentCoreControlResponse
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    if hasattr(StepFunctionResponse, "list_state_machine_versions"):
        return

    def list_daemons(_: Any) -> Any:
        return ActionResult({"daemonSummariesList": []})

    def list_state_machine_versions(self: Any) -> Any:
        machine = self.stepfunction_backend.describe_state_machine(
            self._get_param("stateMachineArn")
        )
        versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
        return ActionResult(
            {
                "stateMachineVersions": [
                    {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
                    for v in versions
                ]
            }
        )

    list_runtimes = BedrockAgentCoreControlResponse.list_agent_runtimes

    def list_agent_runtimes(self: Any) -> Any:
        # moto serves AgentCore in AWS's regions for it only (HTTP 500 elsewhere, a KeyError
        # on the region); AWS has no AgentCore host there, so no runtime either
        try:
            return list_runtimes(self)
        except KeyError:
            return ActionResult({"agentRuntimes": []})

    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions  # type: ignore[attr-defined]
    BedrockAgentCoreControlResponse.list_agent_runtimes = list_agent_runtimes  # type: ignore[method-assign]
    _answer_empty_listings()
    EC2ContainerServiceResponse.list_daemons = list_daemons  # type: ignore[attr-defined]


# Listings of services moto 5.2.5 does not have (it can create none of them, so none is true):
# App Runner (JSON 1.0) and Lightsail container services (JSON 1.1, the census), and the
# SageMaker resources moto lacks (inference components, monitoring schedules, algorithms,
# Studio images: it answers their listings with HTTP 500), and GameLift's container group
# definitions (moto has GameLift, but not these).
EMPTY_LISTINGS: dict[str, dict[str, list[Any]]] = {
    "AppRunner.ListServices": {"ServiceSummaryList": []},
    "Lightsail_20161128.GetContainerServices": {"containerServices": []},
    # ECR's pull-time update exclusions (the pull witness): moto 5.2.6 has none to list
    "AmazonEC2ContainerRegistry_V20150921.ListPullTimeUpdateExclusions": {
        "pullTimeUpdateExclusions": []
    },
    "SageMaker.ListInferenceComponents": {"InferenceComponents": []},
    "SageMaker.ListMonitoringSchedules": {"MonitoringScheduleSummaries": []},
    "SageMaker.ListAlgorithms": {"AlgorithmSummaryList": []},
    "SageMaker.ListImages": {"Images": []},
    "GameLift.ListContainerGroupDefinitions": {"ContainerGroupDefinitions": []},
}


def record_pull(account_id: str, region: str, repository: str, digest: str, at: datetime) -> None:
    """Record a pull of an image in a moto server running in this process, as ECR records
    `lastRecordedPullTime` (moto records none: its DescribeImages then answers this one)."""
    from moto.ecr.models import ecr_backends

    images = ecr_backends[account_id][region].repositories[repository].images
    (image,) = [i for i in images if i.image_digest == digest]
    image.last_recorded_pull_time = at  # type: ignore[attr-defined] # a member moto never sets


# The REST listings of services moto 5.2.6 does not have, by (signing service, method, path):
# Braket's hybrid jobs, Clean Rooms ML's configured model algorithms, HealthOmics' workflows
# (its `workflows-` host prefix off: AWS_DISABLE_HOST_PREFIX_INJECTION) and Greengrass v2's
# components (moto's greengrass is v1).
EMPTY_REST_LISTINGS: dict[tuple[str, str, str], dict[str, list[Any]]] = {
    ("braket", "POST", "/jobs"): {"jobs": []},
    ("cleanrooms-ml", "GET", "/configured-model-algorithms"): {"configuredModelAlgorithms": []},
    ("omics", "GET", "/workflow"): {"items": []},
    ("greengrass", "GET", "/greengrass/v2/components"): {"components": []},
}


def _rest_listing(environ: dict[str, Any]) -> dict[str, list[Any]] | None:
    """The empty answer of a REST listing of EMPTY_REST_LISTINGS, else None."""
    # "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/braket/aws4_request, ..."
    scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=", 1)[-1].split(",")[0]
    parts = scope.split("/")
    service = parts[3] if len(parts) > 4 else ""
    path = environ.get("PATH_INFO", "").rstrip("/")
    return EMPTY_REST_LISTINGS.get((service, environ.get("REQUEST_METHOD", ""), path))


def _answer_empty_listings() -> None:
    """moto has no App Runner, Lightsail, Braket, Clean Rooms ML, HealthOmics or Greengrass v2,
    nor some SageMaker resources or GameLift's container group definitions: answer their
    listings with empty lists."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    dispatch = DomainDispatcherApplication.__call__

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        listing = EMPTY_LISTINGS.get(environ.get("HTTP_X_AMZ_TARGET", "")) or _rest_listing(environ)
        if listing is not None:
            body = json.dumps(listing).encode()
            start_response(
                "200 OK",
                [
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        return dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]


def seed_batch_and_stepfunctions(
    session: boto3.Session, batch_image: str, task_image: str, *, cluster: str = "jobs"
) -> dict[str, str]:
    """In `session`'s account and region: a Batch job definition `etl` running `batch_image`,
    and a Step Functions state machine `nightly` whose `ecs:runTask.sync` state runs a task
    definition `nightly-report` (image `task_image`) and submits the `etl` job. Returns the
    ARNs made (job definition, task definition, state machine)."""
    batch = session.client("batch")
    job = batch.register_job_definition(
        jobDefinitionName="etl",
        type="container",
        containerProperties={"image": batch_image, "vcpus": 1, "memory": 512},
    )
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    task = ecs.register_task_definition(
        family="nightly-report",
        containerDefinitions=[{"name": "report", "image": task_image, "memory": 256}],
    )["taskDefinition"]["taskDefinitionArn"]
    account = session.client("sts").get_caller_identity()["Account"]
    definition = {
        "StartAt": "Report",
        "States": {
            "Report": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {"Cluster": cluster, "TaskDefinition": "nightly-report"},
                "Next": "Etl",
            },
            "Etl": {
                "Type": "Task",
                "Resource": "arn:aws:states:::batch:submitJob.sync",
                "Parameters": {"JobName": "etl", "JobQueue": "default", "JobDefinition": "etl"},
                "End": True,
            },
        },
    }
    machine = session.client("stepfunctions").create_state_machine(
        name="nightly",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{account}:role/nightly",
    )["stateMachineArn"]
    return {
        "job_definition": job["jobDefinitionArn"],
        "task_definition": task,
        "state_machine": machine,
    }
