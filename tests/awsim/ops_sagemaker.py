"""SageMaker operations (JSON 1.1, target prefix ``SageMaker``): the reads a sweep makes of
models, endpoints, inference components, running jobs, monitoring schedules (and their job
definitions), algorithms and Studio images, from records kept as the Describe calls answer
them (Emulator.add_sagemaker). A listing answers each record's members that its summary shape
has (botocore's model), sorted by name and paged with ``NextToken``; its filters are the
request members below. Model packages and pipelines are listed as none.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, StructureShape

from .context import Ctx, Handler
from .wire import AwsError, page_sorted

JOBS = ("TrainingJob", "ProcessingJob", "TransformJob", "HyperParameterTuningJob")
MONITORING_TYPES = ("DataQuality", "ModelQuality", "ModelBias", "ModelExplainability")
# List operation → (collection, its result key, request filter → the record member it matches)
LISTS: dict[str, tuple[str, str, dict[str, str]]] = {
    "ListModels": ("Model", "Models", {}),
    "ListEndpoints": ("Endpoint", "Endpoints", {"StatusEquals": "EndpointStatus"}),
    "ListInferenceComponents": (
        "InferenceComponent",
        "InferenceComponents",
        {
            "EndpointNameEquals": "EndpointName",
            "VariantNameEquals": "VariantName",
            "StatusEquals": "InferenceComponentStatus",
        },
    ),
    **{f"List{n}s": (n, f"{n}Summaries", {"StatusEquals": f"{n}Status"}) for n in JOBS},
    "ListMonitoringSchedules": (
        "MonitoringSchedule",
        "MonitoringScheduleSummaries",
        {"StatusEquals": "MonitoringScheduleStatus", "EndpointName": "EndpointName"},
    ),
    "ListAlgorithms": ("Algorithm", "AlgorithmSummaryList", {}),
    "ListImages": ("Image", "Images", {}),
}
# Describe operation → (collection, the request member naming the record, error when missing)
DESCRIBES: dict[str, tuple[str, str, str]] = {
    "DescribeModel": ("Model", "ModelName", "ValidationException"),
    "DescribeEndpoint": ("Endpoint", "EndpointName", "ValidationException"),
    "DescribeInferenceComponent": (
        "InferenceComponent",
        "InferenceComponentName",
        "ValidationException",
    ),
    **{f"Describe{n}": (n, f"{n}Name", "ResourceNotFound") for n in JOBS},
    "DescribeMonitoringSchedule": (
        "MonitoringSchedule",
        "MonitoringScheduleName",
        "ResourceNotFound",
    ),
    **{
        f"Describe{t}JobDefinition": (f"{t}JobDefinition", "JobDefinitionName", "ResourceNotFound")
        for t in MONITORING_TYPES
    },
    "DescribeAlgorithm": ("Algorithm", "AlgorithmName", "ValidationException"),
}
# Summary members a Describe answer holds deeper: list operation → member → its path there.
LIFTED: dict[str, dict[str, tuple[str, ...]]] = {
    "ListHyperParameterTuningJobs": {
        "Strategy": ("HyperParameterTuningJobConfig", "Strategy"),
        "ResourceLimits": ("HyperParameterTuningJobConfig", "ResourceLimits"),
    }
}
NONE_LISTED = {
    "ListModelPackageGroups": "ModelPackageGroupSummaryList",
    "ListModelPackages": "ModelPackageSummaryList",
    "ListPipelines": "PipelineSummaries",
}


@cache
def _summary_members(operation: str, key: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    output = model.operation_model(operation).output_shape
    assert isinstance(output, StructureShape)
    items = output.members[key]
    assert isinstance(items, ListShape)
    assert isinstance(items.member, StructureShape)
    return frozenset(items.member.members)


def _collection(ctx: Ctx, name: str) -> dict[str, dict[str, Any]]:
    return ctx.state.region(ctx.account, ctx.region).sagemaker.setdefault(name, {})


def _page(
    req: dict[str, Any], names: list[str], operation: str
) -> tuple[list[str], dict[str, Any]]:
    size = req.get("MaxResults", 100)
    if not isinstance(size, int) or not 1 <= size <= 100:
        raise AwsError("ValidationException", "MaxResults must be between 1 and 100.")
    page, token = page_sorted(names, req.get("NextToken"), size, f"sagemaker:{operation}")
    return page, ({"NextToken": token} if token else {})


def lister(operation: str) -> Handler:
    collection, key, filters = LISTS[operation]

    def handler(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        # read from the model when first served, not on import: a sweep process that imports
        # awsim (the memory bench's child) would otherwise decode SageMaker's model ten times
        summary = _summary_members(operation, key)
        records = _collection(ctx, collection)
        names = sorted(
            name
            for name, record in records.items()
            if all(record.get(member) == req[f] for f, member in filters.items() if f in req)
        )
        page, more = _page(req, names, operation)
        items = [_summary(records[n], summary, LIFTED.get(operation, {})) for n in page]
        return {key: items, **more}

    return handler


def _summary(
    record: dict[str, Any], members: frozenset[str], lifted: dict[str, tuple[str, ...]]
) -> dict[str, Any]:
    summary = {k: v for k, v in record.items() if k in members}
    for member, path in lifted.items():
        value: Any = record
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if value is not None:
            summary[member] = value
    return summary


def describer(operation: str) -> Handler:
    collection, member, missing = DESCRIBES[operation]

    def handler(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        record = _collection(ctx, collection).get(str(req.get(member)))
        if record is None:
            raise AwsError(missing, f"Could not find {collection} {req.get(member)!r}.")
        return record

    return handler


def _versions(ctx: Ctx, image: str) -> dict[int, dict[str, Any]]:
    if image not in _collection(ctx, "Image"):
        raise AwsError("ResourceNotFound", f"Image {image!r} does not exist.")
    return ctx.state.region(ctx.account, ctx.region).sagemaker_image_versions.get(image, {})


def list_image_versions(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    versions = _versions(ctx, str(req.get("ImageName")))
    keys = sorted(f"{n:09d}" for n in versions)
    page, more = _page(req, keys, "ListImageVersions")
    summary = _summary_members("ListImageVersions", "ImageVersions")
    items = [{k: v for k, v in versions[int(n)].items() if k in summary} for n in page]
    return {"ImageVersions": items, **more}


def describe_image_version(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    versions = _versions(ctx, str(req.get("ImageName")))
    number = req.get("Version", max(versions, default=0))
    if number not in versions:
        raise AwsError("ResourceNotFound", f"Image version {number!r} does not exist.")
    return versions[number]


def _none(key: str) -> Handler:
    def handler(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG001
        return {key: []}

    return handler


HANDLERS: dict[str, Handler] = {
    **{op: lister(op) for op in LISTS},
    **{op: describer(op) for op in DESCRIBES},
    "ListImageVersions": list_image_versions,
    "DescribeImageVersion": describe_image_version,
    **{op: _none(key) for op, key in NONE_LISTED.items()},
}
