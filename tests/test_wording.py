"""The words of the plan (wording.py): one sentence per code, the plan file unchanged by typed
reasons, and the planner's split on codes the same as the split its sentences said."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_sweeper import wording
from ecr_sweeper.model import (
    AcceptedConsumer,
    AcceptedService,
    AccountId,
    AccountRegion,
    AccountsPull,
    Activating,
    AmongNewest,
    AnyonePulls,
    ArchivedInUse,
    CensusEntry,
    CensusHold,
    Code,
    CosignSubject,
    Finding,
    Follows,
    InQuarantine,
    InspectorHeld,
    InspectorInUse,
    InUse,
    InventoryIncomplete,
    InventoryScan,
    NotDeleted,
    NotOptedIn,
    NowKept,
    OrganizationPulls,
    OverImageCap,
    OverPercentCap,
    PlanWarning,
    Policy,
    ProtectedTag,
    PulledUnexplained,
    QuarantineOver,
    Reason,
    Recorded,
    Refusal,
    Region,
    ReplicaHold,
    Repository,
    RestoredAfterQuarantine,
    ScanNote,
    ServiceHold,
    UnreadConsumer,
    UnreadService,
    UntaggedKept,
    Unused,
    UsageScan,
    Young,
)
from ecr_sweeper.plan import build_plan, recheck
from ecr_sweeper.planfile import plan_to_json, read_plan, write_plan
from planning import NOW, as_read_back, digest, image, inventory, key, usage_scan
from rich_plan import GOLDEN, plans, rich_outputs
from test_plan_properties import orgs

D1, D2 = digest("one"), digest("two")
APP = key("app")
EKS = CensusEntry("eks", AccountId("111111111111"), Region("us-east-1"), True, False, "")
BATCH = CensusEntry("batch", AccountId("222222222222"), Region("eu-west-1"), None, False, "off")
US = AccountRegion(AccountId("444444444444"), Region("us-east-1"))
EU = AccountRegion(AccountId("444444444444"), Region("eu-west-1"))
COSIGN = "cosign referrer (signature, SBOM, attestation)"
TO_ACCEPT = "Resolve: list its images with --external-images FILE, or accept with --accept-unread"

UNEXPLAINED = "no consumer this run read uses it"

# Every reason code: a reason of it, and its sentence.
REASONS: list[tuple[object, str]] = [
    (
        InUse(Code.DIGEST_PINNED, "task definition web:3"),
        "in use: digest pinned by task definition web:3",
    ),
    (InUse(Code.TAG_USED, "service prod/api", "v2"), "in use: tag 'v2' used by service prod/api"),
    (InUse(Code.DIGEST_RUNNING, "task prod/abc"), "in use: digest running in task prod/abc"),
    (
        ProtectedTag("release-1", "release-*"),
        "kept: tag 'release-1' matches protected pattern 'release-*'",
    ),
    (Young(14), "kept: pushed less than 14 days ago"),
    (
        PulledUnexplained(3, 30, NOW - timedelta(days=3)),
        "kept: pulled 3 days ago; no consumer this run read uses it",
    ),
    (PulledUnexplained(1, 30, NOW - timedelta(days=1)), "kept: pulled 1 day ago; " + UNEXPLAINED),
    (PulledUnexplained(0, 30, NOW), "kept: pulled today; " + UNEXPLAINED),
    (Activating(), "in use: being restored from the archive (imageStatus ACTIVATING)"),
    (
        InspectorInUse(2, NOW - timedelta(days=1)),
        "kept: Amazon Inspector sees it in use (2 workloads, last 2026-10-31); " + UNEXPLAINED,
    ),
    (AmongNewest(10), "kept: among the 10 most recently pushed"),
    (UntaggedKept(), "kept: untagged images are kept by policy"),
    (Follows(Code.MANIFEST_OF_KEPT, D1), f"kept: manifest of kept image index {D1}"),
    (
        Follows(Code.REFERRER_OF_KEPT, D1),
        f"kept: referrer (signature, SBOM, attestation) of kept image {D1}",
    ),
    (
        CosignSubject(Code.COSIGN_SUBJECT_KEPT, D1, APP),
        f"kept: {COSIGN} of kept image {D1} in {APP}",
    ),
    (
        CosignSubject(Code.COSIGN_SUBJECT_WAITING, D1, APP),
        f"kept: {COSIGN} of image {D1} in {APP}, itself a referrer of an image in another "
        "repository",
    ),
    (
        CosignSubject(Code.COSIGN_SUBJECT_UNREAD, D1),
        f"kept: {COSIGN} of image {D1}, which may be in a repository of this registry that this "
        "run did not read",
    ),
    (InventoryIncomplete("AccessDenied"), "not deleted: inventory incomplete (AccessDenied)"),
    (
        AnyonePulls(("Sid A: no condition", "Sid B: no condition")),
        "kept: the repository policy lets anyone pull, outside this sweep (Sid A: no condition; "
        "Sid B: no condition); accept with --accept-account '*'",
    ),
    (
        OrganizationPulls(("o-aa", "o-bb")),
        "kept: the repository policy lets the accounts of organization o-aa, o-bb pull, and this "
        "run does not sweep every account of it (--org with no filter does); accept with "
        "--accept-account o-aa",
    ),
    (
        AccountsPull(("333333333333", "999999999999")),
        "kept: the repository policy lets 333333333333, 999999999999 pull, outside this sweep; "
        "accept with --accept-account 333333333333",
    ),
    (NotOptedIn("sweep", "yes"), "kept: repository not opted in (no resource tag sweep=yes)"),
    (
        CensusHold("eks", US, ""),
        "kept: eks in 444444444444/us-east-1 may pull from this repository and was not read "
        "(not read)",
    ),
    (
        ServiceHold("codebuild.amazonaws.com", "codebuild"),
        "kept: the repository policy lets codebuild.amazonaws.com pull, and the run does not read "
        "codebuild",
    ),
    (
        ReplicaHold((US, EU)),
        "kept: replication replays its deletions in 444444444444/us-east-1, "
        "444444444444/eu-west-1, whose usage this run did not read (add the account and region "
        "to the sweep)",
    ),
    (
        NotDeleted(Code.BLOCKED_USAGE),
        "not deleted: the usage scan is incomplete, so nothing is (fail closed)",
    ),
    (
        NotDeleted(Code.BLOCKED_CENSUS),
        "not deleted: a consumer the run did not read blocks the plan (see its findings)",
    ),
    (
        NotDeleted(Code.RECHECK_BLOCKED),
        "not deleted: the re-check's usage scan is incomplete (fail closed)",
    ),
    (
        NowKept(InUse(Code.TAG_USED, "service prod/api", "v2")),
        "not deleted: now in use: tag 'v2' used by service prod/api",
    ),
    (NotDeleted(Code.RECHECK_ABSENT), "not deleted: absent from the re-check's inventory"),
    (
        Unused(14, 10),
        "delete: no workload uses this digest; older than 14 days and not among the 10 most "
        "recently pushed",
    ),
    (
        InQuarantine(datetime(2026, 1, 2, tzinfo=UTC), 14),
        "kept: quarantined (archived) on 2026-01-02; deleted once archived 14 days unless "
        "restored (`ecr-sweeper restore`)",
    ),
    (
        RestoredAfterQuarantine(datetime(2026, 1, 2, tzinfo=UTC)),
        "kept: restored after quarantine: something needed it",
    ),
    (
        QuarantineOver(datetime(2026, 1, 2, tzinfo=UTC), 21),
        "delete: quarantined 21 days ago, nobody restored or used it",
    ),
    (
        Follows(Code.MANIFEST_OF_DELETED),
        "delete: manifest of an image index that is deleted",
    ),
    (
        Follows(Code.REFERRER_OF_DELETED),
        "delete: referrer (signature, SBOM, attestation) of an image deleted or gone",
    ),
    (
        CosignSubject(Code.COSIGN_SUBJECT_DELETED, D1, APP),
        f"delete: {COSIGN} of image {D1}, deleted from {APP}",
    ),
    (
        CosignSubject(Code.COSIGN_SUBJECT_ABSENT, D1),
        f"delete: {COSIGN} of image {D1}, which no repository of this registry holds",
    ),
    (Recorded("kept: as reviewed"), "kept: as reviewed"),
]
FINDINGS: list[tuple[object, str]] = [
    (
        UnreadConsumer(EKS),
        "111111111111/us-east-1: eks present, not read (not read); nothing it could pull is "
        f"deleted. {TO_ACCEPT} eks@111111111111",
    ),
    (
        UnreadService(APP, "lambda.amazonaws.com", "lambda"),
        "111111111111/us-east-1: repository app: its policy lets lambda.amazonaws.com pull and "
        f"the run does not read lambda; nothing in it is deleted. {TO_ACCEPT} lambda@111111111111",
    ),
]
WARNINGS: list[tuple[object, str]] = [
    (
        AcceptedConsumer(BATCH, "batch"),
        "222222222222/eu-west-1: batch may be present (the census call failed), not read (off); "
        "accepted by --accept-unread batch: only --external-images protects its images",
    ),
    (
        AcceptedService(APP, "lambda.amazonaws.com", "lambda", "lambda@111111111111"),
        f"{APP}: its policy lets lambda.amazonaws.com pull and the run does not read lambda; "
        "accepted by --accept-unread lambda@111111111111",
    ),
    (
        ArchivedInUse(APP, D2, InUse(Code.DIGEST_PINNED, "lambda fn")),
        f"{APP}@{D2}: archived and in use: digest pinned by lambda fn; a workload cannot pull it "
        "until it is restored (UpdateImageStorageClass to STANDARD)",
    ),
    (
        InspectorHeld(APP, D2, InspectorInUse(1, None)),
        f"{APP}@{D2}: Amazon Inspector sees it in use (1 workload), and no consumer this run "
        "read uses it: held; find what runs it",
    ),
    (ScanNote("111111111111: regions not read"), "111111111111: regions not read"),
]
REFUSALS: list[tuple[object, str]] = [
    (
        OverImageCap(12, 5),
        "the run would delete 12 images, over the cap of 5 (raise --max-delete-images)",
    ),
    (
        OverPercentCap(APP, 2, 3, 50.0),
        f"{APP} would lose 67% of its images (2 of 3), over the cap of 50% (raise "
        "--max-delete-percent)",
    ),
]


@pytest.mark.parametrize(("why", "sentence"), REASONS, ids=lambda v: getattr(v, "code", None))
def test_each_reason_has_its_sentence(why: Reason, sentence: str) -> None:
    assert wording.reason(why) == sentence


@pytest.mark.parametrize(("found", "sentence"), FINDINGS)
def test_each_finding_has_its_sentence(found: Finding, sentence: str) -> None:
    assert wording.finding(found) == sentence


@pytest.mark.parametrize(("said", "sentence"), WARNINGS)
def test_each_warning_has_its_sentence(said: PlanWarning, sentence: str) -> None:
    assert wording.warning(said) == sentence


@pytest.mark.parametrize(("cap", "sentence"), REFUSALS)
def test_each_refusal_has_its_sentence(cap: Refusal, sentence: str) -> None:
    assert wording.refusal(cap) == sentence


def test_the_tables_name_every_code() -> None:
    tables = (REASONS, FINDINGS, WARNINGS, REFUSALS)
    named = {getattr(value, "code", None) for table in tables for value, _ in table}
    assert named == set(Code)


def test_only_deletion_sentences_belong_to_deleting_codes() -> None:
    for why, sentence in REASONS:
        code = getattr(why, "code", None)
        assert isinstance(code, Code)
        if code is not Code.RECORDED:
            assert code.deletes == sentence.startswith("delete:"), code
            assert code.in_use == sentence.startswith("in use"), code


def test_the_plan_texts_are_those_of_the_code_before_typed_reasons() -> None:
    """Plan files, Markdown, CSV and apply's re-check, over plans that reach every code, are
    byte for byte those the string-building planner wrote (tests/golden/rich_plan.txt)."""
    assert rich_outputs() == GOLDEN.read_text(encoding="utf-8")


def test_the_rich_plans_reach_every_code_the_planner_decides() -> None:
    from test_plan_quarantine import quarantine_plans  # its own file: the golden is older

    seen = set()
    for plan in (*plans().values(), *quarantine_plans().values()):
        seen |= {d.reason.code for d in (*plan.deletions, *plan.kept)}
        seen |= {x.code for x in (*plan.findings, *plan.warnings, *plan.refusals)}
    skipped = {Code.RECHECK_BLOCKED, Code.RECHECK_KEPT, Code.RECHECK_ABSENT, Code.RECORDED}
    assert seen == set(Code) - skipped


def test_a_plan_file_read_back_writes_the_same_bytes_and_rechecks_the_same(
    tmp_path: Path,
) -> None:
    for name, plan in plans().items():
        path = tmp_path / f"{name}.json"
        write_plan(plan, path)
        again = read_plan(path)
        assert again == as_read_back(plan)
        write_plan(again, tmp_path / "again.json")
        assert (tmp_path / "again.json").read_bytes() == path.read_bytes()
        assert again.blocked == plan.blocked
        assert [r.code for r in again.refusals] == [Code.RECORDED] * len(plan.refusals)
        # apply's intersection: a reviewed plan read back against the fresh one it came from
        to_delete, skipped = recheck(again, plan)
        assert (to_delete, skipped) == (list(again.deletions), []) or plan.blocked


def test_a_million_decisions_share_a_few_reasons() -> None:
    images = tuple(image(f"i{n}", f"v{n}", days_old=100 + n) for n in range(200))
    plan = build_plan([usage_scan()], inventory(Repository(APP, images)), Policy(keep_last=3), NOW)
    assert len(plan.deletions) == 197
    assert len({id(d.reason) for d in plan.deletions}) == 1
    assert len({id(d.reason) for d in plan.kept}) == 1  # "among the 3 most recently pushed"
    data = json.loads(json.dumps(plan_to_json(plan)))
    assert {d["reason"] for d in data["deletions"]} == {wording.reason(plan.deletions[0].reason)}


@st.composite
def varied_orgs(draw: st.DrawFn) -> tuple[list[UsageScan], list[InventoryScan], Policy]:
    """test_plan_properties' organizations, with archived images, protected tags, recent
    pulls and untagged images kept, so that every retention rule can decide."""
    usage, inventory_, policy = draw(orgs())
    scans = []
    for scan in inventory_:
        repos = []
        for repo in scan.repositories:
            images = []
            for i in repo.images:
                if draw(st.booleans()):
                    activating = draw(st.booleans())
                    i = replace(i, archived=True, activating=activating)  # noqa: PLW2901 - a varied copy
                if draw(st.booleans()):
                    i = replace(i, last_pulled_at=NOW - timedelta(days=draw(st.integers(0, 60))))  # noqa: PLW2901
                images.append(i)
            repos.append(replace(repo, images=tuple(images)))
        scans.append(replace(scan, repositories=tuple(repos)))
    policy = replace(
        policy,
        protect_tags=tuple(draw(st.sets(st.sampled_from(["prod", "re:v[12]", "st*"])))),
        keep_pulled_within_days=draw(st.none() | st.integers(0, 40)),
        pulled_within_days=draw(st.integers(0, 40)),
        untagged=draw(st.sampled_from(["keep", "delete"])),
    )
    return usage, scans, policy


@settings(max_examples=150, deadline=None)
@given(varied_orgs())
def test_the_split_on_codes_is_the_split_the_sentences_made(
    org: tuple[list[UsageScan], list[InventoryScan], Policy],
) -> None:
    """Before reasons were typed, a verdict was deleted when its sentence said "delete:", and an
    archived image was named in the warnings when its sentence said "in use". Decided on codes,
    the plan is split the same way."""
    usage, inventory_, policy = org
    plan = build_plan(usage, inventory_, policy, NOW)
    assert all(wording.reason(d.reason).startswith("delete:") for d in plan.deletions)
    assert not any(wording.reason(d.reason).startswith("delete:") for d in plan.kept)
    archived = {
        (r.key, i.digest)
        for s in inventory_
        for r in s.repositories
        for i in r.images
        if i.archived
    }
    named = {(w.repository, w.digest) for w in plan.warnings if isinstance(w, ArchivedInUse)}
    # An image being restored is in use, and not named: it is on its way back already.
    in_use_sentence = {
        (d.repository, d.digest)
        for d in plan.kept
        if wording.reason(d.reason).startswith("in use") and not isinstance(d.reason, Activating)
    }
    assert named == archived & in_use_sentence


def test_the_planner_names_no_flag_and_imports_only_the_model() -> None:
    """The words, and the flags that resolve a finding, are wording.py's alone."""
    import ast
    import re

    from ecr_sweeper import plan

    source = Path(plan.__file__).read_text(encoding="utf-8")
    assert not re.search(r"--[a-z]", source)
    tree = ast.parse(source)
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert {m for m in imported if m.startswith("ecr_sweeper")} == {"ecr_sweeper.model"}


def test_a_kind_unread_in_many_regions_of_an_account_is_one_line_naming_them() -> None:
    """Issue 20 §3: a stock moto fails a census in 38 regions; people read one line per
    account × kind (the plan file keeps one per account × region)."""
    regions = ("us-east-1", "eu-west-1", "ap-south-1")
    daemons = [replace(BATCH, kind="ecs-daemons", region=Region(r)) for r in regions]
    found = [UnreadConsumer(e) for e in daemons] + [UnreadConsumer(EKS)]
    assert wording.grouped_findings(found) == [
        "111111111111/us-east-1: eks present, not read (not read); nothing it "
        "could pull is deleted. Resolve: list its images with --external-images FILE, or "
        "accept with --accept-unread eks@111111111111",
        "222222222222 in 3 regions (ap-south-1, eu-west-1, us-east-1): ecs-daemons may be "
        "present (the census call failed), not read (off); nothing it could pull is deleted. "
        "Resolve: list its images with --external-images FILE, or accept with --accept-unread "
        "ecs-daemons@222222222222",
    ]
    assert len(wording.findings(found)) == 4

    other_account = replace(daemons[0], account_id=AccountId("333333333333"))
    other_detail = replace(daemons[1], detail="census failed: 500")
    said: list[PlanWarning] = [
        *(AcceptedConsumer(e, "ecs-daemons") for e in (*daemons, other_account, other_detail)),
        ScanNote("usage regions not read: sa-east-1"),
    ]
    assert wording.grouped_warnings(said) == [
        "222222222222 in 3 regions (ap-south-1, eu-west-1, us-east-1): ecs-daemons may be "
        "present (the census call failed), not read (off); accepted by --accept-unread "
        "ecs-daemons: only --external-images protects its images",
        "222222222222/eu-west-1: ecs-daemons may be present (the census call failed), not read "
        "(census failed: 500); accepted by --accept-unread ecs-daemons: only --external-images "
        "protects its images",
        "333333333333/us-east-1: ecs-daemons may be present (the census call failed), not read "
        "(off); accepted by --accept-unread ecs-daemons: only --external-images protects its "
        "images",
        "usage regions not read: sa-east-1",
    ]
