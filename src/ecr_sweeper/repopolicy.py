"""Who may pull from a repository, according to its repository policy (pure).

Rules this module keeps (tests/test_repopolicy.py checks each, one as a hypothesis property):

1. Only Allow statements whose actions cover a pull action (`ecr:BatchGetImage`,
   `ecr:GetDownloadUrlForLayer`, `ecr:*`, `*`, or a `NotAction` that leaves one) grant pull.
   Deny statements are ignored: they only ever narrow access, and ignoring them errs toward
   keeping.
2. An AWS principal (`123456789012`, `arn:aws:iam::123456789012:root`, a role or user ARN)
   grants pull to that account, whatever the conditions (they can only narrow it further).
3. Any other principal (`*`, `{"AWS": "*"}`, a service, a federated or canonical user, a
   `NotPrincipal`, a form this module does not know) lets *anyone* pull, unless a condition
   proves it narrower. A condition narrows only when its operator is a positive match
   (`StringEquals`, `StringEqualsIgnoreCase`, `StringLike`, `ArnEquals`, `ArnLike`, and their
   `ForAnyValue:` forms), its key names the caller's or the source's account, ARN or
   organization, and *every* value is understood: a 12-digit account id, an ARN whose account
   field is a literal 12-digit id, an organization id `o-…`, an organization path starting with
   one. Anything else (`…Not…`, `…IfExists`, `ForAllValues:`, `Null`, `Numeric…`, `Date…`,
   `Bool`, `IpAddress`, a wildcard or policy variable in the account, an unknown key) narrows
   nothing, and the reason says which statement (Sid, else its index) lets anyone pull.
4. Adding a statement, a principal or a condition value never makes the set of possible
   pullers smaller.

The service principals a pull statement names are kept in the result (`PullAccess.services`),
however narrowed: they tell which kinds of consumer (CodeBuild, Lambda…) may pull.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any

from ecr_sweeper.model import PullAccess

__all__ = ["PULL_ACTIONS", "PolicyParseError", "PullAccess", "pull_access", "pull_principals"]

PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
_ACCOUNT = re.compile(r"\d{12}")
_ORG_ID = re.compile(r"o-[a-z0-9]{10,32}")
# Positive operators: the condition holds only when the key has one of the values.
_NARROWING_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
)


class PolicyParseError(ValueError):
    """The repository policy is not a JSON IAM policy."""


def pull_access(policy_text: str) -> PullAccess:
    """Who the policy lets pull images: accounts, organizations, anyone (with why), services."""
    try:
        policy = json.loads(policy_text)
    except json.JSONDecodeError as exc:
        raise PolicyParseError(f"repository policy is not JSON: {exc}") from exc
    if not isinstance(policy, dict):
        raise PolicyParseError("repository policy is not a JSON object")
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise PolicyParseError("repository policy: Statement is neither a list nor an object")
    accounts: set[str] = set()
    organizations: set[str] = set()
    anyone: list[str] = []
    services: set[str] = set()
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            anyone.append(f"{_name(statement, index)}: not a statement object")
            continue
        if statement.get("Effect") != "Allow" or not _grants_pull(statement):
            continue
        grant = _Grant.of(statement, _name(statement, index))
        accounts |= grant.accounts
        organizations |= grant.organizations
        anyone += grant.anyone
        services |= grant.services
    return PullAccess(
        accounts=tuple(sorted(accounts)),
        organizations=tuple(sorted(organizations)),
        anyone=tuple(anyone),
        services=tuple(sorted(services)),
    )


def pull_principals(policy_text: str) -> tuple[str, ...]:
    """Sorted accounts, organizations and `*` (anyone) the policy lets pull images."""
    return pull_access(policy_text).principals


def _name(statement: object, index: int) -> str:
    sid = statement.get("Sid") if isinstance(statement, dict) else None
    return f"statement {sid!r}" if isinstance(sid, str) and sid else f"statement #{index}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants_pull(statement: dict[str, Any]) -> bool:
    if "NotAction" in statement:
        excluded = [str(n).lower() for n in _as_list(statement["NotAction"])]
        return any(
            not any(fnmatch.fnmatchcase(a.lower(), n) for n in excluded) for a in PULL_ACTIONS
        )
    actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
    return any(fnmatch.fnmatchcase(p.lower(), a) for p in PULL_ACTIONS for a in actions)


class _Grant:
    """What one Allow pull statement grants."""

    def __init__(self) -> None:
        self.accounts: set[str] = set()
        self.organizations: set[str] = set()
        self.anyone: list[str] = []
        self.services: set[str] = set()

    @classmethod
    def of(cls, statement: dict[str, Any], name: str) -> _Grant:
        grant = cls()
        open_to = grant._principals(statement)  # principals only a condition could narrow
        if open_to:
            narrowed, doubts = _narrowing(statement.get("Condition"))
            if narrowed is None:
                why = "; ".join(doubts) if doubts else "no condition narrows it"
                grant.anyone.append(f"{name} ({', '.join(open_to)}): {why}")
            elif narrowed.accounts is not None:
                grant.accounts |= narrowed.accounts
            else:
                grant.organizations |= narrowed.organizations
        return grant

    def _principals(self, statement: dict[str, Any]) -> list[str]:
        """Record the accounts the Principal names; return the principals that are open to
        anyone unless a condition narrows them."""
        open_to: list[str] = []
        if "NotPrincipal" in statement:
            open_to.append("NotPrincipal")
        principal = statement.get("Principal")
        if principal == "*":
            open_to.append("Principal '*'")
        elif isinstance(principal, dict):
            for kind, values in principal.items():
                for value in _as_list(values):
                    text = value if isinstance(value, str) else repr(value)
                    if kind == "AWS" and (account := _account_of_principal(text)):
                        self.accounts.add(account)
                        continue
                    if kind == "Service":
                        self.services.add(text)
                    open_to.append(f"{kind} {text!r}")
        elif "NotPrincipal" not in statement:
            open_to.append(f"Principal {principal!r}")
        return open_to


def _account_of_principal(text: str) -> str | None:
    if _ACCOUNT.fullmatch(text):
        return text
    return _account_of_arn(text)


def _account_of_arn(text: str, *, literal_prefix: bool = True) -> str | None:
    """The literal account field of an ARN, or None (not an ARN, or a wildcard there).

    `literal_prefix` False: the fields before the account must hold no wildcard or policy
    variable either (a string match, where `*` could stand for colons)."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not _ACCOUNT.fullmatch(parts[4]):
        return None
    if not literal_prefix and any(c in ":".join(parts[:4]) for c in "*?$"):
        return None
    return parts[4]


class _Narrowed:
    """The callers a statement's conditions allow: accounts, else organizations."""

    def __init__(self) -> None:
        self.accounts: set[str] | None = None  # None: not narrowed to accounts
        self.organizations: set[str] = set()


def _narrowing(condition: object) -> tuple[_Narrowed | None, list[str]]:
    """What the conditions provably narrow the callers to (None: nothing), and the doubts
    (conditions that narrow nothing, or that this module does not understand)."""
    doubts: list[str] = []
    if condition is None:
        return None, doubts
    if not isinstance(condition, dict):
        return None, [f"a Condition that is not an object: {condition!r}"]
    found = _Narrowed()
    narrowed = False
    for operator, block in condition.items():
        if not isinstance(block, dict):
            doubts.append(f"{operator}: not an object")
            continue
        for key, value in block.items():
            result = _one_condition(str(operator), str(key), value)
            if isinstance(result, str):
                doubts.append(result)
                continue
            narrowed = True
            kind, values = result
            if kind == "accounts":
                found.accounts = values if found.accounts is None else found.accounts & values
            elif not found.organizations:
                found.organizations = values
            else:  # two organization conditions: a caller is in one organization only
                found.organizations &= values
    return (found if narrowed else None), doubts


def _one_condition(operator: str, key: str, value: Any) -> tuple[str, set[str]] | str:
    """("accounts" | "organizations", values) when this condition provably narrows the
    callers to them, else a sentence saying why it does not."""
    where = f"{operator} on {key}"
    set_operator, _, base = operator.rpartition(":")
    if set_operator not in ("", "ForAnyValue") or base not in _NARROWING_OPERATORS:
        return f"{where} does not narrow who may pull"
    known = _KEYS.get(key.lower())
    if known is None:
        return f"{where}: a key that does not name who pulls"
    kind, read = known
    values = _as_list(value)
    found = [read(v, base) if isinstance(v, str) else None for v in values]
    if not values or None in found:
        return f"{where}: not every value is a literal account, ARN or organization ({value!r})"
    return kind, {f for f in found if f}


def _account_value(value: str, _operator: str) -> str | None:
    return value if _ACCOUNT.fullmatch(value) else None


def _arn_value(value: str, operator: str) -> str | None:
    # StringLike's `*` may match colons: only a wildcard-free prefix fixes the account field.
    return _account_of_arn(value, literal_prefix=operator != "StringLike")


def _org_id_value(value: str, _operator: str) -> str | None:
    return value if _ORG_ID.fullmatch(value) else None


def _org_path_value(value: str, operator: str) -> str | None:
    return _org_of_path(value, like=operator.endswith("Like"))


# Condition keys (lower case, as IAM compares them) that name who pulls: the caller's own
# account, ARN or organization, or those on whose behalf a service calls.
_KEYS: dict[str, tuple[str, Callable[[str, str], str | None]]] = {
    "aws:principalaccount": ("accounts", _account_value),
    "aws:sourceaccount": ("accounts", _account_value),
    "aws:sourceowner": ("accounts", _account_value),
    "aws:principalarn": ("accounts", _arn_value),
    "aws:sourcearn": ("accounts", _arn_value),
    "aws:principalorgid": ("organizations", _org_id_value),
    "aws:sourceorgid": ("organizations", _org_id_value),
    "aws:principalorgpaths": ("organizations", _org_path_value),
    "aws:sourceorgpaths": ("organizations", _org_path_value),
}


def _org_of_path(path: str, *, like: bool) -> str | None:
    org, slash, _ = path.partition("/")
    if slash and _ORG_ID.fullmatch(org):
        return org
    if not like and _ORG_ID.fullmatch(org):  # the organization itself
        return org
    return None
