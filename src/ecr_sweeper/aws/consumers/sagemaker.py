"""SageMaker: every model's containers (`PrimaryContainer.Image`, `Containers[].Image`), read
by the model's shapes from DescribeModel (ListModels → DescribeModel). Endpoints, batch
transforms and inference components that name a model run that model's images. Training and
processing jobs are one-off; the workflows that start them (Step Functions states, Scheduler
universal targets) are read with their images by those sources.
"""

from __future__ import annotations

import anyio

from ecr_sweeper.aws.consumers.kind import IamAction, Kind, ReadContext, Reader, Reading, Switch
from ecr_sweeper.aws.consumers.shapes import Schema

PAGE = 100
NAME = "sagemaker"
_IMAGES = {("ContainerDefinition", "Image"): "image"}


async def present(ctx: ReadContext) -> bool:
    """Any model in the region (none where SageMaker is not offered)."""
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return False
    return bool((await ctx.api.call(sagemaker.list_models, MaxResults=1)).get("Models"))


async def read(ctx: ReadContext) -> Reading:
    """Every model's container images."""
    found = ctx.findings()
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return found.reading()
    models = await ctx.api.pages(sagemaker.list_models, "Models", "NextToken", MaxResults=PAGE)
    found.count("sagemaker models", len(models))
    schema = Schema("sagemaker", _IMAGES)
    shape = schema.output_shape("DescribeModel")

    async def one(name: str) -> None:
        answer = await ctx.api.call(sagemaker.describe_model, ModelName=name)
        for member in schema.find(shape, answer):
            where = f"SageMaker model {name} ({member.path.removesuffix('.Image')})"
            found.image(member.value, where, None, NAME)

    async with anyio.create_task_group() as tg:
        for model in models:
            tg.start_soon(one, model["ModelName"])
    return found.reading()


_PURPOSE = "models' containers (`--no-sagemaker`)"
KIND = Kind(
    name=NAME,
    title="sagemaker",
    present=present,
    readers=(Reader("sagemaker", read),),
    switch=Switch("Read SageMaker models' containers (default on)."),
    iam=(
        IamAction("sagemaker:ListModels", "ReadOtherConsumers", _PURPOSE),
        IamAction("sagemaker:DescribeModel", "ReadOtherConsumers", _PURPOSE),
    ),
    principals=("sagemaker.amazonaws.com",),
    emulated="moto: models; tests/awsim: the first list call only (none)",
)
