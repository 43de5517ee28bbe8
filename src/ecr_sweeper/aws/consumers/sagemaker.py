"""SageMaker: every model's containers (`PrimaryContainer.Image`, `Containers[].Image`), read
by the model's shapes from DescribeModel (ListModels → DescribeModel). Endpoints, batch
transforms and inference components that name a model run that model's images; an endpoint
keeps running after its model is deleted, so endpoints are read too (sagemaker_endpoints.py),
with their inference components (sagemaker_inference_components.py), and so are the model
registry's packages (sagemaker_packages.py), the pipelines that train, process and register
(sagemaker_pipelines.py), the jobs running now (sagemaker_jobs.py), the monitoring schedules
(sagemaker_monitoring.py), the account's algorithms (sagemaker_algorithms.py) and Studio's
custom images (sagemaker_images.py). The workflows that start new jobs (Step Functions states,
Scheduler universal targets, pipelines) are read with their images by those sources.
"""

from __future__ import annotations

import anyio

from ecr_sweeper.aws.consumers import (
    sagemaker_algorithms,
    sagemaker_endpoints,
    sagemaker_images,
    sagemaker_inference_components,
    sagemaker_jobs,
    sagemaker_monitoring,
    sagemaker_packages,
    sagemaker_pipelines,
)
from ecr_sweeper.aws.consumers.kind import IamAction, Kind, ReadContext, Reader, Reading, Switch
from ecr_sweeper.aws.consumers.shapes import Schema

PAGE = 100
NAME = "sagemaker"
_IMAGES = {("ContainerDefinition", "Image"): "image"}


# What the census asks for after the first five: one item of each, in this order.
CENSUS = (
    sagemaker_inference_components.LISTING,
    *(listing for _, listing in sagemaker_jobs.listings()),
    sagemaker_monitoring.LISTING,
    sagemaker_algorithms.LISTING,
    sagemaker_images.LISTING,
)


async def present(ctx: ReadContext) -> bool:
    """Any model, endpoint, model package (group), pipeline, inference component, running job,
    monitoring schedule, algorithm or Studio image in the region (none where SageMaker is not
    offered)."""
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
    for listing in CENSUS:
        if await listing.any(ctx, sagemaker):
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
_COMPONENTS = "inference components' deployed images (`--no-sagemaker`)"
_JOBS = "running training, processing, transform and tuning jobs' images (`--no-sagemaker`)"
_MONITORING = "monitoring schedules' images (`--no-sagemaker`)"
_ALGORITHMS = "algorithms' training and inference images (`--no-sagemaker`)"
_STUDIO = "Studio custom images' versions (`--no-sagemaker`)"
KIND = Kind(
    name=NAME,
    title="sagemaker",
    present=present,
    readers=(
        Reader("sagemaker", read),
        sagemaker_endpoints.READER,
        sagemaker_packages.READER,
        sagemaker_pipelines.READER,
        sagemaker_inference_components.READER,
        sagemaker_jobs.READER,
        sagemaker_monitoring.READER,
        sagemaker_algorithms.READER,
        sagemaker_images.READER,
    ),
    switch=Switch(
        "Read SageMaker models, endpoints, inference components, model packages, pipelines, "
        "running jobs, monitoring schedules, algorithms and Studio images (default on)."
    ),
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
        IamAction("sagemaker:ListInferenceComponents", "ReadOtherConsumers", _COMPONENTS),
        IamAction("sagemaker:DescribeInferenceComponent", "ReadOtherConsumers", _COMPONENTS),
        *(
            IamAction(f"sagemaker:{verb}{noun}{suffix}", "ReadOtherConsumers", _JOBS)
            for noun in sagemaker_jobs.JOBS
            for verb, suffix in (("List", "s"), ("Describe", ""))
        ),
        IamAction("sagemaker:ListMonitoringSchedules", "ReadOtherConsumers", _MONITORING),
        IamAction("sagemaker:DescribeMonitoringSchedule", "ReadOtherConsumers", _MONITORING),
        *(
            IamAction(f"sagemaker:Describe{kind}JobDefinition", "ReadOtherConsumers", _MONITORING)
            for kind in sagemaker_monitoring.TYPES
        ),
        IamAction("sagemaker:ListAlgorithms", "ReadOtherConsumers", _ALGORITHMS),
        IamAction("sagemaker:DescribeAlgorithm", "ReadOtherConsumers", _ALGORITHMS),
        IamAction("sagemaker:ListImages", "ReadOtherConsumers", _STUDIO),
        IamAction("sagemaker:ListImageVersions", "ReadOtherConsumers", _STUDIO),
        IamAction("sagemaker:DescribeImageVersion", "ReadOtherConsumers", _STUDIO),
    ),
    principals=("sagemaker.amazonaws.com",),
    emulated="moto: models, endpoints (without DeployedImages: unread), model packages, "
    "pipelines, jobs (all Completed); tests/awsim: endpoints, inference components, models, "
    "running jobs, monitoring schedules, algorithms, Studio images (ops_sagemaker.py)",
)
