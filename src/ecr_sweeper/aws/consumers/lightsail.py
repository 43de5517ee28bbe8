"""Lightsail container services: the images of every service's current deployment and of the
deployment in flight (`currentDeployment` / `nextDeployment`: `containers{}.image`), read by the
model's shapes from GetContainerServices (one call answers every service of the region). A
private ECR image is pulled through the service's `privateRegistryAccess` role; an image in
Lightsail's own registry (`:service.label.N`) is not in ECR and is skipped, as are public ones
(counted outside ECR). Lightsail is in few regions (none in China): where AWS does not offer
it, it has no consumers (endpoints.py)."""

from __future__ import annotations

from typing import Any

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

NAME = "lightsail"
_IMAGES = {("Container", "image"): "image"}


async def present(ctx: ReadContext) -> bool:
    """Any container service in the region."""

    async def ask(lightsail: Any) -> bool:
        answer = await ctx.api.call(lightsail.get_container_services)
        return bool(answer.get("containerServices"))

    return await present_unless_absent(ctx, "lightsail", ask)


async def read(ctx: ReadContext) -> Reading:
    """Every container service's current and next deployment's images."""
    found = ctx.findings()
    if (lightsail := await ctx.client_if_offered("lightsail")) is None:
        return found.reading()
    answer = await ctx.api.call(lightsail.get_container_services)
    services = answer.get("containerServices") or []
    found.present(bool(services))
    found.count("lightsail container services", len(services))
    schema = Schema("lightsail", _IMAGES)
    shape = schema.shape("ContainerService")
    for service in services:
        for member in schema.find(shape, service):
            if member.value.startswith(":"):
                continue  # Lightsail's own registry, not ECR
            path = member.path.removesuffix(".image")
            where = f"Lightsail container service {service.get('containerServiceName')} ({path})"
            found.image(member.value, where, None, NAME)
    return found.reading()


_PURPOSE = "container services' images (`--no-lightsail`)"
KIND = Kind(
    name=NAME,
    title="lightsail container services",
    present=present,
    readers=(Reader("lightsail container services", read),),
    switch=Switch("Read Lightsail container services' images (default on)."),
    iam=(IamAction("lightsail:GetContainerServices", "ReadOtherConsumers", _PURPOSE),),
    principals=("lightsail.amazonaws.com",),
    emulated="moto: no Lightsail; tests/awsim: GetContainerServices with containers "
    "(ops_lightsail.py)",
)
