"""SageMaker jobs that are running: training, processing, batch transform and hyperparameter
tuning jobs InProgress or Stopping (a job pulls its image as it starts, and a managed warm
pool, a spot interruption or a tuning job's next trial pulls it again while it runs). Each is
listed by its status and described, and read by the model's shapes: a training job's
`AlgorithmSpecification.TrainingImage`, a processing job's `AppSpecification.ImageUri`, a
tuning job's training definitions' `AlgorithmSpecification.TrainingImage`, and the containers
of the model a transform job runs (a model deleted since leaves the kind unread, naming
both). Jobs that ended pull nothing more; what starts new ones (pipelines, Step Functions,
schedules) is read by those sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecr_sweeper.aws.consumers.kind import ReadContext, Reader, Reading
from ecr_sweeper.aws.consumers.sagemaker_reads import (
    KIND_NAME,
    Listing,
    Pick,
    describe,
    each,
    model_images,
)
from ecr_sweeper.aws.consumers.shapes import Schema

RUNNING = ("InProgress", "Stopping")


@dataclass(frozen=True, slots=True)
class Job:
    """A kind of job: how reasons name it, and its list and describe calls."""

    label: str
    list: Pick
    describe: Pick


# The job's noun in SageMaker's calls (List{noun}s, {noun}Summaries, Describe{noun},
# {noun}Name) → the job.
JOBS = {
    "TrainingJob": Job(
        "training job",
        lambda sagemaker: sagemaker.list_training_jobs,
        lambda sagemaker: sagemaker.describe_training_job,
    ),
    "ProcessingJob": Job(
        "processing job",
        lambda sagemaker: sagemaker.list_processing_jobs,
        lambda sagemaker: sagemaker.describe_processing_job,
    ),
    "TransformJob": Job(
        "transform job",
        lambda sagemaker: sagemaker.list_transform_jobs,
        lambda sagemaker: sagemaker.describe_transform_job,
    ),
    "HyperParameterTuningJob": Job(
        "tuning job",
        lambda sagemaker: sagemaker.list_hyper_parameter_tuning_jobs,
        lambda sagemaker: sagemaker.describe_hyper_parameter_tuning_job,
    ),
}
_IMAGES = {
    ("AlgorithmSpecification", "TrainingImage"): "image",
    ("AppSpecification", "ImageUri"): "image",
    ("HyperParameterAlgorithmSpecification", "TrainingImage"): "image",
}


def listings() -> list[tuple[str, Listing]]:
    """(job noun, the listing of its jobs in one running status), for every job and status."""
    return [
        (noun, Listing(job.list, f"{noun}Summaries", {"StatusEquals": status}))
        for noun, job in JOBS.items()
        for status in RUNNING
    ]


async def read(ctx: ReadContext) -> Reading:
    """The images of every running job (see the module)."""
    found = ctx.findings()
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return found.reading()
    jobs: list[tuple[str, str]] = []

    async def listed(noun_listing: tuple[str, Listing]) -> None:
        noun, listing = noun_listing
        jobs.extend((noun, job[f"{noun}Name"]) for job in await listing.items(ctx, sagemaker))

    await each(listings(), listed)
    found.present(bool(jobs))
    found.count("sagemaker jobs running", len(jobs))
    schema = Schema("sagemaker", _IMAGES)

    async def one(job: tuple[str, str]) -> None:
        noun, name = job
        request: dict[str, Any] = {f"{noun}Name": name}
        call = JOBS[noun].describe(sagemaker)
        answer, members = await describe(ctx, call, f"Describe{noun}", schema, **request)
        label = f"SageMaker {JOBS[noun].label} {name}"
        for member in members:
            path = member.path.rsplit(".", 1)[0]
            found.image(member.value, f"{label} ({path})", None, KIND_NAME)
        if isinstance(model := answer.get("ModelName"), str):  # a transform job
            await model_images(ctx, sagemaker, found, model, label)

    await each(jobs, one)
    return found.reading()


READER = Reader("sagemaker jobs", read)
