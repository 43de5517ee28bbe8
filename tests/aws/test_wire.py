"""The lean JSON 1.1 caller (aws/wire.py) against botocore, the reference it replaces.

* Signatures: for the same request, `wire.sign` produces the Authorization header botocore's
  SigV4 signer computes (with and without a session token, default and explicit ports).
* Answers and errors, over HTTP on moto's server (an independent implementation): every
  operation the sweeper sends through the wire answers what the aiobotocore client answers
  for the same parameters (every member botocore parses, with equal values; timestamps as
  equal aware datetimes), and an error raises a ClientError with the same code and status.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import anyio
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from ecr_sweeper.aws.session import Connections
from ecr_sweeper.aws.wire import (
    OPERATIONS,
    WireClient,
    client_error,
    output_walk,
    parse_answer,
    sign,
)
from ecr_sweeper.model import Region
from ecr_sweeper.retry import RetryPolicy
from moto_helpers import REGISTRY, US, ecr, repository, service, target, uri

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


# --------------------------------------------------------------------------- signatures


def botocore_authorization(
    url: str, headers: dict[str, str], body: bytes, creds: Credentials, region: str, service: str
) -> str:
    request = AWSRequest(method="POST", url=url, headers=dict(headers), data=body)
    request.context["timestamp"] = NOW.strftime("%Y%m%dT%H%M%SZ")
    auth: Any = SigV4Auth(creds, service, region)  # its steps, with our fixed timestamp
    auth._modify_request_before_signing(request)
    signature = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    auth._inject_signature_to_request(request, signature)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize(
    ("url", "host", "token"),
    [
        ("https://api.ecr.eu-west-1.amazonaws.com/", "api.ecr.eu-west-1.amazonaws.com", None),
        ("https://ecs.us-east-1.amazonaws.com:443/", "ecs.us-east-1.amazonaws.com", "tok/en+=="),
        ("http://127.0.0.1:5000/", "127.0.0.1:5000", "session-token"),
        ("https://proxy.example.com/aws/ecr/", "proxy.example.com", None),
    ],
)
def test_signature_is_the_one_botocore_computes(url: str, host: str, token: str | None) -> None:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    body = b'{"repositoryName":"platform/api","maxResults":1000}'
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "Host": host,
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeImages",
    }
    expected = botocore_authorization(url, headers, body, creds, "eu-west-1", "ecr")
    ours = dict(headers)
    sign(
        ours,
        body,
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        token=token,
        region="eu-west-1",
        service="ecr",
        now=NOW,
        path=urlsplit(url).path,
    )
    assert ours["Authorization"] == expected
    assert ours["X-Amz-Date"] == "20250304T050607Z"
    assert ours.get("X-Amz-Security-Token") == token


def test_a_different_body_gets_a_different_signature() -> None:
    signatures = set()
    for body in (b"{}", b'{"a":1}'):
        headers = {"Host": "ecs.us-east-1.amazonaws.com"}
        sign(
            headers,
            body,
            access_key="AK",
            secret_key="SK",
            token=None,
            region="us-east-1",
            service="ecs",
            now=NOW,
        )
        signatures.add(headers["Authorization"])
    assert len(signatures) == 2


# --------------------------------------------------------------------------- answers, errors


def _walk_of(service: str, operation: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    return output_walk(model.operation_model(operation).output_shape)


def test_timestamps_are_parsed_where_the_shape_says_and_nowhere_else() -> None:
    """Issue 11 §2: user data (docker labels, log options) can carry any key."""
    labels = {"createdAt": "ci-pipeline", "registeredAt": "1700000000", "deregisteredAt": "x"}
    body = json.dumps(
        {
            "taskDefinition": {
                "family": "api",
                "registeredAt": 1700000000.5,
                "containerDefinitions": [
                    {
                        "name": "app",
                        "dockerLabels": labels,
                        "logConfiguration": {"logDriver": "awslogs", "options": labels},
                    }
                ],
                "unmodeledMember": {"createdAt": 1},
                "revision": None,
            },
            "tags": [{"key": "createdAt", "value": "2024-01-02T03:04:05Z"}],
        }
    ).encode()
    answer = parse_answer(body, _walk_of("ecs", "DescribeTaskDefinition"))
    definition = answer["taskDefinition"]
    assert definition["registeredAt"] == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
    assert definition["containerDefinitions"][0]["dockerLabels"] == labels
    assert definition["containerDefinitions"][0]["logConfiguration"]["options"] == labels
    assert "unmodeledMember" not in definition  # botocore keeps modeled members only
    assert "revision" not in definition  # null members are dropped
    assert answer["tags"] == [{"key": "createdAt", "value": "2024-01-02T03:04:05Z"}]
    assert parse_answer(b"", _walk_of("ecs", "DescribeTaskDefinition")) == {}


def test_string_timestamps_become_utc_datetimes() -> None:
    body = b'{"imageDetails": [{"imagePushedAt": "2024-01-02T04:04:05+01:00"}]}'
    pushed = parse_answer(body, _walk_of("ecr", "DescribeImages"))["imageDetails"][0]
    assert pushed["imagePushedAt"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert pushed["imagePushedAt"].tzinfo is UTC


@pytest.mark.parametrize("body", [b"<html>ok</html>", b"[]", b'"x"', b'{"imageDetails": 1}'])
def test_an_answer_that_is_not_the_operations_json_raises(body: bytes) -> None:
    with pytest.raises((ValueError, TypeError)):
        parse_answer(body, _walk_of("ecr", "DescribeImages"))


@pytest.mark.parametrize(
    ("status", "headers", "body", "code", "message"),
    [
        (
            400,
            {},
            b'{"__type":"com.amazonaws.ecr#RepositoryNotFoundException","message":"gone"}',
            "RepositoryNotFoundException",
            "gone",
        ),
        (
            400,
            {},
            b'{"__type":"ThrottlingException","Message":"slow"}',
            "ThrottlingException",
            "slow",
        ),
        (
            403,
            {"x-amzn-errortype": "AccessDeniedException:http://internal.amazon.com/"},
            b"{}",
            "AccessDeniedException",
            "",
        ),
        (502, {}, b"<html>Bad Gateway</html>", "502", "Bad Gateway"),
        (503, {}, b"", "503", "Service Unavailable"),
        (  # a proxy's or load balancer's own words are kept
            429,
            {},
            b"Rate exceeded, slow down",
            "429",
            "Rate exceeded, slow down",
        ),
        (
            400,
            {},
            b'{"code":"aws.protocoltests#FooError:http://x/","message":"m"}',
            "FooError",
            "m",
        ),
        (400, {}, b'{"__type":"A","code":"B"}', "A", ""),
    ],
)
def test_error_answers_raise_the_client_error_botocore_would(
    status: int, headers: dict[str, str], body: bytes, code: str, message: str
) -> None:
    error = client_error(status, {"x-amzn-requestid": "r-1", **headers}, body, "DescribeImages")
    assert error.response["Error"] == {"Code": code, "Message": message}
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error.response["ResponseMetadata"]["RequestId"] == "r-1"
    assert error.operation_name == "DescribeImages"


# --------------------------------------------------------------------------- on moto's server


def contains(wire: Any, reference: Any, path: str = "") -> list[str]:
    """Where `wire` differs from `reference` on the members `reference` has (botocore keeps
    only modeled members; the raw answer may carry more)."""
    if isinstance(reference, dict):
        if not isinstance(wire, dict):
            return [f"{path}: {wire!r} is not a structure"]
        return [
            line
            for key, value in reference.items()
            if key != "ResponseMetadata"
            for line in (
                contains(wire[key], value, f"{path}.{key}")
                if key in wire
                else [f"{path}.{key}: missing"]
            )
        ]
    if isinstance(reference, list):
        if not isinstance(wire, list) or len(wire) != len(reference):
            return [f"{path}: {wire!r} != {reference!r}"]
        return [line for w, r in zip(wire, reference, strict=True) for line in contains(w, r, path)]
    return [] if wire == reference else [f"{path}: {wire!r} != {reference!r}"]


Call = Callable[[Any], Awaitable[dict[str, Any]]]


def both(service_name: str, calls: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, Any]]:
    """Each operation with its parameters, through the wire and through aiobotocore."""

    async def run(wire: bool) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        async with Connections(retry=RetryPolicy(attempts=1), wire=wire) as connections:
            client = await connections.client(target(REGISTRY, US), Region(US), service_name)
            assert isinstance(client, WireClient) == wire
            for operation, params in calls.items():
                try:
                    answers[operation] = await getattr(client, operation)(**params)
                except ClientError as exc:
                    answers[operation] = exc
        return answers

    lean, reference = anyio.run(run, True), anyio.run(run, False)
    return {op: (lean[op], reference[op]) for op in calls}


@pytest.mark.usefixtures("aws")
def test_ecr_answers_match_botocore_on_moto() -> None:
    tags = repository(REGISTRY, US, "platform/api", "v1", "v2")
    ecr(REGISTRY, US).set_repository_policy(
        repositoryName="platform/api",
        policyText=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                        "Action": ["ecr:BatchGetImage"],
                    }
                ],
            }
        ),
    )
    arn = ecr(REGISTRY, US).describe_repositories()["repositories"][0]["repositoryArn"]
    image_ids = [{"imageDigest": d} for d in tags.values()]
    calls: dict[str, dict[str, Any]] = {
        "describe_repositories": {},
        "describe_images": {"repositoryName": "platform/api", "maxResults": 1000},
        "batch_get_image": {"repositoryName": "platform/api", "imageIds": image_ids},
        "get_repository_policy": {"repositoryName": "platform/api"},
        "list_tags_for_resource": {"resourceArn": arn},
    }
    assert set(calls) <= OPERATIONS["ecr"]
    for operation, (lean, reference) in both("ecr", calls).items():
        assert not isinstance(reference, Exception), (operation, reference)
        assert contains(lean, reference) == [], operation
    assert isinstance(
        both("ecr", calls)["describe_images"][0]["imageDetails"][0]["imagePushedAt"], datetime
    )


@pytest.mark.usefixtures("aws")
def test_ecs_answers_match_botocore_on_moto() -> None:
    tags = repository(REGISTRY, US, "web", "v1")
    arn = service(REGISTRY, US, "web", {"app": f"{uri(REGISTRY, US, 'web')}:v1"})
    assert tags
    calls: dict[str, dict[str, Any]] = {
        "list_clusters": {},
        "list_services": {"cluster": "apps"},
        "describe_services": {"cluster": "apps", "services": ["web"]},
        "list_tasks": {"cluster": "apps"},
        "list_task_definitions": {"familyPrefix": "apps-web", "sort": "DESC"},
        "describe_task_definition": {"taskDefinition": arn},
    }
    assert set(calls) <= OPERATIONS["ecs"]
    answers = both("ecs", calls)
    for operation, (lean, reference) in answers.items():
        assert not isinstance(reference, Exception), (operation, reference)
        assert contains(lean, reference) == [], operation
    deployments = answers["describe_services"][0]["services"][0]["deployments"]
    assert deployments
    assert isinstance(deployments[0]["createdAt"], datetime)


@pytest.mark.usefixtures("aws")
def test_errors_match_botocore_on_moto() -> None:
    calls: dict[str, dict[str, Any]] = {
        "describe_images": {"repositoryName": "no-such-repository"},
        "get_repository_policy": {"repositoryName": "no-such-repository"},
    }
    for operation, (lean, reference) in both("ecr", calls).items():
        assert isinstance(lean, ClientError), operation
        assert isinstance(reference, ClientError), operation
        assert lean.response["Error"]["Code"] == reference.response["Error"]["Code"], operation
        status = lean.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status == reference.response["ResponseMetadata"]["HTTPStatusCode"], operation
