"""Targets and policy from the accounts file (TOML) and the command line → frozen models.

Every validation error is a ConfigError that names the file and the key at fault, e.g.
``accounts.toml: accounts[2].regions[0]: 'us-east' is not an AWS region name``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from ecr_sweeper.aws.consumers import registry
from ecr_sweeper.model import (
    DEFAULT_PULLED_WITHIN_DAYS,
    AccountId,
    AccountTarget,
    ArchivePrices,
    KubeconfigSource,
    Patterns,
    Policy,
    Region,
    RepositoryRule,
    Retention,
    Sources,
)

ACCOUNT_ID = re.compile(r"\d{12}")
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")
ROLE_NAME = re.compile(r"[\w+=,.@/-]{1,512}")
ROLE_ARN = re.compile(r"arn:aws(?:-cn|-us-gov|-iso|-iso-b)?:iam::(\d{12}):role/[\w+=,.@/-]+")

# [policy] keys of the quarantine (apply archives instead of deleting) and its prices (USD)
QUARANTINE_KEYS = (
    "quarantine",
    "quarantine_days",
    "archive_price_per_gb_month",
    "archive_price_above_150tb_per_gb_month",
    "restore_price_per_gb",
)
_DEFAULT_KEYS = {"role_name", "external_id", "regions", "clusters", "repositories"}
_ACCOUNT_KEYS = _DEFAULT_KEYS | {"id", "name", "role_arn"}  # a role ARN names one account
_RETENTION_KEYS = {
    "keep_last",
    "min_age_days",
    "protect_tags",
    "keep_pulled_within_days",  # the old key of `pulled_within_days` (an alias)
    "pulled_within_days",
    "untagged",
}
_POLICY_KEYS = _RETENTION_KEYS | {
    "rules",
    "accepted_accounts",
    "accept_unread",
    "opt_in_tag",
    "max_delete_percent",
    "max_delete_images",
    *QUARANTINE_KEYS,
}
# Every spelling of a kind's switch (its name; deprecated aliases like `step_functions`) → name.
SWITCH_KEYS = registry.switch_keys()
_SOURCES_KEYS = {
    *SWITCH_KEYS,
    "service_revisions",
    "rollback_revisions",
    "stopped_within_hours",
    "external_images",
    "kubeconfigs",
    "usage_regions",
}
_PATTERN_KEYS = {"include", "exclude"}


class ConfigError(Exception):
    """Bad input: the message names the file (or flag) and the key at fault."""


@dataclass(frozen=True, slots=True)
class FileConfig:
    """What an accounts file says."""

    targets: tuple[AccountTarget, ...]
    policy: Policy
    sources: Sources
    defaults: AccountTarget | None = None  # [defaults], for accounts given only by --account


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
    """Validate a parsed accounts file. `origin` names it in errors; every unknown key of the
    file is named in one error, before any value is checked."""
    unknown = unknown_keys(data)
    if len(unknown) == 1:
        key, expected = unknown[0]
        raise ConfigError(f"{origin}: {key}: unknown key {expected}")
    if unknown:
        raise ConfigError(
            f"{origin}: {len(unknown)} unknown keys: "
            + "; ".join(f"{key} {expected}" for key, expected in unknown)
        )
    defaults = _table(data, "defaults", origin, "")
    _no_unknown(defaults, _DEFAULT_KEYS, origin, "defaults.")
    # Checked here too, so a mistake in [defaults] is named as such even with no accounts.
    default_target = _target(AccountId("000000000000"), defaults, origin, "defaults.")
    policy = parse_policy(_table(data, "policy", origin, ""), origin)
    sources = parse_sources(_table(data, "sources", origin, ""), origin)
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
    return FileConfig(tuple(targets), policy, sources, default_target)


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
    return f"arn:aws:iam::{account_id}:role/{checked_role_name(role_name, origin, where)}"


def checked_role_name(role_name: object, origin: str, where: str = "") -> str:
    """A role name, with its path if any (`path/to/Name`), as IAM allows it, without the
    slashes around it; a ConfigError naming `origin` (and `where`) otherwise."""
    if not isinstance(role_name, str) or not ROLE_NAME.fullmatch(role_name):
        # A flag (`--role-name`) is its own key: name it once.
        key = "" if origin.startswith("--") and not where else f"{where}role_name: "
        raise ConfigError(f"{origin}: {key}{role_name!r} is not an IAM role name")
    return role_name.strip("/")


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
    """A 12-digit account id, written as a string. A TOML integer is taken only when it has
    12 digits (no leading zero it could have lost); any other integer is an error: padding
    `12345678901` to `012345678901` would name a different account."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 10**11 <= value < 10**12:
            raise ConfigError(
                f"{origin}: {where}: {value} is a TOML integer, not a 12-digit account id: "
                f'quote it, with every digit (e.g. "{value:012d}" if that is the account); '
                f"an integer loses leading zeros"
            )
        value = str(value)
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
    exclude = _str_list(value.get("exclude", []), origin, f"{where}.exclude", allow_empty=True)
    return Patterns(include, exclude)


def _str_list(
    value: object, origin: str, where: str, *, allow_empty: bool = False
) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{origin}: {where}: expected a list of non-empty strings")
    if not value and not allow_empty:
        raise ConfigError(f"{origin}: {where}: expected at least one pattern")
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


def unknown_keys(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Every key of an accounts file that no table takes, each with what its table takes:
    `("accounts[0].colour", "(expected one of: clusters, external_id, …)")`."""
    found: list[tuple[str, str]] = []

    def check(table: object, allowed: set[str], prefix: str) -> None:
        if not isinstance(table, dict):
            return  # a table of the wrong type is reported with its value
        found.extend(
            (f"{prefix}{key}", f"(expected one of: {', '.join(sorted(allowed))})")
            for key in sorted(set(table) - allowed)
        )
        for key in ("clusters", "repositories"):
            if key in allowed and isinstance(table.get(key), dict):
                check(table[key], _PATTERN_KEYS, f"{prefix}{key}.")

    def each(tables: object, allowed: set[str], prefix: str) -> None:
        if isinstance(tables, list):
            for index, table in enumerate(tables):
                check(table, allowed, f"{prefix}[{index}].")

    check(data, {"defaults", "policy", "sources", "accounts"}, "")
    check(data.get("defaults", {}), _DEFAULT_KEYS, "defaults.")
    check(data.get("sources", {}), _SOURCES_KEYS, "sources.")
    policy = data.get("policy", {})
    check(policy, _POLICY_KEYS, "policy.")
    if isinstance(policy, dict):
        each(policy.get("rules", []), _RETENTION_KEYS | {"repositories"}, "policy.rules")
    each(data.get("accounts", []), _ACCOUNT_KEYS, "accounts")
    return found


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
    defaults = config.defaults if config else None
    if ids:
        chosen = [by_id.get(i) or _with_account(defaults, i) for i in dict.fromkeys(ids)]
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
        targets.append(target)  # no regions: every region enabled in the account
    return tuple(targets)


def parse_policy(table: dict[str, Any], origin: str) -> Policy:
    """Validate `[policy]` (with its `[[policy.rules]]`)."""
    _no_unknown(table, _POLICY_KEYS, origin, "policy.")
    default = _retention(table, Retention(), origin, "policy.")
    # The pull witness's window is the policy's (a safety rule); a rule's key narrows or widens
    # it for its repositories.
    window = default.keep_pulled_within_days
    default = replace(default, keep_pulled_within_days=None)
    rules_table = table.get("rules", [])
    if not isinstance(rules_table, list) or not all(isinstance(r, dict) for r in rules_table):
        raise ConfigError(f"{origin}: policy.rules: expected an array of tables ([[policy.rules]])")
    rules = []
    for index, rule in enumerate(rules_table):
        where = f"policy.rules[{index}]."
        _no_unknown(rule, _RETENTION_KEYS | {"repositories"}, origin, where)
        if "repositories" not in rule:
            raise ConfigError(f"{origin}: {where}repositories: required (which repositories)")
        patterns = _patterns(rule["repositories"], origin, f"{where}repositories")
        rules.append(RepositoryRule(patterns, _retention(rule, default, origin, where)))
    opt_in = table.get("opt_in_tag")
    if opt_in is not None:
        if (
            not isinstance(opt_in, dict)
            or set(opt_in) != {"key", "value"}
            or not all(isinstance(v, str) and v for v in opt_in.values())
        ):
            raise ConfigError(
                f'{origin}: policy.opt_in_tag: expected {{ key = "...", value = "..." }}'
            )
        opt_in = (opt_in["key"], opt_in["value"])
    percent = table.get("max_delete_percent")
    if percent is not None and (
        not isinstance(percent, int | float) or isinstance(percent, bool) or not 0 <= percent <= 100
    ):
        raise ConfigError(f"{origin}: policy.max_delete_percent: expected a number 0-100")
    return Policy.with_default(
        default,
        rules=tuple(rules),
        accepted_accounts=_accepted_accounts(table.get("accepted_accounts", []), origin),
        accepted_unread=tuple(
            accepted_unread(a, origin, f"policy.accept_unread[{i}]")
            for i, a in enumerate(
                _str_list(
                    table.get("accept_unread", []), origin, "policy.accept_unread", allow_empty=True
                )
            )
        ),
        opt_in_tag=opt_in,
        max_delete_percent=None if percent is None else float(percent),
        max_delete_images=_whole(
            table.get("max_delete_images"), origin, "policy.max_delete_images"
        ),
        **_quarantine(table, origin),
        pulled_within_days=DEFAULT_PULLED_WITHIN_DAYS if window is None else window,
    )


def _quarantine(table: dict[str, Any], origin: str) -> dict[str, Any]:
    """`[policy]`'s quarantine keys, as Policy fields (those not given keep their defaults)."""
    found: dict[str, Any] = {}
    if "quarantine" in table:
        if not isinstance(table["quarantine"], bool):
            raise ConfigError(f"{origin}: policy.quarantine: expected true or false")
        found["quarantine"] = table["quarantine"]
    days = _whole(table.get("quarantine_days"), origin, "policy.quarantine_days")
    if days is not None:
        found["quarantine_days"] = days
    prices: dict[str, Any] = {}
    for key, field_name in (
        ("archive_price_per_gb_month", "per_gb_month"),
        ("archive_price_above_150tb_per_gb_month", "above_150tb_per_gb_month"),
        ("restore_price_per_gb", "restore_per_gb"),
    ):
        value = table.get(key)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{origin}: policy.{key}: expected a price in USD (0 or more)")
        prices[field_name] = float(value)
    if prices:
        found["archive_prices"] = replace(ArchivePrices(), **prices)
    return found


def _retention(table: dict[str, Any], base: Retention, origin: str, where: str) -> Retention:
    untagged = table.get("untagged", base.untagged)
    if untagged not in ("delete", "keep"):
        raise ConfigError(
            f'{origin}: {where}untagged: expected "delete" or "keep", got {untagged!r}'
        )
    protect = (
        _str_list(table["protect_tags"], origin, f"{where}protect_tags", allow_empty=True)
        if "protect_tags" in table
        else base.protect_tags
    )
    _checked_patterns(protect, f"{origin}: {where}protect_tags")
    pulled_key = f"{where}keep_pulled_within_days"
    pulled = table.get("keep_pulled_within_days", base.keep_pulled_within_days)
    if "pulled_within_days" in table:
        if "keep_pulled_within_days" in table and pulled != table["pulled_within_days"]:
            raise ConfigError(
                f"{origin}: {where}keep_pulled_within_days: contradicts {where}pulled_within_days "
                "(the old name of the same rule: give one)"
            )
        pulled, pulled_key = table["pulled_within_days"], f"{where}pulled_within_days"
    return Retention(
        keep_last=_whole(table.get("keep_last", base.keep_last), origin, f"{where}keep_last") or 0,
        min_age_days=_whole(
            table.get("min_age_days", base.min_age_days), origin, f"{where}min_age_days"
        )
        or 0,
        protect_tags=protect,
        keep_pulled_within_days=_whole(pulled, origin, pulled_key),
        untagged=untagged,
    )


def parse_sources(table: dict[str, Any], origin: str) -> Sources:
    """Validate `[sources]`: which usage sources are read. External image files are read here."""
    _no_unknown(table, _SOURCES_KEYS, origin, "sources.")
    base = Sources()
    service_revisions = table.get("service_revisions", base.service_revisions)
    if not isinstance(service_revisions, bool):
        raise ConfigError(f"{origin}: sources.service_revisions: expected true or false")
    switches: dict[str, bool] = {}
    for key, name in SWITCH_KEYS.items():
        if key not in table:
            continue
        if not isinstance(table[key], bool):
            raise ConfigError(f"{origin}: sources.{key}: expected true or false")
        if switches.get(name, table[key]) != table[key]:
            raise ConfigError(f"{origin}: sources.{key}: contradicts sources.{name}")
        switches[name] = table[key]
    files = _str_list(
        table.get("external_images", []), origin, "sources.external_images", allow_empty=True
    )
    usage_regions = regions(table.get("usage_regions", []), origin, "sources.usage_regions")
    return Sources(
        off=frozenset(name for name, on in switches.items() if not on),
        service_revisions=service_revisions,
        usage_regions=usage_regions,
        rollback_revisions=_whole(
            table.get("rollback_revisions", base.rollback_revisions),
            origin,
            "sources.rollback_revisions",
        )
        or 0,
        stopped_within_hours=_whole(
            table.get("stopped_within_hours", base.stopped_within_hours),
            origin,
            "sources.stopped_within_hours",
        )
        or 0,
        external_images=tuple(
            image for path in files for image in read_external_images(Path(path))
        ),
        kubeconfigs=_kubeconfigs(table.get("kubeconfigs", []), origin),
    )


def _kubeconfigs(value: object, origin: str) -> tuple[KubeconfigSource, ...]:
    """`[[sources.kubeconfigs]]`: `path` (relative to the working folder) and `contexts`."""
    where = "sources.kubeconfigs"
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{origin}: {where}: expected an array of tables ([[{where}]])")
    found = []
    for index, entry in enumerate(value):
        _no_unknown(entry, {"path", "contexts"}, origin, f"{where}[{index}].")
        path = entry.get("path")
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{origin}: {where}[{index}].path: expected a file path")
        contexts = _str_list(
            entry.get("contexts", []), origin, f"{where}[{index}].contexts", allow_empty=True
        )
        found.append(KubeconfigSource(path, contexts))
    return tuple(found)


def kubeconfig_sources(
    files: Sequence[Path], contexts: Sequence[str]
) -> tuple[KubeconfigSource, ...]:
    """`--kubeconfig FILE` (repeatable) with `--kube-context NAME` (repeatable, for every
    file given; none: each file's current context)."""
    if contexts and not files:
        raise ConfigError("--kube-context: needs --kubeconfig FILE")
    return tuple(KubeconfigSource(str(f), tuple(contexts)) for f in files)


def check_kubeconfigs(sources: Sequence[KubeconfigSource]) -> None:
    """Each kubeconfig read now, like --external-images: a missing file, bad YAML or an
    unknown context fails before the scan, not as a blocked plan after it (nothing is called:
    an exec plugin runs when its cluster is read)."""
    for source in sources:
        _check_kubeconfig(source, "--kubeconfig")


def check_file_kubeconfigs(config: FileConfig, path: Path) -> None:
    """The accounts file's `[[sources.kubeconfigs]]`, read now as --kubeconfig's are; the
    error names the file and the entry."""
    for index, source in enumerate(config.sources.kubeconfigs):
        _check_kubeconfig(source, f"{path}: sources.kubeconfigs[{index}]")


def _check_kubeconfig(source: KubeconfigSource, origin: str) -> None:
    from ecr_sweeper.kube.kubeconfig import KubeconfigError, load_kubeconfig

    try:
        load_kubeconfig(Path(source.path), source.contexts)
    except KubeconfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from exc


def read_external_images(path: Path, text: str | None = None) -> tuple[str, ...]:
    """Image URIs, one per line (blank lines and `#` comments ignored). Each must be a private
    ECR reference or a foreign one with its registry host written out, so a typo or a bare
    `team/app:v3` is an error here rather than a reference that silently protects nothing."""
    from ecr_sweeper.external import external_reference_problem

    if text is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        text = _text_of(path, data)
    images = []
    for number, line in enumerate(text.splitlines(), start=1):
        image = line.split("#", 1)[0].strip()
        if not image:
            continue
        if problem := external_reference_problem(image):
            raise ConfigError(f"{path}:{number}: {problem}")
        images.append(image)
    return tuple(images)


def _text_of(path: Path, data: bytes) -> str:
    """A list file's text: UTF-8 (a byte-order mark allowed), never a binary file."""
    if b"\0" in data:
        raise ConfigError(f"{path}: a binary file, not a list of image URIs (one per line)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}): expected image URIs, one per line"
        ) from exc


def _whole(value: object, origin: str, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{origin}: {where}: expected a whole number ≥ 0, got {value!r}")
    return value


def _accepted_accounts(value: object, origin: str) -> tuple[str, ...]:
    where = "policy.accepted_accounts"
    if not isinstance(value, list):
        raise ConfigError(f"{origin}: {where}: expected a list of account ids")
    return tuple(_account_or_star(a, origin, f"{where}[{i}]") for i, a in enumerate(value))


def _account_or_star(value: object, origin: str, where: str) -> str:
    """An account id, `*` (anyone) or an organization id (`o-…`, every account of it)."""
    if isinstance(value, str) and (value == "*" or re.fullmatch(r"o-[a-z0-9]{10,32}", value)):
        return value
    return _account_id(value, origin, where)


# A service principal a repository policy names and no kind claims is its own kind.
SERVICE_PRINCIPAL = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")


def accepted_unread(value: str, origin: str = "--accept-unread", where: str = "value") -> str:
    """`KIND` or `KIND@ACCOUNT` (a consumer kind present and not read, accepted): KIND is a
    consumer kind's name (or a service principal no kind claims, as the plan names it)."""
    kind, sep, account = value.partition("@")
    known = registry.names()
    if kind not in known and not SERVICE_PRINCIPAL.fullmatch(kind):
        alias = SWITCH_KEYS.get(kind) or SWITCH_KEYS.get(kind.replace("-", "_"))
        hint = f" ({kind!r} is now {alias!r})" if alias else ""
        raise ConfigError(
            f"{origin}: {where}: unknown consumer kind {kind!r}{hint}: expected KIND or "
            f"KIND@ACCOUNT, KIND one of: {', '.join(known)}"
        )
    return f"{kind}@{_account_id(account, origin, where)}" if sep else kind


def _with_account(defaults: AccountTarget | None, account: AccountId) -> AccountTarget:
    """An account given only by --account: the file's [defaults], in that account."""
    if defaults is None:
        return AccountTarget(account_id=account, regions=())
    role_arn = defaults.role_arn
    if role_arn is not None:
        role_arn = role_arn.replace(f":{defaults.account_id}:", f":{account}:", 1)
    return replace(defaults, account_id=account, role_arn=role_arn)


def resolve_policy(
    config: FileConfig | None,
    keep_last: int | None = None,
    min_age_days: int | None = None,
    **overrides: Any,
) -> Policy:
    """Flags override the file, the file overrides the defaults. `--keep-last` and
    `--min-age-days` override every rule too (a flag means "for this run, everywhere")."""
    policy = config.policy if config else Policy()
    retention_flags: dict[str, Any] = {
        k: v for k, v in (("keep_last", keep_last), ("min_age_days", min_age_days)) if v is not None
    }
    if retention_flags:
        policy = replace(
            policy,
            **retention_flags,
            rules=tuple(
                replace(r, retention=replace(r.retention, **retention_flags)) for r in policy.rules
            ),
        )
    given = {k: v for k, v in overrides.items() if v not in (None, ())}
    if "pulled_within_days" in given:  # like --keep-last: for this run, everywhere
        policy = replace(
            policy,
            keep_pulled_within_days=None,
            rules=tuple(
                replace(r, retention=replace(r.retention, keep_pulled_within_days=None))
                for r in policy.rules
            ),
        )
    if "untagged" in given and given["untagged"] not in ("delete", "keep"):
        raise ConfigError(f'--untagged: expected "delete" or "keep", got {given["untagged"]!r}')
    if "opt_in_tag" in given:
        key, sep, value = str(given["opt_in_tag"]).partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"--opt-in-tag: expected KEY=VALUE, got {given['opt_in_tag']!r}")
        given["opt_in_tag"] = (key, value)
    if "protect_tags" in given:
        given["protect_tags"] = policy.protect_tags + _checked_patterns(
            given["protect_tags"], "--protect-tag"
        )
    if "accepted_unread" in given:
        given["accepted_unread"] = policy.accepted_unread + tuple(
            accepted_unread(a) for a in given["accepted_unread"]
        )
    if "accepted_accounts" in given:
        given["accepted_accounts"] = policy.accepted_accounts + tuple(
            _account_or_star(a, "--accept-account", "value") for a in given["accepted_accounts"]
        )
    return replace(policy, **given) if given else policy


def _checked_patterns(patterns: Sequence[str], origin: str) -> tuple[str, ...]:
    for pattern in patterns:
        if pattern.startswith("re:"):
            try:
                re.compile(pattern[3:])
            except re.error as exc:
                raise ConfigError(f"{origin}: {pattern!r}: bad regular expression: {exc}") from exc
    return tuple(patterns)


def _read_stdin(stdin: TextIO) -> str:
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:  # the bytes, checked as a file's are
        return _text_of(Path("<stdin>"), buffer.read())
    try:
        return stdin.read()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"<stdin>: not UTF-8 text (byte {exc.start})") from exc


def resolve_sources(
    config: FileConfig | None,
    *,
    external_files: Sequence[Path],
    stdin: TextIO,
    switches: Mapping[str, bool | None] | None = None,
    **overrides: Any,
) -> Sources:
    """The file's [sources] with flags on top; external image files are read (and checked).
    `switches`: kind name → on/off from the command line (None: as the file says)."""
    sources = config.sources if config else Sources()
    external = [
        image
        for path in external_files
        for image in (
            read_external_images(Path("<stdin>"), _read_stdin(stdin))
            if str(path) == "-"
            else read_external_images(path)
        )
    ]
    given = {k: v for k, v in overrides.items() if v is not None}
    if given.get("usage_regions"):
        given["usage_regions"] = regions(list(given["usage_regions"]), "--usage-regions", "value")
    else:
        given.pop("usage_regions", None)
    kubeconfigs = tuple(given.pop("kubeconfigs", ()))
    off = set(sources.off)
    for name, on in (switches or {}).items():
        if name not in registry.names():
            raise ConfigError(f"--{name}: unknown consumer kind")
        if on is not None:
            (off.discard if on else off.add)(name)
    return replace(
        sources,
        **given,
        off=frozenset(off),
        external_images=sources.external_images + tuple(external),
        kubeconfigs=sources.kubeconfigs + kubeconfigs,
    )
