"""Concurrency bounds, AWS's buckets and which AWS errors retry: how politely we call AWS.

Which layer retries what: botocore's own retries are switched off (`total_max_attempts=1`), and
every call goes through `Api.call`, which retries throttling, 5xx and dropped connections with
the run's retry policy (retry.py, shared with kube/). One layer means retries never multiply.

How fast: AWS throttles each account × region with token buckets — for ECS one per *category of
actions* (`ECS_BUCKETS`, from AWS's documentation), for ECR one per action (assumed rates). The
client keeps a model of each bucket (`AdaptiveRate`) and paces the calls drawing from it at its
refill rate, learning when AWS disagrees (another caller shares the bucket, or our assumption
is wrong). A call waits for its turn before it takes one of the account × region's slots, and
a throttled call's retry waits only for its turn, not for an exponential backoff.
"""

from __future__ import annotations

import collections
import contextlib
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

import anyio
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from tenacity import RetryCallState

from ecr_sweeper.retry import ANYIO_CLOCK, AdaptiveRate, Bucket, Clock, Pacing, RetryPolicy
from ecr_sweeper.words import one_line

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
    """One line per underlying error, with exception groups (from task groups) flattened; a
    server's page in it is its title, a long text is cut (words.one_line)."""
    if isinstance(exc, BaseExceptionGroup):
        return [line for inner in exc.exceptions for line in describe_errors(inner)]
    return [one_line(f"{type(exc).__name__}: {exc}")]


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


# --------------------------------------------------------------------------- AWS's buckets

ECS_THROTTLING_PAGE = (
    "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html"
)
ECR_QUOTAS_PAGE = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html"


def _category(name: str, rate: float, burst: float, *actions: str) -> dict[str, Bucket]:
    bucket = Bucket(f"ecs:{name}", rate, burst)
    return {f"ecs:{action}": bucket for action in actions}


# ECS throttles per account × Region with one bucket per *category of actions*, shared by every
# action in it ("Request throttling for the Amazon ECS API", ECS_THROTTLING_PAGE): ListTasks
# and DescribeTasks drain the same bucket. Only the read categories a sweep calls are listed.
ECS_BUCKETS: dict[str, Bucket] = {
    **_category("cluster read", 20, 50, "DescribeClusters", "ListClusters"),
    **_category(
        "task definition read",
        20,
        50,
        "DescribeTaskDefinition",
        "ListTaskDefinitions",
        "ListTaskDefinitionFamilies",
    ),
    **_category(
        "cluster resource read",
        20,
        100,
        "DescribeTasks",
        "ListTasks",
        "DescribeContainerInstances",
        "ListContainerInstances",
        "ListAttributes",
    ),
    **_category("service read", 20, 100, "DescribeServices", "ListServices"),
    **_category(
        "service deployment read", 20, 50, "DescribeServiceDeployments", "ListServiceDeployments"
    ),
    **_category("service revision read", 20, 50, "DescribeServiceRevisions"),
    **_category("tag read", 20, 50, "ListTagsForResource"),
}
# An ECS action in no category above gets a bucket of its own with the numbers of the smallest
# documented read category (an assumption, stated here and in the emulator's quotas).
ECS_DEFAULT = (20.0, 50.0)
# ECR publishes rates for the image push/pull APIs only (ECR_QUOTAS_PAGE: BatchGetImage 2,000/s);
# its management APIs (DescribeImages, DescribeRepositories, GetRepositoryPolicy,
# BatchDeleteImage…) have unpublished limits: we assume 20/s, burst 40, one bucket per action,
# and probe above that.
ECR_BUCKETS: dict[str, Bucket] = {
    "ecr:BatchGetImage": Bucket("ecr:BatchGetImage", 2000, 2000),
}
ECR_ASSUMED = (20.0, 40.0)


@functools.cache
def bucket_for(service: str, action: str) -> Bucket | None:
    """The AWS bucket an action (`"ecs"`, `"DescribeTasks"`) draws from, or None when we know
    nothing of it (STS, Organizations, EC2…: paced from `Limits.initial_rate`, learning)."""
    key = f"{service}:{action}"
    if service == "ecs":
        return ECS_BUCKETS.get(key) or Bucket(key, *ECS_DEFAULT, published=False)
    if service == "ecr":
        return ECR_BUCKETS.get(key) or Bucket(key, *ECR_ASSUMED, published=False)
    return None


# --------------------------------------------------------------------------- retrying


def is_server_error(exc: BaseException) -> bool:
    """The server failed (HTTP 5xx or a transient server code), and it is not throttling:
    retried with the short budget (RetryPolicy.server_error_attempts)."""
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return retry_reason(int(status or 0), error_code(exc)) == "server error"


def _bare(exc: BaseException) -> bool:
    """An error answer with no AWS error code, only its HTTP status (botocore's code then)."""
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error_code(exc) in (None, str(status))


def is_throttling(exc: BaseException) -> bool:
    """AWS said slow down (the bucket of the call is empty)."""
    return error_code(exc) in THROTTLING_CODES


# --------------------------------------------------------------------------- the call gate


@dataclass(frozen=True, slots=True)
class Limits(Pacing):
    """Concurrency bounds, and how the rate controllers start and adapt (`Pacing`).

    `calls_per_region`: calls in flight per account × region; `regions_at_once`: account ×
    regions whose inventory is read at once (and whose deletions `apply` makes at once);
    `usage_regions_at_once`: whose usage is read at once. A region's usage read is mostly
    waiting for its paced buckets (a few seconds for the rollback window's task definitions at
    20 calls/s), it holds little memory, and nothing is judged before the last one ends: so
    usage reads start at once where the inventory's may wait. Memory: `repositories_at_once` ECR
    repositories are read at once in the whole run; while the usage is still being read (nothing
    can be judged yet), read repositories wait for the planner in a buffer of at most
    `images_waiting` images, and beyond it on disk (0: only there). So at most
    `repositories_at_once` repositories being read plus `images_waiting` images are in memory,
    whatever the org's size; and at most twice as many repositories are begun (a task each,
    reading their policy or waiting for their turn), not every repository of the org at once.

    Pacing is per AWS bucket (`bucket_for`), as `Pacing` says; an API without a known bucket
    starts at `initial_rate`.
    """

    calls_per_region: int = 16
    regions_at_once: int = 128
    usage_regions_at_once: int = 256
    # Repositories being listed at once, in the whole run: each holds its images' answers in
    # memory until judged, so this bounds the inventory's memory whatever the org's size.
    repositories_at_once: int = 128
    # ~0.45 KB each in memory: 10,000 images waiting are ~5 MB; a CI job's environment (a few
    # thousand images) is read whole while its usage is.
    images_waiting: int = 10_000
    # Images of the repositories being read at once, in the whole run: a bound in
    # images, not repositories, so memory stays flat when repositories grow (ImageBudget). A
    # DescribeImages page in flight counts as a full page (1,000): 20 pages at once at most.
    # Every repository's first page counts so, however few images it holds: with 10,000 the
    # benchmark's organization (3,390 repositories, 14 images each on average) took 20.6 s
    # against 15.0 (its inventory, ten pages at a time, became its longest chain).
    images_in_memory: int = 20_000


class ImageBudget:
    """About `limit` images in memory at once among the tasks that hold a share of it (the
    repositories being read): a share takes images as it gets them (`take`) and
    gives them all back when it ends. The oldest share never waits, and does not count
    against the others: they wait only while theirs would pass `limit`, or one share's would
    pass `most` (so that a large repository waiting for its turn does not hold the whole
    budget from the small ones). So one always goes on, a repository larger than the budget
    does not stop the small ones beside it, and at most `limit` images plus the oldest
    share's are held, whatever the repositories' sizes.

    The inventory (ecr._images) puts a repository's images on disk before a share would pass
    `most` or wait: the budget is for the pages in flight, and large repositories are read
    side by side, not one after another. Such a repository is made whole again only to be
    judged, one at a time (the plan's barrier, pipeline._AfterUsage.whole), and `alone`: the
    pages of the others are not in memory beside it."""

    def __init__(self, limit: int, most: int | None = None) -> None:
        self.limit = limit
        self.most = limit if most is None else most
        self.used = 0
        self._shares: dict[int, int] = {}  # share → images it holds, oldest first
        self._opened = 0
        # The shares waiting, in the order they began to: the images each asks for, and what
        # wakes it. A release wakes only those that now fit (not every waiter, to check again).
        self._waiting: dict[int, tuple[int, anyio.Event]] = {}
        # The share alone while it is judged (`alone`), and what tells it the others hold none.
        # (Made in the event loop, at the first such block: a budget may be made before it.)
        self._alone: int | None = None
        self._one_alone: anyio.Lock | None = None
        self._emptied: anyio.Event | None = None

    @contextlib.asynccontextmanager
    async def share(self) -> AsyncIterator[Share]:
        """A share, as its `take(n)`: waits until `n` more images fit (or the share is the
        oldest), then counts them (a negative `n` gives some back); all are given back when
        the block ends."""
        me = self._open()
        try:
            yield Share(self, me)
        finally:
            self._close(me)

    @contextlib.asynccontextmanager
    async def alone(self, share: Share) -> AsyncIterator[None]:
        """A block in which `share` (a repository whose images waited on disk, made whole
        again to be judged) has the budget to itself: no other share takes images, the oldest
        neither, and the block begins once each other share holds none or waits for room (the
        inventory's put their images on disk before they wait: ecr._images). So their pages
        are not in memory beside it. One such block at a time."""
        self._one_alone = self._one_alone or anyio.Lock()
        async with self._one_alone:
            self._alone = share.me
            self._emptied = emptied = anyio.Event()
            try:
                self._wake()  # the others may already hold none
                await emptied.wait()
                yield
            finally:
                self._alone = None
                self._wake()

    def _open(self) -> int:
        me = self._opened
        self._opened += 1
        self._shares[me] = 0
        return me

    async def _take(self, me: int, n: int) -> None:
        """Take `n` images (a negative `n` gives back what a share took and did not use)."""
        while n > 0 and not self._fits(me, n, self.limit - self.others):
            woken = anyio.Event()
            self._waiting[me] = (n, woken)
            if self._alone is not None:
                self._wake()  # the share alone may be waiting for this one to wait
            try:
                await woken.wait()
            finally:
                self._waiting.pop(me, None)
        self.used += n
        self._shares[me] += n
        if n < 0:
            self._wake()

    def _fits(self, me: int, n: int, room: int) -> bool:
        """Whether share `me` may take `n` more images with `room` left beside the oldest (and
        no other share is `alone`)."""
        if self._alone not in (None, me):
            return False
        return next(iter(self._shares)) == me or (n <= room and self._shares[me] + n <= self.most)

    @property
    def others(self) -> int:
        """The images held by every share but the oldest (at most `limit`)."""
        return self.used - next(iter(self._shares.values()), 0)

    def _close(self, me: int) -> None:
        self.used -= self._shares.pop(me)
        self._wake()

    def _wake(self) -> None:
        """Wake the waiting shares that fit now, in the order they began to wait; or, while a
        share is alone, that share once each other holds none or waits."""
        if self._alone is not None:
            if self._emptied is not None and all(
                held <= 0 or me in self._waiting or me == self._alone
                for me, held in self._shares.items()
            ):
                self._emptied.set()
            return
        room = self.limit - self.others
        oldest = next(iter(self._shares), None)
        for me, (n, woken) in list(self._waiting.items()):
            if self._fits(me, n, room):
                room -= n * (me != oldest)
                del self._waiting[me]
                woken.set()


class Take(Protocol):
    """Images taken from a budget as they are read (`Share`, or no budget at all)."""

    async def __call__(self, n: int) -> None: ...

    def fits(self, n: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class Share:
    """One share of an `ImageBudget`: `await take(n)` takes `n` images (waiting for room), and
    `take.fits(n)` says whether that would go on at once."""

    budget: ImageBudget
    me: int

    async def __call__(self, n: int) -> None:
        await self.budget._take(self.me, n)

    def fits(self, n: int) -> bool:
        budget = self.budget
        return budget._fits(self.me, n, budget.limit - budget.others)


@functools.cache
def _bucket_of(service: str, method: str, api_name: str | None) -> Bucket | None:
    action = api_name or "".join(part.capitalize() for part in method.split("_"))
    return bucket_for(service, action)


class Api:
    """Calls AWS for one account × region: at most `calls_at_once` in flight, pacing per AWS
    bucket, retries per the policy (throttling, 5xx, dropped connections; expired credentials
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
        first_time: Callable[[str], bool] | None = None,
        clock: Clock = ANYIO_CLOCK,
    ) -> None:
        # fast_acquire: a free slot is taken without a trip through the event loop (one per
        # call otherwise); every call awaits the network right after, so nothing starves.
        self._gate = anyio.Semaphore(calls_at_once, fast_acquire=True)
        self.calls_at_once = calls_at_once
        self._retry = retry
        self._limits = limits or Limits()
        self._clock = clock
        self._rates: dict[str, AdaptiveRate] = {}
        self._by_operation: dict[tuple[str, str], AdaptiveRate] = {}
        self.on_expired = on_expired
        self.calls = 0
        self.where = where  # "account/region", for the retry lines
        self.on_retry = on_retry
        # Whether a line about an operation that never answers ("keeps failing", its retries)
        # is said for the first time in the account (None: every time). moto lacks operations
        # in every region: one line per account and operation, not per region.
        self.first_time = first_time
        self._failing_since: float | None = None  # first connection failure since a success
        self._reported_at = float("-inf")
        # A server error of an operation that has answered here is transient: the long budget.
        # One that has not answered yet may never (moto answers 500 to operations it lacks):
        # the short budget, and once a call spent it, its next calls here fail at once (said
        # once), until it answers. Keyed by api_name: "ecs:list_daemons".
        self._answered: set[str] = set()
        self._failing: set[str] = set()

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
        budget = self._retry.attempts
        if error is not None and self._persistent(name, error):
            budget = min(budget, self._retry.server_error_attempts)
            if self.first_time is not None and not self.first_time(f"retrying {name}"):
                return
        self.on_retry(
            f"retrying {name} in {self.where or '?'} "
            f"(attempt {state.attempt_number + 1}/{budget}: {reason})"
        )

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of this gate (other clients of the run, like Kubernetes, use it)."""
        return self._retry

    def rate_for(self, operation: Callable[..., Any]) -> AdaptiveRate:
        """The pacing of the AWS bucket an operation draws from (its service's category for
        ECS, its own for ECR; per operation for APIs without a known bucket)."""
        client = getattr(operation, "__self__", None)
        meta = getattr(client, "meta", None)
        service = str(getattr(getattr(meta, "service_model", None), "service_name", "?"))
        method = str(getattr(operation, "__name__", "?"))
        key = (service, method)
        pace = self._by_operation.get(key)
        if pace is None:
            mapping = getattr(meta, "method_to_api_mapping", None) or {}
            bucket = _bucket_of(service, method, mapping.get(method))
            name = bucket.name if bucket is not None else f"{service}:{method}"
            if name not in self._rates:
                self._rates[name] = AdaptiveRate(self._limits, bucket, self._clock)
            pace = self._by_operation[key] = self._rates[name]
        return pace

    async def call(
        self, operation: Callable[..., Awaitable[dict[str, Any]]], **kwargs: Any
    ) -> dict[str, Any]:
        """One API call, paced, retried on throttling and transient failures."""
        pace = self.rate_for(operation)
        # Most calls succeed at once: the first attempt skips building tenacity's controller
        # (a measurable share of the CPU per call). A failure is handed to tenacity as its own
        # first attempt, so the retry decisions and waits are exactly the policy's.
        try:
            answer = await self._attempt(pace, operation, kwargs)
        except Exception as exc:
            if not is_retryable(exc) or self._retry.attempts <= 1:
                raise  # an answer (not found, denied…): no controller to build for it
            if is_server_error(exc) and api_name(operation) in self._failing:
                raise  # this operation keeps failing here: said once, not retried again
            first: Exception = exc
        else:
            self._answered_by(operation)
            return answer
        try:
            answer = await self._retried(pace, operation, kwargs, first)
        except Exception as exc:
            if self._persistent(api_name(operation), exc):
                self._keeps_failing(api_name(operation), exc)
            raise
        self._answered_by(operation)
        return answer

    def _answered_by(self, operation: Callable[..., Any]) -> None:
        name = api_name(operation)
        self._answered.add(name)
        if self._failing:
            self._failing.discard(name)

    async def _retried(
        self,
        pace: AdaptiveRate,
        operation: Callable[..., Awaitable[dict[str, Any]]],
        kwargs: dict[str, Any],
        first: Exception,
    ) -> dict[str, Any]:
        """The call again, per the policy, its first attempt having failed with `first`."""
        first_failure: Exception | None = first
        name = api_name(operation)  # "ecs:list_daemons": named on failures only
        report = partial(self._report_retry, name)
        retrying = self._retry.retrying(
            is_retryable,
            paced=is_throttling,
            give_up=self._unreachable,
            before_sleep=report,
            clock=self._clock,
            brief=partial(self._persistent, name),
        )
        async for attempt in retrying:
            with attempt:
                if first_failure is not None:
                    failure, first_failure = first_failure, None
                    raise failure
                return await self._attempt(pace, operation, kwargs)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    def _persistent(self, name: str, error: BaseException) -> bool:
        """A bare server error (no AWS error code, only the status: moto's answer to an
        operation it lacks, an endpoint that is not AWS) of an operation that has not answered
        here yet: the short budget. AWS's own (InternalFailure, ServiceUnavailable…) say "try
        again" and keep the policy's."""
        return name not in self._answered and is_server_error(error) and _bare(error)

    def _keeps_failing(self, name: str, error: BaseException) -> None:
        """A call spent its server-error budget: the operation's next calls here fail at once."""
        if name in self._failing:
            return
        self._failing.add(name)
        if self.on_retry is None:
            return
        if self.first_time is None:
            elsewhere = ""
        elif self.first_time(f"failing {name}"):
            elsewhere = " (nor named again for the account's other regions)"
        else:
            return
        self.on_retry(
            f"{name} in {self.where or '?'} keeps failing ({error_code(error)} after "
            f"{self._retry.server_error_attempts} attempts): its next calls there are not "
            f"retried{elsewhere}"
        )

    async def _attempt(
        self,
        pace: AdaptiveRate,
        operation: Callable[..., Awaitable[dict[str, Any]]],
        kwargs: dict[str, Any],
    ) -> dict[str, Any]:
        # The turn is waited for before taking a slot: a call waiting for a slow bucket must
        # not hold a slot that a call to another bucket could use (head-of-line blocking).
        turn = await pace.wait_turn()
        async with self._gate:
            self.calls += 1
            started = self._clock.now()
            try:
                answer = await operation(**kwargs)
            except _CONNECTION_ERRORS:
                if self._failing_since is None:
                    self._failing_since = started
                raise
            except ClientError as exc:
                code = error_code(exc)
                if code in THROTTLING_CODES:
                    pace.on_throttled(turn.reserved_at)
                    raise
                # Any other answer (not found, denied…) was admitted by the bucket: without
                # this, a run of RepositoryPolicyNotFound answers after a cut never climbs back.
                pace.on_success(turn)
                if code in EXPIRED_CODES and self.on_expired is not None:
                    self.on_expired(started)
                raise
            pace.on_success(turn)
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
        async for page in self.each_page(operation, token_key, request_token_key, **kwargs):
            items.extend(page.get(result_key, []))
        return items

    async def each_page(
        self,
        operation: Callable[..., Awaitable[dict[str, Any]]],
        token_key: str = "nextToken",  # noqa: S107 - a parameter name, not a secret
        request_token_key: str | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Each page of a paginated list as it comes (a caller may stop early), as `pages`
        follows them."""
        token: str | None = None
        seen: set[str] = set()
        send_as = request_token_key or token_key
        following: list[str | None] = [None]

        def noted(page: dict[str, Any]) -> dict[str, Any]:
            following[0] = page.get(token_key)
            return page

        while True:
            # Not kept in this frame while the caller has it: a caller waiting between pages
            # (for room in a memory budget) holds only what it keeps of the page.
            yield noted(await self.call(operation, **kwargs, **({send_as: token} if token else {})))
            token = following[0]
            if not token:
                return
            if token in seen:  # a listing that goes round in circles is not a listing
                raise RuntimeError(f"{api_name(operation)}: the same page token came back twice")
            seen.add(token)


def api_name(operation: Callable[..., Any]) -> str:
    """`service:operation` of a bound client method (as botocore's clients and the wire
    clients name them), for pacing and retry lines."""
    client = getattr(operation, "__self__", None)
    service = getattr(getattr(client, "meta", None), "service_model", None)
    return f"{getattr(service, 'service_name', '?')}:{getattr(operation, '__name__', '?')}"


@contextlib.asynccontextmanager
async def fan_out(
    work: Callable[..., Awaitable[None]], at_once: int
) -> AsyncIterator[Callable[..., None]]:
    """Within the block, `put(*args)` has `work(*args)` done by one of at most `at_once` tasks
    (begun as work comes, ended when none is left); on leaving it, everything put is done.
    What waits for its turn is its arguments in a queue, not a task each (a few KB with its
    frames and cancel scope: a reader that names thousands of things to describe, at the pace
    of its account × region's `Api`, would hold thousands). A failure raises out of the block
    (and cancels the rest)."""
    waiting: collections.deque[tuple[Any, ...]] = collections.deque()
    workers = 0

    async def worker() -> None:
        nonlocal workers
        try:
            while waiting:
                await work(*waiting.popleft())
        finally:
            workers -= 1

    async with anyio.create_task_group() as tg:

        def put(*args: Any) -> None:
            nonlocal workers
            waiting.append(args)
            if workers < at_once:
                workers += 1
                tg.start_soon(worker)

        yield put


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """Split into lists of at most `size` items (AWS batch limits)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
