"""Repository policies (issue 11 §1): a condition narrows who may pull only when provably so."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecr_sweeper import wording
from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    CensusEntry,
    Policy,
    PullAccess,
    Region,
    Repository,
)
from ecr_sweeper.pipeline import PRINCIPAL_KINDS
from ecr_sweeper.plan import build_plan
from ecr_sweeper.repopolicy import PolicyParseError, pull_access, pull_principals
from planning import NO_RETENTION, NOW, image, inventory, key, usage_scan

IN = "222222222222"  # in the sweep
OUT = "333333333333"  # outside it
ORG = "o-a1b2c3d4e5"
ANYONE = ("*",)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def pull(condition: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "Pull",
        "Effect": "Allow",
        "Principal": {"Service": "codebuild.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        **fields,
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement


def principals_under(operator: str, key: str, value: Any) -> tuple[str, ...]:
    return pull_principals(policy(pull({operator: {key: value}})))


ARN_IN = f"arn:aws:codebuild:us-east-1:{IN}:project/build"
ARN_ANY_ACCOUNT = "arn:aws:codebuild:us-east-1:*:project/*"


@pytest.mark.parametrize(
    ("operator", "key", "value", "expected"),
    [
        # String*: only the positive forms narrow, and only over literal ids.
        ("StringEquals", "aws:SourceAccount", IN, (IN,)),
        ("StringEquals", "aws:sourceaccount", [IN, OUT], (IN, OUT)),
        ("StringEqualsIgnoreCase", "aws:SourceAccount", IN, (IN,)),
        ("StringLike", "aws:SourceAccount", IN, (IN,)),
        ("StringLike", "aws:SourceAccount", "2222222222*", ANYONE),
        ("StringEquals", "aws:SourceAccount", "${aws:PrincipalAccount}", ANYONE),
        ("StringEquals", "aws:SourceAccount", 222222222222, ANYONE),
        ("StringEquals", "aws:SourceAccount", [], ANYONE),
        ("StringEquals", "aws:PrincipalAccount", IN, (IN,)),
        ("StringNotEquals", "aws:SourceAccount", IN, ANYONE),
        ("StringNotEqualsIgnoreCase", "aws:SourceAccount", IN, ANYONE),
        ("StringNotLike", "aws:SourceAccount", IN, ANYONE),
        ("StringEquals", "aws:SourceVpc", "vpc-1", ANYONE),
        ("StringEquals", "codebuild:ProjectName", IN, ANYONE),
        # String* over ARNs: the account field must be literal; StringLike's `*` spans colons.
        ("StringLike", "aws:SourceArn", ARN_IN, (IN,)),
        ("StringLike", "aws:SourceArn", [ARN_IN, ARN_ANY_ACCOUNT], ANYONE),
        ("StringLike", "aws:SourceArn", f"arn:aws:codebuild:*:{IN}:project/*", ANYONE),
        ("StringEquals", "aws:SourceArn", "not-an-arn", ANYONE),
        # Arn*
        ("ArnEquals", "aws:SourceArn", ARN_IN, (IN,)),
        ("ArnLike", "aws:SourceArn", f"arn:aws:codebuild:*:{IN}:project/*", (IN,)),
        ("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{OUT}:role/*", (OUT,)),
        ("ArnLike", "aws:SourceArn", ARN_ANY_ACCOUNT, ANYONE),
        ("ArnNotEquals", "aws:SourceArn", ARN_IN, ANYONE),
        ("ArnNotLike", "aws:SourceArn", ARN_IN, ANYONE),
        # Numeric, Date, Bool, IpAddress, Binary, Null: never about who pulls.
        ("NumericLessThan", "aws:MultiFactorAuthAge", "3600", ANYONE),
        ("NumericEquals", "aws:SourceAccount", IN, ANYONE),
        ("DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", ANYONE),
        ("Bool", "aws:SecureTransport", "true", ANYONE),
        ("IpAddress", "aws:SourceIp", "10.0.0.0/8", ANYONE),
        ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", ANYONE),
        ("BinaryEquals", "aws:SourceAccount", "MjIy", ANYONE),
        ("Null", "aws:SourceAccount", "false", ANYONE),
        # …IfExists holds when the key is absent: it narrows nothing.
        ("StringEqualsIfExists", "aws:SourceAccount", IN, ANYONE),
        ("ArnLikeIfExists", "aws:SourceArn", ARN_IN, ANYONE),
        # Set operators: ForAnyValue narrows like the plain form; ForAllValues holds when the
        # key is absent.
        ("ForAnyValue:StringEquals", "aws:SourceAccount", IN, (IN,)),
        ("ForAnyValue:StringNotEquals", "aws:SourceAccount", IN, ANYONE),
        ("ForAllValues:StringEquals", "aws:SourceAccount", IN, ANYONE),
        ("ForAllValues:StringLike", "aws:PrincipalOrgPaths", f"{ORG}/*", ANYONE),
        # Organizations: an organization id or a path under one.
        ("StringEquals", "aws:PrincipalOrgID", ORG, (ORG,)),
        ("StringEquals", "aws:SourceOrgID", ORG, (ORG,)),
        ("StringEquals", "aws:PrincipalOrgID", "o-*", ANYONE),
        ("StringLike", "aws:PrincipalOrgID", "o-a1b2*", ANYONE),
        ("ForAnyValue:StringLike", "aws:PrincipalOrgPaths", f"{ORG}/r-ab12/ou-ab12-1111/*", (ORG,)),
        ("ForAnyValue:StringLike", "aws:PrincipalOrgPaths", "o-*/*", ANYONE),
        ("StringNotEquals", "aws:PrincipalOrgID", ORG, ANYONE),
        ("UnknownOperator", "aws:SourceAccount", IN, ANYONE),
    ],
)
def test_each_condition_operator_family(
    operator: str, key: str, value: Any, expected: tuple[str, ...]
) -> None:
    assert principals_under(operator, key, value) == expected


def test_no_condition_lets_anyone_pull_naming_the_statement() -> None:
    access = pull_access(policy({**pull(), "Sid": ""}, pull(Sid="Second")))
    assert access.anyone == (
        "statement #0 (Service 'codebuild.amazonaws.com'): no condition narrows it",
        "statement 'Second' (Service 'codebuild.amazonaws.com'): no condition narrows it",
    )


def test_a_negated_condition_is_quoted_in_the_reason() -> None:
    access = pull_access(policy(pull({"StringNotEquals": {"aws:SourceAccount": IN}})))
    assert access.anyone == (
        "statement 'Pull' (Service 'codebuild.amazonaws.com'): StringNotEquals on "
        "aws:SourceAccount does not narrow who may pull",
    )
    assert access.services == ("codebuild.amazonaws.com",)


def test_conditions_combine_as_and_an_unknown_one_narrows_nothing() -> None:
    both = {
        "StringEquals": {"aws:SourceAccount": [IN, OUT]},
        "ArnLike": {"aws:SourceArn": ARN_IN},
        "Bool": {"aws:SecureTransport": "true"},
    }
    assert pull_principals(policy(pull(both))) == (IN,)
    # An account condition is tighter than an organization one: the accounts are reported.
    mixed = {"StringEquals": {"aws:SourceAccount": IN, "aws:PrincipalOrgID": ORG}}
    assert pull_principals(policy(pull(mixed))) == (IN,)


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ({"AWS": f"arn:aws:iam::{OUT}:role/ci"}, (OUT,)),
        ({"AWS": OUT}, (OUT,)),
        ({"AWS": "*"}, ANYONE),
        ("*", ANYONE),
        ({"AWS": "AIDAEXAMPLEUNIQUEID"}, ANYONE),
        ({"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}, ANYONE),
        ({"Federated": "cognito-identity.amazonaws.com"}, ANYONE),
        (["not", "a", "map"], ANYONE),
    ],
)
def test_principal_forms(principal: Any, expected: tuple[str, ...]) -> None:
    assert pull_principals(policy(pull(Principal=principal))) == expected


def test_an_aws_principal_is_never_narrowed_away_by_a_condition() -> None:
    statement = pull({"StringEquals": {"aws:SourceAccount": IN}}, Principal={"AWS": OUT})
    assert pull_principals(policy(statement)) == (OUT,)


def test_not_principal_and_not_action() -> None:
    not_principal = {k: v for k, v in pull().items() if k != "Principal"}
    assert pull_principals(policy({**not_principal, "NotPrincipal": {"AWS": OUT}})) == ANYONE
    only_push = {k: v for k, v in pull(Principal={"AWS": OUT}).items() if k != "Action"}
    assert pull_principals(policy({**only_push, "NotAction": "ecr:*"})) == ()
    assert pull_principals(policy({**only_push, "NotAction": "ecr:PutImage"})) == (OUT,)


def test_deny_and_push_only_statements_grant_nothing() -> None:
    deny = {**pull(), "Effect": "Deny"}
    push = {**pull(Principal="*"), "Action": "ecr:PutImage"}
    assert pull_access(policy(deny, push)) == PullAccess()


@pytest.mark.parametrize("text", ["{", "[]", '{"Statement": "x"}'])
def test_a_policy_that_is_not_an_iam_policy_is_an_error(text: str) -> None:
    with pytest.raises(PolicyParseError):
        pull_access(text)


# --- The planner's hold, from the access -----------------------------------------------

TARGETS = [AccountTarget(AccountId(a), (Region("us-east-1"),)) for a in ("111111111111", IN)]


def hold_reason(access: PullAccess, policy_: Policy = NO_RETENTION) -> str | None:
    """Why the repository is held, if it is; the run read CodeBuild (the policies' service
    principal), so only who may pull decides (the census rule is test_plan_census.py's)."""
    repo = Repository(key("app"), (image("v1", "v1"),), pull_access=access)
    codebuild_read = CensusEntry("codebuild", AccountId(IN), Region("us-east-1"), True, True)
    scan = replace(usage_scan(), census=(codebuild_read,))
    plan = build_plan(
        [scan], inventory(repo), policy_, NOW, TARGETS, principal_kinds=PRINCIPAL_KINDS
    )
    return None if plan.deletions else wording.reason(plan.kept[0].reason)


def test_the_issue_policy_holds_the_repository() -> None:
    """The reported wrongful deletion: "every account but 222222222222" read as "only it"."""
    text = policy(pull({"StringNotEquals": {"aws:SourceAccount": IN}}, Sid="CodeBuild"))
    reason = hold_reason(pull_access(text))
    assert reason is not None
    assert "lets anyone pull" in reason
    assert "statement 'CodeBuild'" in reason
    assert "StringNotEquals on aws:SourceAccount" in reason


def test_a_grant_narrowed_to_swept_accounts_holds_nothing() -> None:
    text = policy(pull({"StringEquals": {"aws:SourceAccount": IN}}))
    assert hold_reason(pull_access(text)) is None


def test_an_organization_grant_holds_unless_the_run_sweeps_that_whole_organization() -> None:
    access = pull_access(policy(pull({"StringEquals": {"aws:PrincipalOrgID": ORG}})))
    assert access.organizations == (ORG,)
    reason = hold_reason(access)
    assert reason is not None
    assert f"organization {ORG}" in reason
    assert hold_reason(access, replace(NO_RETENTION, organization=ORG)) is None
    assert hold_reason(access, replace(NO_RETENTION, organization="o-zzzzzzzzzz")) is not None
    assert hold_reason(access, replace(NO_RETENTION, accepted_accounts=(ORG,))) is None


def test_accepting_anyone_releases_an_open_repository() -> None:
    access = pull_access(policy(pull()))
    assert hold_reason(access, replace(NO_RETENTION, accepted_accounts=("*",))) is None


# --- Property: more statements or more condition values never mean fewer pullers ---------

_ACCOUNTS = st.sampled_from([IN, OUT, "444444444444", "2222*", "*", "${aws:x}"])
_ORGS = st.sampled_from([ORG, "o-zzzzzzzzzz", "o-*", f"{ORG}/r-ab12/*", "x"])
_NARROWING = st.sampled_from(["StringEquals", "StringLike", "ForAnyValue:StringEquals"])
_OTHER = st.sampled_from(
    ["StringNotEquals", "StringEqualsIfExists", "ForAllValues:StringEquals", "ArnNotLike", "Null"]
)


@st.composite
def _condition(draw: st.DrawFn) -> dict[str, dict[str, list[str]]]:
    """Conditions of one family (accounts, or organizations) per statement: a statement that
    mixes both reports its accounts (see the table test), which is not comparable."""
    if draw(st.booleans()):
        keys, values = ["aws:SourceAccount", "aws:PrincipalAccount"], _ACCOUNTS
    else:
        keys, values = ["aws:PrincipalOrgID", "aws:PrincipalOrgPaths"], _ORGS
    condition: dict[str, dict[str, list[str]]] = {}
    for _ in range(draw(st.integers(0, 3))):
        operator = draw(st.one_of(_NARROWING, _OTHER))
        key_ = draw(st.sampled_from(keys))
        condition.setdefault(operator, {})[key_] = draw(st.lists(values, min_size=1, max_size=3))
    return condition


_PRINCIPALS = st.sampled_from(
    ["*", {"AWS": OUT}, {"Service": "codebuild.amazonaws.com"}, {"AWS": "*"}]
)
_STATEMENTS = st.builds(lambda p, c: pull(c, Principal=p), _PRINCIPALS, _condition())


def covers(big: PullAccess, small: PullAccess) -> bool:
    if big.anyone:
        return True
    return (
        not small.anyone
        and set(small.accounts) <= set(big.accounts)
        and set(small.organizations) <= set(big.organizations)
    )


@given(st.lists(_STATEMENTS, max_size=4), _STATEMENTS)
def test_adding_a_statement_never_shrinks_the_pullers(
    statements: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    before = pull_access(policy(*statements))
    assert covers(pull_access(policy(*statements, extra)), before)


@given(_STATEMENTS, st.data())
def test_adding_a_condition_value_never_shrinks_the_pullers(
    statement: dict[str, Any], data: st.DataObject
) -> None:
    condition = statement.get("Condition") or {}
    places = [(op, k) for op, block in condition.items() for k in block]
    if not places:
        return
    operator, key_ = data.draw(st.sampled_from(places))
    orgish = "org" in key_.lower()
    value = data.draw(_ORGS if orgish else _ACCOUNTS)
    wider = json.loads(json.dumps(statement))
    wider["Condition"][operator][key_].append(value)
    assert covers(pull_access(policy(wider)), pull_access(policy(statement)))
