"""Consumers this tool has no reader for: it only counts them (the census), so that the planner
holds what they could pull (plan.py, invariant 10) instead of deleting it unseen.

- Lightsail container services (`lightsail:GetContainerServices`): kind "lightsail";
- Elastic Beanstalk Docker environments (`elasticbeanstalk:DescribeEnvironments`, the live
  ones whose platform runs Docker or ECS): kind "elasticbeanstalk".

A service AWS does not offer in the region (Lightsail is in few regions, none in China) has no
consumers there (endpoints.py). Any other failure leaves presence unknown, which counts as
present (context.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ecr_sweeper.aws.usage.context import UsageContext
from ecr_sweeper.model import Sources

NO_READER = "no reader in this tool"
# Words of a Beanstalk platform (solution stack name or platform ARN) that run containers.
DOCKER_PLATFORMS = ("docker", "ecs running on")


async def _present_unless_absent(
    ctx: UsageContext, service: str, ask: Callable[[Any], Awaitable[bool]]
) -> bool:
    """`ask(client)`, except that a service AWS does not offer here has nothing here
    (endpoints.py)."""
    client = await ctx.client_if_offered(service)
    return False if client is None else await ask(client)


class _CensusOnly:
    """A consumer kind the run cannot read: never enabled; `present` is its census."""

    name = ""
    kind = ""
    census_only = True  # context.py: a real reader of the same kind supersedes this one

    def enabled(self, sources: Sources) -> bool:  # noqa: ARG002 - no reader, never read
        return False

    async def collect(self, ctx: UsageContext) -> None:
        """Never called (not enabled): there is nothing this tool can read here."""


class LightsailContainers(_CensusOnly):
    """Lightsail container services (they may deploy private ECR images)."""

    name = "lightsail container services"
    kind = "lightsail"

    async def present(self, ctx: UsageContext) -> bool:
        async def ask(lightsail: Any) -> bool:
            answer = await ctx.api.call(lightsail.get_container_services)
            return bool(answer.get("containerServices"))

        return await _present_unless_absent(ctx, "lightsail", ask)


class BeanstalkDocker(_CensusOnly):
    """Elastic Beanstalk environments on a Docker (or ECS) platform."""

    name = "elastic beanstalk docker environments"
    kind = "elasticbeanstalk"

    async def present(self, ctx: UsageContext) -> bool:
        async def ask(elasticbeanstalk: Any) -> bool:
            token: str | None = None
            seen: set[str] = set()
            while True:  # pages, each checked as it comes (the first Docker one answers)
                answer = await ctx.api.call(
                    elasticbeanstalk.describe_environments,
                    IncludeDeleted=False,
                    MaxRecords=1000,
                    **({"NextToken": token} if token else {}),
                )
                if any(runs_containers(e) for e in answer.get("Environments", [])):
                    return True
                token = answer.get("NextToken")
                if not token:
                    return False
                if token in seen:  # a listing that goes round in circles is not a listing
                    raise RuntimeError("DescribeEnvironments: the same page token came back")
                seen.add(token)

        return await _present_unless_absent(ctx, "elasticbeanstalk", ask)


def runs_containers(environment: dict[str, Any]) -> bool:
    """A live Beanstalk environment whose platform runs containers (or cannot be told)."""
    if environment.get("Status") == "Terminated":
        return False
    platform = f"{environment.get('SolutionStackName', '')} {environment.get('PlatformArn', '')}"
    if not platform.strip():
        return True  # no platform named: it may run Docker
    return any(word in platform.lower() for word in DOCKER_PLATFORMS)
