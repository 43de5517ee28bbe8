"""Targets and policy from the accounts file (TOML) and the command line → frozen models.

Every validation error is a ConfigError that names the file and the key at fault, e.g.
``accounts.toml: accounts[2].regions[0]: 'us-east' is not an AWS region name``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    Patterns,
    Policy,
    Region,
)

ACCOUNT_ID = re.compile(r"\d{12}")
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")
ROLE_NAME = re.compile(r"[\w+=,.@/-]{1,512}")
ROLE_ARN = re.compile(r"arn:aws(?:-cn|-us-gov|-iso|-iso-b)?:iam::(\d{12}):role/[\w+=,.@/-]+")

_DEFAULT_KEYS = {"role_name", "external_id", "regions", "clusters", "repositories"}
_ACCOUNT_KEYS = _DEFAULT_KEYS | {"id", "name", "role_arn"}  # a role ARN names one account
_POLICY_KEYS = {"keep_last", "min_age_days"}
_PATTERN_KEYS = {"include", "exclude"}


class ConfigError(Exception):
    """Bad input: the message names the file (or flag) and the key at fault."""


@dataclass(frozen=True, slots=True)
class FileConfig:
    """What an accounts file says."""

    targets: tuple[AccountTarget, ...]
    policy: dict[str, int]


def load_config(path: Path) -> FileConfig:
    """Read and validate an accounts file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(data, str(path))


def parse_config(data: dict[str, Any], origin: str) -> FileConfig:
    """Validate a parsed accounts file. `origin` names it in errors."""
    _no_unknown(data, {"defaults", "policy", "accounts"}, origin, "")
    defaults = _table(data, "defaults", origin, "")
    _no_unknown(defaults, _DEFAULT_KEYS, origin, "defaults.")
    # Checked here too, so a mistake in [defaults] is named as such even with no accounts.
    _target(AccountId("000000000000"), defaults, origin, "defaults.")
    policy = _table(data, "policy", origin, "")
    _no_unknown(policy, _POLICY_KEYS, origin, "policy.")
    for key in _POLICY_KEYS & set(policy):
        value = policy[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{origin}: policy.{key}: expected a whole number ≥ 0, got {value!r}")
    accounts = data.get("accounts", [])
    if not isinstance(accounts, list) or not all(isinstance(a, dict) for a in accounts):
        raise ConfigError(f"{origin}: accounts: expected an array of tables ([[accounts]])")
    targets = []
    seen: set[str] = set()
    for index, account in enumerate(accounts):
        where = f"accounts[{index}]."
        _no_unknown(account, _ACCOUNT_KEYS, origin, where)
        merged = {**defaults, **account}
        account_id = _account_id(account.get("id"), origin, f"{where}id")
        if account_id in seen:
            raise ConfigError(f"{origin}: {where}id: account {account_id} is listed twice")
        seen.add(account_id)
        targets.append(_target(account_id, merged, origin, where))
    return FileConfig(tuple(targets), dict(policy))


def _target(
    account_id: AccountId, merged: dict[str, Any], origin: str, where: str
) -> AccountTarget:
    name = merged.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{origin}: {where}name: expected a string")
    return AccountTarget(
        account_id=account_id,
        name=name,
        role_arn=role_arn_for(
            account_id, merged.get("role_name"), merged.get("role_arn"), origin, where
        ),
        external_id=_optional_str(merged.get("external_id"), origin, f"{where}external_id"),
        regions=regions(merged.get("regions", []), origin, f"{where}regions"),
        clusters=_patterns(merged.get("clusters"), origin, f"{where}clusters"),
        repositories=_patterns(merged.get("repositories"), origin, f"{where}repositories"),
    )


def role_arn_for(
    account_id: AccountId, role_name: object, role_arn: object, origin: str, where: str = ""
) -> str | None:
    """The role to assume in `account_id`: a full ARN wins over a name; neither means none."""
    if role_arn is not None:
        if not isinstance(role_arn, str) or not (match := ROLE_ARN.fullmatch(role_arn)):
            raise ConfigError(f"{origin}: {where}role_arn: {role_arn!r} is not an IAM role ARN")
        if match.group(1) != account_id:
            raise ConfigError(
                f"{origin}: {where}role_arn: {role_arn} is in account {match.group(1)}, "
                f"not {account_id}"
            )
        return role_arn
    if role_name is None:
        return None
    if not isinstance(role_name, str) or not ROLE_NAME.fullmatch(role_name):
        raise ConfigError(f"{origin}: {where}role_name: {role_name!r} is not an IAM role name")
    return f"arn:aws:iam::{account_id}:role/{role_name.strip('/')}"


def regions(values: object, origin: str, where: str) -> tuple[Region, ...]:
    """Validate a list of region names (order kept, duplicates dropped)."""
    if not isinstance(values, list | tuple):
        raise ConfigError(f"{origin}: {where}: expected a list of region names")
    result: list[Region] = []
    for index, value in enumerate(values):
        if not isinstance(value, str) or not REGION.fullmatch(value):
            raise ConfigError(f"{origin}: {where}[{index}]: {value!r} is not an AWS region name")
        if value not in result:
            result.append(Region(value))
    return tuple(result)


def _account_id(value: object, origin: str, where: str) -> AccountId:
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:012d}"
    if not isinstance(value, str) or not ACCOUNT_ID.fullmatch(value):
        raise ConfigError(f"{origin}: {where}: {value!r} is not a 12-digit AWS account id")
    return AccountId(value)


def account_id(value: str, origin: str = "--account") -> AccountId:
    """Validate one account id from the command line."""
    return _account_id(value, origin, "value")


def _patterns(value: object, origin: str, where: str) -> Patterns:
    if value is None:
        return Patterns()
    if not isinstance(value, dict):
        raise ConfigError(f"{origin}: {where}: expected a table with include/exclude")
    _no_unknown(value, _PATTERN_KEYS, origin, f"{where}.")
    include = _str_list(value.get("include", ["*"]), origin, f"{where}.include")
    exclude = _str_list(value.get("exclude", []), origin, f"{where}.exclude")
    return Patterns(include, exclude)


def _str_list(value: object, origin: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{origin}: {where}: expected a list of non-empty strings")
    return tuple(value)


def _optional_str(value: object, origin: str, where: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{origin}: {where}: expected a non-empty string")
    return value


def _table(data: dict[str, Any], key: str, origin: str, prefix: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{origin}: {prefix}{key}: expected a table")
    return value


def _no_unknown(data: dict[str, Any], allowed: set[str], origin: str, prefix: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"{origin}: {prefix}{unknown[0]}: unknown key (expected one of: "
            f"{', '.join(sorted(allowed))})"
        )


def resolve_targets(
    *,
    config: FileConfig | None,
    accounts: Sequence[str],
    cli_regions: Sequence[str],
    role_name: str | None,
) -> tuple[AccountTarget, ...]:
    """Combine the accounts file and the flags into the run's targets.

    `--account` alone targets those accounts; with `--config` it selects them from the file
    (accounts not in the file get the file's defaults). `--region` replaces every account's
    regions. `--role-name` applies to accounts whose file entry names no role.
    """
    ids = [account_id(a) for a in accounts]
    region_list = regions(list(cli_regions), "--region", "value") if cli_regions else ()
    by_id = {t.account_id: t for t in (config.targets if config else ())}
    if ids:
        chosen = [
            by_id.get(i) or AccountTarget(account_id=i, regions=()) for i in dict.fromkeys(ids)
        ]
    else:
        chosen = list(by_id.values())
    if not chosen:
        raise ConfigError(
            "no accounts to sweep: give --account ID or --config FILE with [[accounts]]"
        )
    targets = []
    for chosen_target in chosen:
        target = replace(chosen_target, regions=region_list or chosen_target.regions)
        if target.role_arn is None and role_name is not None:
            role_arn = role_arn_for(target.account_id, role_name, None, "--role-name")
            target = replace(target, role_arn=role_arn)
        if not target.regions:
            raise ConfigError(
                f"account {target.account_id}: no regions: give --region or regions in the file"
            )
        targets.append(target)
    return tuple(targets)


def resolve_policy(
    config: FileConfig | None, keep_last: int | None, min_age_days: int | None
) -> Policy:
    """Flags override the file, the file overrides the defaults."""
    base = Policy()
    file_policy = config.policy if config else {}
    return Policy(
        keep_last=keep_last
        if keep_last is not None
        else file_policy.get("keep_last", base.keep_last),
        min_age_days=(
            min_age_days
            if min_age_days is not None
            else file_policy.get("min_age_days", base.min_age_days)
        ),
    )
