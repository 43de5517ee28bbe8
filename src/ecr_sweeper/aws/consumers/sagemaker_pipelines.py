"""SageMaker Pipelines: the images of every pipeline's steps, read from its definition
(ListPipelines → DescribePipeline's `PipelineDefinition`, a JSON document whose `Steps[]` each
have a `Type` and `Arguments`: the request of the SageMaker call the step makes). Each step's
`Arguments` is read by that call's request shape (shapes.py): Training (CreateTrainingJob:
`AlgorithmSpecification.TrainingImage`), Processing and the QualityCheck/ClarifyCheck steps
(CreateProcessingJob: `AppSpecification.ImageUri`), Tuning (CreateHyperParameterTuningJob:
`TrainingJobDefinition(s)….AlgorithmSpecification.TrainingImage`), Model (CreateModel:
`PrimaryContainer.Image`, `Containers[].Image`), RegisterModel (CreateModelPackage: the
inference containers' `Image`), Transform (CreateTransformJob: a model, no image); a Condition
step's `IfSteps`/`ElseSteps` are steps too.

A value that matters taken from a pipeline parameter (`{"Get": "Parameters.X"}`: an execution
may override its default), from another step's properties (`{"Get": "Steps.…"}`), or built at
run time (`{"Std:Join": …}`, `{"Std:JsonGet": …}`) is unknown at plan time, and so is a step
of a type this reader does not know: the kind is then unread here, naming pipeline, step and
field, and the planner holds what it could pull (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import anyio

from ecr_sweeper.aws.consumers.kind import Findings, ReadContext, Reader, Reading
from ecr_sweeper.aws.consumers.shapes import Schema, Unresolvable

PAGE = 100
KIND_NAME = "sagemaker"
_IMAGES = {
    ("AlgorithmSpecification", "TrainingImage"): "image",
    ("HyperParameterAlgorithmSpecification", "TrainingImage"): "image",
    ("AppSpecification", "ImageUri"): "image",
    ("ContainerDefinition", "Image"): "image",
    ("ModelPackageContainerDefinition", "Image"): "image",
}
# Step type → the SageMaker call whose request its `Arguments` are.
STEP_REQUESTS = {
    "Training": "CreateTrainingJob",
    "Processing": "CreateProcessingJob",
    "QualityCheck": "CreateProcessingJob",
    "ClarifyCheck": "CreateProcessingJob",
    "Tuning": "CreateHyperParameterTuningJob",
    "Model": "CreateModel",
    "RegisterModel": "CreateModelPackage",
    "Transform": "CreateTransformJob",
}
# Steps that run no container image of the account's (a Lambda function is the lambda kind's;
# AutoML runs SageMaker's own images; EMR runs on a cluster's AMI).
NO_IMAGE_STEPS = frozenset({"Condition", "Lambda", "Callback", "Fail", "EMR", "AutoML"})


def is_run_time(value: object) -> bool:
    """A pipeline expression, evaluated when the pipeline runs: `{"Get": …}` (a parameter,
    an execution variable, a step's property) or a `Std:` function (`Std:Join`…)."""
    return isinstance(value, Mapping) and any(
        key == "Get" or str(key).startswith("Std:") for key in value
    )


async def read(ctx: ReadContext) -> Reading:
    """The images of every pipeline's steps (see the module)."""
    found = ctx.findings()
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return found.reading()
    pipelines = await ctx.api.pages(
        sagemaker.list_pipelines, "PipelineSummaries", "NextToken", MaxResults=PAGE
    )
    found.present(bool(pipelines))
    found.count("sagemaker pipelines", len(pipelines))

    async def one(name: str) -> None:
        answer = await ctx.api.call(sagemaker.describe_pipeline, PipelineName=name)
        report_pipeline(found, name, answer.get("PipelineDefinition"))

    async with anyio.create_task_group() as tg:
        for pipeline in pipelines:
            tg.start_soon(one, pipeline["PipelineName"])
    return found.reading()


def report_pipeline(found: Findings, name: str, definition: object) -> None:
    """The images of one pipeline definition (JSON text); what cannot be known is unread."""
    try:
        document = json.loads(definition) if isinstance(definition, str) else None
    except ValueError:
        document = None
    if not isinstance(document, Mapping):
        found.unread(f"SageMaker pipeline {name}: its definition is not a JSON object")
        return
    schema = Schema("sagemaker", _IMAGES, requests=True)  # each step's arguments: a request
    for step, where in _steps(document.get("Steps"), ""):
        label = f"SageMaker pipeline {name} step {where}"
        step_type = step.get("Type")
        operation = STEP_REQUESTS.get(str(step_type))
        if operation is None:
            if step_type not in NO_IMAGE_STEPS:
                found.unread(f"{label}: step type {step_type!r} is not read")
            continue
        shape = schema.input_shape(operation)
        if shape is None:  # botocore always has these calls; a rename must not fail open
            found.unread(f"{label}: sagemaker:{operation} is not in botocore's model")
            continue
        try:
            members = schema.find(shape, step.get("Arguments"), dynamic=is_run_time)
        except Unresolvable as exc:
            found.unread(f"{label}: Arguments.{exc}")
            continue
        for member in members:
            found.image(member.value, f"{label} ({member.path})", None, KIND_NAME)


def _steps(steps: object, parent: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Every step of a definition's `Steps` (a Condition step's branches included), with its
    name (`Check/IfSteps/Train` inside a condition)."""
    if not isinstance(steps, list):
        return
    for step in steps:
        if not isinstance(step, Mapping):
            continue
        where = f"{parent}{step.get('Name')}"
        yield step, where
        arguments = step.get("Arguments")
        if step.get("Type") == "Condition" and isinstance(arguments, Mapping):
            for branch in ("IfSteps", "ElseSteps"):
                yield from _steps(arguments.get(branch), f"{where}/{branch}/")


READER = Reader("sagemaker pipelines", read)
