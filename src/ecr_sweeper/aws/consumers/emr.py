"""EMR Serverless applications' custom images: the application's `imageConfiguration` and each
worker type's (`workerTypeSpecifications.*.imageConfiguration`), with the digest EMR resolved
(`resolvedImageDigest`), read by the model's shapes from GetApplication (ListApplications →
GetApplication). A stopped application counts (it starts on the next job).

EMR on EKS runs its jobs as pods of an EKS cluster: the Kubernetes reader sees those.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio

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

PAGE = 50
NAME = "emr"
_IMAGES = {("ImageConfiguration", "imageUri"): "image"}


async def present(ctx: ReadContext) -> bool:
    """Any EMR Serverless application in the region (none where it is not offered)."""
    if (emr := await ctx.client_if_offered("emr-serverless")) is None:
        return False
    answer = await ctx.api.call(emr.list_applications, maxResults=1)
    return bool(answer.get("applications"))


async def read(ctx: ReadContext) -> Reading:
    """Every EMR Serverless application's custom images."""
    found = ctx.findings()
    if (emr := await ctx.client_if_offered("emr-serverless")) is None:
        return found.reading()
    applications = await ctx.api.pages(emr.list_applications, "applications", maxResults=PAGE)
    found.present(bool(applications))
    found.count("emr serverless applications", len(applications))

    async def one(application_id: str) -> None:
        answer = await ctx.api.call(emr.get_application, applicationId=application_id)
        report_application(found, answer)

    async with anyio.create_task_group() as tg:
        for application in applications:
            tg.start_soon(one, application["id"])
    return found.reading()


def report_application(found: Findings, answer: Mapping[str, object]) -> None:
    """The images of one GetApplication answer."""
    schema = Schema("emr-serverless", _IMAGES)
    shape = schema.output_shape("GetApplication")
    for member in schema.find(shape, answer):
        digest = member.holder.get("resolvedImageDigest")
        application = answer.get("application")
        name = application.get("name") if isinstance(application, dict) else None
        where = f"EMR Serverless application {name} ({member.path.removesuffix('.imageUri')})"
        found.image(member.value, where, digest if isinstance(digest, str) else None, NAME)


_PURPOSE = "applications' custom images (`--no-emr`)"
KIND = Kind(
    name=NAME,
    title="emr serverless",
    present=present,
    readers=(Reader("emr serverless", read),),
    switch=Switch("Read EMR Serverless applications' custom images (default on)."),
    iam=(
        IamAction("emr-serverless:ListApplications", "ReadOtherConsumers", _PURPOSE),
        IamAction("emr-serverless:GetApplication", "ReadOtherConsumers", _PURPOSE),
    ),
    principals=("emr-containers.amazonaws.com", "emr-serverless.amazonaws.com"),
    emulated="moto: applications; tests/awsim: the first list call only (none)",
)
