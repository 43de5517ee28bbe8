"""Every consumer kind with a switch has one name for it: `--NAME/--no-NAME`, the accounts file's
`[sources] NAME = false`, `--accept-unread NAME`; earlier spellings still work; the plan file
keeps the switches (in its version-1 keys) so `apply` re-reads the same kinds."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
import typer
from typer.testing import CliRunner

from ecr_sweeper import cli, wording
from ecr_sweeper.aws.consumers import registry
from ecr_sweeper.aws.consumers.kind import IamAction, Kind, ReadContext, Reader, Reading, Switch
from ecr_sweeper.aws.consumers.scan import read_context, scan_usage
from ecr_sweeper.aws.limits import Api
from ecr_sweeper.cli.switches import with_switches
from ecr_sweeper.config import (
    ConfigError,
    accepted_unread,
    parse_config,
    parse_sources,
    resolve_sources,
)
from ecr_sweeper.model import AccountId, AccountTarget, Region, Sources, UsageScan
from ecr_sweeper.plan import build_plan
from ecr_sweeper.planfile import sources_from_json, sources_to_json
from ecr_sweeper.retry import RetryPolicy
from planning import NO_RETENTION, NOW, inventory
from tools import iam

NAMES = (
    "ecs",
    "schedules",
    "lambda",
    "eks",
    "batch",
    "stepfunctions",
    "codebuild",
    "ecs-daemons",
    "apprunner",
    "pipes",
    "sagemaker",
    "emr",
    "lightsail",
    "elasticbeanstalk",
    "agentcore",
    "braket",
    "cleanrooms-ml",
    "omics",
    "greengrass",
    "gamelift",
)
SWITCHED = tuple(n for n in NAMES if n not in ("ecs", "elasticbeanstalk", "omics"))
# The spellings of earlier versions (CLI flags with "-", accounts-file keys with "_").
ALIASES = {
    "lambdas": "lambda",
    "daemons": "ecs-daemons",
    "step_functions": "stepfunctions",
    "app_runner": "apprunner",
}
# Switched kinds newer than the plan file's version-1 keys (written by name when off).
# sorted, as written
LATER = ("agentcore", "braket", "cleanrooms-ml", "gamelift", "greengrass", "lightsail")
# The plan file's `sources` of today's default run, byte for byte (version 1).
V1_DEFAULT = (
    '{"service_revisions": true, "rollback_revisions": 5, "stopped_within_hours": 24, '
    '"schedules": true, "lambdas": true, "daemons": true, "batch": true, '
    '"step_functions": true, "codebuild": true, "sagemaker": true, "app_runner": true, '
    '"emr": true, "pipes": true, "external_images": [], "eks": true, "kubeconfigs": [], '
    '"usage_regions": []}'
)


def plan_options() -> dict[str, Any]:
    """Every option of `plan`, by each of its flag names."""
    command = typer.main.get_command(cli.app).commands["plan"]  # type: ignore[attr-defined]
    return {o: p for p in command.params for o in (*p.opts, *p.secondary_opts)}


def test_the_registry_names_are_the_census_kinds() -> None:
    assert registry.names() == NAMES
    assert tuple(k.name for k in registry.switched()) == SWITCHED
    assert {k.name for k in registry.KINDS if k.census_only} == {"elasticbeanstalk", "omics"}


@pytest.mark.parametrize("name", SWITCHED)
def test_accounts_file_key_switches_a_kind_off(name: str) -> None:
    assert not parse_sources({name: False}, "accounts.toml").reads(name)
    assert parse_sources({name: True}, "accounts.toml").reads(name)
    with pytest.raises(ConfigError, match=f"accounts.toml: sources.{name}: expected true or false"):
        parse_sources({name: "no"}, "accounts.toml")


@pytest.mark.parametrize(("alias", "name"), ALIASES.items())
def test_the_accounts_files_old_keys_still_switch_the_kind(alias: str, name: str) -> None:
    assert parse_sources({alias: False}, "accounts.toml").off == {name}
    assert parse_sources({alias: False, name: False}, "accounts.toml").off == {name}
    with pytest.raises(ConfigError, match=f"sources.{alias}: contradicts sources.{name}"):
        parse_sources({alias: False, name: True}, "accounts.toml")


def test_an_unknown_accounts_file_key_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"accounts\.toml: sources\.lambdaz: unknown key"):
        parse_sources({"lambdaz": False}, "accounts.toml")


@pytest.mark.parametrize("name", SWITCHED)
def test_cli_flag_switches_a_kind_off(name: str) -> None:
    options = plan_options()
    assert options[f"--no-{name}"] is options[f"--{name}"]
    assert options[f"--no-{name}"].help == registry.by_name()[name].switch.help  # type: ignore[union-attr]
    sources = resolve_sources(None, external_files=[], stdin=io.StringIO(), switches={name: False})
    assert sources.off == {name}


@pytest.mark.parametrize(("alias", "name"), ALIASES.items())
def test_the_old_cli_flags_are_the_same_option(alias: str, name: str) -> None:
    options = plan_options()
    flag = alias.replace("_", "-")
    assert options[f"--no-{flag}"] is options[f"--no-{name}"]
    assert options[f"--{flag}"] is options[f"--{name}"]


def test_the_ecs_options_keep_their_flags_and_keys() -> None:
    options = plan_options()
    for flag in ("--no-service-revisions", "--rollback-revisions", "--stopped-within-hours"):
        assert flag in options
    parsed = parse_sources(
        {"service_revisions": False, "rollback_revisions": 2, "stopped_within_hours": 1}, "a.toml"
    )
    assert (parsed.service_revisions, parsed.rollback_revisions, parsed.stopped_within_hours) == (
        False,
        2,
        1,
    )


def test_help_lists_every_switch() -> None:
    result = CliRunner().invoke(cli.app, ["plan", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for name in SWITCHED:
        assert f"--no-{name}" in result.output


def test_a_flag_overrides_the_file_and_none_keeps_it() -> None:
    config = parse_config({"sources": {"batch": False}}, "a.toml")
    kept = resolve_sources(config, external_files=[], stdin=io.StringIO(), switches={"batch": None})
    assert kept.off == {"batch"}
    on = resolve_sources(config, external_files=[], stdin=io.StringIO(), switches={"batch": True})
    assert on.off == frozenset()


def test_the_plan_file_keeps_todays_keys_byte_for_byte() -> None:
    assert json.dumps(sources_to_json(Sources())) == V1_DEFAULT
    every = Sources(off=frozenset(SWITCHED))
    written = sources_to_json(every)
    # a kind newer than the version-1 layout is written only when off, by its name, at the end
    assert list(written) == [*json.loads(V1_DEFAULT), *LATER]
    assert all(written[key] is False for key in (*ALIASES, "schedules", "batch", "pipes", "eks"))
    assert all(written[name] is False for name in LATER)
    assert sources_from_json(written) == every
    old = {k: v for k, v in json.loads(V1_DEFAULT).items() if k not in ("daemons", "pipes")}
    assert sources_from_json(old) == Sources()  # plans from before a kind: read it


@pytest.mark.parametrize("value", ["bogus", "daemons", "step-functions", "bogus@111111111111"])
def test_accept_unread_takes_only_the_registrys_names(value: str) -> None:
    with pytest.raises(ConfigError, match="unknown consumer kind") as caught:
        accepted_unread(value)
    assert "ecs-daemons" in str(caught.value)  # names the valid ones


def test_accept_unread_names_an_old_spelling_s_new_name() -> None:
    with pytest.raises(ConfigError, match="'daemons' is now 'ecs-daemons'"):
        accepted_unread("daemons")


@pytest.mark.parametrize("name", NAMES)
def test_accept_unread_takes_every_kind_with_or_without_an_account(name: str) -> None:
    assert accepted_unread(name) == name
    assert accepted_unread(f"{name}@111111111111") == f"{name}@111111111111"
    with pytest.raises(ConfigError, match=r"12-digit|12 digits"):
        accepted_unread(f"{name}@1234")


def test_accept_unread_takes_a_principal_no_kind_claims() -> None:
    # the plan names it so (a repository policy's unknown service principal is its own kind)
    assert accepted_unread("new.amazonaws.com@111111111111") == "new.amazonaws.com@111111111111"


def test_the_accounts_files_accept_unread_is_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"a.toml: policy.accept_unread\[0\]: unknown consumer"):
        parse_config({"policy": {"accept_unread": ["bogus"]}}, "a.toml")


# ---- a kind added with one object: seen everywhere the registry reaches -------------------


async def _fake_present(ctx: ReadContext) -> bool:  # noqa: ARG001 - no I/O
    return True


async def _fake_read(ctx: ReadContext) -> Reading:
    found = ctx.findings()
    found.image(
        f"{ctx.target.account_id}.dkr.ecr.us-east-1.amazonaws.com/api:v1", "fake", None, "fake"
    )
    found.count("fakes")
    return found.reading()


FAKE = Kind(
    name="fake",
    title="fake things",
    present=_fake_present,
    readers=(Reader("fake things", _fake_read),),
    switch=Switch("Read the fake things (default on).", aliases=("fakes",)),
    iam=(IamAction("fake:ListThings", "ReadOtherConsumers", "fake things (`--no-fake`)"),),
    principals=("fake.amazonaws.com",),
    emulated="nothing: a test's kind",
)
KINDS = (*registry.KINDS, FAKE)
ACCOUNT = AccountId("111111111111")


def _scan(sources: Sources) -> UsageScan:
    async def client(service: str) -> Any:  # noqa: ARG001 - the fake calls nothing
        return None

    ctx = read_context(
        AccountTarget(ACCOUNT, ()),
        Region("us-east-1"),
        api=Api(4, RetryPolicy()),
        client=client,
        sources=sources,
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )
    return anyio.run(scan_usage, ctx, [FAKE])


def test_a_fake_kind_is_in_the_census_and_blocks_only_when_unread() -> None:
    read = _scan(Sources(rollback_revisions=0))
    [entry] = read.census
    assert (entry.kind, entry.present, entry.read) == ("fake", True, True)
    assert [u.source for u in read.usages] == ["fake"]
    unread = _scan(Sources(off=frozenset({"fake"}), rollback_revisions=0))
    assert unread.census[0].unread
    assert unread.census[0].detail == "fake things: switched off"
    targets = [AccountTarget(ACCOUNT, (Region("us-east-1"),))]
    policy = NO_RETENTION
    assert not build_plan([read], inventory(), policy, NOW, targets).blocked
    blocked = build_plan([unread], inventory(), policy, NOW, targets)
    assert blocked.blocked
    assert (
        "fake present, not read (fake things: switched off)"
        in wording.findings(blocked.findings)[0]
    )
    accepted = replace(policy, accepted_unread=("fake",))
    assert not build_plan([unread], inventory(), accepted, NOW, targets).blocked


def test_a_fake_kind_gets_a_cli_switch_a_file_key_and_accept_unread() -> None:
    captured: dict[str, Any] = {}
    app = typer.Typer()

    @app.command()
    @with_switches(KINDS)
    def plan(switches: dict[str, bool | None] | None = None) -> None:
        captured.update(switches or {})

    assert CliRunner().invoke(app, ["--no-fake"]).exit_code == 0
    assert (captured["fake"], captured["lambda"]) == (False, None)
    assert CliRunner().invoke(app, ["--fakes"]).exit_code == 0  # its alias
    assert captured["fake"]
    assert "--no-fake" in CliRunner().invoke(app, ["--help"], env={"COLUMNS": "250"}).output
    assert registry.switch_keys(KINDS)["fake"] == "fake"
    assert registry.switch_keys(KINDS)["fakes"] == "fake"
    assert "fake" in registry.names(KINDS)
    assert registry.principal_kinds(KINDS)["fake.amazonaws.com"] == "fake"
    assert IamAction("fake:ListThings", "ReadOtherConsumers", "fake things (`--no-fake`)") in (
        registry.iam_actions(KINDS)
    )
    off = Sources(off=frozenset({"fake"}))
    assert sources_to_json(off)["fake"] is False  # a later kind's key is its name
    assert sources_from_json(sources_to_json(off)) == off

    assert "fake:ListThings" in json.dumps(iam.policy("read", KINDS))


def test_the_readmes_in_use_table_has_every_switch_of_the_registry() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split('### What counts as "in use"', 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    switches = {s for row in rows for s in re.findall(r"`(--no-[a-z-]+)`", row.rsplit("|", 2)[1])}
    kinds = {f"--no-{kind.name}" for kind in registry.switched()}
    assert switches == kinds | {"--no-service-revisions"}  # the one ECS option of the table


def test_names_aliases_and_principals_are_unique_and_the_principals_are_todays() -> None:
    spellings = [*registry.names(), *(a for k in registry.switched() for a in k.switch.aliases)]  # type: ignore[union-attr]
    assert len(spellings) == len(set(spellings))
    principals = [p for kind in registry.KINDS for p in kind.principals]
    assert len(principals) == len(set(principals))
    assert registry.principal_kinds() == {  # plan.py's SERVICE_KINDS before the registry
        "ecs.amazonaws.com": "ecs",
        "ecs-tasks.amazonaws.com": "ecs",
        "lambda.amazonaws.com": "lambda",
        "batch.amazonaws.com": "batch",
        "states.amazonaws.com": "stepfunctions",
        "codebuild.amazonaws.com": "codebuild",
        "sagemaker.amazonaws.com": "sagemaker",
        "build.apprunner.amazonaws.com": "apprunner",
        "tasks.apprunner.amazonaws.com": "apprunner",
        "emr-containers.amazonaws.com": "emr",
        "emr-serverless.amazonaws.com": "emr",
        "eks.amazonaws.com": "eks",
        "pods.eks.amazonaws.com": "eks",
        "lightsail.amazonaws.com": "lightsail",
        "elasticbeanstalk.amazonaws.com": "elasticbeanstalk",
        "bedrock-agentcore.amazonaws.com": "agentcore",
        "cleanrooms-ml.amazonaws.com": "cleanrooms-ml",
        "omics.amazonaws.com": "omics",
    }
