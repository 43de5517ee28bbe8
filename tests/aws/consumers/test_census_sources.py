"""How `scan_usage` turns consumer kinds into census entries (scan.py), with fake kinds: a kind
is read when it is on and none of its readers failed; a census-only kind (no reader) is present
and unread where it exists; a census call that fails leaves presence unknown."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from ecr_sweeper.aws.consumers import elasticbeanstalk, lightsail
from ecr_sweeper.aws.consumers.elasticbeanstalk import runs_containers
from ecr_sweeper.aws.consumers.kind import Kind, ReadContext, Reader, Reading
from ecr_sweeper.aws.consumers.scan import read_context, scan_usage
from ecr_sweeper.aws.limits import Api
from ecr_sweeper.model import AccountId, AccountTarget, CensusEntry, Region, Sources
from ecr_sweeper.retry import RetryPolicy


async def found_one(ctx: ReadContext) -> bool:  # noqa: ARG001 - no I/O
    return True


async def census_fails(ctx: ReadContext) -> bool:  # noqa: ARG001 - no I/O
    raise RuntimeError("AccessDenied")


async def reads_nothing(ctx: ReadContext) -> Reading:  # noqa: ARG001 - no I/O
    return Reading()


async def read_fails(ctx: ReadContext) -> Reading:  # noqa: ARG001 - no I/O
    raise RuntimeError("ThrottlingException")


def fake(name: str, **changes: Any) -> Kind:
    """A kind `name` that exists (one found) and whose reader reads nothing."""
    kind = Kind(name, f"fake {name}", found_one, (Reader(f"fake {name}", reads_nothing),))
    return replace(kind, **changes)


def census(*kinds: Kind, sources: Sources | None = None) -> tuple[CensusEntry, ...]:
    async def client(service: str) -> Any:  # noqa: ARG001 - no task definition to describe
        return None

    ctx = read_context(
        AccountTarget(AccountId("111111111111"), ()),
        Region("us-east-1"),
        api=Api(4, RetryPolicy()),
        client=client,
        sources=sources or Sources(rollback_revisions=0),
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )
    return anyio.run(scan_usage, ctx, kinds).census


def test_a_census_only_kind_is_present_and_unread() -> None:
    [entry] = census(replace(elasticbeanstalk.KIND, present=found_one))
    assert (entry.kind, entry.present, entry.read, entry.detail) == (
        "elasticbeanstalk",
        True,
        False,
        "elastic beanstalk docker environments: no reader in this tool",
    )
    assert elasticbeanstalk.KIND.census_only
    assert not lightsail.KIND.census_only  # read since issue 19


def test_a_kind_with_a_reader_that_is_on_is_read() -> None:
    [entry] = census(fake("lambda"))
    assert (entry.present, entry.read, entry.detail) == (True, True, "")


def test_a_switched_off_kind_is_unread() -> None:
    [lam] = census(fake("lambda"), sources=Sources(off=frozenset({"lambda"})))
    assert (lam.unread, lam.detail) == (True, "fake lambda: switched off")


def test_a_failed_reader_leaves_its_kind_unread_and_is_an_error() -> None:
    kind = fake("batch", readers=(Reader("fake batch", read_fails),))

    async def client(service: str) -> Any:  # noqa: ARG001 - no task definition to describe
        return None

    ctx = read_context(
        AccountTarget(AccountId("111111111111"), ()),
        Region("us-east-1"),
        api=Api(4, RetryPolicy.instant()),
        client=client,
        sources=Sources(rollback_revisions=0),
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )
    scan = anyio.run(scan_usage, ctx, [kind])
    [entry] = scan.census
    assert (entry.read, entry.detail) == (False, "read failed: fake batch")
    assert [e.message for e in scan.errors] == ["fake batch: RuntimeError: ThrottlingException"]


def test_a_failed_census_call_leaves_presence_unknown() -> None:
    [batch] = census(fake("batch", present=census_fails), sources=Sources(off=frozenset({"batch"})))
    assert batch.present is None
    assert batch.unread
    assert batch.detail == "fake batch: switched off; census failed: RuntimeError: AccessDenied"


@pytest.mark.parametrize(
    ("environment", "runs"),
    [
        ({"Status": "Ready", "SolutionStackName": "64bit Amazon Linux 2023 running Docker"}, True),
        (
            {
                "Status": "Ready",
                "PlatformArn": "arn:aws:elasticbeanstalk:::platform/ECS running on 64bit",
            },
            True,
        ),
        (
            {"Status": "Ready", "SolutionStackName": "64bit Amazon Linux 2023 running Python 3.12"},
            False,
        ),
        ({"Status": "Terminated", "SolutionStackName": "running Docker"}, False),
        ({"Status": "Ready"}, True),  # no platform named: it may run Docker
    ],
)
def test_which_beanstalk_environments_run_containers(
    environment: dict[str, str], runs: bool
) -> None:
    assert runs_containers(environment) is runs
