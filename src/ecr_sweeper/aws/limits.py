"""Concurrency bounds and the retry policy: the one place that decides how politely we call AWS.

Which layer retries what: botocore's own retries are switched off (`total_max_attempts=1`), and
every call goes through `Api.call`, which retries throttling, 5xx and dropped connections with
tenacity (exponential backoff, full jitter). One layer means retries never multiply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
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
    RetryCallState,
    retry_if_exception,
    wait_none,
    wait_random_exponential,
)

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "ThrottleException",  # the ECR user guide's wording
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "EC2ThrottledException",
        "BandwidthLimitExceeded",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "SlowDown",
    }
)
# Credentials that expired before botocore refreshed them (clock skew, a shortened session):
# retried once the owner of the credentials has been told to refresh them (Api.on_expired).
EXPIRED_CODES = frozenset({"ExpiredTokenException", "ExpiredToken", "RequestExpired"})
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


def retry_reason(status: int, code: str | None) -> str | None:
    """Why an error answer is worth another try, or None. The one table of it, first match:

    | status  | code                                     | retried | why                     |
    |---------|------------------------------------------|---------|-------------------------|
    | any     | a throttling code (THROTTLING_CODES)     | yes     | throttled               |
    | any     | expired credentials (EXPIRED_CODES)      | yes     | refreshed, then retried |
    | any     | a transient server code (TRANSIENT_CODES)| yes     | server error            |
    | 429     | any other (a proxy's bare 429 included)  | yes     | throttled               |
    | 5xx     | any other                                | yes     | server error            |
    | 4xx     | any other                                | no      | the request is wrong    |
    | 2xx/3xx | any other (MalformedAnswer: see answers) | no      | not AWS's answer        |
    """
    if code in THROTTLING_CODES:
        return "throttled"
    if code in EXPIRED_CODES:
        return "credentials expired"
    if code in TRANSIENT_CODES:
        return "server error"
    if status == 429:  # HTTP Too Many Requests
        return "throttled"
    if status >= 500:  # HTTP server errors
        return "server error"
    return None


def is_retryable(exc: BaseException) -> bool:
    """Throttling, server errors and broken connections are worth another try (retry_reason)."""
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return retry_reason(int(status or 0), error_code(exc)) is not None
    return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry. `instant()` is the zero-wait mode tests switch on."""

    attempts: int = 10
    base_seconds: float = 0.25
    max_seconds: float = 20.0
    wait: bool = True
    # An account × region whose endpoint fails to connect or answer for this long (no call
    # succeeding meanwhile) is unreachable: its calls stop retrying connection failures.
    unreachable_seconds: float = 60.0
    report_every_seconds: float = 10.0  # at most one "retrying …" line per account × region

    @classmethod
    def instant(cls, attempts: int = 10) -> RetryPolicy:
        """Same decisions, no sleeping."""
        return cls(attempts=attempts, wait=False)

    def retrying(
        self,
        give_up: Callable[[BaseException], bool] | None = None,
        before_sleep: Callable[[RetryCallState], None] | None = None,
    ) -> AsyncRetrying:
        """A fresh tenacity controller for one call. `give_up(error)` stops it before its
        attempts are spent; `before_sleep` sees each retry (progress lines)."""

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.attempts:
                return True
            error = state.outcome.exception() if state.outcome else None
            return give_up is not None and error is not None and give_up(error)

        return AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            stop=stop,
            wait=(
                wait_random_exponential(multiplier=self.base_seconds, max=self.max_seconds)
                if self.wait
                else wait_none()
            ),
            before_sleep=before_sleep,
            reraise=True,
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """Concurrency bounds and the starting rates of the adaptive limiters.

    `calls_per_region`: calls in flight per account × region; `repositories_at_once`: ECR
    repositories read at once in the whole run (memory); `regions_at_once`: account ×
    regions scanned at once. Each API of each account × region starts at `initial_rate` calls/s
    (AWS's documented ECS/ECR buckets refill at 20/s with bursts of 50 or more, so it starts
    above them and learns), drops to 70% on each throttling answer, and climbs back additively
    (AIMD). A gentler cut than halving keeps a storm of random throttling from starving it.
    """

    calls_per_region: int = 16
    regions_at_once: int = 64
    # Repositories being listed at once, in the whole run: each holds its images' answers in
    # memory until judged, so this bounds the inventory's memory whatever the org's size.
    repositories_at_once: int = 128
    initial_rate: float = 50.0
    min_rate: float = 2.0
    max_rate: float = 1000.0
    rate_step: float = 10.0  # calls/s regained per second without throttling
    backoff: float = 0.7  # the rate is multiplied by this on each throttling answer


class AdaptiveRate:
    """AIMD pacing for one API of one account × region, shared by every task calling it."""

    def __init__(self, limits: Limits) -> None:
        self.rate = limits.initial_rate
        self._limits = limits
        self._next_start = 0.0
        self.throttles = 0

    async def wait_turn(self) -> None:
        """Sleep until this call's slot: calls start at most `rate` per second."""
        now = anyio.current_time()
        start = max(now, self._next_start)
        self._next_start = start + 1.0 / self.rate
        if start > now:
            await anyio.sleep(start - now)

    def on_success(self) -> None:
        # +rate_step per second of calls: each call adds step / rate.
        self.rate = min(self._limits.max_rate, self.rate + self._limits.rate_step / self.rate)

    def on_throttled(self) -> None:
        self.throttles += 1
        self.rate = max(self._limits.min_rate, self.rate * self._limits.backoff)


class Api:
    """Calls AWS for one account × region: at most `calls_at_once` in flight, AIMD pacing per
    API, retries per the policy (throttling, 5xx, dropped connections; expired credentials
    after a refresh)."""

    def __init__(
        self,
        calls_at_once: int,
        retry: RetryPolicy,
        limits: Limits | None = None,
        on_expired: Callable[[float], None] | None = None,
        *,
        where: str = "",
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        # fast_acquire: a free slot is taken without a trip through the event loop (one per
        # call otherwise); every call awaits the network right after, so nothing starves.
        self._gate = anyio.Semaphore(calls_at_once, fast_acquire=True)
        self._retry = retry
        self._limits = limits or Limits()
        self._rates: dict[str, AdaptiveRate] = {}
        self.on_expired = on_expired
        self.calls = 0
        self.where = where  # "account/region", for the retry lines
        self.on_retry = on_retry
        self._failing_since: float | None = None  # first connection failure since a success
        self._reported_at = float("-inf")

    def _unreachable(self, error: BaseException) -> bool:
        """A connection failure after `unreachable_seconds` of nothing but: stop retrying."""
        return (
            isinstance(error, _CONNECTION_ERRORS)
            and self._failing_since is not None
            and anyio.current_time() - self._failing_since >= self._retry.unreachable_seconds
        )

    def _report_retry(self, name: str, state: RetryCallState) -> None:
        now = anyio.current_time()
        if self.on_retry is None or now - self._reported_at < self._retry.report_every_seconds:
            return
        self._reported_at = now
        error = state.outcome.exception() if state.outcome else None
        reason = (error_code(error) or type(error).__name__) if error else "?"
        self.on_retry(
            f"retrying {name} in {self.where or '?'} "
            f"(attempt {state.attempt_number + 1}/{self._retry.attempts}: {reason})"
        )

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of this gate (other clients of the run, like Kubernetes, use it)."""
        return self._retry

    def rate_for(self, operation: Callable[..., Any]) -> AdaptiveRate:
        """The pacing of one API (keyed by service and operation name)."""
        name = api_name(operation)
        if name not in self._rates:
            self._rates[name] = AdaptiveRate(self._limits)
        return self._rates[name]

    async def call(
        self, operation: Callable[..., Awaitable[dict[str, Any]]], **kwargs: Any
    ) -> dict[str, Any]:
        """One API call, paced, retried on throttling and transient failures."""
        pace = self.rate_for(operation)
        # Most calls succeed at once: the first attempt skips building tenacity's controller
        # (a measurable share of the CPU per call). A failure is handed to tenacity as its own
        # first attempt, so the retry decisions and waits are exactly the policy's.
        try:
            return await self._attempt(pace, operation, kwargs)
        except Exception as exc:  # noqa: BLE001 - tenacity decides below, and re-raises
            first_failure: Exception | None = exc
        report = partial(self._report_retry, api_name(operation))  # named on failures only
        retrying = self._retry.retrying(self._unreachable, report)
        async for attempt in retrying:
            with attempt:
                if first_failure is not None:
                    failure, first_failure = first_failure, None
                    raise failure
                return await self._attempt(pace, operation, kwargs)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _attempt(
        self,
        pace: AdaptiveRate,
        operation: Callable[..., Awaitable[dict[str, Any]]],
        kwargs: dict[str, Any],
    ) -> dict[str, Any]:
        async with self._gate:
            await pace.wait_turn()
            self.calls += 1
            started = anyio.current_time()
            try:
                answer = await operation(**kwargs)
            except _CONNECTION_ERRORS:
                if self._failing_since is None:
                    self._failing_since = started
                raise
            except ClientError as exc:
                code = error_code(exc)
                if code in THROTTLING_CODES:
                    pace.on_throttled()
                elif code in EXPIRED_CODES and self.on_expired is not None:
                    self.on_expired(started)
                raise
            pace.on_success()
            self._failing_since = None
            return answer

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
        seen: set[str] = set()
        send_as = request_token_key or token_key
        while True:
            page = await self.call(operation, **kwargs, **({send_as: token} if token else {}))
            items.extend(page.get(result_key, []))
            token = page.get(token_key)
            if not token:
                return items
            if token in seen:  # a listing that goes round in circles is not a listing
                raise RuntimeError(f"{result_key}: the same page token came back twice")
            seen.add(token)


def api_name(operation: Callable[..., Any]) -> str:
    """`service:operation` of a bound client method (as botocore's clients and the wire
    clients name them), for pacing and retry lines."""
    client = getattr(operation, "__self__", None)
    service = getattr(getattr(client, "meta", None), "service_model", None)
    return f"{getattr(service, 'service_name', '?')}:{getattr(operation, '__name__', '?')}"


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """Split into lists of at most `size` items (AWS batch limits)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
