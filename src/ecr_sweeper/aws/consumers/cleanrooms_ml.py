"""AWS Clean Rooms ML: the training and inference container images of every configured model
algorithm (ListConfiguredModelAlgorithms → GetConfiguredModelAlgorithm's
`trainingContainerConfig.imageUri` and `inferenceContainerConfig.imageUri`, read by the model's
shapes). Clean Rooms ML pulls them as `cleanrooms-ml.amazonaws.com` (the repository policy
grants it). Where AWS does not offer it, it has no consumers (endpoints.py)."""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.consumers.kind import (
    IamAction,
    Kind,
    ReadContext,
    Reader,
    Reading,
    Switch,
    present_unless_absent,
)
from ecr_sweeper.aws.consumers.shapes import Schema

NAME = "cleanrooms-ml"
SERVICE = "cleanroomsml"
PAGE = 100
_IMAGES = {
    ("ContainerConfig", "imageUri"): "image",
    ("InferenceContainerConfig", "imageUri"): "image",
}


async def present(ctx: ReadContext) -> bool:
    """Any configured model algorithm in the region."""

    async def ask(cleanroomsml: Any) -> bool:
        answer = await ctx.api.call(cleanroomsml.list_configured_model_algorithms, maxResults=1)
        return bool(answer.get("configuredModelAlgorithms"))

    return await present_unless_absent(ctx, SERVICE, ask)


async def read(ctx: ReadContext) -> Reading:
    """The images of every configured model algorithm."""
    found = ctx.findings()
    if (cleanroomsml := await ctx.client_if_offered(SERVICE)) is None:
        return found.reading()
    algorithms = await ctx.api.pages(
        cleanroomsml.list_configured_model_algorithms,
        "configuredModelAlgorithms",
        maxResults=PAGE,
    )
    found.present(bool(algorithms))
    found.count("clean rooms ml configured model algorithms", len(algorithms))
    schema = Schema(SERVICE, _IMAGES)
    shape = schema.output_shape("GetConfiguredModelAlgorithm")

    async def one(summary: dict[str, Any]) -> None:
        answer = await ctx.api.call(
            cleanroomsml.get_configured_model_algorithm,
            configuredModelAlgorithmArn=summary["configuredModelAlgorithmArn"],
        )
        for member in schema.find(shape, answer):
            container = member.path.rsplit(".", 1)[0]
            where = f"Clean Rooms ML configured model algorithm {summary.get('name')} ({container})"
            found.image(member.value, where, None, NAME)

    async with anyio.create_task_group() as tg:
        for summary in algorithms:
            tg.start_soon(one, summary)
    return found.reading()


_PURPOSE = "configured model algorithms' images (`--no-cleanrooms-ml`)"
KIND = Kind(
    name=NAME,
    title="clean rooms ml configured model algorithms",
    present=present,
    readers=(Reader("clean rooms ml algorithms", read),),
    switch=Switch("Read Clean Rooms ML configured model algorithms' images (default on)."),
    iam=(
        IamAction("cleanrooms-ml:ListConfiguredModelAlgorithms", "ReadOtherConsumers", _PURPOSE),
        IamAction("cleanrooms-ml:GetConfiguredModelAlgorithm", "ReadOtherConsumers", _PURPOSE),
    ),
    principals=("cleanrooms-ml.amazonaws.com",),
    emulated="moto: no Clean Rooms ML; tests/awsim: ListConfiguredModelAlgorithms, "
    "GetConfiguredModelAlgorithm (ops_kinds.py)",
)
