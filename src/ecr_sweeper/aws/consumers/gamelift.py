"""Amazon GameLift containers: the images of every version of every container group definition
(a fleet runs the version it was created or updated with, and can be updated to any other):
ListContainerGroupDefinitions → ListContainerGroupDefinitionVersions, whose answers carry the
whole definitions: `GameServerContainerDefinition` and `SupportContainerDefinitions[]`, each
`ImageUri` with the `ResolvedImageDigest` GameLift took when the version was made (a fleet
pulls that digest), read by the model's shapes. botocore's model offers Smithy RPC v2 CBOR and
JSON 1.1 for GameLift; botocore 1.43 sends JSON (its protocol priority), as does this reader."""

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

NAME = "gamelift"
PAGE = 100
_IMAGES = {
    ("GameServerContainerDefinition", "ImageUri"): "image",
    ("SupportContainerDefinition", "ImageUri"): "image",
}


async def present(ctx: ReadContext) -> bool:
    """Any container group definition in the region."""

    async def ask(gamelift: Any) -> bool:
        answer = await ctx.api.call(gamelift.list_container_group_definitions, Limit=1)
        return bool(answer.get("ContainerGroupDefinitions"))

    return await present_unless_absent(ctx, "gamelift", ask)


async def read(ctx: ReadContext) -> Reading:
    """The images of every version of every container group definition."""
    found = ctx.findings()
    if (gamelift := await ctx.client_if_offered("gamelift")) is None:
        return found.reading()
    definitions = await ctx.api.pages(
        gamelift.list_container_group_definitions,
        "ContainerGroupDefinitions",
        "NextToken",
        Limit=PAGE,
    )
    found.present(bool(definitions))
    versions: list[dict[str, Any]] = []

    async def listed(definition: dict[str, Any]) -> None:
        versions.extend(
            await ctx.api.pages(
                gamelift.list_container_group_definition_versions,
                "ContainerGroupDefinitions",
                "NextToken",
                Name=definition["Name"],
                Limit=PAGE,
            )
        )

    async with anyio.create_task_group() as tg:
        for definition in definitions:
            tg.start_soon(listed, definition)
    found.count("gamelift container group definition versions", len(versions))
    schema = Schema("gamelift", _IMAGES)
    shape = schema.shape("ContainerGroupDefinition")
    for version in versions:
        label = f"GameLift container group definition {version.get('Name')} version " + str(
            version.get("VersionNumber")
        )
        for member in schema.find(shape, version):
            digest = member.holder.get("ResolvedImageDigest")
            where = f"{label} ({member.path.removesuffix('.ImageUri')})"
            found.image(member.value, where, digest if isinstance(digest, str) else None, NAME)
    return found.reading()


_PURPOSE = "container group definitions' images (`--no-gamelift`)"
KIND = Kind(
    name=NAME,
    title="gamelift container group definitions",
    present=present,
    readers=(Reader("gamelift container groups", read),),
    switch=Switch("Read GameLift container group definitions' images (default on)."),
    iam=(
        IamAction("gamelift:ListContainerGroupDefinitions", "ReadOtherConsumers", _PURPOSE),
        IamAction("gamelift:ListContainerGroupDefinitionVersions", "ReadOtherConsumers", _PURPOSE),
    ),
    emulated="moto: no container group definitions (HTTP 500); tests/awsim: both listings "
    "(ops_gamelift.py)",
)
