"""What one API request that a consumer sends on a schedule or in a workflow would run.

Step Functions states (`arn:aws:states:::ecs:runTask.sync`, `…:::aws-sdk:batch:submitJob`),
Scheduler universal targets (`arn:aws:scheduler:::aws-sdk:ecs:runTask`) and Pipes send API
requests. `report_request` reads such a request by the operation's shapes and reports what it
runs: a task definition (described like every other), a Batch job definition or CodeBuild
project (read by their sources' readers), or an image the request names itself (CodeBuild's
`imageOverride`, a SageMaker training image, a Batch EKS container override). A value that
matters and is only known at run time raises `Unresolvable` (the caller fails closed).
"""

from __future__ import annotations

import re
from typing import Any

from ecr_sweeper.aws.consumers import batch, codebuild
from ecr_sweeper.aws.consumers.kind import Findings, ReadContext
from ecr_sweeper.aws.consumers.shapes import Schema

TASK_DEFINITION = "task definition"
JOB_DEFINITION = "job definition"
PROJECT = "project"
IMAGE = "image"

# Per botocore service: the (structure shape, member) of every request member that makes the
# request run an image. Services not here run no container image of this account.
REFERENCES: dict[str, dict[tuple[str, str], str]] = {
    "ecs": {
        ("RunTaskRequest", "taskDefinition"): TASK_DEFINITION,
        ("StartTaskRequest", "taskDefinition"): TASK_DEFINITION,
    },
    "batch": {
        ("SubmitJobRequest", "jobDefinition"): JOB_DEFINITION,
        ("EksContainerOverride", "image"): IMAGE,
    },
    "codebuild": {
        ("StartBuildInput", "projectName"): PROJECT,
        ("StartBuildInput", "imageOverride"): IMAGE,
        ("StartBuildBatchInput", "projectName"): PROJECT,
        ("StartBuildBatchInput", "imageOverride"): IMAGE,
    },
    "sagemaker": {
        ("AlgorithmSpecification", "TrainingImage"): IMAGE,
        ("DebugRuleConfiguration", "RuleEvaluatorImage"): IMAGE,
        ("ProfilerRuleConfiguration", "RuleEvaluatorImage"): IMAGE,
        ("AppSpecification", "ImageUri"): IMAGE,
        ("ContainerDefinition", "Image"): IMAGE,
    },
}
# The SDK service names of Step Functions' and Scheduler's integrations → botocore's.
SDK_SERVICES = {"ecs": "ecs", "batch": "batch", "codebuild": "codebuild", "sagemaker": "sagemaker"}
_SUFFIX = re.compile(r"\.(sync(:\d+)?|waitForTaskToken)$")


def operation_of(action: str) -> str:
    """`runTask.sync` → `RunTask` (an integration's action → the API operation)."""
    action = _SUFFIX.sub("", action)
    return action[:1].upper() + action[1:]


def runs_images(service: str) -> bool:
    """Whether a request to this (SDK) service can run an image."""
    return service in SDK_SERVICES


async def report_request(
    ctx: ReadContext,
    found: Findings,
    service: str,
    action: str,
    request: Any,
    *,
    used_by: str,
    kind: str,
    templated: bool,
) -> None:
    """Report what a request to `service`'s `action` runs (see the module docstring)."""
    botocore_name = SDK_SERVICES.get(service)
    if botocore_name is None:
        return
    schema = Schema(botocore_name, REFERENCES[botocore_name], requests=True)
    shape = schema.input_shape(operation_of(action))
    if shape is None:
        return
    for member in schema.find(shape, request, templated=templated):
        if member.meaning == TASK_DEFINITION:
            found.task_definition(member.value, used_by, kind)
        elif member.meaning == JOB_DEFINITION:
            await batch.report_job_definition(ctx, found, member.value, used_by, kind)
        elif member.meaning == PROJECT:
            await codebuild.report_projects(ctx, found, [member.value], used_by, kind)
        else:
            found.image(member.value, f"{used_by} ({member.path})", None, kind)
