"""App Runner: every service's image (`SourceConfiguration.ImageRepository.ImageIdentifier`).
ListServices (≤ 20 a page) → DescribeService. App Runner is offered in a dozen regions; in the
others it has no consumers. Closed to new customers, but existing services run."""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.usage.context import UsageContext
from ecr_sweeper.model import Sources

PAGE = 20
KIND = "apprunner"


class AppRunnerServices:
    """Every App Runner service deployed from an image repository."""

    name = "app runner"
    kind = KIND

    def enabled(self, sources: Sources) -> bool:
        return sources.app_runner

    async def present(self, ctx: UsageContext) -> bool:
        if (client := await ctx.client_if_offered("apprunner")) is None:
            return False
        answer = await ctx.api.call(client.list_services, MaxResults=1)
        return bool(answer.get("ServiceSummaryList"))

    async def collect(self, ctx: UsageContext) -> None:
        if (client := await ctx.client_if_offered("apprunner")) is None:
            return
        services = await ctx.api.pages(
            client.list_services, "ServiceSummaryList", "NextToken", MaxResults=PAGE
        )
        ctx.count("app runner services", len(services))

        async def one(summary: dict[str, Any]) -> None:
            answer = await ctx.api.call(client.describe_service, ServiceArn=summary["ServiceArn"])
            service = answer["Service"]
            repository = service.get("SourceConfiguration", {}).get("ImageRepository", {})
            if repository.get("ImageIdentifier"):
                where = f"App Runner service {service.get('ServiceName')}"
                ctx.saw_image(repository["ImageIdentifier"], where, None, KIND)

        async with anyio.create_task_group() as tg:
            for summary in services:
                tg.start_soon(one, summary)
