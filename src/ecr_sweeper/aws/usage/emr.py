"""EMR Serverless applications' custom images: the application's `imageConfiguration` and each
worker type's (`workerTypeSpecifications.*.imageConfiguration`), with the digest EMR resolved
(`resolvedImageDigest`), read by the model's shapes from GetApplication (ListApplications →
GetApplication). A stopped application counts (it starts on the next job).

EMR on EKS runs its jobs as pods of an EKS cluster: the Kubernetes reader sees those.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio

from ecr_sweeper.aws.usage.context import UsageContext
from ecr_sweeper.aws.usage.shapes import Schema
from ecr_sweeper.model import Sources

PAGE = 50
KIND = "emr"
_IMAGES = {("ImageConfiguration", "imageUri"): "image"}


class EmrServerless:
    """Every EMR Serverless application's custom images."""

    name = "emr serverless"
    kind = KIND

    def enabled(self, sources: Sources) -> bool:
        return sources.emr

    async def present(self, ctx: UsageContext) -> bool:
        if (emr := await ctx.client_if_offered("emr-serverless")) is None:
            return False
        answer = await ctx.api.call(emr.list_applications, maxResults=1)
        return bool(answer.get("applications"))

    async def collect(self, ctx: UsageContext) -> None:
        if (emr := await ctx.client_if_offered("emr-serverless")) is None:
            return
        applications = await ctx.api.pages(emr.list_applications, "applications", maxResults=PAGE)
        ctx.count("emr serverless applications", len(applications))

        async def one(application_id: str) -> None:
            answer = await ctx.api.call(emr.get_application, applicationId=application_id)
            report_application(ctx, answer)

        async with anyio.create_task_group() as tg:
            for application in applications:
                tg.start_soon(one, application["id"])


def report_application(ctx: UsageContext, answer: Mapping[str, object]) -> None:
    """The images of one GetApplication answer."""
    schema = Schema("emr-serverless", _IMAGES)
    shape = schema.output_shape("GetApplication")
    for found in schema.find(shape, answer):
        digest = found.holder.get("resolvedImageDigest")
        application = answer.get("application")
        name = application.get("name") if isinstance(application, dict) else None
        where = f"EMR Serverless application {name} ({found.path.removesuffix('.imageUri')})"
        ctx.saw_image(found.value, where, digest if isinstance(digest, str) else None, KIND)
