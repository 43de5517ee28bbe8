"""Amazon Braket hybrid jobs: the container image of every job that is queued, running or being
cancelled (SearchJobs, every job, its summary's `status`; then GetJob's
`algorithmSpecification.containerImage.uri`, read by the model's shapes). A job in script mode
runs Braket's own image; a job that ended pulls nothing more. Braket is in few regions: where
AWS does not offer it, it has no consumers (endpoints.py)."""

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

NAME = "braket"
PAGE = 100
RUNNING = frozenset({"QUEUED", "RUNNING", "CANCELLING"})
_IMAGES = {("ContainerImage", "uri"): "image"}


async def present(ctx: ReadContext) -> bool:
    """Any hybrid job queued, running or being cancelled (pages checked as they come)."""

    async def ask(braket: Any) -> bool:
        async for page in ctx.api.each_page(braket.search_jobs, filters=[], maxResults=PAGE):
            if any(job.get("status") in RUNNING for job in page.get("jobs", [])):
                return True
        return False

    return await present_unless_absent(ctx, "braket", ask)


async def read(ctx: ReadContext) -> Reading:
    """The container image of every hybrid job that can still run."""
    found = ctx.findings()
    if (braket := await ctx.client_if_offered("braket")) is None:
        return found.reading()
    jobs = await ctx.api.pages(braket.search_jobs, "jobs", filters=[], maxResults=PAGE)
    running = [job for job in jobs if job.get("status") in RUNNING]
    found.present(bool(running))
    found.count("braket hybrid jobs running", len(running))
    schema = Schema("braket", _IMAGES)
    shape = schema.output_shape("GetJob")

    async def one(job: dict[str, Any]) -> None:
        answer = await ctx.api.call(braket.get_job, jobArn=job["jobArn"])
        for member in schema.find(shape, answer):
            where = f"Braket hybrid job {job.get('jobName')} ({member.path.rsplit('.', 1)[0]})"
            found.image(member.value, where, None, NAME)

    async with anyio.create_task_group() as tg:
        for job in running:
            tg.start_soon(one, job)
    return found.reading()


_PURPOSE = "hybrid jobs' container images (`--no-braket`)"
KIND = Kind(
    name=NAME,
    title="braket hybrid jobs",
    present=present,
    readers=(Reader("braket hybrid jobs", read),),
    switch=Switch("Read Amazon Braket hybrid jobs' container images (default on)."),
    iam=(
        IamAction("braket:SearchJobs", "ReadOtherConsumers", _PURPOSE),
        IamAction("braket:GetJob", "ReadOtherConsumers", _PURPOSE),
    ),
    emulated="moto: no Braket; tests/awsim: SearchJobs, GetJob (ops_kinds.py)",
)
