"""The `ecr-sweeper` command, run for real (`python -m ecr_sweeper`) in a subprocess, against
moto's server through the environment of the `aws` fixture, without a terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ecr_sweeper.demo.run import STAGING
from moto_helpers import (
    API,
    APP,
    EU,
    REGISTRY,
    US,
    Org,
    inventory,
    present,
    repository,
    seed_org,
    service,
    uri,
)
from sweep import sweeper

ROLE = "EcrSweeper"
PLAN = [
    "plan",
    "--account",
    REGISTRY,
    "--account",
    APP,
    "--region",
    US,
    "--region",
    EU,
    "--role-name",
    ROLE,
    "--min-age-days",
    "0",
    "--keep-last",
    "0",
    # moto's server answers ListServiceDeployments with HTTP 500 (see demo/run.py), and serves
    # neither ECS Managed Daemons nor App Runner.
    "--no-service-revisions",
    # Usage where the workloads are: moto lists 38 enabled regions (test_census_moto.py reads
    # them all).
    "--usage-regions",
    US,
    "--usage-regions",
    EU,
    "--no-daemons",
    "--no-app-runner",
    "--output",
    "plan.json",
]
DECISION_KEYS = {
    "account_id",
    "region",
    "repository",
    "image_digest",
    "image_tags",
    "size_bytes",
    "reason",
}


def everything(org: Org) -> set[tuple[str, str, str, str]]:
    return org.used | org.unused


@pytest.mark.usefixtures("aws")
def test_plan_writes_the_documented_file_and_apply_deletes_exactly_it(tmp_path: Path) -> None:
    org = seed_org()
    tags = {
        (a, r, n, digest): list(t)
        for a, r, n in org.repositories
        for digest, t in inventory(a, r, n).items()
    }

    planned = sweeper(*PLAN, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    assert doc["version"] == 1
    assert doc["errors"] == []
    assert isinstance(doc["deletions"], list)
    for element in doc["deletions"]:
        assert set(element) >= DECISION_KEYS
        key = (
            element["account_id"],
            element["region"],
            element["repository"],
            element["image_digest"],
        )
        assert element["image_tags"] == tags[key]
        assert isinstance(element["size_bytes"], int)
        assert element["size_bytes"] >= 0  # moto reports 0 for image indexes
        assert element["reason"].startswith("delete:")
    planned_keys = {
        (e["account_id"], e["region"], e["repository"], e["image_digest"]) for e in doc["deletions"]
    }
    assert planned_keys == org.unused
    # A per-repository summary on stdout: one row per repository naming account, region, name.
    rows = planned.stdout.splitlines()
    for account, region, name in org.repositories:
        assert any(account in r and region in r and f" {name} " in r for r in rows), name
    assert f"delete {len(org.unused)}" in planned.stdout
    assert present(everything(org)) == everything(org)  # plan is read-only

    refused = sweeper("apply", "plan.json", cwd=tmp_path)
    assert refused.returncode == 1
    assert "--yes" in refused.stderr
    assert present(everything(org)) == everything(org)

    applied = sweeper("apply", "plan.json", "--yes", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert f"deleted {len(org.unused)}" in applied.stdout
    for account, region, name in org.repositories:
        expected = {k[3] for k in org.used if k[:3] == (account, region, name)}
        assert set(inventory(account, region, name)) == expected, name


SMALL_PLAN = [
    "plan",
    "--account",
    REGISTRY,
    "--account",
    APP,
    "--region",
    US,
    "--role-name",
    ROLE,
    "--min-age-days",
    "0",
    "--keep-last",
    "0",
    "--no-service-revisions",
    "--no-lambdas",
    "--no-schedules",
    "--usage-regions",
    US,
    "--no-daemons",  # moto serves neither ECS Managed Daemons nor App Runner
    "--no-app-runner",
]


@pytest.mark.usefixtures("aws")
def test_blocked_usage_exits_3_and_apply_deletes_nothing(tmp_path: Path) -> None:
    api = repository(REGISTRY, US, API, "v1", "v2")
    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, API)}:v2"})
    seeded = {api["v1"], api["v2"]}
    good = sweeper(*SMALL_PLAN, "--output", "good.json", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert [
        d["image_digest"] for d in json.loads((tmp_path / "good.json").read_text())["deletions"]
    ] == [api["v1"]]
    service(APP, US, "broken", {"broken": "Not A Valid Image!"})

    # A reviewed good plan whose re-check is blocked: nothing deleted, exit 3.
    recheck = sweeper("apply", "good.json", "--yes", cwd=tmp_path)
    assert recheck.returncode == 3, recheck.stderr
    assert "Not A Valid Image!" in recheck.stderr
    assert set(inventory(REGISTRY, US, API)) == seeded

    blocked = sweeper(*SMALL_PLAN, "--output", "plan.json", cwd=tmp_path)
    assert blocked.returncode == 3, blocked.stderr
    assert "BLOCKED" in blocked.stderr
    assert "Not A Valid Image!" in blocked.stderr
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert doc["blocked"] is True
    assert doc["deletions"] == []
    assert [e["scope"] for e in doc["errors"]] == ["usage"]

    refused = sweeper("apply", "plan.json", "--yes", cwd=tmp_path)
    assert refused.returncode == 3
    assert "blocked" in refused.stderr
    assert set(inventory(REGISTRY, US, API)) == seeded


ACCOUNTS_FILE = f"""
[defaults]
role_name = "{ROLE}"
regions = ["{US}", "{EU}"]

[policy]
keep_last = 0
min_age_days = 0

[sources]
service_revisions = false
usage_regions = ["{US}", "{EU}"]
daemons = false
app_runner = false

[[accounts]]
id = "{REGISTRY}"
name = "registry"

[[accounts]]
id = "{APP}"
name = "app"
"""


@pytest.mark.usefixtures("aws")
def test_accounts_file_supplies_accounts_roles_regions_and_policy(tmp_path: Path) -> None:
    org = seed_org()
    (tmp_path / "accounts.toml").write_text(ACCOUNTS_FILE, encoding="utf-8")

    planned = sweeper("plan", "--config", "accounts.toml", "-o", "plan.json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert (doc["policy"]["keep_last"], doc["policy"]["min_age_days"]) == (0, 0)
    assert [(t["account_id"], t["name"], t["role_arn"], t["regions"]) for t in doc["targets"]] == [
        (REGISTRY, "registry", f"arn:aws:iam::{REGISTRY}:role/{ROLE}", [US, EU]),
        (APP, "app", f"arn:aws:iam::{APP}:role/{ROLE}", [US, EU]),
    ]
    planned_keys = {
        (e["account_id"], e["region"], e["repository"], e["image_digest"]) for e in doc["deletions"]
    }
    assert planned_keys == org.unused


@pytest.mark.usefixtures("aws")
def test_account_not_in_the_file_gets_the_files_defaults(tmp_path: Path) -> None:
    (tmp_path / "accounts.toml").write_text(ACCOUNTS_FILE, encoding="utf-8")

    planned = sweeper(
        "plan", "--config", "accounts.toml", "--account", "333333333333", cwd=tmp_path
    )
    assert planned.returncode == 0, planned.stderr
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert [(t["account_id"], t["role_arn"], t["regions"]) for t in doc["targets"]] == [
        ("333333333333", f"arn:aws:iam::333333333333:role/{ROLE}", [US, EU])
    ]


INPUT_FILES = {
    "corrupt.json": '{"version": 1, "deletions": [',
    "incomplete.json": '{"version": 1, "created_at": "2026-01-01T00:00:00+00:00"}',
    "array.json": "[]",
    "unknown-key.toml": f'[[accounts]]\nid = "{REGISTRY}"\nregions = ["{US}"]\ncolour = "blue"\n',
    "bad-id.toml": f'[[accounts]]\nid = "1234"\nregions = ["{US}"]\n',
}


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(
            ["plan", "--account", REGISTRY, "--region", "us-east", "--role-name", ROLE],
            ["--region", "'us-east'", "region"],
            id="bad-region",
        ),
        pytest.param(
            ["plan", "--config", "unknown-key.toml"],
            ["unknown-key.toml", "accounts[0].colour", "unknown key"],
            id="accounts-file-unknown-key",
        ),
        pytest.param(
            ["plan", "--config", "bad-id.toml"],
            ["bad-id.toml", "accounts[0].id", "'1234'", "12-digit"],
            id="accounts-file-bad-account-id",
        ),
        pytest.param(
            ["plan", "--config", "missing.toml", "--account", REGISTRY],
            ["missing.toml", "cannot read"],
            id="accounts-file-missing",
        ),
        pytest.param(
            ["apply", "missing.json", "--yes"],
            ["missing.json", "cannot read"],
            id="plan-file-missing",
        ),
        pytest.param(
            ["apply", "corrupt.json", "--yes"],
            ["corrupt.json", "not JSON"],
            id="plan-file-corrupt",
        ),
        pytest.param(
            ["apply", "incomplete.json", "--yes"],
            ["incomplete.json", "not a valid plan"],
            id="plan-file-incomplete",
        ),
        pytest.param(
            ["apply", "array.json", "--yes"],
            ["array.json", "not a valid plan"],
            id="plan-file-json-array",
        ),
    ],
)
@pytest.mark.usefixtures("aws")
def test_bad_input_exits_1_naming_the_fault_and_deletes_nothing(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    api = repository(REGISTRY, US, API, "v1")
    for name, text in INPUT_FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")

    result = sweeper(*args, cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert not (tmp_path / "plan.json").exists()
    assert set(inventory(REGISTRY, US, API)) == {api["v1"]}


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["plan", "--account", REGISTRY, "--region", US, "--bogus"], id="unknown-flag"),
        pytest.param(
            ["plan", "--account", REGISTRY, "--region", US, "--keep-last", "-1"], id="negative"
        ),
        pytest.param(["apply"], id="missing-argument"),
        # its line: test_cli_input.py::test_values_of_the_wrong_form_exit_2_…
        pytest.param(
            ["plan", "--account", "12345", "--region", US, "--role-name", ROLE],
            id="bad-account-id",
        ),
    ],
)
@pytest.mark.usefixtures("aws")
def test_command_line_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = sweeper(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize(
    ("command", "fragments"),
    [
        pytest.param([], ["plan", "apply", "Exit codes", "3 blocked", "4 incomplete"], id="main"),
        pytest.param(
            ["plan"],
            [
                "--account",
                "--region",
                "--role-name",
                "--config",
                "--keep-last",
                "--min-age-days",
                "--output",
            ],
            id="plan",
        ),
        pytest.param(["apply"], ["plan_file", "--yes"], id="apply"),
        pytest.param(["show"], ["plan_file"], id="show"),
        pytest.param(["demo"], ["--keep-server"], id="demo"),
    ],
)
@pytest.mark.usefixtures("aws")
def test_help_exits_0_and_names_the_key_flags(
    tmp_path: Path, command: list[str], fragments: list[str]
) -> None:
    result = sweeper(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # rich wraps help at the terminal width
    for fragment in fragments:
        assert fragment.lower() in text.lower()


@pytest.mark.usefixtures("aws")
def test_demo_passes_all_its_checks(tmp_path: Path) -> None:
    result = sweeper("demo", cwd=tmp_path, timeout=240)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    assert "all checks passed" in result.stdout
    # The path a user takes: `plan` to a file, then `apply FILE --yes` with its journal,
    # through the CLI's own progress display (timestamped lines off a terminal).
    plan_line = next(line for line in result.stdout.splitlines() if "$ ecr-sweeper plan" in line)
    plan_file = Path(plan_line.split("--output ")[1].split()[0])
    assert f"$ ecr-sweeper apply {plan_file} --yes" in result.stdout
    # one line per image deleted (12), and its header
    assert "plan.json.journal has 13 lines" in result.stdout
    # the census blocked the first plan (an EKS cluster nobody may read), then it was accepted
    assert "The census found a consumer the run could not read" in result.stdout
    assert f"--accept-unread eks@{STAGING}" in result.stdout
    assert re.search(r"^\d\d:\d\d:\d\d \[\d+/\d+\] usage read ", result.stderr, re.M)
    assert f"plan written to {plan_file}" in result.stderr
    # Why each deleted image goes.
    goes = result.stdout.split("why each image goes:")[1].split("why each kept image")[0]
    reasons = [line for line in goes.splitlines() if line.strip()]
    assert len(reasons) == 12  # the 12 images deleted
    assert all(": delete: " in line for line in reasons), reasons
    # The pull witness: an image nothing read uses, pulled 3 days ago, kept with its reason and
    # summed up with the registry's (moto: no) pull-time update exclusions.
    kept = result.stdout.split("why each kept image")[1]
    assert "kept: pulled 3 days ago; no consumer this run read uses it" in kept
    assert "111111111111/us-east-1 jobs: 1 image pulled" in result.stderr
    assert "111111111111/us-east-1: no pull-time update exclusions" in result.stderr
    # The AgentCore runtime in prod's eu-west-1 keeps the registry's agents:v1, naming itself.
    assert re.search(
        r"^  111111111111/us-east-1/agents v1 sha256:\w+…: in use: tag 'v1' used by AgentCore "
        r"runtime support_bot version 1 \(current version\)$",
        kept,
        re.M,
    )
    # Its temporary folder is gone.
    assert f"temporary folder {plan_file.parent} removed" in result.stdout
    assert not plan_file.parent.exists()
