"""The census calls of the consumers the emulator does not model, answered as an account with
none of them would answer (so a sweep against the emulator takes a complete census), and EC2
DescribeRegions. (EKS, with the clusters a scenario region names, is ops_eks.py; Lightsail's
container services are ops_lightsail.py; SageMaker is ops_sagemaker.py.)

- EventBridge ``ListEventBuses`` / ``ListRules`` (JSON 1.1),
  Lambda ``ListFunctions``, Scheduler ``ListSchedules`` (REST-JSON), Elastic Beanstalk
  ``DescribeEnvironments`` (query): nothing (one default event bus, as AWS has);
- the first list call of the Batch, Step Functions, CodeBuild, EMR Serverless,
  Pipes and Bedrock AgentCore (ListAgentRuntimes, REST-JSON) readers: nothing (their census,
  and a whole reading of an account with none);
- EC2 ``DescribeRegions`` (EC2 query): every region the scenario names, and the default one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .context import Ctx, Handler
from .wire import SigV4Scope, request_id

# Signing service → (method, path prefix) → operation, for the REST services answered here.
REST_ROUTES: dict[str, dict[tuple[str, str], str]] = {
    "lambda": {("GET", "/2015-03-31/functions"): "ListFunctions"},
    "scheduler": {("GET", "/schedules"): "ListSchedules"},
    "batch": {("POST", "/v1/describejobdefinitions"): "DescribeJobDefinitions"},
    "emr-serverless": {("GET", "/applications"): "ListApplications"},
    "pipes": {("GET", "/v1/pipes"): "ListPipes"},
    "bedrock-agentcore": {("POST", "/runtimes"): "ListAgentRuntimes"},
}
# Query-protocol services answered here (the others are STS).
QUERY_SERVICES = frozenset({"ec2", "elasticbeanstalk"})
TARGET_PREFIXES = {
    "AWSEvents": "events",
    "Lightsail_20161128": "lightsail",
    "AWSStepFunctions": "states",
    "CodeBuild_20161006": "codebuild",
    "SageMaker": "sagemaker",
    "GameLift": "gamelift",  # ops_gamelift.py
}


@dataclass(frozen=True, slots=True)
class RawXml:
    """A whole XML answer (EC2's has no <Result> wrapper)."""

    text: str


def rest_operation(method: str, path: str, scope: SigV4Scope | None) -> tuple[str, str] | None:
    """(service, operation) of a REST request this module answers, else None."""
    if scope is None:
        return None
    for (verb, prefix), op in REST_ROUTES.get(scope.service, {}).items():
        if method == verb and path.rstrip("/") == prefix:
            return scope.service, op
    return None


def query_service(scope: SigV4Scope | None) -> str | None:
    """The query-protocol service of a form request this module answers, else None."""
    return scope.service if scope is not None and scope.service in QUERY_SERVICES else None


def nothing(key: str) -> Handler:
    def handler(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG001
        return {key: []}

    return handler


def list_event_buses(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG001
    arn = f"arn:aws:events:{ctx.region}:{ctx.account}:event-bus/default"
    return {"EventBuses": [{"Name": "default", "Arn": arn}]}


def describe_environments(ctx: Ctx, req: dict[str, Any]) -> str:  # noqa: ARG001
    return "    <Environments/>\n"


def describe_regions(ctx: Ctx, req: dict[str, Any]) -> RawXml:  # noqa: ARG001
    names = {ctx.region} | {
        region.name for account in ctx.state.scenario.accounts for region in account.regions
    }
    items = "".join(
        f"<item><regionName>{name}</regionName>"
        f"<regionEndpoint>ec2.{name}.amazonaws.com</regionEndpoint>"
        "<optInStatus>opt-in-not-required</optInStatus></item>"
        for name in sorted(names)
    )
    return RawXml(
        '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<requestId>{request_id()}</requestId><regionInfo>{items}</regionInfo>"
        "</DescribeRegionsResponse>"
    )


HANDLERS: dict[str, dict[str, Handler]] = {
    "lambda": {"ListFunctions": nothing("Functions")},
    "scheduler": {"ListSchedules": nothing("Schedules")},
    "events": {"ListEventBuses": list_event_buses, "ListRules": nothing("Rules")},
    "elasticbeanstalk": {"DescribeEnvironments": describe_environments},
    "ec2": {"DescribeRegions": describe_regions},
    "batch": {"DescribeJobDefinitions": nothing("jobDefinitions")},
    "states": {"ListStateMachines": nothing("stateMachines")},
    "codebuild": {"ListProjects": nothing("projects")},
    "emr-serverless": {"ListApplications": nothing("applications")},
    "pipes": {"ListPipes": nothing("Pipes")},
    "bedrock-agentcore": {"ListAgentRuntimes": nothing("agentRuntimes")},
}
