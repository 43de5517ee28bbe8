"""ECS tasks: every container of every running task, with the digest it resolved, and of tasks
stopped within `stopped_within_hours` (a crash-looping service or a just-finished batch job keeps
its image). ECS lists stopped tasks for about an hour after they stop, so that is the most this
source can see, whatever the window.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio

from ecr_sweeper.aws.consumers.ecs_scope import short_name
from ecr_sweeper.aws.consumers.ecs_services import check_failures
from ecr_sweeper.aws.consumers.kind import Findings, ReadContext, Reading
from ecr_sweeper.aws.limits import chunks

DESCRIBE_TASKS_MAX = 100


async def read_tasks(ctx: ReadContext) -> Reading:
    """Running tasks, and recently stopped ones."""
    found = ctx.findings()
    ecs = await ctx.client("ecs")
    statuses = ["RUNNING"] + (["STOPPED"] if ctx.sources.stopped_within_hours > 0 else [])
    async with anyio.create_task_group() as tg:
        for cluster in await ctx.ecs.clusters():
            for status in statuses:
                tg.start_soon(_tasks, ctx, found, ecs, cluster, status)
    return found.reading()


async def _tasks(ctx: ReadContext, found: Findings, ecs: Any, cluster: str, status: str) -> None:
    arns = await ctx.api.pages(
        ecs.list_tasks, "taskArns", cluster=cluster, desiredStatus=status, maxResults=100
    )
    stopped_since = ctx.now - timedelta(hours=ctx.sources.stopped_within_hours)

    async def describe(batch: list[str]) -> None:
        answer = await ctx.api.call(ecs.describe_tasks, cluster=cluster, tasks=batch)
        check_failures(answer, f"DescribeTasks in {cluster}")
        for task in answer.get("tasks", []):
            stopped_at = task.get("stoppedAt")
            if status == "STOPPED" and stopped_at is not None and stopped_at < stopped_since:
                continue
            kind = "stopped-task" if status == "STOPPED" else "task"
            state = "stopped " if status == "STOPPED" else ""
            label = f"{state}task {short_name(cluster)}/{short_name(task['taskArn'])}"
            found.count("stopped tasks" if status == "STOPPED" else "tasks")
            found.task_definition(task["taskDefinitionArn"], label, kind)
            for container in task.get("containers", []):
                if container.get("image"):
                    where = f"{label} container {container.get('name')}"
                    found.image(container["image"], where, container.get("imageDigest"), kind)

    async with anyio.create_task_group() as tg:
        for batch in chunks(arns, DESCRIBE_TASKS_MAX):
            tg.start_soon(describe, batch)
