"""How `scan_usage` turns sources into census entries (context.py), with fake sources: a kind
is read when its readers are on and none failed; a census-only source (no reader) stands in
for a kind until a real reader of it exists; a census call that fails leaves presence unknown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from ecr_sweeper.aws.limits import Api
from ecr_sweeper.aws.usage.census_only import LightsailContainers, runs_containers
from ecr_sweeper.aws.usage.context import UsageContext, UsageSource, scan_usage
from ecr_sweeper.model import AccountId, AccountTarget, CensusEntry, Region, Sources
from ecr_sweeper.retry import RetryPolicy


class FakeReader:
    """A reader of `kind` that finds one (or fails its census)."""

    def __init__(self, kind: str, *, on: bool = True, census_fails: bool = False) -> None:
        self.name = f"fake {kind}"
        self.kind = kind
        self.on = on
        self.census_fails = census_fails

    def enabled(self, sources: Sources) -> bool:  # noqa: ARG002 - fixed by the test
        return self.on

    async def present(self, ctx: UsageContext) -> bool:  # noqa: ARG002 - no I/O
        if self.census_fails:
            raise RuntimeError("AccessDenied")
        return True

    async def collect(self, ctx: UsageContext) -> None:
        pass


class PresentLightsail(LightsailContainers):
    """A census-only source (no reader), with a container service found (no AWS call)."""

    async def present(self, ctx: UsageContext) -> bool:  # noqa: ARG002 - no I/O
        return True


def census(*sources: UsageSource) -> tuple[CensusEntry, ...]:
    async def client(service: str) -> Any:  # noqa: ARG001 - no task definition to describe
        return None

    ctx = UsageContext(
        AccountTarget(AccountId("111111111111"), ()),
        Region("us-east-1"),
        Api(4, RetryPolicy()),
        client,
        Sources(),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    return anyio.run(scan_usage, ctx, sources).census


def test_a_census_only_kind_is_present_and_unread() -> None:
    [lightsail] = census(PresentLightsail())
    assert (lightsail.kind, lightsail.present, lightsail.read, lightsail.detail) == (
        "lightsail",
        True,
        False,
        "lightsail container services: no reader in this tool",
    )


def test_a_real_reader_of_the_kind_supersedes_the_census_only_source() -> None:
    [lightsail] = census(PresentLightsail(), FakeReader("lightsail"))
    assert (lightsail.present, lightsail.read) == (True, True)


def test_a_switched_off_reader_leaves_its_kind_unread() -> None:
    [lam] = census(FakeReader("lambda", on=False))
    assert (lam.unread, lam.detail) == (True, "fake lambda: switched off")


def test_a_failed_census_call_leaves_presence_unknown() -> None:
    [batch] = census(FakeReader("batch", on=False, census_fails=True))
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
