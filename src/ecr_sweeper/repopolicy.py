"""Who may pull from a repository, according to its repository policy (pure).

An Allow statement whose actions include a pull action (`ecr:BatchGetImage`,
`ecr:GetDownloadUrlForLayer`, `ecr:*`, `*`) grants pull to its principals:

- an AWS principal (`123456789012`, `arn:aws:iam::123456789012:root`, a role or user ARN) → that
  account;
- `*` (anyone, usually narrowed by a condition such as `aws:PrincipalOrgID`) → `*`, since the
  accounts it covers cannot be enumerated from the policy;
- a service principal (Lambda, CodeBuild…) → the accounts named by `aws:SourceAccount` /
  `aws:SourceArn` conditions, or `*` when none narrows it.

Deny statements are ignored: they only ever narrow access, and ignoring them errs toward keeping.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
_ACCOUNT_IN_ARN = re.compile(r"arn:aws[\w-]*:[\w-]*:[\w-]*:(\d{12}):")


class PolicyParseError(ValueError):
    """The repository policy is not a JSON IAM policy."""


def pull_principals(policy_text: str) -> tuple[str, ...]:
    """Sorted accounts (or `*`) the policy lets pull images."""
    try:
        policy = json.loads(policy_text)
    except json.JSONDecodeError as exc:
        raise PolicyParseError(f"repository policy is not JSON: {exc}") from exc
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    found: set[str] = set()
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if not _grants_pull(statement):
            continue
        found |= _principals(statement)
    return tuple(sorted(found))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants_pull(statement: dict[str, Any]) -> bool:
    if "NotAction" in statement:
        excluded = _as_list(statement["NotAction"])
        return any(
            not any(fnmatch.fnmatchcase(a.lower(), str(n).lower()) for n in excluded)
            for a in PULL_ACTIONS
        )
    actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
    return any(fnmatch.fnmatchcase(p.lower(), a) for p in PULL_ACTIONS for a in actions)


def _principals(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal", {})
    if principal == "*" or "NotPrincipal" in statement:
        return {"*"}
    if not isinstance(principal, dict):
        return {"*"}
    found: set[str] = set()
    for value in _as_list(principal.get("AWS", [])):
        text = str(value)
        if text == "*":
            found.add("*")
        elif re.fullmatch(r"\d{12}", text):
            found.add(text)
        elif match := _ACCOUNT_IN_ARN.match(text):
            found.add(match.group(1))
        else:
            found.add("*")  # an unrecognised principal form: assume the worst
    if principal.get("Service") or principal.get("Federated"):
        found |= _condition_accounts(statement) or {"*"}
    return found


def _condition_accounts(statement: dict[str, Any]) -> set[str]:
    accounts: set[str] = set()
    for operator in (statement.get("Condition") or {}).values():
        if not isinstance(operator, dict):
            continue
        for key, value in operator.items():
            for item in _as_list(value):
                if key.lower() == "aws:sourceaccount" and re.fullmatch(r"\d{12}", str(item)):
                    accounts.add(str(item))
                elif key.lower() == "aws:sourcearn" and (m := _ACCOUNT_IN_ARN.match(str(item))):
                    accounts.add(m.group(1))
    return accounts


def pull_services(policy_text: str) -> tuple[str, ...]:
    """Sorted service principals (`codebuild.amazonaws.com`…) the policy lets pull images. The
    planner holds a repository whose service principal's consumers the run does not read."""
    try:
        policy = json.loads(policy_text)
    except json.JSONDecodeError as exc:
        raise PolicyParseError(f"repository policy is not JSON: {exc}") from exc
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    found: set[str] = set()
    for statement in _as_list(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        if isinstance(principal, dict) and _grants_pull(statement):
            found.update(str(s).lower() for s in _as_list(principal.get("Service", [])))
    return tuple(sorted(found))
