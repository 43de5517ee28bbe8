"""The plan file: the contract `apply` (and people) read."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_sweeper.model import AccountId, AccountTarget, Patterns, Plan, Region, Repository
from ecr_sweeper.plan import build_plan
from ecr_sweeper.planfile import (
    PlanFileError,
    _indented,
    checksum,
    plan_text,
    plan_to_json,
    read_plan,
    write_plan,
)
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


def witness_plan() -> Plan:
    """A plan whose pull witness kept an image, with its registry's exclusions."""
    from dataclasses import replace as copy
    from datetime import timedelta

    from ecr_sweeper.model import AccountRegion, InventoryScan, Policy, PullExclusions

    here = AccountRegion(AccountId("111111111111"), Region("us-east-1"))
    recent = copy(image("recent", "r"), last_pulled_at=NOW - timedelta(days=3))
    scan = InventoryScan(
        here.account_id,
        here.region,
        (Repository(key("app"), (recent, image("old", "o"))),),
        pull_exclusions=PullExclusions(here, ("arn:aws:iam::111111111111:role/scanner",)),
    )
    policy = Policy(keep_last=0, min_age_days=0, pulled_within_days=21)
    return build_plan([usage_scan()], [scan], policy, NOW, [TARGET])


def test_the_pull_witness_round_trips(tmp_path: Path) -> None:
    plan = witness_plan()
    assert plan.unexplained_pulls
    assert plan.pull_exclusions
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    again = read_plan(path)
    assert again == as_read_back(plan)
    assert again.policy.pulled_within_days == 21
    data = json.loads(path.read_text())
    assert data["policy"]["pulled_within_days"] == 21
    assert data["unexplained_pulls"] == [
        {
            "account_id": "111111111111",
            "region": "us-east-1",
            "repository": "app",
            "images": 1,
            "newest_pull": "2026-10-29T12:00:00+00:00",
        }
    ]
    assert data["pull_exclusions"] == [
        {
            "account_id": "111111111111",
            "region": "us-east-1",
            "principals": ["arn:aws:iam::111111111111:role/scanner"],
            "error": None,
        }
    ]


def test_a_plan_from_before_the_pull_witness_reads_with_it_on(tmp_path: Path) -> None:
    """Without `pulled_within_days`, a plan reads with the default window (30 days): apply's
    re-check is then stricter than the plan's, never looser; no summary, no exclusions."""
    from ecr_sweeper.model import DEFAULT_PULLED_WITHIN_DAYS
    from ecr_sweeper.planfile import checksum

    data = plan_to_json(witness_plan())
    del data["policy"]["pulled_within_days"], data["unexplained_pulls"], data["pull_exclusions"]
    data["checksum"] = checksum(data)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    again = read_plan(path)
    assert DEFAULT_PULLED_WITHIN_DAYS == 30
    assert again.policy.pulled_within_days == 30
    assert (again.unexplained_pulls, again.pull_exclusions) == ((), ())


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


@pytest.mark.parametrize("plan", _plans())
def test_the_text_without_a_checksum_is_the_documents_json(plan: Plan) -> None:
    # What `--format json` prints, piece by piece: the document as json.dumps wrote it whole.
    text = "".join(plan_text(plan, checksum=False))
    assert text == json.dumps(plan_to_json(plan), indent=2)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.integers(0, 3))
def test_the_plan_texts_indenting_is_jsons_own(value: object, level: int) -> None:
    # The plan file is byte for byte json.dumps(data, indent=2): its hand-made indenting of
    # each decision (json's own is pure Python) writes every JSON value as json does.
    pad = "  " * level
    assert _indented(value, pad) == json.dumps(value, indent=2).replace("\n", "\n" + pad)
