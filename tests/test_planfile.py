"""The plan file: the contract `apply` (and people) read."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ecr_sweeper.model import AccountId, AccountTarget, Patterns, Plan, Region, Repository
from ecr_sweeper.plan import build_plan
from ecr_sweeper.planfile import PlanFileError, checksum, plan_to_json, read_plan, write_plan
from planning import (
    NO_RETENTION,
    NOW,
    as_read_back,
    digest,
    image,
    inventory,
    key,
    uri,
    usage_scan,
    use,
)

TARGET = AccountTarget(
    account_id=AccountId("111111111111"),
    regions=(Region("us-east-1"),),
    role_arn="arn:aws:iam::111111111111:role/EcrSweeper",
    external_id="x",
    name="registry",
    repositories=Patterns(("*",), ("keep/*",)),
)


def sample_plan() -> Plan:
    repo = Repository(key("app"), (image("v1", "v1", "old"), image("v2", "v2", size=7)))
    return build_plan(
        [usage_scan(use(uri(key("app"), ":v2")))], inventory(repo), NO_RETENTION, NOW, [TARGET]
    )


def test_round_trip(tmp_path: Path) -> None:
    plan = sample_plan()
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    again = read_plan(path)
    # Reasons come back as the sentences the reviewer read; everything else as it was.
    assert again == as_read_back(plan)
    assert plan_to_json(again) == plan_to_json(plan)


def test_contract_fields(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path)
    data = json.loads(path.read_text())
    assert data["version"] == 1
    assert data["errors"] == []
    [deletion] = data["deletions"]
    assert deletion == {
        "account_id": "111111111111",
        "region": "us-east-1",
        "repository": "app",
        "image_digest": digest("v1"),
        "image_tags": ["old", "v1"],
        "size_bytes": 1000,
        "pushed_at": deletion["pushed_at"],
        "media_type": "application/vnd.oci.image.manifest.v1+json",
        "reason": deletion["reason"],
    }
    assert deletion["reason"].startswith("delete: no workload uses this digest")
    assert data["summary"]["to_delete"] == 1
    assert data["kept"][0]["reason"].startswith("in use: tag 'v2'")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"version": 99}', "version 99, expected 1"),
        ('{"version": 1}', "not a valid plan"),
    ],
)
def test_bad_plan_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(PlanFileError) as caught:
        read_plan(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match="cannot read"):
        read_plan(tmp_path / "nope.json")


def test_json_is_stable() -> None:
    assert json.dumps(plan_to_json(sample_plan())) == json.dumps(plan_to_json(sample_plan()))


def _plans() -> list[Plan]:
    """Plans of every shape the writer streams: both lists, one empty, both empty, tags and
    reasons beyond ASCII, errors."""
    both = sample_plan()
    repo = Repository(key("uni"), (image("a", "café", "v1"), image("b", "日本")))
    unicode = build_plan(
        [usage_scan(use(uri(key("uni"), ":v1")))], inventory(repo), NO_RETENTION, NOW
    )
    nothing = build_plan([usage_scan(error="denied")], [], NO_RETENTION, NOW, [TARGET])
    return [both, unicode, nothing, replace(both, kept=()), replace(both, deletions=())]


@pytest.mark.parametrize("plan", _plans())
def test_the_streamed_file_is_the_whole_documents_text(tmp_path: Path, plan: Plan) -> None:
    # What write_plan streams is byte for byte what the document written whole was, its
    # checksum (computed while streaming) included: plan files stay comparable across versions.
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    data = plan_to_json(plan)
    data["checksum"] = checksum(data)
    assert path.read_bytes() == (json.dumps(data, indent=2) + "\n").encode()
    assert read_plan(path) == as_read_back(plan)
