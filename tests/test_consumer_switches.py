"""Every consumer source has a switch: a `Sources` flag (on by default), an accounts-file key
and a `--no-…` flag, and the plan file keeps it so `apply` re-reads the same sources."""

from __future__ import annotations

import io
from dataclasses import asdict, fields, replace
from typing import Any

import pytest
import typer

from ecr_sweeper import cli
from ecr_sweeper.config import ConfigError, parse_sources, resolve_sources
from ecr_sweeper.model import SOURCE_SWITCHES, Sources
from ecr_sweeper.planfile import sources_from_json

NEW = ("daemons", "batch", "step_functions", "codebuild", "sagemaker", "app_runner", "emr", "pipes")


def test_every_switch_is_a_boolean_field_on_by_default() -> None:
    assert set(NEW) <= set(SOURCE_SWITCHES)
    booleans = {f.name for f in fields(Sources) if isinstance(getattr(Sources(), f.name), bool)}
    assert set(SOURCE_SWITCHES) == booleans
    assert all(getattr(Sources(), name) for name in SOURCE_SWITCHES)


@pytest.mark.parametrize("name", NEW)
def test_accounts_file_key_switches_a_source_off(name: str) -> None:
    assert getattr(parse_sources({name: False}, "accounts.toml"), name) is False
    with pytest.raises(ConfigError, match=f"accounts.toml: sources.{name}: expected true or false"):
        parse_sources({name: "no"}, "accounts.toml")


@pytest.mark.parametrize("name", NEW)
def test_cli_flag_switches_a_source_off(name: str) -> None:
    flag = "--no-" + name.replace("_", "-")
    plan = typer.main.get_command(cli.app).commands["plan"]  # type: ignore[attr-defined]
    assert flag in {o for p in plan.params for o in p.secondary_opts}
    sources = resolve_sources(None, external_files=[], stdin=io.StringIO(), **{name: False})
    assert getattr(sources, name) is False


def test_plan_file_keeps_the_switches_and_old_plans_read_everything() -> None:
    switches: dict[str, Any] = dict.fromkeys(NEW, False)
    off = replace(Sources(), **switches)
    assert sources_from_json(asdict(off)) == off
    old = {k: v for k, v in asdict(Sources()).items() if k not in NEW}
    assert sources_from_json(old) == Sources()
