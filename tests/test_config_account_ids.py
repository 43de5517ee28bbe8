"""Account ids in the accounts file (issue 11 §5): strings of exactly 12 digits. A TOML integer
is an error that says to quote it, unless it has 12 digits (no leading zero it could have
lost); it is never padded into another account's id."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecr_sweeper.config import ConfigError, FileConfig, load_config


def load(tmp_path: Path, text: str) -> FileConfig:
    path = tmp_path / "accounts.toml"
    path.write_text(text, "utf-8")
    return load_config(path)


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ("12345678901", ["accounts[0].id", "12345678901 is a TOML integer", "quote it"]),
        ("1234", ["accounts[0].id", "1234 is a TOML integer", "quote it"]),
        ("0", ["accounts[0].id", "is a TOML integer"]),
        ("1234567890123", ["accounts[0].id", "is a TOML integer"]),
        ('"12345678901"', ["accounts[0].id", "'12345678901' is not a 12-digit AWS account id"]),
        ('"0123456789012"', ["'0123456789012' is not a 12-digit"]),
        ('" 123456789012"', ["is not a 12-digit"]),
        ("true", ["True is not a 12-digit"]),
        ("1.23456789012e11", ["is not a 12-digit"]),
    ],
)
def test_an_account_id_that_is_not_12_digits_is_an_error_naming_the_key(
    tmp_path: Path, value: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f'[[accounts]]\nid = {value}\nregions = ["us-east-1"]\n')
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'accounts.toml'}: ")
    for fragment in fragments:
        assert fragment in message


def test_an_11_digit_integer_is_never_padded_into_another_account(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r'e\.g\. "012345678901" if that is the account'):
        load(tmp_path, '[[accounts]]\nid = 12345678901\nregions = ["us-east-1"]\n')


@pytest.mark.parametrize(
    ("value", "account"), [('"012345678901"', "012345678901"), ("123456789012", "123456789012")]
)
def test_a_quoted_id_or_a_12_digit_integer_is_accepted(
    tmp_path: Path, value: str, account: str
) -> None:
    config = load(tmp_path, f'[[accounts]]\nid = {value}\nregions = ["us-east-1"]\n')
    targets = config.targets
    assert [t.account_id for t in targets] == [account]


def test_accepted_accounts_follow_the_same_rule(tmp_path: Path) -> None:
    head = '[[accounts]]\nid = "111111111111"\nregions = ["us-east-1"]\n[policy]\n'
    with pytest.raises(ConfigError, match=r"policy\.accepted_accounts\[1\]: 44444444444 is a TOML"):
        load(tmp_path, head + 'accepted_accounts = ["333333333333", 44444444444]\n')
    config = load(tmp_path, head + 'accepted_accounts = ["*", "o-a1b2c3d4e5", 444444444444]\n')
    assert config.policy.accepted_accounts == ("*", "o-a1b2c3d4e5", "444444444444")
