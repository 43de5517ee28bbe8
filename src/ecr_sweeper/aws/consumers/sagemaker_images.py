"""SageMaker Studio custom images: every version of every image (a Studio app can run any of
them), ListImages → ListImageVersions → DescribeImageVersion's `BaseImage` (the image the
version was made from) and `ContainerImage` (the one SageMaker runs), read by the model's
shapes.
"""

from __future__ import annotations

from typing import Any

from ecr_sweeper.aws.consumers.kind import ReadContext, Reader, Reading
from ecr_sweeper.aws.consumers.sagemaker_reads import KIND_NAME, Listing, describe, each
from ecr_sweeper.aws.consumers.shapes import Schema

LISTING = Listing(lambda sagemaker: sagemaker.list_images, "Images")
VERSIONS = Listing(lambda sagemaker: sagemaker.list_image_versions, "ImageVersions")
_IMAGES = {
    ("DescribeImageVersionResponse", "BaseImage"): "image",
    ("DescribeImageVersionResponse", "ContainerImage"): "image",
}


async def read(ctx: ReadContext) -> Reading:
    """The images of every version of every Studio image."""
    found = ctx.findings()
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return found.reading()
    images = await LISTING.items(ctx, sagemaker)
    found.present(bool(images))
    versions: list[tuple[str, int]] = []

    async def listed(image: dict[str, Any]) -> None:
        name = image["ImageName"]
        listed_versions = await VERSIONS.items(ctx, sagemaker, ImageName=name)
        versions.extend((name, int(version["Version"])) for version in listed_versions)

    await each(images, listed)
    found.count("sagemaker studio image versions", len(versions))
    schema = Schema("sagemaker", _IMAGES)

    async def one(image_version: tuple[str, int]) -> None:
        name, version = image_version
        _, members = await describe(
            ctx,
            sagemaker.describe_image_version,
            "DescribeImageVersion",
            schema,
            ImageName=name,
            Version=version,
        )
        for member in members:
            where = f"SageMaker Studio image {name} version {version} ({member.path})"
            found.image(member.value, where, None, KIND_NAME)

    await each(versions, one)
    return found.reading()


READER = Reader("sagemaker studio images", read)
