"""Lightsail operations (JSON 1.1, target prefix ``Lightsail_20161128``): the one read a sweep
makes, GetContainerServices (every container service of the region, or the one named).
Services are kept as the API answers them (Emulator.add_lightsail_container_service)."""

from __future__ import annotations

from typing import Any

from .context import Ctx, Handler
from .wire import AwsError


def get_container_services(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    services = ctx.state.region(ctx.account, ctx.region).lightsail
    name = req.get("serviceName")
    if name is None:
        return {"containerServices": [services[n] for n in sorted(services)]}
    if name not in services:
        raise AwsError("NotFoundException", f"The container service {name} does not exist.")
    return {"containerServices": [services[name]]}


HANDLERS: dict[str, Handler] = {"GetContainerServices": get_container_services}
