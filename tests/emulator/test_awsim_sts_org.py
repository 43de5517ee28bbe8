"""STS multi-account credentials and Organizations ListAccounts (incl. empty pages)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from awsim import Account, Emulator, Quotas, Region, Repository, Scenario, run_emulator
from awsim.fixtures import assume, client, pages

MGMT = "111111111111"
ACCTS = [MGMT] + [f"{200000000000 + i}" for i in range(44)]
DENIED = "999999999999"
OUTSIDE = "888888888888"


def _scenario() -> Scenario:
    accts = [
        Account(
            a,
            name=f"acct-{i}",
            regions=(Region("us-east-1", repositories=(Repository(f"repo-{a}"),)),),
        )
        for i, a in enumerate(ACCTS)
    ]
    accts.append(Account(DENIED, assume_role_denied=True))
    accts.append(Account(OUTSIDE, in_organization=False, status="ACTIVE"))
    return Scenario(tuple(accts))


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with run_emulator(_scenario(), quotas=Quotas.unlimited(org_empty_page_every=3)) as e:
        yield e


def test_caller_identity_base_credentials(emu: Emulator) -> None:
    ident = client(emu.endpoint_url, "sts").get_caller_identity()
    assert ident["Account"] == MGMT
    assert ident["Arn"] == f"arn:aws:iam::{MGMT}:user/awsim"


def test_assume_role_maps_credentials_to_account(emu: Emulator) -> None:
    target = ACCTS[5]
    creds = assume(emu.endpoint_url, target, role="path/to/sweeper-role")
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["SessionToken"]
    assert creds["Expiration"]
    ident = client(emu.endpoint_url, "sts", creds=creds).get_caller_identity()
    assert ident["Account"] == target
    assert ident["Arn"] == f"arn:aws:sts::{target}:assumed-role/sweeper-role/awsim-test"
    ecr = client(emu.endpoint_url, "ecr", "us-east-1", creds=creds)
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == [
        f"repo-{target}"
    ]
    # Region comes from the SigV4 scope: nothing in eu-west-1.
    assert (
        client(emu.endpoint_url, "ecr", "eu-west-1", creds=creds).describe_repositories()[
            "repositories"
        ]
        == []
    )
    # Role chaining works too.
    chained = client(emu.endpoint_url, "sts", creds=creds).assume_role(
        RoleArn=f"arn:aws:iam::{ACCTS[6]}:role/x", RoleSessionName="chain"
    )["Credentials"]
    assert (
        client(emu.endpoint_url, "sts", creds=chained).get_caller_identity()["Account"] == ACCTS[6]
    )
    assert emu.call_count(account=target, operation="DescribeRepositories") == 2


def test_assume_role_with_web_identity(emu: Emulator) -> None:
    sts = client(emu.endpoint_url, "sts")
    r = sts.assume_role_with_web_identity(
        RoleArn=f"arn:aws:iam::{ACCTS[1]}:role/irsa",
        RoleSessionName="pod",
        WebIdentityToken="eyJhbGciOi.fake.jwt",
    )
    assert r["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCTS[1]}:assumed-role/irsa/pod"
    assert (
        client(emu.endpoint_url, "sts", creds=r["Credentials"]).get_caller_identity()["Account"]
        == ACCTS[1]
    )


@pytest.mark.parametrize(
    "role_arn",
    [
        f"arn:aws:iam::{DENIED}:role/sweeper",
        "arn:aws:iam::777777777777:role/sweeper",
        "not-an-arn-at-all-xyz-123",
    ],
)
def test_assume_role_denied(emu: Emulator, role_arn: str) -> None:
    with pytest.raises(ClientError) as e:
        client(emu.endpoint_url, "sts").assume_role(RoleArn=role_arn, RoleSessionName="xx")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "Sender" in str(e.value.response["Error"])  # the STS XML <Type>
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_list_accounts_pages_of_20_with_empty_page(emu: Emulator) -> None:
    org = client(emu.endpoint_url, "organizations")
    ps = pages(org.list_accounts, "Accounts", token_key="NextToken")
    assert [len(p) for p in ps] == [20, 20, 0, 6]  # the empty page still had a NextToken
    ids = [a["Id"] for p in ps for a in p]
    assert ids == [*ACCTS, DENIED]
    assert OUTSIDE not in ids
    acct = ps[0][1]
    assert acct["Arn"] == f"arn:aws:organizations::{MGMT}:account/o-awsim00001/{ACCTS[1]}"
    assert acct["Name"] == "acct-1"
    assert acct["Status"] == "ACTIVE"
    paginator = org.get_paginator("list_accounts")
    assert sum(len(p["Accounts"]) for p in paginator.paginate()) == 46
    small = pages(org.list_accounts, "Accounts", token_key="NextToken", MaxResults=5)
    assert sum(map(len, small)) == 46
    assert [] in small
    with pytest.raises(ClientError) as e:
        org.list_accounts(MaxResults=21)
    assert e.value.response["Error"]["Code"] == "InvalidInputException"


def test_list_accounts_only_from_management(emu: Emulator) -> None:
    org = client(emu.endpoint_url, "organizations", creds=assume(emu.endpoint_url, ACCTS[3]))
    with pytest.raises(ClientError) as e:
        org.list_accounts()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
