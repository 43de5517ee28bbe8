"""SageMaker endpoints: the images each variant runs, as the endpoint reports them
(`DeployedImages[]`: `SpecifiedImage`, and `ResolvedImage`, the digest SageMaker pulled), of
its production and shadow variants and of a deployment in flight, read by the model's shapes
from DescribeEndpoint (ListEndpoints → DescribeEndpoint). An endpoint keeps running after its
model is deleted, so the models reader alone does not see these.

A variant that hosts inference components runs theirs (read by sagemaker_inference_components.py,
which says which variants host one). Any other variant that reports no deployed images (an
endpoint still being created) runs images this reader does not see: the kind is then unread
here, naming endpoint and variant, and the planner holds what it could pull.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import anyio

from ecr_sweeper.aws.consumers import sagemaker_inference_components
from ecr_sweeper.aws.consumers.kind import Findings, ReadContext, Reader, Reading
from ecr_sweeper.aws.consumers.shapes import Schema

PAGE = 100
KIND_NAME = "sagemaker"
_IMAGES = {
    ("DeployedImage", "SpecifiedImage"): "image",
    ("DeployedImage", "ResolvedImage"): "resolved",
}
_VARIANT_LISTS = ("ProductionVariants", "ShadowProductionVariants")


async def read(ctx: ReadContext) -> Reading:
    """The deployed images of every endpoint's variants."""
    found = ctx.findings()
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return found.reading()
    endpoints = await ctx.api.pages(
        sagemaker.list_endpoints, "Endpoints", "NextToken", MaxResults=PAGE
    )
    found.present(bool(endpoints))
    found.count("sagemaker endpoints", len(endpoints))
    hosting = await sagemaker_inference_components.hosting(ctx, sagemaker) if endpoints else set()

    async def one(name: str) -> None:
        answer = await ctx.api.call(sagemaker.describe_endpoint, EndpointName=name)
        report_endpoint(found, answer, hosting)

    async with anyio.create_task_group() as tg:
        for endpoint in endpoints:
            tg.start_soon(one, endpoint["EndpointName"])
    return found.reading()


def report_endpoint(
    found: Findings, answer: Mapping[str, Any], hosting: Collection[tuple[str, str]] = ()
) -> None:
    """The images of one DescribeEndpoint answer; a variant without them is unread, unless it
    hosts inference components (`hosting`: (endpoint, variant) pairs)."""
    name = answer.get("EndpointName")
    schema = Schema("sagemaker", _IMAGES)
    for member in schema.find(schema.output_shape("DescribeEndpoint"), answer):
        where = f"SageMaker endpoint {name} ({member.path})"
        found.image(member.value, where, None, KIND_NAME)
    pending = answer.get("PendingDeploymentSummary")
    for holder, prefix in ((answer, ""), (pending, "PendingDeploymentSummary.")):
        if not isinstance(holder, Mapping):
            continue
        for key in _VARIANT_LISTS:
            for variant in holder.get(key) or ():
                if variant.get("DeployedImages"):
                    continue
                if (name, variant.get("VariantName")) in hosting:
                    continue  # its inference components' images are read with them
                found.unread(
                    f"SageMaker endpoint {name} {prefix}{key} {variant.get('VariantName')}: "
                    "reports no DeployedImages and hosts no inference component (not yet "
                    "deployed?)"
                )


READER = Reader("sagemaker endpoints", read)
