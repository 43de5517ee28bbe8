"""Retry classification and answers that are not AWS's (issue 11 §3).

* One table decides what is retried, by status and code: 429 and 5xx retry, 4xx do not unless
  the code is a throttling one (ThrottleException, the ECR user guide's word, included).
* Errors as the wire client makes them from real bodies (a proxy's bare 429, an HTML 503)
  are classified by that table, and a bare 429 over loopback HTTP is retried to success.
* Every botocore client the run makes (Lambda, EventBridge, Scheduler, Organizations, EC2,
  STS) refuses a 200 answer that is HTML: botocore alone reads it as an empty answer.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from aiobotocore.credentials import AioCredentials
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError

from conftest import use_only
from ecr_sweeper.aws.answers import MALFORMED, MalformedAnswerError
from ecr_sweeper.aws.limits import Api, is_retryable, retry_reason
from ecr_sweeper.aws.session import CLIENT_CONFIG, Connections
from ecr_sweeper.aws.wire import WireClient, client_error
from ecr_sweeper.model import AccountId, AccountTarget, Region
from ecr_sweeper.retry import RetryPolicy
from loopback import Answer, Request, loopback

US = Region("us-east-1")


@pytest.mark.parametrize(
    ("status", "code", "retried"),
    [
        (400, "ThrottlingException", True),
        (400, "ThrottleException", True),
        (400, "TooManyRequestsException", True),
        (400, "RequestLimitExceeded", True),
        (503, "SlowDown", True),
        (400, "ExpiredTokenException", True),
        (400, "ServerException", True),
        (429, "429", True),  # a bare 429, no code in the body
        (429, "SomethingElse", True),
        (500, "500", True),
        (502, "502", True),
        (503, "ServiceUnavailable", True),
        (504, "InternalError", True),
        (400, "AccessDeniedException", False),
        (403, "403", False),
        (404, "404", False),
        (400, "InvalidParameterException", False),
        (400, "RepositoryNotFoundException", False),
        (400, "LimitExceededException", False),  # a quota, not a rate
        (200, MALFORMED, False),
        (301, "301", False),
    ],
)
def test_the_retry_table(status: int, code: str, retried: bool) -> None:
    assert (retry_reason(status, code) is not None) is retried
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    assert is_retryable(ClientError(response, "Op")) is retried


@pytest.mark.parametrize(
    ("status", "body", "retried"),
    [
        (429, b"Too Many Requests", True),
        (429, b"<html><body>429 Too Many Requests</body></html>", True),
        (503, b"<html>Service Unavailable</html>", True),
        (400, b'{"__type":"ThrottleException","message":"Rate exceeded"}', True),
        (400, b'{"code":"ThrottlingException"}', True),
        (400, b'{"__type":"AccessDeniedException"}', False),
        (404, b"<html>Not Found</html>", False),
    ],
)
def test_errors_made_from_real_bodies_are_classified_by_the_table(
    status: int, body: bytes, retried: bool
) -> None:
    assert is_retryable(client_error(status, {}, body, "DescribeImages")) is retried


def test_a_bare_429_over_http_is_retried_to_success() -> None:
    answers = [
        Answer(429, {"Content-Type": "text/plain"}, b"Too Many Requests"),
        Answer(200, {"Content-Type": "application/x-amz-json-1.1"}, b'{"repositories": []}'),
    ]

    async def run(url: str) -> dict[str, Any]:
        session: Any = AioSession()
        async with session.create_client(
            "ecr",
            region_name=US,
            endpoint_url=url,
            aws_access_key_id="AK",
            aws_secret_access_key="SK",
            config=CLIENT_CONFIG,  # the sweep's: its HTTP session, its pools
        ) as endpoint:
            client = WireClient(endpoint, AioCredentials("AK", "SK"))
            api = Api(1, RetryPolicy(attempts=3))
            return await api.call(client.describe_repositories)

    with loopback() as server:
        server.answer = lambda _: answers.pop(0)
        assert anyio.run(run, server.url) == {"repositories": []}
        assert len(server.requests) == 2


# --------------------------------------------------------------------------- botocore clients

HTML = Answer(200, {"Content-Type": "text/html"}, b"<html><body>Proxy login</body></html>")
CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("lambda", "list_functions", {}),
    ("events", "list_rules", {}),
    ("scheduler", "list_schedules", {}),
    ("organizations", "list_accounts", {}),
    ("ec2", "describe_regions", {}),
    ("sts", "get_caller_identity", {}),
]


def _call(service: str, operation: str, params: dict[str, Any]) -> Any:
    async def run() -> Any:
        async with Connections(retry=RetryPolicy(attempts=1)) as connections:
            client = await connections.base_client(service, US)
            try:
                return await getattr(client, operation)(**params)
            except ClientError as exc:
                return exc

    return anyio.run(run)


@pytest.mark.parametrize(("service", "operation", "params"), CALLS, ids=[c[0] for c in CALLS])
def test_botocore_clients_refuse_a_200_html_answer(
    monkeypatch: pytest.MonkeyPatch, service: str, operation: str, params: dict[str, Any]
) -> None:
    with loopback() as server:
        use_only(monkeypatch, {"AWS_ENDPOINT_URL": server.url})
        server.answer = lambda _: HTML
        outcome = _call(service, operation, params)
    assert isinstance(outcome, MalformedAnswerError), outcome
    assert outcome.response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Proxy login" in outcome.response["Error"]["Message"]
    assert not is_retryable(outcome)


def _real_answer(request: Request) -> Answer:
    target = request.headers.get("x-amz-target", "")
    if target.endswith("ListAccounts"):
        return Answer(200, {"Content-Type": "application/x-amz-json-1.1"}, b'{"Accounts": []}')
    xml = (
        b'<?xml version="1.0" encoding="UTF-8"?><DescribeRegionsResponse '
        b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>'
        b"<regionInfo/></DescribeRegionsResponse>"
    )
    return Answer(200, {"Content-Type": "text/xml"}, xml)


def test_well_formed_answers_still_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    with loopback() as server:
        use_only(monkeypatch, {"AWS_ENDPOINT_URL": server.url})
        server.answer = _real_answer
        accounts = _call("organizations", "list_accounts", {})
        regions = _call("ec2", "describe_regions", {})
    assert accounts["Accounts"] == []
    assert regions.get("Regions", []) == []


def test_an_account_client_refuses_it_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-account path (no role: the base credentials, checked with STS first)."""

    async def run() -> Any:
        async with Connections(retry=RetryPolicy(attempts=1)) as connections:
            target = AccountTarget(AccountId("111111111111"), (US,))
            try:
                return await connections.client(target, US, "lambda")
            except ClientError as exc:
                return exc

    with loopback() as server:
        use_only(monkeypatch, {"AWS_ENDPOINT_URL": server.url})
        server.answer = lambda _: HTML
        outcome = anyio.run(run)
    assert isinstance(outcome, MalformedAnswerError)
    assert outcome.operation_name == "GetCallerIdentity"
