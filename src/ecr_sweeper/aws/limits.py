"""Concurrency bounds and the retry policy: the one place that decides how politely we call AWS.

Which layer retries what: botocore's own retries are switched off (`total_max_attempts=1`), and
every call goes through `Api.call`, which retries throttling, 5xx and dropped connections with
tenacity (exponential backoff, full jitter). One layer means retries never multiply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_none,
    wait_random_exponential,
)

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
TRANSIENT_CODES = frozenset(
    {"ServerException", "InternalFailure", "InternalError", "ServiceUnavailable"}
)
_CONNECTION_ERRORS = (
    ConnectionClosedError,
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError, else None."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def describe_errors(exc: BaseException) -> list[str]:
    """One line per underlying error, with exception groups (from task groups) flattened."""
    if isinstance(exc, BaseExceptionGroup):
        return [line for inner in exc.exceptions for line in describe_errors(inner)]
    return [f"{type(exc).__name__}: {exc}"]


def is_retryable(exc: BaseException) -> bool:
    """Throttling, server errors and broken connections are worth another try."""
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = error_code(exc)
        return code in THROTTLING_CODES or code in TRANSIENT_CODES or status >= 500
    return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry. `instant()` is the zero-wait mode tests switch on."""

    attempts: int = 10
    base_seconds: float = 0.25
    max_seconds: float = 20.0
    wait: bool = True

    @classmethod
    def instant(cls, attempts: int = 10) -> RetryPolicy:
        """Same decisions, no sleeping."""
        return cls(attempts=attempts, wait=False)

    def retrying(self) -> AsyncRetrying:
        """A fresh tenacity controller for one call."""
        return AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self.attempts),
            wait=(
                wait_random_exponential(multiplier=self.base_seconds, max=self.max_seconds)
                if self.wait
                else wait_none()
            ),
            reraise=True,
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """Concurrency bounds: calls in flight per account × region, and account × regions at once."""

    calls_per_region: int = 16
    regions_at_once: int = 64


class Api:
    """Calls AWS for one account × region: bounded concurrency, retried per the policy."""

    def __init__(self, limiter: anyio.CapacityLimiter, retry: RetryPolicy) -> None:
        self._limiter = limiter
        self._retry = retry
        self.calls = 0

    async def call(
        self, operation: Callable[..., Awaitable[dict[str, Any]]], **kwargs: Any
    ) -> dict[str, Any]:
        """One API call, retried on throttling and transient failures."""
        async for attempt in self._retry.retrying():
            with attempt:
                async with self._limiter:
                    self.calls += 1
                    return await operation(**kwargs)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def pages(
        self,
        operation: Callable[..., Awaitable[dict[str, Any]]],
        result_key: str,
        token_key: str = "nextToken",  # noqa: S107 - a parameter name, not a secret
        request_token_key: str | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """Every item of a paginated list, following `token_key` until it is absent.

        Pages may be empty and still carry a token (Organizations does this), so only a
        missing token ends the loop. `request_token_key` is for APIs whose request names the
        token differently (Lambda: NextMarker → Marker).
        """
        items: list[Any] = []
        token: str | None = None
        send_as = request_token_key or token_key
        while True:
            page = await self.call(operation, **kwargs, **({send_as: token} if token else {}))
            items.extend(page.get(result_key, []))
            token = page.get(token_key)
            if not token:
                return items


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """Split into lists of at most `size` items (AWS batch limits)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
