"""Scheduled tasks: EventBridge rules (on every event bus) and EventBridge Scheduler schedules
whose target runs an ECS task definition. A target may name a family without a revision, which
means its latest ACTIVE revision; it is described as such.
"""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.usage.context import UsageContext
from ecr_sweeper.model import Sources


class Schedules:
    """EventBridge rule targets and Scheduler schedules that run ECS tasks."""

    name = "schedules"
    kind = "schedules"

    def enabled(self, sources: Sources) -> bool:
        return sources.schedules

    async def present(self, ctx: UsageContext) -> bool:
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

    async def collect(self, ctx: UsageContext) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._rules, ctx)
            tg.start_soon(self._schedules, ctx)

    @staticmethod
    async def _rules(ctx: UsageContext) -> None:
        events = await ctx.client("events")
        buses = await ctx.api.pages(events.list_event_buses, "EventBuses", "NextToken")

        async def rule_targets(bus: str, rule: str) -> None:
            targets = await ctx.api.pages(
                events.list_targets_by_rule, "Targets", "NextToken", Rule=rule, EventBusName=bus
            )
            for target in targets:
                arn = target.get("EcsParameters", {}).get("TaskDefinitionArn")
                if arn:
                    ctx.count("scheduled rules")
                    ctx.saw_task_definition(arn, f"EventBridge rule {bus}/{rule}", "schedule")

        async def bus_rules(bus: str) -> None:
            rules = await ctx.api.pages(events.list_rules, "Rules", "NextToken", EventBusName=bus)
            async with anyio.create_task_group() as tg:
                for rule in rules:
                    tg.start_soon(rule_targets, bus, rule["Name"])

        async with anyio.create_task_group() as tg:
            for bus in buses:
                tg.start_soon(bus_rules, bus["Name"])

    @staticmethod
    async def _schedules(ctx: UsageContext) -> None:
        scheduler = await ctx.client("scheduler")
        schedules = await ctx.api.pages(scheduler.list_schedules, "Schedules", "NextToken")

        async def one(summary: dict[str, Any]) -> None:
            schedule = await ctx.api.call(
                scheduler.get_schedule, Name=summary["Name"], GroupName=summary["GroupName"]
            )
            arn = schedule.get("Target", {}).get("EcsParameters", {}).get("TaskDefinitionArn")
            if arn:
                ctx.count("schedules")
                where = f"Scheduler schedule {summary['GroupName']}/{summary['Name']}"
                ctx.saw_task_definition(arn, where, "schedule")

        async with anyio.create_task_group() as tg:
            for summary in schedules:
                tg.start_soon(one, summary)
