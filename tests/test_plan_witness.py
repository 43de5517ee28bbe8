"""The pull witness (plan.py invariant 14, issue 19 §2): an image pulled within the window that
no usage this run read explains is kept, whatever kinds the run knows; an image being restored
from the archive is in use. Table tests on the pure planner, one rule each."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ecr_sweeper import wording
from ecr_sweeper.model import (
    AccountId,
    AccountRegion,
    AccountTarget,
    ArchivedInUse,
    Code,
    Image,
    InspectorHeld,
    InspectorInUse,
    InspectorSighting,
    InventoryScan,
    Patterns,
    Plan,
    Policy,
    PulledUnexplained,
    PullExclusions,
    Region,
    Repository,
    RepositoryRule,
    Retention,
    UnexplainedPulls,
    Usage,
)
from ecr_sweeper.plan import build_plan
from ecr_sweeper.report import markdown, pull_witness_lines
from planning import NOW, digest, image, inventory, key, uri, usage_scan, use

APP = key("app")
TARGETS = [AccountTarget(AccountId("111111111111"), (Region("us-east-1"),))]
# No retention: only "in use" and the safety rules keep an image. The witness is on (default).
POLICY = Policy(keep_last=0, min_age_days=0)


def pulled(seed: str, days_ago: float, *tags: str) -> Image:
    return replace(image(seed, *tags), last_pulled_at=NOW - timedelta(days=days_ago))


def plan_of(*images: Image, policy: Policy = POLICY, usages: tuple[Usage, ...] = ()) -> Plan:
    repo = Repository(APP, images)
    return build_plan([usage_scan(*usages)], inventory(repo), policy, NOW, TARGETS)


def verdicts(plan: Plan) -> dict[str, str]:
    return {
        d.digest: ("delete " if d in plan.deletions else "keep ") + wording.reason(d.reason)
        for d in (*plan.kept, *plan.deletions)
    }


def test_the_witness_is_on_by_default_with_a_30_day_window() -> None:
    assert Policy().pulled_within_days == 30


def test_an_unexplained_recent_pull_is_kept_and_says_so() -> None:
    plan = plan_of(
        pulled("recent", 3, "a"),
        pulled("stale", 31, "b"),
        image("never", "c"),
    )
    said = verdicts(plan)
    assert (
        said[digest("recent")] == "keep kept: pulled 3 days ago; no consumer this run read uses it"
    )
    assert said[digest("stale")].startswith("delete ")
    assert said[digest("never")].startswith("delete ")
    (kept,) = [d for d in plan.kept if d.digest == digest("recent")]
    assert kept.reason == PulledUnexplained(3, 30, NOW - timedelta(days=3))
    assert not kept.reason.code.in_use  # told apart from "in use by a consumer this run read"


def test_a_pull_that_a_usage_explains_is_in_use_not_unexplained() -> None:
    plan = plan_of(pulled("used", 1, "prod"), usages=(use(uri(APP, ":prod")),))
    (kept,) = plan.kept
    assert kept.reason.code is Code.TAG_USED
    assert plan.unexplained_pulls == ()


def test_the_manifests_and_referrers_of_an_image_in_use_are_explained_by_it() -> None:
    child = pulled("child", 1)
    signature = replace(pulled("sig", 1), subject=digest("index"))
    index = image("index", "multi", children=(child.digest,))
    plan = plan_of(child, signature, index, usages=(use(uri(APP, ":multi")),))
    codes = {d.digest: d.reason.code for d in plan.kept}
    assert codes == {
        digest("index"): Code.TAG_USED,
        digest("child"): Code.MANIFEST_OF_KEPT,
        digest("sig"): Code.REFERRER_OF_KEPT,
    }
    assert plan.unexplained_pulls == ()


def test_an_unexplained_pull_keeps_what_its_image_lists() -> None:
    child = image("child")
    index = replace(pulled("index", 2, "multi"), children=(child.digest,))
    plan = plan_of(child, index)
    assert plan.deletions == ()
    codes = {d.digest: d.reason.code for d in plan.kept}
    assert codes == {
        digest("index"): Code.PULLED_UNEXPLAINED,
        digest("child"): Code.MANIFEST_OF_KEPT,
    }


def test_the_witness_comes_before_retention() -> None:
    """A young or protected image pulled recently is listed as pulled: the list is how a user
    finds the consumers the run does not know, whatever else would keep the image."""
    policy = replace(POLICY, min_age_days=14, protect_tags=("release-*",))
    young = replace(pulled("young", 1, "dev"), pushed_at=NOW - timedelta(days=2))
    plan = plan_of(young, pulled("release", 4, "release-1"), policy=policy)
    assert {d.reason.code for d in plan.kept} == {Code.PULLED_UNEXPLAINED}


def test_zero_switches_the_witness_off_and_the_plan_records_it() -> None:
    plan = plan_of(pulled("recent", 3, "a"), policy=replace(POLICY, pulled_within_days=0))
    assert [d.digest for d in plan.deletions] == [digest("recent")]
    assert plan.policy.pulled_within_days == 0
    assert plan.unexplained_pulls == ()
    assert pull_witness_lines(plan) == []


def test_a_rule_sets_the_window_of_its_repositories() -> None:
    """`keep_pulled_within_days` in a rule (the old key) is the window for its repositories:
    wider, or 0 to switch the witness off there; the other repositories keep the policy's."""
    policy = replace(
        POLICY,
        rules=(
            RepositoryRule(Patterns(("scratch-*",)), Retention(0, 0, keep_pulled_within_days=0)),
            RepositoryRule(Patterns(("slow-*",)), Retention(0, 0, keep_pulled_within_days=90)),
        ),
    )
    scratch, slow = key("scratch-1"), key("slow-1")
    repos = [
        Repository(APP, (pulled("app", 3, "a"), pulled("app-old", 60, "b"))),
        Repository(scratch, (pulled("scratch", 3, "a"),)),
        Repository(slow, (pulled("slow", 60, "a"),)),
    ]
    plan = build_plan([usage_scan()], inventory(*repos), policy, NOW, TARGETS)
    assert {d.digest for d in plan.deletions} == {digest("app-old"), digest("scratch")}
    assert {d.digest: d.reason for d in plan.kept} == {
        digest("app"): PulledUnexplained(3, 30, NOW - timedelta(days=3)),
        digest("slow"): PulledUnexplained(60, 90, NOW - timedelta(days=60)),
    }


def test_an_image_being_restored_is_in_use_and_keeps_what_it_lists() -> None:
    child = pulled("child", 1)
    thawing = replace(
        image("thawing", "cold", children=(child.digest,)), archived=True, activating=True
    )
    frozen = replace(image("frozen", "colder"), archived=True)
    plan = plan_of(child, thawing, frozen)
    said = verdicts(plan)
    assert said[digest("thawing")] == (
        "keep in use: being restored from the archive (imageStatus ACTIVATING)"
    )
    assert said[digest("child")].startswith("keep kept: manifest of kept image index")
    assert said[digest("frozen")].startswith("delete ")
    assert not [w for w in plan.warnings if isinstance(w, ArchivedInUse)]  # on its way back
    assert plan.unexplained_pulls == ()  # the child is explained by its index


def test_the_plan_sums_up_unexplained_pulls_per_repository() -> None:
    other = key("other", account="222222222222")
    repos = [
        Repository(APP, (pulled("a1", 3, "a"), pulled("a2", 9, "b"), pulled("a3", 40, "c"))),
        Repository(other, (pulled("o1", 0.5, "x"),)),
        Repository(key("quiet"), (image("q1", "q"),)),
    ]
    plan = build_plan([usage_scan()], inventory(*repos), POLICY, NOW, TARGETS)
    assert plan.unexplained_pulls == (
        UnexplainedPulls(APP, 2, NOW - timedelta(days=3)),
        UnexplainedPulls(other, 1, NOW - timedelta(days=0.5)),
    )
    said = wording.reason(next(d.reason for d in plan.kept if d.digest == digest("o1")))
    assert said == "kept: pulled today; no consumer this run read uses it"


def test_the_exclusions_of_the_registries_where_pulls_were_kept_are_listed() -> None:
    here = AccountRegion(AccountId("111111111111"), Region("us-east-1"))
    there = AccountRegion(AccountId("111111111111"), Region("eu-west-1"))
    scans = [
        InventoryScan(
            here.account_id,
            here.region,
            (Repository(APP, (pulled("recent", 3, "a"),)),),
            pull_exclusions=PullExclusions(here, ()),
        ),
        InventoryScan(
            there.account_id,
            there.region,
            (),
            pull_exclusions=PullExclusions(there, (), "AccessDeniedException: no"),
        ),
    ]
    plan = build_plan([usage_scan()], scans, POLICY, NOW, TARGETS)
    assert plan.pull_exclusions == (
        PullExclusions(there, (), "AccessDeniedException: no"),
        PullExclusions(here, ()),
    )
    lines = pull_witness_lines(plan)
    assert lines == [
        "pull witness: 1 image in 1 repository pulled within 30 days that no consumer this run "
        "read uses (kept: find what pulls them)",
        "111111111111/us-east-1 app: 1 image pulled (newest 2026-10-29) that no consumer this "
        "run read uses: kept",
        "111111111111/us-east-1: no pull-time update exclusions: every pull counts (a scanner "
        "that pulls every image keeps it; register its role: aws ecr "
        "register-pull-time-update-exclusion --principal-arn ROLE_ARN)",
    ]  # eu-west-1 kept nothing: its unread list says nothing worth a line
    report = markdown(plan)
    assert "## Pulled, and no consumer this run read uses them" in report
    assert f"- {lines[1]}" in report


def test_an_unreadable_exclusion_list_is_one_line_not_an_error() -> None:
    here = AccountRegion(AccountId("111111111111"), Region("us-east-1"))
    scan = InventoryScan(
        here.account_id,
        here.region,
        (Repository(APP, (pulled("recent", 3, "a"), image("old", "b"))),),
        pull_exclusions=PullExclusions(here, (), "ClientError: AccessDeniedException: denied"),
    )
    plan = build_plan([usage_scan()], [scan], POLICY, NOW, TARGETS)
    assert not plan.blocked
    assert plan.errors == ()
    assert [d.digest for d in plan.deletions] == [digest("old")]
    assert pull_witness_lines(plan)[-1] == (
        "111111111111/us-east-1: pull-time update exclusions not read "
        "(ClientError: AccessDeniedException: denied)"
    )


# --------------------------------------------------------------------------- Amazon Inspector


def test_an_image_inspector_sees_in_use_that_nothing_read_explains_is_held_and_named() -> None:
    seen = InspectorSighting(digest("seen"), 2, NOW - timedelta(days=1))
    used = InspectorSighting(digest("used"), 1, NOW - timedelta(days=1))
    repo = Repository(
        APP,
        (image("seen", "a"), image("used", "prod"), image("other", "b")),
        inspector_in_use=(seen, used),
    )
    plan = build_plan([usage_scan(use(uri(APP, ":prod")))], inventory(repo), POLICY, NOW, TARGETS)
    said = verdicts(plan)
    assert said[digest("seen")] == (
        "keep kept: Amazon Inspector sees it in use (2 workloads, last 2026-10-31); no consumer "
        "this run read uses it"
    )
    assert said[digest("used")].startswith("keep in use: tag 'prod'")  # a reader explains it
    assert said[digest("other")].startswith("delete ")
    (held,) = [w for w in plan.warnings if isinstance(w, InspectorHeld)]
    assert held == InspectorHeld(APP, digest("seen"), InspectorInUse(2, seen.last_in_use_at))
    assert wording.warning(held) == (
        f"{APP}@{digest('seen')}: Amazon Inspector sees it in use (2 workloads, last "
        "2026-10-31), and no consumer this run read uses it: held; find what runs it"
    )


def test_inspector_comes_before_the_pull_witness_and_works_with_it_off() -> None:
    seen = InspectorSighting(digest("seen"), 1, None)
    repo = Repository(APP, (pulled("seen", 2, "a"),), inspector_in_use=(seen,))
    policy = replace(POLICY, pulled_within_days=0)
    plan = build_plan([usage_scan()], inventory(repo), policy, NOW, TARGETS)
    (kept,) = plan.kept
    assert kept.reason == InspectorInUse(1, None)
    assert wording.reason(kept.reason) == (
        "kept: Amazon Inspector sees it in use (1 workload); no consumer this run read uses it"
    )
    assert plan.unexplained_pulls == ()


def test_an_inventory_note_is_a_warning_of_the_plan() -> None:
    scan = InventoryScan(
        AccountId("111111111111"), Region("us-east-1"), notes=("Inspector not read",)
    )
    plan = build_plan([usage_scan()], [scan], POLICY, NOW, TARGETS)
    assert wording.warnings(plan.warnings) == ["Inspector not read"]
    assert not plan.blocked
