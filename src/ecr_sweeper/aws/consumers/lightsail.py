"""Lightsail container services (they may deploy private ECR images): census-only, the tool
has no reader for them (`lightsail:GetContainerServices`). Present, they hold what they could
pull (plan.py, invariant 10) until accepted or listed with --external-images. Lightsail is in
few regions (none in China): where AWS does not offer it, it has no consumers (endpoints.py)."""

from __future__ import annotations

from typing import Any

from ecr_sweeper.aws.consumers.kind import IamAction, Kind, ReadContext, present_unless_absent

NAME = "lightsail"


async def present(ctx: ReadContext) -> bool:
    """Any container service in the region."""

    async def ask(lightsail: Any) -> bool:
        answer = await ctx.api.call(lightsail.get_container_services)
        return bool(answer.get("containerServices"))

    return await present_unless_absent(ctx, "lightsail", ask)


KIND = Kind(
    name=NAME,
    title="lightsail container services",
    present=present,
    iam=(
        IamAction(
            "lightsail:GetContainerServices",
            "TakeConsumerCensus",
            "census: Lightsail container services exist (no reader: they block until accepted)",
        ),
    ),
    principals=("lightsail.amazonaws.com",),
    emulated="moto: no Lightsail; tests/awsim: GetContainerServices (none)",
)
