"""Accounts from AWS Organizations (`plan --org`): paging with empty pages on the emulator;
OU and tag filters on moto's server."""

from __future__ import annotations

from typing import Any

import anyio
import boto3
import pytest

from awsim import Account, Quotas, Scenario, run_emulator
from conftest import use_only
from ecr_sweeper.aws.org import ORGANIZATIONS_REGION, discover_accounts
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.events import ignore
from ecr_sweeper.model import AccountId, Policy, Region, Sources
from ecr_sweeper.runs import Organization, Sweep, accounts_to_sweep


def discover(**filters: Any) -> list[str]:
    async def run() -> list[AccountId]:
        async with Connections() as connections:
            organizations = await connections.base_client(
                "organizations", Region(ORGANIZATIONS_REGION)
            )
            api = connections.api(AccountId("organization"), Region(ORGANIZATIONS_REGION))
            return await discover_accounts(organizations, api, **filters)

    return list(anyio.run(run))


def test_every_active_account_across_pages_and_empty_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = [f"{100000000000 + n}" for n in range(45)]  # > 2 pages of 20
    accounts = tuple(
        Account(i, status="SUSPENDED" if n == 7 else "ACTIVE") for n, i in enumerate(ids)
    )
    with run_emulator(Scenario(accounts), quotas=Quotas.unlimited()) as emu:
        use_only(monkeypatch, emu.env())
        found = discover(exclude=[ids[3]])
        pages = emu.call_count(operation="ListAccounts")
    assert found == sorted(set(ids) - {ids[7], ids[3]})
    assert pages >= 3


@pytest.mark.usefixtures("aws")
def test_units_and_tags_narrow_the_organization() -> None:
    organizations = boto3.client("organizations", region_name="us-east-1")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    prod = organizations.create_organizational_unit(ParentId=root, Name="prod")[
        "OrganizationalUnit"
    ]["Id"]
    eu = organizations.create_organizational_unit(ParentId=prod, Name="eu")["OrganizationalUnit"][
        "Id"
    ]

    def account(name: str, parent: str, tags: dict[str, str]) -> str:
        status = organizations.create_account(
            Email=f"{name}@example.com",
            AccountName=name,
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )["CreateAccountStatus"]
        account_id = str(status["AccountId"])
        organizations.move_account(
            AccountId=account_id, SourceParentId=root, DestinationParentId=parent
        )
        return account_id

    web = account("web", prod, {"sweep": "yes"})
    shop = account("shop", eu, {"sweep": "yes"})
    legacy = account("legacy", eu, {"sweep": "no"})
    other = account("other", root, {"sweep": "yes"})

    assert discover(units=[prod]) == sorted([web, shop, legacy])  # recursive
    assert discover(units=[prod], tag=("sweep", "yes")) == sorted([web, shop])
    everything = discover(tag=("sweep", "yes"))
    assert set(everything) == {web, shop, other}


@pytest.mark.usefixtures("aws")
def test_the_run_knows_its_organization_only_when_it_sweeps_all_of_it() -> None:
    """A repository policy granting the organization (aws:PrincipalOrgID) is swept only by a
    run that sweeps every account of that organization (issue 11 §1)."""

    organizations = boto3.client("organizations", region_name="us-east-1")
    org_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    unit = organizations.create_organizational_unit(ParentId=root, Name="prod")
    unit_id = unit["OrganizationalUnit"]["Id"]
    status = organizations.create_account(Email="web@example.com", AccountName="web")
    web = str(status["CreateAccountStatus"]["AccountId"])
    organizations.move_account(AccountId=web, SourceParentId=root, DestinationParentId=unit_id)

    whole = Organization()
    accounts, organization = sweep_accounts(organization=whole)
    assert web in accounts
    assert len(accounts) > 1
    assert organization == org_id
    # An account of it left out: its grant reaches outside the run.
    left_out = sweep_accounts(organization=whole, excluded=(AccountId(web),))
    assert web not in left_out[0]
    assert left_out[1] is None
    assert sweep_accounts(organization=Organization(units=(unit_id,))) == ([web], None)
    assert sweep_accounts(given=(AccountId("111111111111"),)) == (["111111111111"], None)


def sweep_accounts(
    given: tuple[AccountId, ...] = (),
    organization: Organization | None = None,
    excluded: tuple[AccountId, ...] = (),
) -> tuple[list[str], str | None]:
    """The accounts `plan` would sweep, and the organization its policy knows."""
    # A role in every account: the accounts without one must be the caller's (runs._check_roles).
    sweep = Sweep(
        Policy(),
        Sources(),
        accounts=given,
        organization=organization,
        excluded=excluded,
        role_name="EcrSweeper",
    )

    async def run() -> tuple[list[str], str | None]:
        async with Connections() as connections:
            caller = AccountId("999999999999")
            targets, policy = await accounts_to_sweep(sweep, connections, caller, ignore)
        return [t.account_id for t in targets], policy.organization

    return anyio.run(run)
