"""AWS HealthOmics private workflows: census-only. A workflow's task images are named inside
its definition bundle (WDL, Nextflow or CWL files in a zip, or a Git repository), which the API
does not show as images: GetWorkflow's `containerRegistryMap` only maps upstream registries and
images to ECR, and a run's tasks report the image they ran (GetRunTask `imageDetails`) only
once they run. So where a private workflow exists (ListWorkflows type=PRIVATE), it holds what
it could pull (plan.py, invariant 10) until accepted (`--accept-unread omics`) or its images are
listed with --external-images. HealthOmics pulls as `omics.amazonaws.com` (the repository policy
grants it). Its API is reached through the `workflows-` host prefix: against an emulator, set
AWS_DISABLE_HOST_PREFIX_INJECTION=true (a standard AWS SDK setting)."""

from __future__ import annotations

from typing import Any

from ecr_sweeper.aws.consumers.kind import IamAction, Kind, ReadContext, present_unless_absent

NAME = "omics"


async def present(ctx: ReadContext) -> bool:
    """Any private workflow in the region."""

    async def ask(omics: Any) -> bool:
        answer = await ctx.api.call(omics.list_workflows, type="PRIVATE", maxResults=1)
        return bool(answer.get("items"))

    return await present_unless_absent(ctx, "omics", ask)


KIND = Kind(
    name=NAME,
    title="healthomics private workflows",
    present=present,
    iam=(
        IamAction(
            "omics:ListWorkflows",
            "TakeConsumerCensus",
            "census: HealthOmics private workflows exist (their images are in the workflow "
            "bundle: they block until accepted)",
        ),
    ),
    principals=("omics.amazonaws.com",),
    emulated="moto: no HealthOmics; tests/awsim: ListWorkflows (ops_kinds.py)",
)
