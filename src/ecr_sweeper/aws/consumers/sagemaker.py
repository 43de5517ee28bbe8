"""SageMaker: every model's containers (`PrimaryContainer.Image`, `Containers[].Image`), read
by the model's shapes from DescribeModel (ListModels → DescribeModel). Endpoints, batch
transforms and inference components that name a model run that model's images; an endpoint
keeps running after its model is deleted, so endpoints are read too (sagemaker_endpoints.py),
and so are the model registry's packages (sagemaker_packages.py) and the pipelines that train,
process and register (sagemaker_pipelines.py). Training and processing jobs are one-off; the
workflows that start them (Step Functions states, Scheduler universal targets, pipelines) are
read with their images by those sources.
"""

from __future__ import annotations

import anyio

from ecr_sweeper.aws.consumers import sagemaker_endpoints, sagemaker_packages, sagemaker_pipelines
from ecr_sweeper.aws.consumers.kind import IamAction, Kind, ReadContext, Reader, Reading, Switch
from ecr_sweeper.aws.consumers.shapes import Schema

PAGE = 100
NAME = "sagemaker"
_IMAGES = {("ContainerDefinition", "Image"): "image"}


async def present(ctx: ReadContext) -> bool:
    """Any model, endpoint, model package (group) or pipeline in the region (none where
    SageMaker is not offered)."""
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return False
    for list_call, key in (
        (sagemaker.list_models, "Models"),
        (sagemaker.list_endpoints, "Endpoints"),
        (sagemaker.list_model_package_groups, "ModelPackageGroupSummaryList"),
        (sagemaker.list_model_packages, "ModelPackageSummaryList"),  # the unversioned ones
        (sagemaker.list_pipelines, "PipelineSummaries"),
    ):
        if (await ctx.api.call(list_call, MaxResults=1)).get(key):
            return True
    return False


async def read(ctx: ReadContext) -> Reading:
    """Every model's container images."""
    found = ctx.findings()
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return found.reading()
    models = await ctx.api.pages(sagemaker.list_models, "Models", "NextToken", MaxResults=PAGE)
    found.present(bool(models))
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
_ENDPOINTS = "endpoints' deployed images (`--no-sagemaker`)"
_PACKAGES = "model packages' inference containers (`--no-sagemaker`)"
_PIPELINES = "pipelines' step images (`--no-sagemaker`)"
KIND = Kind(
    name=NAME,
    title="sagemaker",
    present=present,
    readers=(
        Reader("sagemaker", read),
        sagemaker_endpoints.READER,
        sagemaker_packages.READER,
        sagemaker_pipelines.READER,
    ),
    switch=Switch("Read SageMaker models, endpoints, model packages and pipelines (default on)."),
    iam=(
        IamAction("sagemaker:ListModels", "ReadOtherConsumers", _PURPOSE),
        IamAction("sagemaker:DescribeModel", "ReadOtherConsumers", _PURPOSE),
        IamAction("sagemaker:ListEndpoints", "ReadOtherConsumers", _ENDPOINTS),
        IamAction("sagemaker:DescribeEndpoint", "ReadOtherConsumers", _ENDPOINTS),
        IamAction("sagemaker:ListModelPackageGroups", "ReadOtherConsumers", _PACKAGES),
        IamAction("sagemaker:ListModelPackages", "ReadOtherConsumers", _PACKAGES),
        IamAction("sagemaker:DescribeModelPackage", "ReadOtherConsumers", _PACKAGES),
        IamAction("sagemaker:ListPipelines", "ReadOtherConsumers", _PIPELINES),
        IamAction("sagemaker:DescribePipeline", "ReadOtherConsumers", _PIPELINES),
    ),
    principals=("sagemaker.amazonaws.com",),
    emulated="moto: models, endpoints (without DeployedImages: unread), model packages, "
    "pipelines; tests/awsim: the first list calls only (none)",
)
