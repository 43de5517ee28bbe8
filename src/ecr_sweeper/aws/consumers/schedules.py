"""Scheduled work: EventBridge rules (on every event bus) and EventBridge Scheduler schedules
whose target runs an image.

- `EcsParameters.TaskDefinitionArn` (rules and schedules): a family without a revision means its
  latest ACTIVE revision; it is described as such.
- Rule targets with `BatchParameters` (the target is a job queue): `JobDefinition`.
- Scheduler universal targets (`arn:aws:scheduler:::aws-sdk:ecs:runTask`, `…:batch:submitJob`,
  `…:codebuild:startBuild`, `…:sagemaker:createTrainingJob`): the request is the target's
  `Input`, read by the operation's shapes (integrations.py).
- SageMaker pipeline targets: the pipeline's images are not read, so the source fails closed
  (turn `schedules` off, or list the pipeline's images with `--external-images`).
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio

from ecr_sweeper.aws.consumers import batch, integrations
from ecr_sweeper.aws.consumers.kind import (
    Findings,
    IamAction,
    Kind,
    ReadContext,
    Reader,
    Reading,
    Switch,
)

NAME = "schedules"
# The label of what schedules use: "schedule", not the kind's name. Shard files carry it
# (their usages' `kind`), and they stay byte-identical to those written before.
USAGE = "schedule"
_UNIVERSAL = re.compile(r"^arn:[^:]+:scheduler:::aws-sdk:(?P<service>[a-z0-9-]+):(?P<action>.+)$")


async def present(ctx: ReadContext) -> bool:
    """Any Scheduler schedule, or any rule on any event bus (each may start a task)."""
    scheduler = await ctx.client("scheduler")
    if (await ctx.api.call(scheduler.list_schedules, MaxResults=1)).get("Schedules"):
        return True
    events = await ctx.client("events")
    buses = await ctx.api.pages(events.list_event_buses, "EventBuses", "NextToken")
    for bus in buses:
        answer = await ctx.api.call(events.list_rules, EventBusName=bus["Name"], Limit=1)
        if answer.get("Rules"):
            return True
    return False


async def read(ctx: ReadContext) -> Reading:
    """EventBridge rule targets and Scheduler schedules that run ECS tasks."""
    found = ctx.findings()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_rules, ctx, found)
        tg.start_soon(_schedules, ctx, found)
    return found.reading()


async def _rules(ctx: ReadContext, found: Findings) -> None:
    events = await ctx.client("events")
    buses = await ctx.api.pages(events.list_event_buses, "EventBuses", "NextToken")

    async def rule_targets(bus: str, rule: str) -> None:
        targets = await ctx.api.pages(
            events.list_targets_by_rule, "Targets", "NextToken", Rule=rule, EventBusName=bus
        )
        where = f"EventBridge rule {bus}/{rule}"
        for target in targets:
            arn = target.get("EcsParameters", {}).get("TaskDefinitionArn")
            if arn:
                found.count("scheduled rules")
                found.task_definition(arn, where, USAGE)
            job_definition = target.get("BatchParameters", {}).get("JobDefinition")
            if job_definition:
                found.count("scheduled rules")
                await batch.report_job_definition(ctx, found, job_definition, where, USAGE)
            sagemaker_pipeline_unread(target, where)

    async def bus_rules(bus: str) -> None:
        rules = await ctx.api.pages(events.list_rules, "Rules", "NextToken", EventBusName=bus)
        found.present(bool(rules))
        async with anyio.create_task_group() as tg:
            for rule in rules:
                tg.start_soon(rule_targets, bus, rule["Name"])

    async with anyio.create_task_group() as tg:
        for bus in buses:
            tg.start_soon(bus_rules, bus["Name"])


async def _schedules(ctx: ReadContext, found: Findings) -> None:
    scheduler = await ctx.client("scheduler")
    schedules = await ctx.api.pages(scheduler.list_schedules, "Schedules", "NextToken")
    found.present(bool(schedules))

    async def one(summary: dict[str, Any]) -> None:
        schedule = await ctx.api.call(
            scheduler.get_schedule, Name=summary["Name"], GroupName=summary["GroupName"]
        )
        target = schedule.get("Target", {})
        where = f"Scheduler schedule {summary['GroupName']}/{summary['Name']}"
        arn = target.get("EcsParameters", {}).get("TaskDefinitionArn")
        if arn:
            found.count("schedules")
            found.task_definition(arn, where, USAGE)
        sagemaker_pipeline_unread(target, where)
        if universal := _UNIVERSAL.match(target.get("Arn", "")):
            await universal_target(
                ctx, found, universal["service"], universal["action"], target, where=where
            )

    async with anyio.create_task_group() as tg:
        for summary in schedules:
            tg.start_soon(one, summary)


async def universal_target(
    ctx: ReadContext,
    found: Findings,
    service: str,
    action: str,
    target: dict[str, Any],
    *,
    where: str,
) -> None:
    """A Scheduler universal target: the API request is the target's `Input` (JSON)."""
    if not integrations.runs_images(service):
        return
    found.count("schedules")
    try:
        request = json.loads(target.get("Input") or "{}")
    except ValueError as exc:
        raise RuntimeError(f"{where}: Input is not JSON ({exc}): its images are unknown") from exc
    await integrations.report_request(
        ctx, found, service, action, request, used_by=where, kind=USAGE, templated=False
    )


def sagemaker_pipeline_unread(target: dict[str, Any], where: str) -> None:
    """A target that starts a SageMaker pipeline runs images this tool does not read."""
    if "SageMakerPipelineParameters" in target:
        raise RuntimeError(
            f"{where}: starts SageMaker pipeline {target.get('Arn')}, whose images are not read"
            " (list them with --external-images, or switch schedules off)"
        )


_PURPOSE = "scheduled ECS tasks (`--no-schedules` turns it off)"
KIND = Kind(
    name=NAME,
    title="schedules",
    present=present,
    readers=(Reader("schedules", read),),
    switch=Switch(
        "Read EventBridge rules and Scheduler schedules that run ECS tasks (default on)."
    ),
    iam=tuple(
        IamAction(action, "ReadScheduledAndLambdaUsage", _PURPOSE)
        for action in (
            "events:ListEventBuses",
            "events:ListRules",
            "events:ListTargetsByRule",
            "scheduler:ListSchedules",
            "scheduler:GetSchedule",
        )
    ),
    emulated="moto: event buses, rules and their targets, schedules; tests/awsim: the "
    "census calls only (one default bus, no rule, no schedule)",
)
