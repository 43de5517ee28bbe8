"""retry.py: the one retry loop of aws/ and kube/, and the switch that makes it instant."""

from __future__ import annotations

import anyio
import pytest

from aws.test_limits import FakeClock
from ecr_sweeper import retry
from ecr_sweeper.retry import RetryPolicy


class FlakyError(Exception):
    """An error worth another try."""


class PacedError(Exception):
    """An error whose retry the caller's pacing times."""


def sleeps_of(policy: RetryPolicy, failures: list[Exception]) -> tuple[int, list[float]]:
    """Run a call failing with `failures` then succeeding through the policy's loop: the
    attempts made and the seconds slept between them."""
    clock = FakeClock()
    pending = list(failures)
    attempts = 0

    async def run() -> None:
        nonlocal attempts
        loop = policy.retrying(
            lambda error: isinstance(error, FlakyError | PacedError),
            paced=lambda error: isinstance(error, PacedError),
            clock=clock,
        )
        async for attempt in loop:
            with attempt:
                attempts += 1
                if pending:
                    raise pending.pop(0)

    anyio.run(run)
    return attempts, clock.sleeps


def test_the_test_switch_is_on_in_tests_and_makes_every_wait_zero() -> None:
    assert retry.is_testing()  # conftest.py
    attempts, sleeps = sleeps_of(
        RetryPolicy(base_seconds=5.0), [FlakyError(), FlakyError(), FlakyError()]
    )
    assert attempts == 4
    assert sleeps == [0.0, 0.0, 0.0]


@pytest.mark.usefixtures("real_retry_waits")
def test_without_the_switch_errors_back_off_and_paced_ones_wait_for_their_turn() -> None:
    assert not retry.is_testing()
    attempts, sleeps = sleeps_of(
        RetryPolicy(base_seconds=5.0), [FlakyError(), PacedError(), FlakyError()]
    )
    assert attempts == 4
    assert sleeps[1] == 0.0  # the caller's pacing times it
    assert sleeps[0] >= 0.0
    assert 0.0 <= sleeps[2] <= 20.0
    assert any(s > 0.0 for s in (sleeps[0], sleeps[2]))  # full jitter: 0 is possible, twice not
    # the policy's own zero-wait mode, switch or not
    assert sleeps_of(RetryPolicy.instant(), [FlakyError(), FlakyError()])[1] == [0.0, 0.0]


def test_the_attempts_are_the_policys_and_what_is_not_retryable_is_raised_at_once() -> None:
    with pytest.raises(FlakyError):
        sleeps_of(RetryPolicy(attempts=3), [FlakyError()] * 5)
    with pytest.raises(ValueError, match="no"):
        sleeps_of(RetryPolicy(), [ValueError("no")])
