"""Accounts from AWS Organizations (`plan --org`): every ACTIVE account, or those under chosen
organizational units (recursively), optionally only those carrying a tag, less an exclude list.
Called with the base credentials, which must be allowed to read the organization (the
management account, or a delegated administrator)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from ecr_sweeper.aws.limits import Api
from ecr_sweeper.model import AccountId

ORGANIZATIONS_REGION = "us-east-1"  # Organizations is a global service served from us-east-1


async def discover_accounts(
    organizations: Any,
    api: Api,
    *,
    units: Sequence[str] = (),
    tag: tuple[str, str] | None = None,
    exclude: Sequence[str] = (),
) -> list[AccountId]:
    """ACTIVE accounts of the organization (under `units`, with `tag`), minus `exclude`."""
    if units:
        accounts: list[dict[str, Any]] = []
        for unit in units:
            accounts += await _under(organizations, api, unit)
    else:
        accounts = await api.pages(organizations.list_accounts, "Accounts", "NextToken")
    ids = sorted({a["Id"] for a in accounts if a.get("Status", "ACTIVE") == "ACTIVE"})
    ids = [i for i in ids if i not in set(exclude)]
    if tag is not None:
        tagged: set[str] = set()

        async def check(account: str) -> None:
            tags = await api.pages(
                organizations.list_tags_for_resource, "Tags", "NextToken", ResourceId=account
            )
            if any((t["Key"], t["Value"]) == tag for t in tags):
                tagged.add(account)

        async with anyio.create_task_group() as tg:
            for account in ids:
                tg.start_soon(check, account)
        ids = [i for i in ids if i in tagged]
    return [AccountId(i) for i in ids]


async def organization_id(organizations: Any, api: Api) -> str | None:
    """The organization's id ("o-…"), or None when it cannot be read: repositories whose
    policy lets an organization pull are then held, as for an organization outside the run."""
    try:
        answer = await api.call(organizations.describe_organization)
    except Exception:  # noqa: BLE001 - unknown organization: the safe reading holds
        return None
    found = answer.get("Organization", {}).get("Id")
    return found if isinstance(found, str) else None


async def _under(organizations: Any, api: Api, parent: str) -> list[dict[str, Any]]:
    """Accounts under `parent` (an OU or the root), recursively."""
    accounts = await api.pages(
        organizations.list_accounts_for_parent, "Accounts", "NextToken", ParentId=parent
    )
    children = await api.pages(
        organizations.list_organizational_units_for_parent,
        "OrganizationalUnits",
        "NextToken",
        ParentId=parent,
    )
    for child in children:
        accounts += await _under(organizations, api, child["Id"])
    return accounts
