"""EventBridge Pipes whose target runs an image: `TargetParameters.EcsTaskParameters`
(`TaskDefinitionArn`, described like every task definition) and `BatchJobParameters`
(`JobDefinition`, read by the Batch source's reader). ListPipes → DescribePipe; a stopped pipe
counts (it can be started again).

Fail closed: Pipes may take a target parameter from the event at run time (a dynamic path
parameter, `$.detail.taskDefinition`); then the pipe's images are unknown and the source
raises, naming the pipe and the field. A pipe that starts a SageMaker pipeline also fails
closed, as for schedules.
"""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.consumers import batch
from ecr_sweeper.aws.consumers.kind import (
    Findings,
    IamAction,
    Kind,
    ReadContext,
    Reader,
    Reading,
    Switch,
)
from ecr_sweeper.aws.consumers.schedules import sagemaker_pipeline_unread

PAGE = 100
NAME = "pipes"


async def present(ctx: ReadContext) -> bool:
    """Any pipe in the region (none where Pipes is not offered)."""
    if (pipes := await ctx.client_if_offered("pipes")) is None:
        return False
    return bool((await ctx.api.call(pipes.list_pipes, Limit=1)).get("Pipes"))


async def read(ctx: ReadContext) -> Reading:
    """EventBridge Pipes targeting ECS or Batch."""
    found = ctx.findings()
    if (client := await ctx.client_if_offered("pipes")) is None:
        return found.reading()
    summaries = await ctx.api.pages(client.list_pipes, "Pipes", "NextToken", Limit=PAGE)
    found.present(bool(summaries))
    found.count("pipes", len(summaries))

    async def one(name: str) -> None:
        pipe = await ctx.api.call(client.describe_pipe, Name=name)
        await report_pipe(ctx, found, pipe)

    async with anyio.create_task_group() as tg:
        for summary in summaries:
            tg.start_soon(one, summary["Name"])
    return found.reading()


async def report_pipe(ctx: ReadContext, found: Findings, pipe: dict[str, Any]) -> None:
    """What one pipe (as DescribePipe answers it) runs."""
    where = f"EventBridge pipe {pipe.get('Name')}"
    parameters = pipe.get("TargetParameters", {})
    sagemaker_pipeline_unread(
        {"Arn": pipe.get("Target"), **parameters}
        if "SageMakerPipelineParameters" in parameters
        else {},
        where,
    )
    task_definition = parameters.get("EcsTaskParameters", {}).get("TaskDefinitionArn")
    if task_definition:
        _static(task_definition, where, "EcsTaskParameters.TaskDefinitionArn")
        found.task_definition(task_definition, where, NAME)
    job_definition = parameters.get("BatchJobParameters", {}).get("JobDefinition")
    if job_definition:
        _static(job_definition, where, "BatchJobParameters.JobDefinition")
        await batch.report_job_definition(ctx, found, job_definition, where, NAME)


def _static(value: str, where: str, field: str) -> None:
    if value.startswith("$"):
        raise RuntimeError(
            f"{where}: TargetParameters.{field} is only known at run time ({value!r}): "
            "its images are unknown"
        )


_PURPOSE = "pipes targeting ECS or Batch (`--no-pipes`)"
KIND = Kind(
    name=NAME,
    title="pipes",
    present=present,
    readers=(Reader("pipes", read),),
    switch=Switch("Read EventBridge Pipes that run ECS tasks or Batch jobs (default on)."),
    iam=(
        IamAction("pipes:ListPipes", "ReadOtherConsumers", _PURPOSE),
        IamAction("pipes:DescribePipe", "ReadOtherConsumers", _PURPOSE),
    ),
    emulated="moto: pipes; tests/awsim: the first list call only (none)",
)
