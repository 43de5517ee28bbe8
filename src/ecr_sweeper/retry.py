"""How every client of the run retries and paces its calls: one retry policy (tenacity) and one
pacing model (`AdaptiveRate`), for AWS (aws/limits.py) and Kubernetes (kube/client.py) alike.
Nothing here knows a protocol: each client says which of its errors are worth another try and
which ones its pacing already times.

Rules this module keeps:
- A client retries in one layer only (`RetryPolicy.retrying`), so retries never multiply.
- A retry waits either for its turn at the server's bucket (an error the pacing times: AWS's
  throttling) or for an exponential backoff with full jitter (any other retryable error),
  never both.
- `set_testing(True)` (tests/conftest.py) makes every retry wait nothing, whatever the policy,
  as stamina's `set_testing` does; the decisions (what retries, how many attempts) stay the
  policy's. Pacing is not a retry: it keeps its timing.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import anyio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

_testing = False


def set_testing(testing: bool) -> None:
    """Every retry of every policy waits nothing (True), or as its policy says (False)."""
    global _testing  # noqa: PLW0603 - one process-wide switch, as stamina's
    _testing = testing


def is_testing() -> bool:
    """Whether `set_testing(True)` is in force."""
    return _testing


class Clock(Protocol):
    """Time for pacing and retries: anyio's by default, a fake one in tests."""

    def now(self) -> float:
        """Seconds, monotonic."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait that long."""
        ...


class AnyioClock:
    """The event loop's clock."""

    def now(self) -> float:
        # The running loop's time is anyio.current_time() under asyncio (the backend anyio.run
        # uses here), without asking sniffio which library runs, a visible share of the CPU of
        # every call (several clock reads a call).
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


ANYIO_CLOCK = AnyioClock()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry. `instant()` is the zero-wait mode of one policy;
    `set_testing(True)` is that of all of them.

    An error the caller's pacing times (`paced`: AWS's throttling) is retried without a backoff
    of its own: its retry waits for its turn at the bucket (`AdaptiveRate`), which is exactly as
    long as the bucket needs to refill for it. Any other retryable error (server errors, dropped
    connections) backs off exponentially, with full jitter.
    """

    attempts: int = 10
    # An error the server keeps making (HTTP 5xx that is not throttling) gets botocore's
    # standard budget: an endpoint that answers 500 to an operation it lacks (moto) answers it
    # again, and 10 attempts with backoff cost a minute per call.
    server_error_attempts: int = 3
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
        retryable: Callable[[BaseException], bool],
        *,
        paced: Callable[[BaseException], bool] | None = None,
        give_up: Callable[[BaseException], bool] | None = None,
        before_sleep: Callable[[RetryCallState], None] | None = None,
        clock: Clock = ANYIO_CLOCK,
        brief: Callable[[BaseException], bool] | None = None,
    ) -> AsyncRetrying:
        """A fresh tenacity controller for one call: it retries the errors `retryable` accepts,
        at most `attempts` tries in all, or `server_error_attempts` when the last error is one
        `brief` accepts (a server error). `paced(error)`: the caller's pacing times this
        error's retry (no backoff); `give_up(error)` stops it before its attempts are spent;
        `before_sleep` sees each retry (progress lines)."""

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.attempts:
                return True
            error = state.outcome.exception() if state.outcome else None
            if error is None:
                return False
            brief_spent = state.attempt_number >= self.server_error_attempts
            if brief_spent and brief is not None and brief(error):
                return True
            return give_up is not None and give_up(error)

        def wait(state: RetryCallState) -> float:
            if not self.wait or _testing:
                return 0.0
            failure = state.outcome.exception() if state.outcome is not None else None
            if failure is not None and paced is not None and paced(failure):
                return 0.0  # the bucket's pacing times the retry
            backoff = wait_random_exponential(multiplier=self.base_seconds, max=self.max_seconds)
            return float(backoff(state))

        return AsyncRetrying(
            retry=retry_if_exception(retryable),
            stop=stop,
            wait=wait,
            sleep=clock.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )


# --------------------------------------------------------------------------- pacing


@dataclass(frozen=True, slots=True)
class Bucket:
    """One token bucket of a server (AWS throttles per account × region with them): every
    call in it takes from it.

    `rate` is its refill (calls/s sustained), `burst` its capacity. `published`: the server
    documents these numbers, so the controller never goes above them; otherwise they are our
    assumption, the controller's starting point, and it probes above them (AIMD).
    """

    name: str
    rate: float
    burst: float
    published: bool = True


@dataclass(frozen=True, slots=True)
class Pacing:
    """How a rate controller starts and adapts.

    A known bucket starts at its rate with its burst (less `burst_reserve` tokens, slack for
    the jitter of the network), an unknown one at `initial_rate` without burst. A throttled
    answer empties the bucket's model and cuts the rate to `backoff` × — at most once per
    window (the answers to calls sent before the cut belong to the same congestion) — and each
    second of calls without throttling adds `rate_step` calls/s back, up to the published rate
    (never above it) or `max_rate`.
    """

    initial_rate: float = 50.0
    min_rate: float = 2.0
    max_rate: float = 1000.0
    rate_step: float = 10.0  # calls/s regained per second without throttling
    backoff: float = 0.7  # the rate is multiplied by this on a throttle (once per window)
    burst_reserve: float = 2.0  # tokens of a known bucket's burst left unused, for jitter


class Turn(NamedTuple):
    """A call's turn at a bucket: when it was taken, and whether the call had to wait."""

    reserved_at: float
    waited: bool


class AdaptiveRate:
    """The client's model of one bucket of the server, shared by every task calling an action
    in it: a token bucket at the estimated rate, AIMD on that estimate.

    Each call reserves a token and waits until the model has refilled it (tokens may go
    negative: the calls queued, each with its start time); waits happen outside the call gate,
    so a slow bucket never holds the slots of calls to other buckets.

    The window of a cut is told by *reservation* time: a call that took its token before the
    cut was paced at the old rate, so its throttle is the same congestion even if it is sent
    after the cut. The rate climbs only on calls that had to wait for their turn: a bucket the
    sweep does not use to its rate teaches nothing about its rate (else an idle estimate would
    grow without bound, and meet the real bucket as a storm).
    """

    def __init__(
        self, pacing: Pacing, bucket: Bucket | None = None, clock: Clock = ANYIO_CLOCK
    ) -> None:
        self._pacing = pacing
        self._clock = clock
        self.bucket = bucket
        if bucket is None:
            self.rate, self.ceiling, capacity = pacing.initial_rate, pacing.max_rate, 1.0
        else:
            self.rate = bucket.rate
            self.ceiling = bucket.rate if bucket.published else pacing.max_rate
            capacity = max(1.0, bucket.burst - pacing.burst_reserve)
        self.capacity = capacity
        self._tokens = capacity
        self._stamp = clock.now()
        self._cut_at = -math.inf  # when the rate was last cut
        self.throttles = 0
        self.cuts = 0

    def reserve(self, now: float | None = None) -> float:
        """Take a token; the seconds to wait before the call may start (0: at once)."""
        now = self._clock.now() if now is None else now
        self._refill(now)
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0.0 else -self._tokens / self.rate

    async def wait_turn(self) -> Turn:
        """Sleep until this call's turn: calls start at most as fast as the bucket refills."""
        reserved_at = self._clock.now()
        delay = self.reserve(reserved_at)
        if delay > 0.0:
            await self._clock.sleep(delay)
        return Turn(reserved_at, waited=delay > 0.0)

    def on_success(self, turn: Turn | None = None) -> None:
        """+`rate_step` calls/s per second of calls that waited for their turn (each adds
        step / rate); no turn given: counted as one that waited."""
        if turn is None or turn.waited:
            self.rate = min(self.ceiling, self.rate + self._pacing.rate_step / self.rate)

    def on_throttled(self, reserved_at: float) -> None:
        """The server's bucket is empty: so is the model. The rate is cut once per window: a
        throttle of a call whose turn was taken before the last cut is the same congestion."""
        self.throttles += 1
        now = self._clock.now()
        self._refill(now)
        self._tokens = min(self._tokens, 0.0)
        if reserved_at < self._cut_at:
            return
        self._cut_at = now
        self.cuts += 1
        # Tokens owed (calls already queued) keep their turns; new ones come at the new rate.
        self.rate = max(self._pacing.min_rate, self.rate * self._pacing.backoff)

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
