"""The consumer census end to end on moto's server: an EKS cluster (no reader in this tool)
blocks the plan with one line per finding and exit 3 until `--accept-unread`; usage is read in
regions wider than `--region`; a repository policy naming a service principal of an unread kind
holds its repository; deletions replicated outside the sweep hold the source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moto_helpers import APP, EU, REGISTRY, US, client, inventory, repository, service, uri

pytestmark = pytest.mark.usefixtures("aws")
ROLE = "EcrSweeper"
PLAN = [
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
    "--no-service-revisions",  # moto's server answers ListServiceDeployments with HTTP 500
    "--no-lambdas",
    "--no-schedules",
    "--usage-regions",
    US,
    "--usage-regions",
    EU,
]


def sweeper(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecr_sweeper", *args],
        cwd=cwd,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def eks_cluster(account: str, region: str, name: str) -> None:
    client(account, region, "eks").create_cluster(
        name=name,
        roleArn=f"arn:aws:iam::{account}:role/eks",
        resourcesVpcConfig={"subnetIds": []},
    )


def finding_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    start = lines.index(
        "BLOCKED: consumers exist that this run did not read, so this plan deletes nothing:"
    )
    return [
        line.strip()
        for line in lines[start + 1 :]
        if line.startswith("  ") and not line.startswith("  warning: ")
    ]


def test_an_unread_eks_cluster_blocks_with_one_line_and_accept_unread_lets_it_through(
    tmp_path: Path,
) -> None:
    images = repository(REGISTRY, US, "api", "v1")
    eks_cluster(APP, EU, "k8s")  # in a region that is not swept: its pods may pull anyway

    blocked = sweeper(*PLAN, "--output", "blocked.json", cwd=tmp_path)
    assert blocked.returncode == 3, blocked.stderr
    # moto makes up an endpoint on AWS for its clusters: the sweep never contacts it
    [line] = finding_lines(blocked.stderr)
    assert line.startswith(f"{APP}/{EU}: eks present, not read (unread: cluster k8s: ")
    assert line.endswith(
        "; nothing it could pull is deleted. Resolve: list its images with "
        f"--external-images FILE, or accept with --accept-unread eks@{APP}"
    )
    doc = json.loads((tmp_path / "blocked.json").read_text(encoding="utf-8"))
    assert doc["blocked"] is True
    assert doc["deletions"] == []
    eks = [
        c
        for c in doc["census"]
        if c["kind"] == "eks" and (c["account_id"], c["region"]) == (APP, EU)
    ]
    assert [(c["present"], c["read"]) for c in eks] == [(True, False)]
    refused = sweeper("apply", "blocked.json", "--yes", cwd=tmp_path)
    assert refused.returncode == 3
    assert set(inventory(REGISTRY, US, "api")) == {images["v1"]}

    accepted = sweeper(
        *PLAN, "--accept-unread", f"eks@{APP}", "--output", "plan.json", cwd=tmp_path
    )
    assert accepted.returncode == 0, accepted.stderr
    [warning] = [w for w in accepted.stderr.splitlines() if f"{APP}/{EU}: eks present" in w]
    assert warning.startswith(f"  warning: {APP}/{EU}: eks present, not read (unread: cluster k8s")
    assert warning.endswith(
        f"; accepted by --accept-unread eks@{APP}: only --external-images protects its images"
    )
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert doc["policy"]["accepted_unread"] == [f"eks@{APP}"]
    assert [d["image_digest"] for d in doc["deletions"]] == [images["v1"]]
    shown = sweeper("show", "plan.json", "--format", "markdown", cwd=tmp_path)
    assert f"- `--accept-unread eks@{APP}`" in shown.stdout
    applied = sweeper("apply", "plan.json", "--yes", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert inventory(REGISTRY, US, "api") == {}


def test_usage_is_read_in_regions_wider_than_the_swept_one(tmp_path: Path) -> None:
    """A service in eu-west-1 pulls from the us-east-1 registry, swept alone."""
    images = repository(REGISTRY, US, "api", "v1", "v2")
    service(APP, EU, "api", {"api": f"{uri(REGISTRY, US, 'api')}:v2"})
    everywhere = PLAN[: PLAN.index("--usage-regions")]  # usage: every enabled region

    wide = sweeper(*everywhere, "--output", "wide.json", cwd=tmp_path)
    assert wide.returncode == 0, wide.stderr
    doc = json.loads((tmp_path / "wide.json").read_text(encoding="utf-8"))
    assert [d["image_digest"] for d in doc["deletions"]] == [images["v1"]]
    [kept] = doc["kept"]
    assert kept["reason"].startswith("in use: tag 'v2' used by task definition apps-api:1")
    assert {(c["account_id"], c["region"]) for c in doc["census"]} >= {(APP, EU), (APP, US)}

    narrow = sweeper(*everywhere, "--usage-regions", US, "--output", "narrow.json", cwd=tmp_path)
    assert narrow.returncode == 0, narrow.stderr
    doc = json.loads((tmp_path / "narrow.json").read_text(encoding="utf-8"))
    assert {d["image_digest"] for d in doc["deletions"]} == {images["v1"], images["v2"]}
    [warning] = [w for w in doc["warnings"] if w.startswith(f"{APP}: usage not read")]
    assert "left out by --usage-regions, so their consumers protect nothing: " in warning
    assert EU in warning.split(": ")[-1].split(", ")
