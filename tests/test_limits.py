"""The call gate: what is retried, how pacing reacts to throttling, and paging that never loops."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from ecr_sweeper.aws.limits import AdaptiveRate, Api, Limits, RetryPolicy, chunks, is_retryable


def client_error(code: str, status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "x"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Op")


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (client_error("ThrottlingException"), True),
        (client_error("TooManyRequestsException"), True),
        (client_error("ExpiredTokenException"), True),
        (client_error("ServerException", 500), True),
        (client_error("Anything", 503), True),
        (ConnectionClosedError(endpoint_url="http://127.0.0.1"), True),
        (client_error("AccessDeniedException"), False),
        (client_error("InvalidParameterException"), False),
        (client_error("RepositoryNotFoundException"), False),
        (ValueError("bug"), False),
    ],
)
def test_what_is_retried(error: BaseException, retryable: bool) -> None:
    assert is_retryable(error) is retryable


def test_aimd_cuts_on_throttling_and_climbs_back_additively() -> None:
    limits = Limits(initial_rate=40.0, min_rate=2.0, rate_step=10.0, backoff=0.7)
    rate = AdaptiveRate(limits)
    rate.on_throttled()
    assert rate.rate == pytest.approx(28.0)
    for _ in range(100):
        rate.on_throttled()
    assert rate.rate == 2.0  # never below the floor
    for _ in range(50):
        rate.on_success()
    assert 2.0 < rate.rate < 40.0  # additive: ~+10 calls/s per second of calls


def test_a_throttled_call_is_retried_and_slows_its_api() -> None:
    answers: list[Any] = [client_error("ThrottlingException"), {"ok": True}]

    async def operation(**_: Any) -> dict[str, Any]:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return dict(answer)

    async def run() -> tuple[dict[str, Any], float]:
        api = Api(1, RetryPolicy.instant(), Limits(initial_rate=100.0))
        answer = await api.call(operation)
        return answer, api.rate_for(operation).rate

    answer, rate = anyio.run(run)
    assert answer == {"ok": True}
    assert rate < 100.0


def test_paging_stops_on_a_token_that_comes_back() -> None:
    async def operation(**kwargs: Any) -> dict[str, Any]:
        return {"items": [kwargs.get("nextToken")], "nextToken": "same"}

    async def run() -> list[Any]:
        api = Api(1, RetryPolicy.instant())
        return await api.pages(operation, "items")

    with pytest.raises(RuntimeError, match="same page token came back twice"):
        anyio.run(run)


def test_empty_pages_with_a_token_are_followed() -> None:
    pages: list[dict[str, Any]] = [
        {"items": [], "nextToken": "a"},
        {"items": [1], "nextToken": "b"},
        {"items": [2]},
    ]

    async def operation(**_: Any) -> dict[str, Any]:
        return pages.pop(0)

    async def run() -> list[Any]:
        return await Api(1, RetryPolicy.instant()).pages(operation, "items")

    assert anyio.run(run) == [1, 2]


def test_chunks_respect_aws_batch_limits() -> None:
    assert [len(c) for c in chunks(list(range(250)), 100)] == [100, 100, 50]
    assert chunks([], 10) == []


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def calls_to_a_closed_port(retry: RetryPolicy, calls: int = 1) -> tuple[int, list[str]]:
    """ECS ListClusters (a real client, over TCP) against a loopback port nothing listens on:
    the attempts made, and the retry lines reported."""
    from botocore.exceptions import EndpointConnectionError

    from ecr_sweeper.aws.session import Connections
    from ecr_sweeper.model import AccountId, Region

    lines: list[str] = []

    async def run() -> int:
        async with Connections(retry=retry) as connections:
            connections.on_retry = lines.append
            region = Region("us-east-1")
            ecs = await connections.base_client("ecs", region)
            api = connections.api(AccountId("111111111111"), region)
            for _ in range(calls):
                with pytest.raises(EndpointConnectionError):
                    await api.call(ecs.list_clusters)
            return api.calls

    return anyio.run(run), lines


@pytest.fixture
def dead_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import use_only

    use_only(monkeypatch, {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}"})


@pytest.mark.usefixtures("dead_endpoint")
def test_an_unreachable_account_region_stops_retrying() -> None:
    patient = RetryPolicy(attempts=4, wait=False, unreachable_seconds=float("inf"))
    assert calls_to_a_closed_port(patient)[0] == 4
    # Unreachable at once: the first failure is the last attempt, for this call and the next.
    bounded = RetryPolicy(attempts=4, wait=False, unreachable_seconds=0.0)
    assert calls_to_a_closed_port(bounded, calls=2)[0] == 2


@pytest.mark.usefixtures("dead_endpoint")
def test_retries_are_reported_in_rate_limited_lines() -> None:
    every = RetryPolicy(
        attempts=4, wait=False, unreachable_seconds=float("inf"), report_every_seconds=0.0
    )
    _, lines = calls_to_a_closed_port(every)
    assert lines == [
        f"retrying ecs:list_clusters in 111111111111/us-east-1 (attempt {k}/4: "
        "EndpointConnectionError)"
        for k in (2, 3, 4)
    ]
    limited = RetryPolicy(attempts=4, wait=False, unreachable_seconds=float("inf"))
    assert len(calls_to_a_closed_port(limited)[1]) == 1
