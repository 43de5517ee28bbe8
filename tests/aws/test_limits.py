"""The call gate: what is retried, how pacing follows AWS's buckets and reacts to throttling
(one cut per window, no head-of-line blocking, retries no longer than a refill), and paging
that never loops. Time is a fake clock: nothing here sleeps."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError
from hypothesis import given, settings
from hypothesis import strategies as st

from awsim.quotas import ECS_CATEGORIES, ECS_DEFAULT, Quotas, RateLimit
from ecr_sweeper.aws.limits import (
    ECS_BUCKETS,
    Api,
    ImageBudget,
    Limits,
    bucket_for,
    chunks,
    fan_out,
    is_retryable,
)
from ecr_sweeper.retry import AdaptiveRate, RetryPolicy, Turn


class FakeClient:
    """Shaped like a botocore client of `service` (meta.service_model, bound methods): every
    operation answers {} after the given failures."""

    def __init__(self, service: str, failures: list[ClientError] | None = None) -> None:
        self.meta = SimpleNamespace(
            service_model=SimpleNamespace(service_name=service), method_to_api_mapping={}
        )
        self._failures = list(failures or [])

    async def _answer(self) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        if self._failures:
            raise self._failures.pop(0)
        return {}

    async def describe_task_definition(self, **_: Any) -> dict[str, Any]:
        return await self._answer()

    async def list_tasks(self, **_: Any) -> dict[str, Any]:
        return await self._answer()

    async def describe_tasks(self, **_: Any) -> dict[str, Any]:
        return await self._answer()

    async def list_services(self, **_: Any) -> dict[str, Any]:
        return await self._answer()

    async def describe_services(self, **_: Any) -> dict[str, Any]:
        return await self._answer()

    async def describe_images(self, **_: Any) -> dict[str, Any]:
        return await self._answer()

    async def get_repository_policy(self, **_: Any) -> dict[str, Any]:
        return await self._answer()


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


class FakeClock:
    """Time that passes only when someone sleeps (every sleep is recorded), or `advance`s it."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await anyio.lowlevel.checkpoint()


class ManualClock(FakeClock):
    """A clock whose sleepers wait until the test moves time past their wake-up."""

    def __init__(self) -> None:
        super().__init__()
        self._moved = anyio.Event()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        until = self.t + seconds
        while self.t < until:
            await self._moved.wait()

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self._moved.set()
        self._moved = anyio.Event()


def test_aimd_cuts_on_throttling_and_climbs_back_additively() -> None:
    clock = FakeClock()
    limits = Limits(initial_rate=40.0, min_rate=2.0, rate_step=10.0, backoff=0.7)
    rate = AdaptiveRate(limits, clock=clock)
    rate.on_throttled(reserved_at=clock.now())
    assert rate.rate == pytest.approx(28.0)
    for _ in range(100):
        clock.t += 1.0
        rate.on_throttled(reserved_at=clock.now())  # each a new window: sent after the last cut
    assert rate.rate == 2.0  # never below the floor
    for _ in range(50):
        rate.on_success()
    assert 2.0 < rate.rate < 40.0  # additive: ~+10 calls/s per second of calls


def test_a_burst_of_throttles_cuts_the_rate_once_per_window() -> None:
    clock = FakeClock()
    rate = AdaptiveRate(Limits(backoff=0.7), bucket_for("ecs", "DescribeTaskDefinition"), clock)
    sent = clock.now()
    clock.t += 0.05
    for _ in range(30):  # 30 calls in flight together, all throttled: one congestion event
        rate.on_throttled(reserved_at=sent)
    assert (rate.throttles, rate.cuts) == (30, 1)
    assert rate.rate == pytest.approx(0.7 * 20.0)
    clock.t += 0.05
    rate.on_throttled(reserved_at=clock.now() - 0.01)  # sent after the cut: a new window
    assert rate.cuts == 2


def test_the_rate_climbs_only_on_calls_it_paced_and_never_above_a_published_rate() -> None:
    clock = FakeClock()
    assumed = AdaptiveRate(Limits(), bucket_for("ecr", "DescribeImages"), clock)
    for _ in range(100):
        assumed.on_success(Turn(clock.now(), waited=False))  # the bucket was not the limit
    assert assumed.rate == 20.0
    for _ in range(100):
        assumed.on_success(Turn(clock.now(), waited=True))  # paced: probe above the assumption
    assert assumed.rate > 20.0
    published = AdaptiveRate(Limits(), bucket_for("ecs", "ListTasks"), clock)
    for _ in range(100):
        published.on_success(Turn(clock.now(), waited=True))
    assert published.rate == 20.0


def test_answers_that_are_errors_but_not_throttles_let_the_rate_climb_back() -> None:
    """Most repositories have no policy: after a cut, RepositoryPolicyNotFoundException answers
    are the bucket admitting calls, and the rate must climb on them as on successes."""
    clock = FakeClock()
    not_found = [client_error("RepositoryPolicyNotFoundException")] * 200

    async def run() -> AdaptiveRate:
        api = Api(4, RetryPolicy(), Limits(), clock=clock)
        ecr = FakeClient("ecr", failures=not_found)
        pace = api.rate_for(ecr.get_repository_policy)
        pace.on_throttled(reserved_at=clock.now())
        for _ in range(200):
            with pytest.raises(ClientError):
                await api.call(ecr.get_repository_policy)
        return pace

    pace = anyio.run(run)
    assert pace.rate > 20.0 * 0.7


def test_actions_of_one_ecs_category_share_one_bucket_and_ecr_actions_do_not() -> None:
    async def run() -> dict[str, AdaptiveRate]:
        api = Api(4, RetryPolicy(), Limits(), clock=FakeClock())
        ecs, ecr = FakeClient("ecs"), FakeClient("ecr")
        return {
            name: api.rate_for(getattr(client, name))
            for client, names in (
                (ecs, ("list_tasks", "describe_tasks", "describe_services", "list_services")),
                (ecr, ("describe_images", "get_repository_policy")),
            )
            for name in names
        }

    rates = anyio.run(run)
    assert rates["list_tasks"] is rates["describe_tasks"]
    assert rates["list_services"] is rates["describe_services"]
    assert rates["list_tasks"] is not rates["list_services"]
    assert rates["describe_images"] is not rates["get_repository_policy"]
    bucket = rates["describe_tasks"].bucket
    assert bucket is not None
    assert (bucket.name, bucket.rate, bucket.burst) == ("ecs:cluster resource read", 20, 100)


def test_the_client_knows_the_buckets_the_emulator_enforces() -> None:
    """One table each (the emulator's cites AWS's page), checked equal: neither drifts."""
    for category, (limit, actions) in ECS_CATEGORIES.items():
        for action in actions:
            bucket = bucket_for("ecs", action)
            assert bucket is not None
            assert bucket.name == f"ecs:{category}"
            assert (bucket.rate, bucket.burst) == (limit.rate, limit.burst)
            assert bucket.published
    emulated = {f"ecs:{a}" for _, actions in ECS_CATEGORIES.values() for a in actions}
    assert set(ECS_BUCKETS) == emulated
    unknown = bucket_for("ecs", "ListDaemons")
    assert unknown is not None
    assert unknown.name == "ecs:ListDaemons"
    assert (unknown.rate, unknown.burst) == (ECS_DEFAULT.rate, ECS_DEFAULT.burst)
    assert Quotas().limit_for("ecs:ListDaemons") == ECS_DEFAULT
    for op in ("DescribeImages", "GetRepositoryPolicy", "DescribeRepositories"):
        assumed = bucket_for("ecr", op)
        assert assumed is not None
        assert not assumed.published  # an assumption: the controller probes above it
        assert Quotas().limit_for(f"ecr:{op}") == RateLimit(assumed.rate, assumed.burst)


def test_a_call_waiting_for_a_slow_bucket_does_not_hold_a_slot() -> None:
    """One slot; the slow bucket's second call must wait for a refill. A call to another
    bucket goes through meanwhile (with the wait inside the gate it would queue behind)."""
    clock = ManualClock()
    done: list[str] = []

    async def run() -> None:
        api = Api(1, RetryPolicy(), Limits(burst_reserve=49.0), clock=clock)
        ecs = FakeClient("ecs")  # task definition read: burst 50, less 49 reserved = 1 token

        async def call(name: str, label: str) -> None:
            await api.call(getattr(ecs, name))
            done.append(label)

        async with anyio.create_task_group() as tg:
            await call("describe_task_definition", "first")
            tg.start_soon(call, "describe_task_definition", "second")  # waits for a token
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(call, "list_services", "other bucket")
            await anyio.wait_all_tasks_blocked()
            assert done == ["first", "other bucket"]
            clock.advance(1.0)
        assert done == ["first", "other bucket", "second"]

    anyio.run(run)


@pytest.mark.usefixtures("real_retry_waits")
def test_a_throttled_call_waits_no_longer_than_its_bucket_needs_to_refill() -> None:
    """With real waits on (not instant), the retry of a throttled call sleeps only until the
    bucket holds a token for it: 1 / rate, the rate being the cut one."""
    clock = FakeClock()
    throttles = [client_error("ThrottlingException")] * 3

    async def run() -> AdaptiveRate:
        api = Api(4, RetryPolicy(base_seconds=5.0, max_seconds=20.0), Limits(), clock=clock)
        ecs = FakeClient("ecs", failures=throttles)
        await api.call(ecs.describe_task_definition)
        return api.rate_for(ecs.describe_task_definition)

    pace = anyio.run(run)
    assert pace.throttles == 3
    # Each retry is sent after the previous cut (a new window each time), so each cuts the rate
    # by 30%; each waits exactly one token's refill at the rate then, never a 5 s+ backoff.
    rates = [20.0 * 0.7**k for k in (1, 2, 3)]
    assert [s for s in clock.sleeps if s > 0] == pytest.approx([1.0 / r for r in rates])


@pytest.mark.usefixtures("real_retry_waits")
def test_server_errors_still_back_off_exponentially() -> None:
    clock = FakeClock()

    async def run() -> None:
        api = Api(4, RetryPolicy(base_seconds=5.0, max_seconds=20.0), Limits(), clock=clock)
        # Two failures, then an answer: within the server-error budget (3 attempts).
        ecs = FakeClient("ecs", failures=[client_error("ServerException", 500)] * 2)
        await api.call(ecs.describe_task_definition)

    anyio.run(run)
    assert len(clock.sleeps) == 2  # tenacity's backoffs (random, full jitter, up to 20 s)


def test_persistent_server_errors_get_three_attempts_and_throttling_its_longer_budget() -> None:
    """An operation that has not answered in the account x region yet, answering a bare 5xx
    (no AWS error code: moto's for an operation it lacks), gets botocore's standard budget;
    throttling and AWS's own server errors keep the policy's."""

    async def run() -> tuple[int, ...]:
        api = Api(4, RetryPolicy.instant(attempts=10), Limits())
        broken = FakeClient("ecs", failures=[client_error("500", 500)] * 20)
        with pytest.raises(ClientError):
            await api.call(broken.describe_task_definition)
        throttled = FakeClient("ecr", failures=[client_error("ThrottlingException")] * 20)
        with pytest.raises(ClientError):
            await api.call(throttled.describe_images)
        aws_own = FakeClient("ecs", failures=[client_error("InternalFailure", 500)] * 20)
        with pytest.raises(ClientError):
            await api.call(aws_own.list_services)
        spent = (broken, throttled, aws_own)
        return tuple(20 - len(client._failures) for client in spent)

    server_attempts, throttled_attempts, aws_own_attempts = anyio.run(run)
    assert server_attempts == 3  # botocore's standard budget
    assert throttled_attempts == 10
    assert aws_own_attempts == 10  # AWS's own InternalFailure says "try again"


def test_an_operation_that_keeps_failing_stops_early_with_one_line() -> None:
    lines: list[str] = []

    async def run() -> list[int]:
        api = Api(4, RetryPolicy.instant(attempts=10), Limits(), where="1/us-east-1")
        api.on_retry = lines.append
        spent = []
        for _ in range(3):
            lambdas = FakeClient("lambda", failures=[client_error("500", 500)] * 20)
            with pytest.raises(ClientError):
                await api.call(lambdas.list_tasks)
            spent.append(20 - len(lambdas._failures))
        # Another operation of the same account x region keeps its budget; an answer of the
        # failing one gives it back its retries.
        ecs = FakeClient("ecs", failures=[client_error("500", 500)] * 2)
        await api.call(ecs.describe_tasks)
        healed = FakeClient("lambda", failures=[])
        await api.call(healed.list_tasks)
        again = FakeClient("lambda", failures=[client_error("500", 500)] * 20)
        with pytest.raises(ClientError):
            await api.call(again.list_tasks)
        spent.append(20 - len(again._failures))
        return spent

    # Once the operation has answered here, its server errors are transient: the long budget.
    assert anyio.run(run) == [3, 1, 1, 10]
    failing = [line for line in lines if "keeps failing" in line]
    assert len(failing) == 1, lines
    assert failing[0].startswith(
        "lambda:list_tasks in 1/us-east-1 keeps failing (500 after 3 attempts)"
    )


def test_an_operation_failing_in_every_region_is_named_once_per_account() -> None:
    """Issue 20 §3: moto lacks an operation in every region; one line, not one per region.
    The gates of one run share `first_time` (Connections does, per account)."""
    lines: list[str] = []
    said: set[str] = set()

    def first_time(key: str) -> bool:
        new = key not in said
        said.add(key)
        return new

    async def run() -> list[int]:
        spent = []
        for region in ("us-east-1", "eu-west-1", "ap-south-1"):
            policy = replace(RetryPolicy.instant(attempts=10), report_every_seconds=0.0)
            api = Api(4, policy, Limits(), where=f"1/{region}", first_time=first_time)
            api.on_retry = lines.append
            lambdas = FakeClient("lambda", failures=[client_error("500", 500)] * 20)
            with pytest.raises(ClientError):
                await api.call(lambdas.list_tasks)
            spent.append(20 - len(lambdas._failures))
        return spent

    assert anyio.run(run) == [3, 3, 3]  # each region still spends its budget
    assert lines == [
        "retrying lambda:list_tasks in 1/us-east-1 (attempt 2/3: 500)",
        "lambda:list_tasks in 1/us-east-1 keeps failing (500 after 3 attempts): its next calls "
        "there are not retried (nor named again for the account's other regions)",
    ]


def test_a_throttled_call_is_retried_and_slows_its_api() -> None:
    answers: list[Any] = [client_error("ThrottlingException"), {"ok": True}]

    async def operation(**_: Any) -> dict[str, Any]:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return dict(answer)

    async def run() -> tuple[dict[str, Any], float]:
        api = Api(1, RetryPolicy(), Limits(initial_rate=100.0))
        answer = await api.call(operation)
        return answer, api.rate_for(operation).rate

    answer, rate = anyio.run(run)
    assert answer == {"ok": True}
    assert rate < 100.0


def test_paging_stops_on_a_token_that_comes_back() -> None:
    async def operation(**kwargs: Any) -> dict[str, Any]:
        return {"items": [kwargs.get("nextToken")], "nextToken": "same"}

    async def run() -> list[Any]:
        api = Api(1, RetryPolicy())
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
        return await Api(1, RetryPolicy()).pages(operation, "items")

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


PAGE = 150  # the inventory's page, in this test


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.integers(0, PAGE), min_size=1, max_size=5), st.booleans()),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 300),
    st.integers(1, 300),
)
def test_the_image_budget_bounds_the_images_held_and_every_share_ends(
    repositories: list[tuple[list[int], bool]], limit: int, most: int
) -> None:
    """Shares (repositories being read page by page) take images: at any
    time the images held are at most the budget plus one share's (the oldest may always go
    on, and the others keep within the budget beside it, however large it is, each within
    `most`), and every share ends (no share waits for ever on another that waits too). Some
    then give their images back and are judged `alone`: while they are, no other share holds
    more than when it began."""
    budget = ImageBudget(limit, most=most)
    largest = max(sum(pages) for pages, _ in repositories) + PAGE  # and a page asked for
    ended: list[int] = []
    held: list[int] = []
    others: list[int] = []
    each_other: list[int] = []  # the largest share but the oldest's

    def seen() -> None:
        held.append(budget.used)
        others.append(budget.others)
        each_other.append(max([*list(budget._shares.values())[1:], 0]))

    grew: list[bool] = []  # whether another share took images while one was alone

    async def read(n: int, pages: list[int], judged_alone: bool) -> None:
        async with budget.share() as take:  # the inventory's: page by page
            for size in pages:
                await take(PAGE)  # room for a whole page before it is asked for
                seen()
                await anyio.lowlevel.checkpoint()  # the others run meanwhile
                await take(size - PAGE)  # what the page did not fill, given back
                seen()
            if judged_alone:  # its images on disk, made whole again alone
                await take(-budget._shares[take.me])
                async with budget.alone(take):
                    before = dict(budget._shares)
                    await anyio.lowlevel.checkpoint()
                    grew.append(any(budget._shares.get(k, 0) > v for k, v in before.items()))
        ended.append(n)

    async def main() -> None:
        with anyio.fail_after(30):  # only a deadlock would reach it
            async with anyio.create_task_group() as tg:
                for n, (pages, judged_alone) in enumerate(repositories):
                    tg.start_soon(read, n, pages, judged_alone)

    anyio.run(main)
    assert sorted(ended) == list(range(len(repositories)))
    assert len(grew) == sum(judged_alone for _, judged_alone in repositories)
    assert not any(grew)
    assert max(held) <= limit + largest
    assert max(others) <= limit
    assert max(each_other) <= most
    assert budget.used == 0


def test_a_repository_larger_than_the_image_budget_does_not_stop_the_small_ones() -> None:
    """The oldest share (a repository of 10 budgets, being read) goes on, and the small ones
    beside it are read within the budget, not after it: they do not wait for it to end."""
    budget = ImageBudget(100)
    order: list[str] = []

    async def main() -> None:
        big_read = anyio.Event()
        small_done = anyio.Event()

        async def big() -> None:
            async with budget.share() as take:
                await take(1000)
                big_read.set()
                await small_done.wait()  # held while the small ones are read
                order.append("big ends")

        async def small(n: int) -> None:
            await big_read.wait()
            async with budget.share() as take:
                await take(60)
                order.append(f"small {n} read, {budget.others} beside the big one")
            if n == 1:
                small_done.set()

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(big)
                tg.start_soon(small, 0)
                tg.start_soon(small, 1)

    anyio.run(main)
    # Both were read while the big one was held (the old rule had them wait for its end).
    assert order == [
        "small 0 read, 60 beside the big one",
        "small 1 read, 60 beside the big one",
        "big ends",
    ]
    assert budget.used == 0


def test_a_share_alone_begins_once_the_others_hold_none_or_wait_and_none_takes_meanwhile() -> None:
    """A repository made whole again to be judged is alone in the budget: its block begins
    only once every other share has given its images back or waits for room (a share that
    waits holding some cannot stop it), no share takes images while it lasts, the oldest
    neither, and they all go on when it ends."""
    budget = ImageBudget(100, most=1000)
    seen: list[str] = []

    async def main() -> None:
        took, asked, begun = anyio.Event(), anyio.Event(), anyio.Event()

        async def oldest() -> None:
            async with budget.share() as take:
                await take(30)
                took.set()
                await asked.wait()
                await anyio.sleep(0.05)  # the share alone waits for these 30
                seen.append(f"oldest gives back 30, alone begun: {begun.is_set()}")
                await take(-30)
                await take(10)
                seen.append(f"oldest takes 10, alone begun: {begun.is_set()}")

        async def waiting() -> None:
            await took.wait()
            async with budget.share() as take:
                await take(20)
                await asked.wait()
                await take(90)  # more than the room beside the oldest: waits, holding 20
                seen.append("the waiting share takes 90")

        async def alone() -> None:
            await took.wait()
            await anyio.sleep(0.01)
            async with budget.share() as share:
                asked.set()
                async with budget.alone(share):
                    begun.set()
                    seen.append(f"alone, {budget.used} held by the others")
                    await anyio.sleep(0.05)  # the others run meanwhile, and take nothing
                    seen.append(f"alone ends, {budget.used} held by the others")

        async def newcomer() -> None:
            await begun.wait()
            async with budget.share() as take:
                await take(5)
                seen.append("newcomer takes 5")

        with anyio.fail_after(5):  # only a deadlock would reach it
            async with anyio.create_task_group() as tg:
                for task in (oldest, waiting, alone, newcomer):
                    tg.start_soon(task)

    anyio.run(main)
    assert seen[:4] == [
        "oldest gives back 30, alone begun: False",
        "alone, 20 held by the others",
        "alone ends, 20 held by the others",
        "oldest takes 10, alone begun: True",
    ]
    assert sorted(seen[4:]) == ["newcomer takes 5", "the waiting share takes 90"]
    assert budget.used == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=60), st.integers(1, 8))
def test_fan_out_does_everything_put_with_at_most_so_many_tasks(
    delays: list[int], at_once: int
) -> None:
    """What is put is done once each, by at most `at_once` tasks at once (what waits is its
    arguments, not a task), including what the work itself puts while the block lasts."""
    done: list[int] = []
    running = [0, 0]  # now, most

    async def main() -> None:
        async def work(n: int, delay: int) -> None:
            running[0] += 1
            running[1] = max(running)
            for _ in range(delay):
                await anyio.lowlevel.checkpoint()
            running[0] -= 1
            done.append(n)
            if n % 7 == 0 and n < len(delays):  # work that finds more work
                put(n + 1000, 0)

        with anyio.fail_after(10):
            async with fan_out(work, at_once) as put:
                for n, delay in enumerate(delays):
                    put(n, delay)
                tasks_now = len([t for t in asyncio.all_tasks() if not t.done()])
            assert tasks_now <= at_once + 1  # the workers, and this one

    anyio.run(main)
    more = [n + 1000 for n in range(len(delays)) if n % 7 == 0]
    assert sorted(done) == sorted([*range(len(delays)), *more])
    assert running[1] <= at_once


def test_a_failure_in_fan_out_raises_out_of_its_block() -> None:
    async def main() -> None:
        async def work(n: int) -> None:
            await anyio.lowlevel.checkpoint()
            if n == 3:
                raise ValueError("the third")

        async with fan_out(work, 2) as put:
            for n in range(10):
                put(n)

    with pytest.raises(ExceptionGroup) as raised:
        anyio.run(main)
    assert raised.group_contains(ValueError, match="the third")
