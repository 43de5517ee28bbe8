"""Elastic Beanstalk Docker environments (`elasticbeanstalk:DescribeEnvironments`, the live ones
whose platform runs Docker or ECS): census-only, the tool has no reader for them. Present, they
hold what they could pull (plan.py, invariant 10) until accepted or listed with
--external-images."""

from __future__ import annotations

from typing import Any

from ecr_sweeper.aws.consumers.kind import IamAction, Kind, ReadContext, present_unless_absent

NAME = "elasticbeanstalk"
# Words of a Beanstalk platform (solution stack name or platform ARN) that run containers.
DOCKER_PLATFORMS = ("docker", "ecs running on")


async def present(ctx: ReadContext) -> bool:
    """Any live environment on a Docker (or ECS) platform; pages are checked as they come
    (the first Docker one answers)."""

    async def ask(elasticbeanstalk: Any) -> bool:
        async for page in ctx.api.each_page(
            elasticbeanstalk.describe_environments,
            "NextToken",
            "NextToken",
            IncludeDeleted=False,
            MaxRecords=1000,
        ):
            if any(runs_containers(e) for e in page.get("Environments", [])):
                return True
        return False

    return await present_unless_absent(ctx, "elasticbeanstalk", ask)


def runs_containers(environment: dict[str, Any]) -> bool:
    """A live Beanstalk environment whose platform runs containers (or cannot be told)."""
    if environment.get("Status") == "Terminated":
        return False
    platform = f"{environment.get('SolutionStackName', '')} {environment.get('PlatformArn', '')}"
    if not platform.strip():
        return True  # no platform named: it may run Docker
    return any(word in platform.lower() for word in DOCKER_PLATFORMS)


KIND = Kind(
    name=NAME,
    title="elastic beanstalk docker environments",
    present=present,
    iam=(
        IamAction(
            "elasticbeanstalk:DescribeEnvironments",
            "TakeConsumerCensus",
            "census: Elastic Beanstalk Docker environments exist (no reader: they block until "
            "accepted)",
        ),
    ),
    principals=("elasticbeanstalk.amazonaws.com",),
    emulated="moto: environments; tests/awsim: DescribeEnvironments (none)",
)
