"""lean.py, and wire.py for the AWS JSON services: every non-ECS/ECR operation a sweep sends,
without botocore's per-call machinery, answers what botocore answers (on moto's server, in
each AWS protocol), errors as botocore does, and refuses a success answer that is not the
operation's."""

from __future__ import annotations

import json
from typing import Any

import anyio
import botocore.session
import pytest
from aiobotocore.credentials import AioCredentials
from botocore.exceptions import ClientError

from aws.test_retries import CALLS, HTML
from aws.test_wire import contains
from conftest import use_only
from ecr_sweeper.aws.answers import MalformedAnswerError
from ecr_sweeper.aws.lean import LeanOperation, lean_enough
from ecr_sweeper.aws.session import AccountClient, Connections
from ecr_sweeper.aws.wire import _Operation as WireOperation
from ecr_sweeper.model import Region
from ecr_sweeper.retry import RetryPolicy
from loopback import loopback
from moto_helpers import REGISTRY, US, client, target

ROLE = "arn:aws:iam::111111111111:role/service"


def seed() -> None:
    """Something to list in each service, so the answers have members to compare."""
    client(REGISTRY, US, "batch").register_job_definition(
        jobDefinitionName="etl",
        type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 128},
    )
    client(REGISTRY, US, "events").put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    client(REGISTRY, US, "stepfunctions").create_state_machine(
        name="flow",
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
    )
    client(REGISTRY, US, "codebuild").create_project(
        name="build",
        source={"type": "S3", "location": "bucket/source.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "busybox",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=ROLE,
    )
    client(REGISTRY, US, "sagemaker").create_model(
        ModelName="scorer",
        PrimaryContainer={"Image": "111111111111.dkr.ecr.us-east-1.amazonaws.com/scorer:1"},
        ExecutionRoleArn=ROLE,
    )


# One operation per protocol at least: rest-json (batch), json 1.1 (events, codebuild,
# sagemaker), json 1.0 (stepfunctions), ec2 (ec2), query (elasticbeanstalk).
ANSWERS: list[tuple[str, str, dict[str, Any]]] = [
    ("sagemaker", "list_models", {}),
    ("batch", "describe_job_definitions", {"status": "ACTIVE", "maxResults": 10}),
    ("events", "list_rules", {}),
    ("events", "list_targets_by_rule", {"Rule": "nightly"}),
    ("stepfunctions", "list_state_machines", {}),
    ("codebuild", "batch_get_projects", {"names": ["build"]}),
    ("ec2", "describe_regions", {"AllRegions": False}),
    ("elasticbeanstalk", "describe_environments", {"IncludeDeleted": False}),
]


async def outcome(account: Any, operation: str, params: dict[str, Any]) -> Any:
    """What a lean call of `account`'s `operation` answers, or the ClientError it raises."""
    method = getattr(account, operation)
    by_wire = account.meta.service_model.resolved_protocol == "json"
    assert isinstance(method, WireOperation if by_wire else LeanOperation)  # wire.py: AWS JSON
    try:
        return await method(**params)
    except ClientError as exc:
        return exc


def lean_call(service: str, operation: str, params: dict[str, Any]) -> Any:
    async def run() -> Any:
        async with Connections(retry=RetryPolicy(attempts=1)) as connections:
            account = await connections.client(target(REGISTRY, US), Region(US), service)
            return await outcome(account, operation, params)

    return anyio.run(run)


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(("service", "operation", "params"), ANSWERS, ids=[a[1] for a in ANSWERS])
def test_lean_answers_what_botocore_answers_on_moto(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    seed()
    reference = getattr(client(REGISTRY, US, service), operation)(**params)
    lean = lean_call(service, operation, params)
    assert not isinstance(lean, Exception), lean
    assert contains(lean, reference) == []
    if botocore.session.get_session().get_service_model(service).resolved_protocol != "json":
        assert lean["ResponseMetadata"]["HTTPStatusCode"] == 200  # as botocore's (not wire.py's)


ERRORS: list[tuple[str, str, dict[str, Any]]] = [
    ("events", "list_targets_by_rule", {"Rule": "no-such-rule"}),  # json
    ("stepfunctions", "describe_state_machine", {"stateMachineArn": f"{ROLE}:nope"}),  # json 1.0
    ("eks", "describe_cluster", {"name": "no-such-cluster"}),  # rest-json
]


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(("service", "operation", "params"), ERRORS, ids=[e[1] for e in ERRORS])
def test_lean_errors_are_botocores(service: str, operation: str, params: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as expected:
        getattr(client(REGISTRY, US, service), operation)(**params)
    lean = lean_call(service, operation, params)
    assert isinstance(lean, ClientError), lean
    for part in ("Code", "Message"):
        assert lean.response["Error"].get(part) == expected.value.response["Error"].get(part)
    status = expected.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert lean.response["ResponseMetadata"]["HTTPStatusCode"] == status


@pytest.mark.parametrize(("service", "operation", "params"), CALLS, ids=[c[0] for c in CALLS])
def test_lean_refuses_a_200_html_answer(
    monkeypatch: pytest.MonkeyPatch, service: str, operation: str, params: dict[str, Any]
) -> None:
    async def run() -> Any:
        async with Connections(retry=RetryPolicy(attempts=1)) as connections:
            shared = await connections.base_client(service, Region(US))
            account = AccountClient(shared, AioCredentials("AKIDEXAMPLE", "secret"))
            return await outcome(account, operation, params)

    with loopback() as server:
        use_only(monkeypatch, {"AWS_ENDPOINT_URL": server.url})
        server.answer = lambda _: HTML
        refused = anyio.run(run)
        assert server.requests, "nothing was sent"
        authorization = server.requests[0].headers.get("authorization", "")
    assert isinstance(refused, MalformedAnswerError), refused
    assert "Proxy login" in refused.response["Error"]["Message"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")


def test_operations_whose_input_shapes_the_request_beyond_the_body_go_through_botocore() -> None:
    session = botocore.session.get_session()

    def operation(service: str, name: str) -> Any:
        return session.get_service_model(service).operation_model(name)

    assert lean_enough(operation("batch", "DescribeJobDefinitions"))
    assert lean_enough(operation("ec2", "DescribeRegions"))
    assert not lean_enough(operation("servicediscovery", "DiscoverInstances"))  # host prefix
    assert not lean_enough(operation("s3", "GetObject"))  # streaming, endpoint rule parameters
