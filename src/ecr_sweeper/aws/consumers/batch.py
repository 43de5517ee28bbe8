"""AWS Batch: the images of every ACTIVE job definition (the newest `rollback_revisions` of each
name, at least one: a job submitted by name runs the newest), read by the model's shapes:
`containerProperties`, every node range's container (and its ECS / EKS properties), ECS
properties' task containers, and EKS properties' pod containers and init containers.

Batch jobs on ECS compute environments also run as ECS tasks in Batch-managed clusters, which
ListClusters lists like any other: the ECS sources read those tasks too.

`report_job_definition` is the one reader of a job definition that another consumer names
(a Step Functions state, a Scheduler or EventBridge target, a Pipe).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ecr_sweeper.aws.consumers.ecs_scope import short_name
from ecr_sweeper.aws.consumers.kind import (
    Findings,
    IamAction,
    Kind,
    ReadContext,
    Reader,
    Reading,
    Switch,
)
from ecr_sweeper.aws.consumers.shapes import Schema

PAGE = 100
NAME = "batch"
_IMAGE = "image"
# Every member of a job definition that names an image (botocore's batch model).
_IMAGES = {
    ("ContainerProperties", "image"): _IMAGE,
    ("TaskContainerProperties", "image"): _IMAGE,
    ("EksContainer", "image"): _IMAGE,
}


async def present(ctx: ReadContext) -> bool:
    """Any ACTIVE job definition in the region (none where Batch is not offered)."""
    if (batch := await ctx.client_if_offered("batch")) is None:
        return False
    answer = await ctx.api.call(batch.describe_job_definitions, status="ACTIVE", maxResults=1)
    return bool(answer.get("jobDefinitions"))


async def read(ctx: ReadContext) -> Reading:
    """ACTIVE job definitions, newest revisions of each name."""
    found = ctx.findings()
    if (batch := await ctx.client_if_offered("batch")) is None:
        return found.reading()
    definitions = await ctx.api.pages(
        batch.describe_job_definitions, "jobDefinitions", status="ACTIVE", maxResults=PAGE
    )
    found.present(bool(definitions))
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for definition in definitions:
        by_name[definition["jobDefinitionName"]].append(definition)
    newest = max(ctx.sources.rollback_revisions, 1)
    for revisions in by_name.values():
        revisions.sort(key=lambda d: int(d.get("revision", 0)), reverse=True)
        for definition in revisions[:newest]:
            found.count("batch job definitions")
            report_definition(found, definition, "", NAME)
    return found.reading()


def report_definition(found: Findings, definition: dict[str, Any], used_by: str, kind: str) -> None:
    """Every image of one job definition (as DescribeJobDefinitions answers it)."""
    schema = Schema("batch", _IMAGES)
    label = f"{definition.get('jobDefinitionName')}:{definition.get('revision')}"
    for member in schema.find(schema.shape("JobDefinition"), definition):
        part = member.path.removesuffix(".image")
        part = "container" if part == "containerProperties" else part
        if isinstance(member.holder.get("name"), str):
            part = f"{part} {member.holder['name']}"
        where = f"Batch job definition {label} ({part})" + (f" ({used_by})" if used_by else "")
        found.image(member.value, where, None, kind)


async def report_job_definition(
    ctx: ReadContext, found: Findings, ref: str, used_by: str, kind: str
) -> None:
    """The images of the job definition `ref` names (`name`, `name:revision` or an ARN; a
    name alone means its newest ACTIVE revision, as SubmitJob takes it). The name's ACTIVE
    revisions are listed and the one meant is picked; a job definition that does not exist
    (or is no longer ACTIVE) cannot run, so it uses nothing."""
    batch = await ctx.client("batch")
    name, _, revision = (short_name(ref) if ref.startswith("arn:") else ref).partition(":")
    revisions = await ctx.api.pages(
        batch.describe_job_definitions,
        "jobDefinitions",
        jobDefinitionName=name,
        status="ACTIVE",
        maxResults=PAGE,
    )
    if revision:
        chosen = [d for d in revisions if str(d.get("revision")) == revision]
    else:
        chosen = sorted(revisions, key=lambda d: int(d.get("revision", 0)), reverse=True)[:1]
    for definition in chosen:
        report_definition(found, definition, used_by, kind)


_PURPOSE = "job definitions, and those workflows and schedules submit (`--no-batch`)"
KIND = Kind(
    name=NAME,
    title="batch",
    present=present,
    readers=(Reader("batch", read),),
    switch=Switch("Read AWS Batch job definitions (default on)."),
    iam=(IamAction("batch:DescribeJobDefinitions", "ReadOtherConsumers", _PURPOSE),),
    principals=("batch.amazonaws.com",),
    emulated="moto: job definitions; tests/awsim: the first list call only (none)",
)
