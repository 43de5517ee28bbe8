"""Connections: closing the services a run no longer calls (on the emulator)."""

from __future__ import annotations

import anyio
import pytest

from awsim import Account, Quotas, Region, Repository, Scenario, run_emulator
from conftest import use_only
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.model import AccountId, AccountTarget
from ecr_sweeper.model import Region as RegionName

ACCOUNT = "111122223333"
US = RegionName("us-east-1")


def test_closed_services_reopen_when_asked_for_and_the_kept_ones_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After `close_services(keep={"ecr"})`, the ECR client is the same one and still calls;
    ECS's are closed (their connections with them), and asking for ECS again opens new ones
    that call as well."""
    scenario = Scenario(
        accounts=(
            Account(ACCOUNT, regions=(Region("us-east-1", repositories=(Repository("app"),)),)),
        )
    )
    target = AccountTarget(
        account_id=AccountId(ACCOUNT),
        regions=(US,),
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/EcrSweeper",
    )

    async def run() -> tuple[bool, bool, list[str], int]:
        async with Connections() as connections:
            ecr = await connections.client(target, US, "ecr")
            ecs = await connections.client(target, US, "ecs")
            await ecs.list_clusters()
            shared_ecs = connections._shared[US, "ecs"]
            await connections.close_services(keep={"ecr"})
            assert (US, "ecs") not in connections._shared  # closed, not only forgotten
            assert shared_ecs._endpoint.http_session._sessions is None  # its pool is closed
            same_ecr = await connections.client(target, US, "ecr") is ecr
            ecs_again = await connections.client(target, US, "ecs")
            answer = await ecr.describe_repositories()
            await ecs_again.list_clusters()
            return (
                same_ecr,
                ecs_again is not ecs,
                [r["repositoryName"] for r in answer["repositories"]],
                len(connections._shared),  # ecr and ecs, once each
            )

    with run_emulator(scenario, quotas=Quotas.unlimited()) as emu:
        use_only(monkeypatch, emu.env())
        same_ecr, new_ecs, names, shared = anyio.run(run)
        list_clusters = emu.call_count(operation="ListClusters")
    assert same_ecr
    assert new_ecs
    assert names == ["app"]
    assert shared == 2
    assert list_clusters == 2
