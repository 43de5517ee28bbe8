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
