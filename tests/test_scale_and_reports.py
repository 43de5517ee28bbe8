"""Org-wide scale and what CI reads: sharded plans equal the unsharded plan byte for byte; the
plan file's checksum and age are checked by apply; Markdown, CSV and JSON renderings."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from awsim import Quotas, emulated, generate_org_with_truth, run_emulator
from conftest import use_only
from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    InventoryScan,
    Plan,
    Policy,
    Region,
    Repository,
    Sources,
    UsageScan,
)
from ecr_sweeper.pipeline import plan_from_scans, scan
from ecr_sweeper.plan import build_plan
from ecr_sweeper.planfile import PlanFileError, write_plan
from ecr_sweeper.report import CSV_COLUMNS, csv_rows, markdown
from ecr_sweeper.shardfile import parse_shard, read_shards, shard_targets, write_shard
from planning import NO_RETENTION, NOW, image, inventory, key, uri, usage_scan, use
from sweep import connected

SOURCES = emulated(Sources(service_revisions=True))
POLICY = Policy(keep_last=1, min_age_days=0)


def test_shard_shares_cover_every_account_once() -> None:
    targets = [AccountTarget(AccountId(f"{n:012d}"), (Region("us-east-1"),)) for n in range(11)]
    shares = [shard_targets(targets, i, 4) for i in range(1, 5)]
    assert sorted(t.account_id for share in shares for t in share) == sorted(
        t.account_id for t in targets
    )
    assert [len(s) for s in shares] == [3, 3, 3, 2]
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "2", "a/b", "2/"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_sharded_and_unsharded_plans_are_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario, _ = generate_org_with_truth(
        accounts=6, regions=2, services_per_region=8, images_total=1200, seed=7
    )
    targets = tuple(
        AccountTarget(
            AccountId(a.id),
            # every account in every region of the org (an account given no regions would
            # mean "every enabled region", which asks EC2, not served by the emulator)
            tuple(sorted({Region(r.name) for b in scenario.accounts for r in b.regions})),
            role_arn=f"arn:aws:iam::{a.id}:role/EcrSweeper",
        )
        for a in scenario.accounts
    )
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with run_emulator(scenario, quotas=Quotas.unlimited()) as emu:
        use_only(monkeypatch, emu.env())

        def read(share: tuple[AccountTarget, ...]) -> tuple[list[UsageScan], list[InventoryScan]]:
            return connected(lambda connections: scan(share, connections, now, sources=SOURCES))

        usage, inv = read(targets)
        write_plan(
            plan_from_scans(usage, inv, POLICY, now, targets=targets, sources=SOURCES),
            tmp_path / "whole.json",
        )
        shards = []
        for index in range(1, 5):
            share = shard_targets(targets, index, 4)
            usage, inv = read(share)
            path = tmp_path / f"shard-{index}.json"
            write_shard(
                path,
                index=index,
                count=4,
                targets=targets,
                policy=POLICY,
                sources=SOURCES,
                usage=usage,
                inventory=inv,
            )
            shards.append(path)
    merged_targets, policy, sources, usage, inv = read_shards(list(reversed(shards)))
    merged = plan_from_scans(usage, inv, policy, now, targets=merged_targets, sources=sources)
    write_plan(merged, tmp_path / "merged.json")
    whole = (tmp_path / "whole.json").read_bytes()
    assert json.loads(whole)["deletions"]  # a real plan, not two empty ones
    assert (tmp_path / "merged.json").read_bytes() == whole


def test_merge_refuses_incomplete_or_mixed_shards(tmp_path: Path) -> None:
    targets = (AccountTarget(AccountId("111111111111"), (Region("us-east-1"),)),)
    for index in (1, 2):
        write_shard(
            tmp_path / f"s{index}.json",
            index=index,
            count=3,
            targets=targets,
            policy=POLICY,
            sources=SOURCES,
            usage=[],
            inventory=[],
        )
    write_shard(
        tmp_path / "other.json",
        index=3,
        count=3,
        targets=targets,
        policy=Policy(keep_last=9),
        sources=SOURCES,
        usage=[],
        inventory=[],
    )
    with pytest.raises(PlanFileError, match=r"shard\(s\) 3 of 3 missing"):
        read_shards([tmp_path / "s1.json", tmp_path / "s2.json"])
    with pytest.raises(PlanFileError, match="policy differ"):
        read_shards([tmp_path / "s1.json", tmp_path / "s2.json", tmp_path / "other.json"])
    with pytest.raises(PlanFileError, match="given twice"):
        read_shards([tmp_path / "s1.json", tmp_path / "s1.json"])


def sample_plan(created_at: datetime = NOW) -> Plan:
    app = key("app")
    repo = Repository(app, (image("v1", "v1", size=3 * 10**9), image("v2", "v2", size=10**9)))
    plan = build_plan([usage_scan(use(uri(app, ":v2")))], inventory(repo), NO_RETENTION, NOW)
    return Plan(
        created_at=created_at,
        policy=plan.policy,
        targets=plan.targets,
        deletions=plan.deletions,
        kept=plan.kept,
        errors=plan.errors,
    )


def test_markdown_report_has_rows_totals_and_savings() -> None:
    text = markdown(sample_plan(), price_per_gb_month=0.10)
    assert "1 image to delete." in text
    assert "| 111111111111 | us-east-1 | `app` | 2 | 1 | 1 | 2.8 GiB | 0.30 |" in text
    assert "about **$0.30/month** at $0.1/GB-month" in text


def test_csv_rows_round_trip_through_the_csv_module() -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(sample_plan()))
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [(r["verdict"], r["image_tags"]) for r in rows] == [("delete", "v1"), ("keep", "v2")]
    assert rows[0]["reason"].startswith("delete: no workload uses this digest")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecr_sweeper", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_apply_refuses_an_edited_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(datetime.now(UTC)), path)
    data = json.loads(path.read_text())
    data["deletions"][0]["image_digest"] = "sha256:" + "0" * 64  # hand-edited
    path.write_text(json.dumps(data))
    result = run_cli("apply", str(path), "--yes", cwd=tmp_path)
    assert result.returncode == 1
    assert "checksum does not match" in result.stderr


def test_apply_refuses_a_stale_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(datetime.now(UTC) - timedelta(hours=100)), path)
    result = run_cli("apply", str(path), "--yes", cwd=tmp_path)
    assert result.returncode == 1
    assert "is 100 hours old, older than --max-plan-age-hours 72" in result.stderr


def test_apply_refuses_a_plan_older_than_0_hours_in_minutes(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(datetime.now(UTC) - timedelta(minutes=5)), path)
    result = run_cli("apply", str(path), "--yes", "--max-plan-age-hours", "0", cwd=tmp_path)
    assert result.returncode == 1
    assert "is 5 minutes old, older than --max-plan-age-hours 0;" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "markdown", "csv", "table"])
def test_show_formats(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path)
    result = run_cli("show", str(path), "--format", fmt, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        assert len(json.loads(result.stdout)["deletions"]) == 1
    elif fmt == "markdown":
        assert result.stdout.startswith("# ecr-sweeper plan")
    elif fmt == "csv":
        assert result.stdout.splitlines()[0] == ",".join(CSV_COLUMNS)
    else:
        assert "total: 2 images in 1 repositories; keep 1, delete 1" in result.stdout


def test_progress_as_json_lines_and_as_plain_lines() -> None:
    from rich.console import Console

    from ecr_sweeper.events import Note, Step
    from ecr_sweeper.render import ProgressDisplay

    buffer = io.StringIO()
    with ProgressDisplay(Console(file=buffer, width=200), log_format="json") as show:
        show(Step(2, 5, "scanned 111111111111/us-east-1"))
        show(Note("usage 111111111111/us-east-1: 3 clusters"))
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert records[0]["step"] == 2
    assert records[0]["of"] == 5
    assert records[0]["message"] == "scanned 111111111111/us-east-1"
    assert records[1]["message"] == "usage 111111111111/us-east-1: 3 clusters"
    assert "step" not in records[1]

    plain = io.StringIO()
    with ProgressDisplay(Console(file=plain, width=200)) as show:  # not a terminal: plain lines
        show(Step(1, 1, "scanned 111111111111/us-east-1"))
    assert plain.getvalue().rstrip().endswith("[1/1] scanned 111111111111/us-east-1")

    quiet = io.StringIO()
    with ProgressDisplay(Console(file=quiet), quiet=True) as show:
        show(Step(1, 1, "scanned"))
        show(Note("usage 111111111111/us-east-1: 3 clusters"))
    assert quiet.getvalue() == ""


def test_shard_and_merge_from_the_command_line(tmp_path: Path) -> None:
    scenario, _ = generate_org_with_truth(
        accounts=3, regions=1, services_per_region=4, images_total=200, seed=3
    )
    ids = [a.id for a in scenario.accounts]
    with run_emulator(scenario, quotas=Quotas.unlimited()) as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | emu.env()
        env |= {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        common = [
            *(f"--account={i}" for i in ids),
            "--region",
            next(r.name for a in scenario.accounts for r in a.regions),
            "--role-name",
            "EcrSweeper",
            "--keep-last",
            "0",
            "--min-age-days",
            "0",
            "--no-schedules",
            "--no-lambdas",
            # nor the other consumers the emulator does not serve (see awsim.emulated)
            "--no-batch",
            "--no-step-functions",
            "--no-codebuild",
            "--no-sagemaker",
            "--no-emr",
            "--no-pipes",
            "-q",
        ]

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "ecr_sweeper", *args],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=120,
                check=False,
            )

        for index in (1, 2):
            shard = cli("plan", *common, "--shard", f"{index}/2", "--output", f"s{index}.json")
            assert shard.returncode == 0, shard.stderr
        merged = cli(
            "plan",
            "--merge",
            "s1.json",
            "s2.json",
            "--output",
            "plan.json",
            "--markdown",
            "report.md",
            "--detailed-exit-codes",
        )
        assert merged.returncode == 5, merged.stderr  # deletions planned
        assert (tmp_path / "report.md").read_text().startswith("# ecr-sweeper plan")
        whole = cli("plan", *common, "--output", "whole.json")
        assert whole.returncode == 0, whole.stderr
        merged_plan = json.loads((tmp_path / "plan.json").read_text())
        whole_plan = json.loads((tmp_path / "whole.json").read_text())
        assert merged_plan["deletions"] == whole_plan["deletions"]
        assert merged_plan["kept"] == whole_plan["kept"]
        missing = cli("plan", "--merge", "s1.json", "--output", "x.json")
        assert missing.returncode == 1
        assert "shard(s) 2 of 2 missing" in missing.stderr
        applied = cli("apply", "plan.json", "--yes", "--role-name", "EcrSweeperApply", "-q")
        assert applied.returncode == 0, applied.stderr
        assert len(emu.deleted()) == len(merged_plan["deletions"])


def test_a_shard_file_carries_what_the_witnesses_read(tmp_path: Path) -> None:
    """An image being restored, Inspector's sightings, the registry's pull-time update
    exclusions and the inventory's notes come back from a shard file as they were read."""
    from dataclasses import replace

    from ecr_sweeper.model import AccountRegion, InspectorSighting, PullExclusions

    app = key("app")
    place = AccountRegion(app.account_id, app.region)
    thawing = replace(image("thawing", "t"), archived=True, activating=True)
    seen = InspectorSighting(image("seen", "s").digest, 2, NOW - timedelta(days=1))
    repo = Repository(app, (thawing, image("seen", "s")), inspector_in_use=(seen,))
    scan_ = InventoryScan(
        app.account_id,
        app.region,
        (repo,),
        pull_exclusions=PullExclusions(place, ("arn:aws:iam::111111111111:role/scanner",)),
        notes=("111111111111/us-east-1: Amazon Inspector's coverage not read (denied)",),
    )
    target = AccountTarget(app.account_id, (app.region,))
    path = tmp_path / "shard-1.json"
    write_shard(
        path,
        index=1,
        count=1,
        targets=(target,),
        policy=NO_RETENTION,
        sources=Sources(),
        usage=[usage_scan()],
        inventory=[scan_],
    )
    _, _, _, _, (back,) = read_shards([path])
    assert back == scan_
