"""GameLift operations (JSON 1.1, target prefix ``GameLift``: botocore's model also offers
Smithy RPC v2 CBOR, but botocore 1.43 prefers JSON, `PRIORITY_ORDERED_SUPPORTED_PROTOCOLS`): the
reads a sweep makes of container group definitions, ListContainerGroupDefinitions (the latest
version of each) and ListContainerGroupDefinitionVersions (every version, newest first).
Versions are kept as the API answers them (Emulator.add_gamelift_container_group_definition)."""

from __future__ import annotations

from typing import Any

from .context import Ctx, Handler
from .wire import AwsError, page_sorted

COLLECTION = "gamelift-container-group-definitions"


def _definitions(ctx: Ctx) -> dict[str, dict[str, Any]]:
    """Definition name → {"versions": {version number: definition}}."""
    return ctx.state.region(ctx.account, ctx.region).consumers.setdefault(COLLECTION, {})


def _limit(req: dict[str, Any]) -> int:
    size = req.get("Limit", 100)
    if not isinstance(size, int) or not 1 <= size <= 100:
        raise AwsError("InvalidRequestException", "Limit must be between 1 and 100.")
    return size


def list_container_group_definitions(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    definitions = _definitions(ctx)
    kind = req.get("ContainerGroupType")
    latest = {
        name: d["versions"][max(d["versions"])]
        for name, d in definitions.items()
        if kind in (None, d["versions"][max(d["versions"])].get("ContainerGroupType"))
    }
    page, token = page_sorted(
        sorted(latest), req.get("NextToken"), _limit(req), "gamelift:ListContainerGroupDefinitions"
    )
    return {
        "ContainerGroupDefinitions": [latest[name] for name in page],
        **({"NextToken": token} if token else {}),
    }


def list_container_group_definition_versions(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    definition = _definitions(ctx).get(str(req.get("Name")))
    if definition is None:
        raise AwsError(
            "NotFoundException", f"Container group definition {req.get('Name')} not found"
        )
    versions = definition["versions"]
    keys = sorted(f"{1_000_000 - n:07d}" for n in versions)  # newest first
    page, token = page_sorted(
        keys, req.get("NextToken"), _limit(req), "gamelift:ListContainerGroupDefinitionVersions"
    )
    return {
        "ContainerGroupDefinitions": [versions[1_000_000 - int(k)] for k in page],
        **({"NextToken": token} if token else {}),
    }


HANDLERS: dict[str, Handler] = {
    "ListContainerGroupDefinitions": list_container_group_definitions,
    "ListContainerGroupDefinitionVersions": list_container_group_definition_versions,
}
