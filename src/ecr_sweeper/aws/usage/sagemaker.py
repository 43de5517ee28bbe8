"""SageMaker: every model's containers (`PrimaryContainer.Image`, `Containers[].Image`), read
by the model's shapes from DescribeModel (ListModels → DescribeModel). Endpoints, batch
transforms and inference components that name a model run that model's images. Training and
processing jobs are one-off; the workflows that start them (Step Functions states, Scheduler
universal targets) are read with their images by those sources.
"""

from __future__ import annotations

import anyio

from ecr_sweeper.aws.usage.context import UsageContext
from ecr_sweeper.aws.usage.shapes import Schema
from ecr_sweeper.model import Sources

PAGE = 100
KIND = "sagemaker"
_IMAGES = {("ContainerDefinition", "Image"): "image"}


class SageMakerModels:
    """Every model's container images."""

    name = "sagemaker"
    kind = KIND

    def enabled(self, sources: Sources) -> bool:
        return sources.sagemaker

    async def present(self, ctx: UsageContext) -> bool:
        if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
            return False
        return bool((await ctx.api.call(sagemaker.list_models, MaxResults=1)).get("Models"))

    async def collect(self, ctx: UsageContext) -> None:
        if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
            return
        models = await ctx.api.pages(sagemaker.list_models, "Models", "NextToken", MaxResults=PAGE)
        ctx.count("sagemaker models", len(models))
        schema = Schema("sagemaker", _IMAGES)
        shape = schema.output_shape("DescribeModel")

        async def one(name: str) -> None:
            answer = await ctx.api.call(sagemaker.describe_model, ModelName=name)
            for found in schema.find(shape, answer):
                where = f"SageMaker model {name} ({found.path.removesuffix('.Image')})"
                ctx.saw_image(found.value, where, None, KIND)

        async with anyio.create_task_group() as tg:
            for model in models:
                tg.start_soon(one, model["ModelName"])
