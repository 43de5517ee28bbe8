"""Bedrock AgentCore Runtime: the container image of every agent runtime version that can run.

A runtime is versioned: each update makes a new version, and an endpoint targets one version
(`liveVersion`, and `targetVersion` while it moves to another); the runtime's current version
is what its DEFAULT endpoint runs. So the versions read are the current one and every version
an endpoint is live on or moving to (ListAgentRuntimes → ListAgentRuntimeEndpoints), each read
by GetAgentRuntime(agentRuntimeVersion=…) →
`agentRuntimeArtifact.containerConfiguration.containerUri` (by the model's shapes; a code
artifact has no image). An endpoint whose summary names no version is described
(GetAgentRuntimeEndpoint); one that still names none leaves the kind unread here.
"""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.consumers.kind import (
    Findings,
    IamAction,
    Kind,
    ReadContext,
    Reader,
    Reading,
    Switch,
)
from ecr_sweeper.aws.consumers.shapes import Schema

PAGE = 100
NAME = "agentcore"
SERVICE = "bedrock-agentcore-control"
_IMAGES = {("ContainerConfiguration", "containerUri"): "image"}


async def present(ctx: ReadContext) -> bool:
    """Any agent runtime in the region (none where AgentCore is not offered)."""
    if (control := await ctx.client_if_offered("bedrock-agentcore-control")) is None:
        return False
    answer = await ctx.api.call(control.list_agent_runtimes, maxResults=1)
    return bool(answer.get("agentRuntimes"))


async def read(ctx: ReadContext) -> Reading:
    """The images of every agent runtime version that can run (see the module)."""
    found = ctx.findings()
    if (control := await ctx.client_if_offered("bedrock-agentcore-control")) is None:
        return found.reading()
    runtimes = await ctx.api.pages(control.list_agent_runtimes, "agentRuntimes", maxResults=PAGE)
    found.present(bool(runtimes))
    found.count("agentcore runtimes", len(runtimes))
    async with anyio.create_task_group() as tg:
        for runtime in runtimes:
            tg.start_soon(_read_runtime, ctx, found, runtime)
    return found.reading()


async def _read_runtime(ctx: ReadContext, found: Findings, runtime: dict[str, Any]) -> None:
    control = await ctx.client("bedrock-agentcore-control")  # offered: it listed the runtime
    runtime_id = runtime["agentRuntimeId"]
    label = runtime.get("agentRuntimeName") or runtime_id
    versions: dict[str, str] = {runtime["agentRuntimeVersion"]: "current version"}
    endpoints = await ctx.api.pages(
        control.list_agent_runtime_endpoints,
        "runtimeEndpoints",
        agentRuntimeId=runtime_id,
        maxResults=PAGE,
    )
    for summary in endpoints:
        named = _endpoint_versions(summary)
        if not named:  # a summary without versions (moto's): ask for the endpoint itself
            endpoint = await ctx.api.call(
                control.get_agent_runtime_endpoint,
                agentRuntimeId=runtime_id,
                endpointName=summary["name"],
            )
            named = _endpoint_versions(endpoint)
        if not named:
            found.unread(
                f"AgentCore runtime {label} endpoint {summary.get('name')}: no live or target "
                "version (bedrock-agentcore:GetAgentRuntimeEndpoint)"
            )
        for version, role in named.items():
            versions.setdefault(version, f"endpoint {summary.get('name')} ({role})")
    found.count("agentcore runtime versions", len(versions))
    schema = Schema(SERVICE, _IMAGES)
    shape = schema.output_shape("GetAgentRuntime")
    for version, why in sorted(versions.items()):
        answer = await ctx.api.call(
            control.get_agent_runtime, agentRuntimeId=runtime_id, agentRuntimeVersion=version
        )
        for member in schema.find(shape, answer):
            where = f"AgentCore runtime {label} version {version} ({why})"
            found.image(member.value, where, None, NAME)


def _endpoint_versions(endpoint: dict[str, Any]) -> dict[str, str]:
    """Version → why it counts, of one endpoint (its live and target versions)."""
    versions: dict[str, str] = {}
    for key, role in (("liveVersion", "live"), ("targetVersion", "target")):
        if isinstance(version := endpoint.get(key), str) and version:
            versions.setdefault(version, role)
    return versions


_PURPOSE = "agent runtimes' container images (`--no-agentcore`)"
KIND = Kind(
    name=NAME,
    title="agentcore runtimes",
    present=present,
    readers=(Reader("agentcore runtimes", read),),
    switch=Switch("Read Bedrock AgentCore runtimes' container images (default on)."),
    iam=(
        IamAction("bedrock-agentcore:ListAgentRuntimes", "ReadOtherConsumers", _PURPOSE),
        IamAction("bedrock-agentcore:ListAgentRuntimeEndpoints", "ReadOtherConsumers", _PURPOSE),
        IamAction("bedrock-agentcore:GetAgentRuntimeEndpoint", "ReadOtherConsumers", _PURPOSE),
        IamAction("bedrock-agentcore:GetAgentRuntime", "ReadOtherConsumers", _PURPOSE),
    ),
    principals=("bedrock-agentcore.amazonaws.com",),
    emulated="moto: runtimes, versions, endpoints (its endpoint summaries name no version, "
    "and GetAgentRuntime answers the current artifact for every version); tests/awsim: none",
)
