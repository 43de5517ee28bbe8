"""SageMaker model packages (the model registry): every version of every model package group,
and every unversioned package, that is not Rejected (an Approved version is what a deployment
pipeline deploys next; one pending approval may be approved). Their inference containers
(`InferenceSpecification.Containers[]` and `AdditionalInferenceSpecifications[].Containers[]`:
`Image`, with `ImageDigest` when given) are read by the model's shapes from
DescribeModelPackage (ListModelPackageGroups → ListModelPackages per group, and
ListModelPackages of the unversioned ones).
"""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.consumers.kind import ReadContext, Reader, Reading
from ecr_sweeper.aws.consumers.shapes import Schema

PAGE = 100
KIND_NAME = "sagemaker"
_IMAGES = {("ModelPackageContainerDefinition", "Image"): "image"}


async def read(ctx: ReadContext) -> Reading:
    """The inference images of every model package that is not Rejected."""
    found = ctx.findings()
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return found.reading()
    groups = await ctx.api.pages(
        sagemaker.list_model_package_groups,
        "ModelPackageGroupSummaryList",
        "NextToken",
        MaxResults=PAGE,
    )
    packages: list[dict[str, Any]] = await ctx.api.pages(
        sagemaker.list_model_packages,
        "ModelPackageSummaryList",
        "NextToken",
        ModelPackageType="Unversioned",
        MaxResults=PAGE,
    )
    found.present(bool(groups or packages))  # the census's question: groups, unversioned ones

    async def versions(group: str) -> None:
        packages.extend(
            await ctx.api.pages(
                sagemaker.list_model_packages,
                "ModelPackageSummaryList",
                "NextToken",
                ModelPackageGroupName=group,
                MaxResults=PAGE,
            )
        )

    async with anyio.create_task_group() as tg:
        for group in groups:
            tg.start_soon(versions, group["ModelPackageGroupName"])
    live = [p for p in packages if p.get("ModelApprovalStatus") != "Rejected"]
    found.count("sagemaker model packages", len(live))
    schema = Schema("sagemaker", _IMAGES)
    shape = schema.output_shape("DescribeModelPackage")

    async def one(summary: dict[str, Any]) -> None:
        answer = await ctx.api.call(
            sagemaker.describe_model_package, ModelPackageName=summary["ModelPackageArn"]
        )
        label = _label(answer)
        for member in schema.find(shape, answer):
            digest = member.holder.get("ImageDigest")
            where = f"SageMaker model package {label} ({member.path.removesuffix('.Image')})"
            found.image(member.value, where, digest if isinstance(digest, str) else None, KIND_NAME)

    async with anyio.create_task_group() as tg:
        for summary in live:
            tg.start_soon(one, summary)
    return found.reading()


def _label(answer: dict[str, Any]) -> str:
    """`group/version` of a versioned package, else its name."""
    group, version = answer.get("ModelPackageGroupName"), answer.get("ModelPackageVersion")
    if group and version is not None:
        return f"{group}/{version}"
    return str(answer.get("ModelPackageName") or answer.get("ModelPackageArn"))


READER = Reader("sagemaker model packages", read)
