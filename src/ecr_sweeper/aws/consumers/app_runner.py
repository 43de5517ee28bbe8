"""App Runner: every service's image (`SourceConfiguration.ImageRepository.ImageIdentifier`).
ListServices (≤ 20 a page) → DescribeService. App Runner is offered in a dozen regions; in the
others it has no consumers. Closed to new customers, but existing services run."""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.consumers.kind import IamAction, Kind, ReadContext, Reader, Reading, Switch

PAGE = 20
NAME = "apprunner"


async def present(ctx: ReadContext) -> bool:
    """Any App Runner service in the region (none where App Runner is not offered)."""
    if (client := await ctx.client_if_offered("apprunner")) is None:
        return False
    answer = await ctx.api.call(client.list_services, MaxResults=1)
    return bool(answer.get("ServiceSummaryList"))


async def read(ctx: ReadContext) -> Reading:
    """Every App Runner service deployed from an image repository."""
    found = ctx.findings()
    if (client := await ctx.client_if_offered("apprunner")) is None:
        return found.reading()
    services = await ctx.api.pages(
        client.list_services, "ServiceSummaryList", "NextToken", MaxResults=PAGE
    )
    found.present(bool(services))
    found.count("app runner services", len(services))

    async def one(summary: dict[str, Any]) -> None:
        answer = await ctx.api.call(client.describe_service, ServiceArn=summary["ServiceArn"])
        service = answer["Service"]
        repository = service.get("SourceConfiguration", {}).get("ImageRepository", {})
        if repository.get("ImageIdentifier"):
            where = f"App Runner service {service.get('ServiceName')}"
            found.image(repository["ImageIdentifier"], where, None, NAME)

    async with anyio.create_task_group() as tg:
        for summary in services:
            tg.start_soon(one, summary)
    return found.reading()


_PURPOSE = "services' images (`--no-apprunner`)"
KIND = Kind(
    name=NAME,
    title="app runner",
    present=present,
    readers=(Reader("app runner", read),),
    switch=Switch("Read App Runner services' images (default on).", aliases=("app_runner",)),
    iam=(
        IamAction("apprunner:ListServices", "ReadOtherConsumers", _PURPOSE),
        IamAction("apprunner:DescribeService", "ReadOtherConsumers", _PURPOSE),
    ),
    principals=("build.apprunner.amazonaws.com", "tasks.apprunner.amazonaws.com"),
    emulated="moto: no App Runner (ListServices taught to list none, "
    "demo_consumers.extend_moto); tests/awsim: services (ops_apprunner.py)",
)
