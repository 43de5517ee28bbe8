"""Step Functions: what every state machine can run, in its current definition and in every
published version (aliases route to versions, so they add nothing).

Each Task state's `Resource` names an integration: the optimized ones
(`arn:aws:states:::ecs:runTask.sync`, `batch:submitJob`, `sagemaker:createTrainingJob`,
`codebuild:startBuild`, `eks:runJob`) and the SDK ones (`arn:aws:states:::aws-sdk:ecs:runTask`).
Its `Parameters` (JSONPath) or `Arguments` (JSONata) are the API request, read by the
operation's shapes (integrations.py); an EKS job's manifest is read by the Kubernetes Job
schema. Parallel branches and Map iterators / item processors are walked like the top level.

Fail closed: a state whose image-bearing value is only known at run time (`"TaskDefinition.$":
"$.td"`, a JSONata expression, a missing `Parameters`), a state that runs in another account
(`Credentials`), or a definition that is not JSON makes that state machine's images unknown:
the source raises, naming state machine, state and field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import anyio

from ecr_sweeper.aws.consumers import integrations
from ecr_sweeper.aws.consumers.kind import (
    Findings,
    IamAction,
    Kind,
    ReadContext,
    Reader,
    Reading,
    Switch,
)
from ecr_sweeper.aws.consumers.shapes import Unresolvable, is_jsonata

PAGE = 1000
NAME = "stepfunctions"
_RESOURCE = re.compile(r"^arn:[^:]+:states:::(?:aws-sdk:)?(?P<service>[a-z0-9-]+):(?P<action>.+)$")
# The Kubernetes Job (batch/v1) fields that hold images: spec.template.spec's containers.
_CONTAINER = [{"image": integrations.IMAGE}]
_POD_SPEC = {
    "containers": _CONTAINER,
    "initContainers": _CONTAINER,
    "ephemeralContainers": _CONTAINER,
}
K8S_JOB: dict[str, Any] = {"spec": {"template": {"spec": _POD_SPEC}}}


async def present(ctx: ReadContext) -> bool:
    """Any state machine in the region (none where Step Functions is not offered)."""
    if (sfn := await ctx.client_if_offered("stepfunctions")) is None:
        return False
    return bool((await ctx.api.call(sfn.list_state_machines, maxResults=1)).get("stateMachines"))


async def read(ctx: ReadContext) -> Reading:
    """State machines and their published versions."""
    found = ctx.findings()
    if (sfn := await ctx.client_if_offered("stepfunctions")) is None:
        return found.reading()
    machines = await ctx.api.pages(sfn.list_state_machines, "stateMachines", maxResults=PAGE)
    found.present(bool(machines))
    found.count("state machines", len(machines))

    async def describe(arn: str, label: str) -> None:
        answer = await ctx.api.call(sfn.describe_state_machine, stateMachineArn=arn)
        await report_definition(ctx, found, answer.get("definition", ""), label)

    async def machine(summary: dict[str, Any]) -> None:
        arn, name = summary["stateMachineArn"], summary["name"]
        versions = await ctx.api.pages(
            sfn.list_state_machine_versions,
            "stateMachineVersions",
            stateMachineArn=arn,
            maxResults=PAGE,
        )
        found.count("state machine versions", len(versions))
        async with anyio.create_task_group() as tg:
            tg.start_soon(describe, arn, name)
            for version in versions:
                number = version["stateMachineVersionArn"].rsplit(":", 1)[-1]
                tg.start_soon(describe, version["stateMachineVersionArn"], f"{name}:{number}")

    async with anyio.create_task_group() as tg:
        for summary in machines:
            tg.start_soon(machine, summary)
    return found.reading()


async def report_definition(
    ctx: ReadContext, found: Findings, definition: str, machine: str
) -> None:
    """Every image one definition (Amazon States Language, JSON) can run."""
    label = f"Step Functions state machine {machine}"
    try:
        document = json.loads(definition)
    except ValueError as exc:
        raise RuntimeError(f"{label}: the definition is not JSON ({exc}): images unknown") from exc
    for path, state in _states(document, ""):
        try:
            await _report_state(ctx, found, state, f"{label} state {path}")
        except Unresolvable as exc:
            raise RuntimeError(f"{label} state {path}: {exc}: its images are unknown") from exc


def _states(machine: object, prefix: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Every state of a machine (or branch), nested ones as `Outer/Inner`."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    states = machine.get("States", {}) if isinstance(machine, Mapping) else {}
    for name, state in states.items() if isinstance(states, Mapping) else ():
        if not isinstance(state, Mapping):
            continue
        path = f"{prefix}{name}"
        found.append((path, state))
        for branch in state.get("Branches", []) if state.get("Type") == "Parallel" else []:
            found += _states(branch, f"{path}/")
        for key in ("Iterator", "ItemProcessor"):
            if state.get("Type") == "Map" and key in state:
                found += _states(state[key], f"{path}/")
    return found


async def _report_state(
    ctx: ReadContext, found: Findings, state: Mapping[str, Any], used_by: str
) -> None:
    if state.get("Type") != "Task" or not isinstance(state.get("Resource"), str):
        return
    match = _RESOURCE.match(state["Resource"])
    if match is None:
        return  # a Lambda function or an activity: read by their own sources, or none
    service, action = match["service"], match["action"]
    if service == "eks" and integrations.operation_of(action) == "RunJob":
        for image in _manifest_images(_request(state), {"Job": K8S_JOB}, "Parameters"):
            found.image(image, f"{used_by} (EKS job)", None, NAME)
        return
    if not integrations.runs_images(service):
        return
    request = _request(state)
    await integrations.report_request(
        ctx, found, service, action, request, used_by=used_by, kind=NAME, templated=True
    )


def _request(state: Mapping[str, Any]) -> Any:
    """The request a Task state sends: its `Arguments` or `Parameters`; without either, the
    state's input (run time)."""
    if "Credentials" in state:
        raise Unresolvable(
            "Credentials", state["Credentials"], "runs the task with another role (maybe account)"
        )
    for key in ("Arguments", "Parameters"):
        if key in state:
            return state[key]
    raise Unresolvable("Parameters", "absent: the request is the state's input")


def _manifest_images(value: Any, schema: Any, path: str) -> list[str]:
    """The images in a Kubernetes manifest, by the schema above; run-time values raise."""
    if is_jsonata(value):
        raise Unresolvable(path, value)
    if schema == integrations.IMAGE:
        return [value] if isinstance(value, str) else []
    if isinstance(schema, list) and isinstance(value, list):
        return [
            i
            for n, item in enumerate(value)
            for i in _manifest_images(item, schema[0], f"{path}[{n}]")
        ]
    images: list[str] = []
    if isinstance(schema, dict) and isinstance(value, Mapping):
        for key, item in value.items():
            base = key.removesuffix(".$")
            if base not in schema:
                continue
            if key.endswith(".$"):
                raise Unresolvable(f"{path}.{base}", item)
            images += _manifest_images(item, schema[base], f"{path}.{base}")
    return images


_PURPOSE = "state machines and their versions (`--no-stepfunctions`)"
KIND = Kind(
    name=NAME,
    title="step functions",
    present=present,
    readers=(Reader("step functions", read),),
    switch=Switch(
        "Read Step Functions state machines, every version (default on).",
        aliases=("step_functions",),
    ),
    iam=tuple(
        IamAction(f"states:{action}", "ReadOtherConsumers", _PURPOSE)
        for action in ("ListStateMachines", "DescribeStateMachine", "ListStateMachineVersions")
    ),
    principals=("states.amazonaws.com",),
    emulated="moto: state machines (ListStateMachineVersions taught, "
    "demo_consumers.extend_moto); tests/awsim: the first list call only (none)",
)
