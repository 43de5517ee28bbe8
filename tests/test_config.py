"""Accounts file and flags → targets and policy; every bad input names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecr_sweeper.config import (
    ConfigError,
    load_config,
    parse_config,
    resolve_policy,
    resolve_targets,
)
from ecr_sweeper.model import Patterns, Policy

EXAMPLE = Path(__file__).parent.parent / "accounts.example.toml"


def test_the_example_file_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.targets
    targets = resolve_targets(config=config, accounts=[], cli_regions=[], role_name=None)
    assert all(t.regions for t in targets)
    assert all(t.role_arn for t in targets)


def test_defaults_apply_and_accounts_override() -> None:
    config = parse_config(
        {
            "defaults": {"role_name": "EcrSweeper", "regions": ["us-east-1"]},
            "accounts": [
                {"id": "111111111111", "name": "registry", "repositories": {"exclude": ["keep/*"]}},
                {
                    "id": "222222222222",
                    "role_arn": "arn:aws:iam::222222222222:role/Other",
                    "external_id": "xyz",
                    "regions": ["eu-west-1", "eu-west-1"],
                    "clusters": {"include": ["prod-*"]},
                },
            ],
        },
        "f.toml",
    )
    first, second = config.targets
    assert first.role_arn == "arn:aws:iam::111111111111:role/EcrSweeper"
    assert first.name == "registry"
    assert first.regions == ("us-east-1",)
    assert first.repositories == Patterns(("*",), ("keep/*",))
    assert second.role_arn == "arn:aws:iam::222222222222:role/Other"
    assert second.external_id == "xyz"
    assert second.regions == ("eu-west-1",)
    assert second.clusters.matches("prod-eu")
    assert not second.clusters.matches("dev")


def test_flags_select_accounts_replace_regions_and_fill_in_the_role() -> None:
    config = parse_config(
        {"accounts": [{"id": "111111111111", "regions": ["us-east-1"]}]}, "f.toml"
    )
    targets = resolve_targets(
        config=config,
        accounts=["333333333333", "111111111111", "333333333333"],
        cli_regions=["eu-west-1"],
        role_name="Sweeper",
    )
    assert [t.account_id for t in targets] == ["333333333333", "111111111111"]
    assert all(t.regions == ("eu-west-1",) for t in targets)
    assert targets[0].role_arn == "arn:aws:iam::333333333333:role/Sweeper"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"acounts": []}, "f.toml: acounts: unknown key"),
        ({"accounts": [{"id": "12345"}]}, "f.toml: accounts[0].id: '12345' is not a 12-digit"),
        (
            {"accounts": [{"id": "111111111111", "region": ["x"]}]},
            "accounts[0].region: unknown key",
        ),
        (
            {"accounts": [{"id": "111111111111", "regions": ["us-east"]}]},
            "accounts[0].regions[0]: 'us-east' is not an AWS region name",
        ),
        (
            {"accounts": [{"id": "111111111111", "role_arn": "arn:aws:iam::222222222222:role/X"}]},
            "accounts[0].role_arn: arn:aws:iam::222222222222:role/X is in account 222222222222",
        ),
        ({"accounts": [{"id": "111111111111"}, {"id": "111111111111"}]}, "listed twice"),
        ({"policy": {"keep_last": -1}}, "policy.keep_last: expected a whole number"),
        ({"defaults": {"clusters": {"inclde": ["*"]}}}, "defaults.clusters.inclde: unknown key"),
        ({"accounts": {"id": "111111111111"}}, "accounts: expected an array of tables"),
    ],
)
def test_bad_files_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "f.toml")
    assert message in str(caught.value)


def test_unreadable_and_invalid_toml_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[accounts\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(bad)


@pytest.mark.parametrize(
    ("accounts", "regions", "message"),
    [
        ([], ["us-east-1"], "no accounts to sweep"),
        (["1234"], ["us-east-1"], "--account: value: '1234' is not a 12-digit"),
        (["111111111111"], ["useast1"], "--region: value[0]: 'useast1' is not an AWS region"),
    ],
)
def test_bad_flags(accounts: list[str], regions: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_targets(config=None, accounts=accounts, cli_regions=regions, role_name=None)
    assert message in str(caught.value)


def test_no_regions_means_every_enabled_region() -> None:
    [target] = resolve_targets(
        config=None, accounts=["111111111111"], cli_regions=[], role_name=None
    )
    assert target.regions == ()


def test_policy_precedence() -> None:
    config = parse_config({"policy": {"keep_last": 3}}, "f.toml")
    assert resolve_policy(None, None, None) == Policy()
    assert resolve_policy(config, None, None) == Policy(keep_last=3)
    assert resolve_policy(config, 0, 0) == Policy(keep_last=0, min_age_days=0)


def test_external_images_from_a_file_and_stdin(tmp_path: Path) -> None:
    import io

    from ecr_sweeper.config import resolve_sources

    listed = tmp_path / "images.txt"
    listed.write_text(
        "# deploy manifest\n111111111111.dkr.ecr.us-east-1.amazonaws.com/app:v1\n\n", "utf-8"
    )
    stdin = io.StringIO("111111111111.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "a" * 64)
    sources = resolve_sources(None, external_files=[listed, Path("-")], stdin=stdin)
    assert sources.external_images == (
        "111111111111.dkr.ecr.us-east-1.amazonaws.com/app:v1",
        "111111111111.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "a" * 64,
    )
    with pytest.raises(ConfigError, match=r"<stdin>:1: cannot parse image reference"):
        resolve_sources(None, external_files=[Path("-")], stdin=io.StringIO("Not An Image\n"))


def test_the_quarantine_and_its_prices_come_from_the_policy_table() -> None:
    from ecr_sweeper.model import ArchivePrices
    from ecr_sweeper.planfile import policy_from_json, policy_to_json

    policy = parse_config(
        {
            "policy": {
                "quarantine": True,
                "quarantine_days": 21,
                "archive_price_per_gb_month": 0.11,
                "restore_price_per_gb": 0.05,
            }
        },
        "f.toml",
    ).policy
    assert (policy.quarantine, policy.quarantine_days) == (True, 21)
    assert policy.archive_prices == ArchivePrices(per_gb_month=0.11, restore_per_gb=0.05)
    assert policy_from_json(policy_to_json(policy)) == policy
    # A plan that does not quarantine is written as before (no new keys).
    assert "quarantine" not in policy_to_json(Policy())
    with pytest.raises(ConfigError, match=r"f.toml: policy.quarantine: expected true or false"):
        parse_config({"policy": {"quarantine": "yes"}}, "f.toml")
    with pytest.raises(ConfigError, match=r"policy.restore_price_per_gb: expected a price"):
        parse_config({"policy": {"restore_price_per_gb": -1}}, "f.toml")


def test_the_pull_witness_key_and_its_old_name() -> None:
    """`pulled_within_days` is the policy's (a safety rule, default 30); the old top-level key
    `keep_pulled_within_days` is its alias; in a rule, either sets its repositories' window."""
    assert parse_config({}, "f.toml").policy.pulled_within_days == 30
    for key_name in ("pulled_within_days", "keep_pulled_within_days"):
        policy = parse_config({"policy": {key_name: 7}}, "f.toml").policy
        assert policy.pulled_within_days == 7
        assert policy.keep_pulled_within_days is None  # one rule: the policy's window
        assert policy.pull_window("any") == 7
    off = parse_config({"policy": {"pulled_within_days": 0}}, "f.toml").policy
    assert off.pull_window("any") == 0
    ruled = parse_config(
        {
            "policy": {
                "pulled_within_days": 10,
                "rules": [{"repositories": {"include": ["ci-*"]}, "keep_pulled_within_days": 0}],
            }
        },
        "f.toml",
    ).policy
    assert (ruled.pull_window("ci-cache"), ruled.pull_window("app")) == (0, 10)
    with pytest.raises(ConfigError, match="keep_pulled_within_days: contradicts"):
        parse_config({"policy": {"pulled_within_days": 3, "keep_pulled_within_days": 4}}, "f.toml")
    with pytest.raises(ConfigError, match=r"policy\.pulled_within_days: expected a whole number"):
        parse_config({"policy": {"pulled_within_days": -1}}, "f.toml")


def test_the_pull_witness_flag_sets_the_window_everywhere() -> None:
    config = parse_config(
        {
            "policy": {
                "rules": [{"repositories": {"include": ["ci-*"]}, "keep_pulled_within_days": 90}],
            }
        },
        "f.toml",
    )
    policy = resolve_policy(config, pulled_within_days=0)
    assert (policy.pull_window("ci-cache"), policy.pull_window("app")) == (0, 0)
