"""SageMaker Model Monitor: the image every monitoring schedule runs, stopped ones too (a
schedule can be started again). ListMonitoringSchedules → DescribeMonitoringSchedule: the
schedule's own job definition (`MonitoringJobDefinition.MonitoringAppSpecification.ImageUri`),
or the job definition it names by type (`MonitoringJobDefinitionName`, `MonitoringType`:
Describe{DataQuality,ModelQuality,ModelBias,ModelExplainability}JobDefinition's
`…AppSpecification.ImageUri`), read by the model's shapes. A schedule whose job definition
cannot be found, or of a type this reader does not know, leaves the kind unread here.
"""

from __future__ import annotations

from typing import Any

from ecr_sweeper.aws.consumers.kind import ReadContext, Reader, Reading
from ecr_sweeper.aws.consumers.sagemaker_reads import KIND_NAME, Listing, Pick, describe, each
from ecr_sweeper.aws.consumers.shapes import Schema
from ecr_sweeper.aws.limits import error_code

LISTING = Listing(
    lambda sagemaker: sagemaker.list_monitoring_schedules, "MonitoringScheduleSummaries"
)
# Monitoring type → the call that describes its job definitions.
TYPES: dict[str, Pick] = {
    "DataQuality": lambda sagemaker: sagemaker.describe_data_quality_job_definition,
    "ModelQuality": lambda sagemaker: sagemaker.describe_model_quality_job_definition,
    "ModelBias": lambda sagemaker: sagemaker.describe_model_bias_job_definition,
    "ModelExplainability": lambda sagemaker: sagemaker.describe_model_explainability_job_definition,
}
_IMAGES = {
    ("MonitoringAppSpecification", "ImageUri"): "image",
    **{(f"{kind}AppSpecification", "ImageUri"): "image" for kind in TYPES},
}


async def read(ctx: ReadContext) -> Reading:
    """The images of every monitoring schedule (see the module)."""
    found = ctx.findings()
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return found.reading()
    schedules = await LISTING.items(ctx, sagemaker)
    found.present(bool(schedules))
    found.count("sagemaker monitoring schedules", len(schedules))
    schema = Schema("sagemaker", _IMAGES)

    async def one(summary: dict[str, Any]) -> None:
        name = summary["MonitoringScheduleName"]
        label = f"SageMaker monitoring schedule {name}"
        answer, members = await describe(
            ctx,
            sagemaker.describe_monitoring_schedule,
            "DescribeMonitoringSchedule",
            schema,
            MonitoringScheduleName=name,
        )
        for member in members:
            found.image(member.value, f"{label} ({member.path})", None, KIND_NAME)
        config = answer.get("MonitoringScheduleConfig") or {}
        if (definition := config.get("MonitoringJobDefinitionName")) is None:
            if not members:
                found.unread(f"{label}: names no job definition and runs no image")
            return
        kind = config.get("MonitoringType") or answer.get("MonitoringType")
        if kind not in TYPES:
            found.unread(f"{label}: job definition {definition} of type {kind!r} is not read")
            return
        try:
            _, members = await describe(
                ctx,
                TYPES[kind](sagemaker),
                f"Describe{kind}JobDefinition",
                schema,
                JobDefinitionName=definition,
            )
        except Exception as exc:
            if error_code(exc) != "ResourceNotFound":
                raise
            found.unread(f"{label}: its job definition {definition} is not found")
            return
        for member in members:
            where = f"{label} ({kind} job definition {definition} {member.path})"
            found.image(member.value, where, None, KIND_NAME)

    await each(schedules, one)
    return found.reading()


READER = Reader("sagemaker monitoring schedules", read)
