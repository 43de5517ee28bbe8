"""STS (query protocol, XML answers) and Organizations (JSON 1.1) operations."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .arns import to_epoch
from .context import Ctx, Handler
from .wire import AwsError, decode_token, encode_token, page_size

_ROLE_RE = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\w+=,.@/-]+/)?([\w+=,.@-]+)$")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _assume(ctx: Ctx, req: dict[str, Any], action: str) -> str:
    role_arn = req.get("RoleArn", "")
    m = _ROLE_RE.match(role_arn)
    session_name = req.get("RoleSessionName", "awsim")
    acct = ctx.state.accounts.get(m.group(1)) if m else None
    duration = int(req.get("DurationSeconds", 3600))
    sess = None
    if m is not None and acct is not None and not acct.assume_role_denied and ctx.issue_session:
        # issue_session returns None when Faults deny the target account.
        sess = ctx.issue_session(m.group(1), m.group(2), session_name, duration)
    if sess is None or m is None:
        raise AwsError(
            "AccessDenied",
            f"User: {ctx.caller_arn} is not authorized to perform: sts:{action} "
            f"on resource: {role_arn}",
            403,  # STS answers AccessDenied with HTTP 403
        )
    assumed_arn = f"arn:aws:sts::{m.group(1)}:assumed-role/{m.group(2)}/{session_name}"
    role_id = "AROA" + sess.access_key_id[4:20]
    extra = ""
    if action == "AssumeRoleWithWebIdentity":
        extra = (
            "    <SubjectFromWebIdentityToken>awsim-subject</SubjectFromWebIdentityToken>\n"
            "    <Audience>sts.amazonaws.com</Audience>\n"
            f"    <Provider>arn:aws:iam::{m.group(1)}:oidc-provider/awsim</Provider>\n"
        )
    return (
        f"    <AssumedRoleUser>\n      <Arn>{assumed_arn}</Arn>\n"
        f"      <AssumedRoleId>{role_id}:{session_name}</AssumedRoleId>\n    </AssumedRoleUser>\n"
        f"    <Credentials>\n      <AccessKeyId>{sess.access_key_id}</AccessKeyId>\n"
        f"      <SecretAccessKey>{sess.secret_access_key}</SecretAccessKey>\n"
        f"      <SessionToken>{sess.session_token}</SessionToken>\n"
        f"      <Expiration>{_iso(sess.expires_at)}</Expiration>\n    </Credentials>\n"
        f"{extra}    <PackedPolicySize>6</PackedPolicySize>\n"
    )


def assume_role(ctx: Ctx, req: dict[str, Any]) -> str:
    return _assume(ctx, req, "AssumeRole")


def assume_role_with_web_identity(ctx: Ctx, req: dict[str, Any]) -> str:
    if not req.get("WebIdentityToken"):
        raise AwsError("InvalidIdentityToken", "No OpenIDConnect provider found in your account")
    return _assume(ctx, req, "AssumeRoleWithWebIdentity")


def get_caller_identity(ctx: Ctx, _req: dict[str, Any]) -> str:
    user_id = "AIDAAWSIMEXAMPLE0000" if ":user/" in ctx.caller_arn else "AROAAWSIMEXAMPLE:awsim"
    return (
        f"    <Arn>{ctx.caller_arn}</Arn>\n    <UserId>{user_id}</UserId>\n"
        f"    <Account>{ctx.account}</Account>\n"
    )


STS_HANDLERS: dict[str, Handler] = {
    "AssumeRole": assume_role,
    "AssumeRoleWithWebIdentity": assume_role_with_web_identity,
    "GetCallerIdentity": get_caller_identity,
}


def list_accounts(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """Organizations ListAccounts; only the management account may call it.

    With ``Quotas.org_empty_page_every = N`` every N-th page is empty but carries a NextToken,
    which real Organizations does and naive ``while resp['Accounts']`` loops get wrong.
    """
    if ctx.account != ctx.state.management_account:
        raise AwsError(
            "AccessDeniedException", "You don't have permissions to access this resource."
        )
    size = page_size("organizations:ListAccounts", req.get("MaxResults"), "InvalidInputException")
    key = decode_token("organizations:ListAccounts", req.get("NextToken"), "InvalidInputException")
    offset, page_no = key if key is not None else (0, 0)
    accounts = [a for a in ctx.state.scenario.accounts if a.in_organization]
    every = ctx.quotas.org_empty_page_every
    if every and page_no % every == every - 1 and offset < len(accounts):
        return {
            "Accounts": [],
            "NextToken": encode_token("organizations:ListAccounts", [offset, page_no + 1]),
        }
    mgmt = ctx.state.management_account
    org = ctx.state.organization_id
    page = [
        {
            "Id": a.id,
            "Arn": f"arn:aws:organizations::{mgmt}:account/{org}/{a.id}",
            "Email": a.email or f"aws+{a.id}@example.com",
            "Name": a.name or f"account-{a.id}",
            "Status": a.status,
            "State": a.status,
            "JoinedMethod": "CREATED" if a.id != mgmt else "INVITED",
            "JoinedTimestamp": to_epoch(datetime(2020, 1, 1, tzinfo=UTC)),
        }
        for a in accounts[offset : offset + size]
    ]
    out: dict[str, Any] = {"Accounts": page}
    if offset + size < len(accounts):
        out["NextToken"] = encode_token("organizations:ListAccounts", [offset + size, page_no + 1])
    return out


ORG_HANDLERS: dict[str, Handler] = {"ListAccounts": list_accounts}
