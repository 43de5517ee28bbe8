"""AWS IoT Greengrass v2 components: the Docker images every version of every private
component declares as artifacts (`docker:` URIs in its recipe's `Manifests[].Artifacts[].URI`,
which the Docker application manager pulls on the core devices a deployment targets).
ListComponents(scope=PRIVATE) → ListComponentVersions → GetComponent(recipeOutputFormat=JSON):
the recipe is the component's document, read by the recipe format's keys (any letter case, as
Greengrass accepts them). A recipe that is not a JSON object leaves the kind unread, naming the
component version. An image a lifecycle script pulls by itself (`docker pull` in `Run`) is not
declared and not seen: list it with --external-images."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
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

NAME = "greengrass"
SERVICE = "greengrassv2"
PAGE = 100
DOCKER = "docker:"


async def present(ctx: ReadContext) -> bool:
    """Any private component in the region."""

    async def ask(greengrassv2: Any) -> bool:
        answer = await ctx.api.call(greengrassv2.list_components, scope="PRIVATE", maxResults=1)
        return bool(answer.get("components"))

    return await present_unless_absent(ctx, SERVICE, ask)


async def read(ctx: ReadContext) -> Reading:
    """The Docker artifacts of every version of every private component."""
    found = ctx.findings()
    if (greengrassv2 := await ctx.client_if_offered(SERVICE)) is None:
        return found.reading()
    components = await ctx.api.pages(
        greengrassv2.list_components, "components", scope="PRIVATE", maxResults=PAGE
    )
    found.present(bool(components))
    versions: list[dict[str, Any]] = []

    async def listed(component: dict[str, Any]) -> None:
        versions.extend(
            await ctx.api.pages(
                greengrassv2.list_component_versions,
                "componentVersions",
                arn=component["arn"],
                maxResults=PAGE,
            )
        )

    async with anyio.create_task_group() as tg:
        for component in components:
            tg.start_soon(listed, component)
    found.count("greengrass component versions", len(versions))

    async def one(version: dict[str, Any]) -> None:
        answer = await ctx.api.call(
            greengrassv2.get_component, arn=version["arn"], recipeOutputFormat="JSON"
        )
        label = (
            f"Greengrass component {version.get('componentName')} {version.get('componentVersion')}"
        )
        recipe = _document(answer.get("recipe"))
        if recipe is None:
            found.unread(f"{label}: its recipe is not a JSON object")
            return
        for image, path in docker_artifacts(recipe):
            found.image(image, f"{label} ({path})", None, NAME)

    async with anyio.create_task_group() as tg:
        for version in versions:
            tg.start_soon(one, version)
    return found.reading()


def _document(recipe: object) -> Mapping[str, Any] | None:
    try:
        text = recipe.decode() if isinstance(recipe, bytes) else recipe
        document = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return document if isinstance(document, Mapping) else None


def _member(holder: Mapping[str, Any], name: str) -> Any:
    """The member `name` of a recipe object, in any letter case."""
    return next((v for k, v in holder.items() if str(k).lower() == name), None)


def docker_artifacts(recipe: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(image, where) of every `docker:` artifact of a recipe's manifests."""
    manifests = _member(recipe, "manifests")
    for m, manifest in enumerate(manifests if isinstance(manifests, list) else ()):
        artifacts = _member(manifest, "artifacts") if isinstance(manifest, Mapping) else None
        for a, artifact in enumerate(artifacts if isinstance(artifacts, list) else ()):
            uri = _member(artifact, "uri") if isinstance(artifact, Mapping) else None
            if isinstance(uri, str) and uri.lower().startswith(DOCKER):
                yield uri[len(DOCKER) :], f"Manifests[{m}].Artifacts[{a}].URI"


_PURPOSE = "private components' Docker artifacts (`--no-greengrass`)"
KIND = Kind(
    name=NAME,
    title="greengrass components",
    present=present,
    readers=(Reader("greengrass components", read),),
    switch=Switch("Read IoT Greengrass v2 components' Docker artifacts (default on)."),
    iam=(
        IamAction("greengrass:ListComponents", "ReadOtherConsumers", _PURPOSE),
        IamAction("greengrass:ListComponentVersions", "ReadOtherConsumers", _PURPOSE),
        IamAction("greengrass:GetComponent", "ReadOtherConsumers", _PURPOSE),
    ),
    emulated="moto: no Greengrass v2; tests/awsim: ListComponents, ListComponentVersions, "
    "GetComponent (ops_kinds.py)",
)
