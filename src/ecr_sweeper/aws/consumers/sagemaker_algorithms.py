"""SageMaker algorithms (an account's own, which training jobs, tuning jobs and model packages
name by `AlgorithmName`): ListAlgorithms → DescribeAlgorithm's
`TrainingSpecification.TrainingImage` (with `TrainingImageDigest`) and
`InferenceSpecification.Containers[].Image` (with `ImageDigest`), read by the model's shapes.
"""

from __future__ import annotations

from typing import Any

from ecr_sweeper.aws.consumers.kind import ReadContext, Reader, Reading
from ecr_sweeper.aws.consumers.sagemaker_reads import (
    KIND_NAME,
    Listing,
    describe,
    digest_beside,
    each,
)
from ecr_sweeper.aws.consumers.shapes import Schema

LISTING = Listing(lambda sagemaker: sagemaker.list_algorithms, "AlgorithmSummaryList")
_IMAGES = {
    ("TrainingSpecification", "TrainingImage"): "TrainingImageDigest",
    ("ModelPackageContainerDefinition", "Image"): "ImageDigest",
}


async def read(ctx: ReadContext) -> Reading:
    """The training and inference images of every algorithm."""
    found = ctx.findings()
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return found.reading()
    algorithms = await LISTING.items(ctx, sagemaker)
    found.present(bool(algorithms))
    found.count("sagemaker algorithms", len(algorithms))
    schema = Schema("sagemaker", _IMAGES)

    async def one(summary: dict[str, Any]) -> None:
        name = summary["AlgorithmName"]
        _, members = await describe(
            ctx, sagemaker.describe_algorithm, "DescribeAlgorithm", schema, AlgorithmName=name
        )
        for member in members:
            where = f"SageMaker algorithm {name} ({member.path})"
            found.image(member.value, where, digest_beside(member, member.meaning), KIND_NAME)

    await each(algorithms, one)
    return found.reading()


READER = Reader("sagemaker algorithms", read)
