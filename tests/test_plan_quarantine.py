"""The quarantine in the planner (plan.py invariant 13): an image this tool archived (its own
record, `Quarantined`) is kept while in quarantine, deleted once it stayed archived
`quarantine_days`, and kept for good once restored; images archived by anything else are
judged as any other. Table tests and hypothesis properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_sweeper import wording
from ecr_sweeper.model import Code, Image, Plan, Policy, Quarantined, Repository
from ecr_sweeper.plan import build_plan, recheck
from ecr_sweeper.planfile import plan_from_json, plan_to_json
from planning import NO_RETENTION, NOW, image, inventory, key, uri, usage_scan, use

APP = key("app")
QUARANTINED_AT = NOW - timedelta(days=21)


def archived(
    img: Image, *, activating: bool = False, activated_days_ago: int | None = None
) -> Image:
    return replace(
        img,
        archived=True,
        activating=activating,
        archived_at=QUARANTINED_AT,
        activated_at=None
        if activated_days_ago is None
        else NOW - timedelta(days=activated_days_ago),
    )


def record(img: Image, at: timedelta = timedelta(days=21)) -> Quarantined:
    return Quarantined(APP, img.digest, NOW - at)


def quarantine_plans() -> dict[str, Plan]:
    """Plans that reach every reason of the quarantine (test_wording counts them)."""
    stayed = archived(image("stayed", "v1"))
    recent = archived(image("recent", "v2"))
    restored = image("restored", "v3")  # ACTIVE again, with lastActivatedAt after
    restored = replace(restored, archived_at=QUARANTINED_AT, activated_at=NOW - timedelta(days=2))
    repo = Repository(APP, (stayed, recent, restored))
    records = [record(stayed), record(recent, timedelta(days=3)), record(restored)]
    plan = build_plan([usage_scan()], inventory(repo), NO_RETENTION, NOW, quarantined=records)
    return {"quarantine": plan}


def reasons(plan: Plan) -> dict[str, str]:
    return {d.digest: wording.reason(d.reason) for d in (*plan.deletions, *plan.kept)}


def test_a_quarantine_is_kept_then_deleted_and_a_restored_image_is_kept_with_its_reason() -> None:
    plan = quarantine_plans()["quarantine"]
    said = reasons(plan)
    stayed, recent, restored = (image(s).digest for s in ("stayed", "recent", "restored"))
    assert [d.digest for d in plan.deletions] == [stayed]
    assert said[stayed] == "delete: quarantined 21 days ago, nobody restored or used it"
    assert said[restored] == "kept: restored after quarantine: something needed it"
    assert said[recent].startswith("kept: quarantined (archived) on 2026-10-29; deleted once")
    # The plan keeps its record, and its file too: apply's re-check plans with it again.
    assert plan_from_json(plan_to_json(plan)).quarantined == plan.quarantined
    assert len(plan.quarantined) == 3


def test_activating_and_restored_then_archived_again_count_as_restored() -> None:
    activating = archived(image("activating", "v1"), activating=True, activated_days_ago=0)
    again = archived(image("again", "v2"), activated_days_ago=5)  # restored, then archived
    before = archived(image("before", "v3"), activated_days_ago=30)  # restored before ours
    repo = Repository(APP, (activating, again, before))
    records = [record(activating), record(again), record(before)]
    plan = build_plan([usage_scan()], inventory(repo), NO_RETENTION, NOW, quarantined=records)
    assert [d.digest for d in plan.deletions] == [before.digest]
    assert {d.reason.code for d in plan.kept} == {Code.RESTORED_AFTER_QUARANTINE}


def test_an_image_archived_by_something_else_is_judged_as_today() -> None:
    theirs = archived(image("theirs", "v1"))
    repo = Repository(APP, (theirs,))
    plan = build_plan([usage_scan()], inventory(repo), NO_RETENTION, NOW)
    assert [d.reason.code for d in plan.deletions] == [Code.UNUSED]
    restored_by_them = replace(theirs, archived=False, activated_at=NOW)
    again = build_plan(
        [usage_scan()], inventory(Repository(APP, (restored_by_them,))), NO_RETENTION, NOW
    )
    assert [d.reason.code for d in again.deletions] == [Code.UNUSED]


def test_what_keeps_an_image_today_keeps_a_quarantined_one_and_the_days_are_the_policys() -> None:
    used = archived(image("used", "v1"))
    young_rule = Policy(keep_last=0, min_age_days=0, quarantine_days=30)
    repo = Repository(APP, (used, archived(image("other", "v2"))))
    scan = usage_scan(use(uri(APP, ":v1")))
    records = [record(used), record(repo.images[1])]
    plan = build_plan([scan], inventory(repo), young_rule, NOW, quarantined=records)
    assert plan.deletions == ()
    codes = {d.digest: d.reason.code for d in plan.kept}
    assert codes == {used.digest: Code.TAG_USED, repo.images[1].digest: Code.IN_QUARANTINE}
    assert [w.code for w in plan.warnings] == [Code.ARCHIVED_IN_USE]  # pulled: it would fail


# -- properties ------------------------------------------------------------------------------

STATES = st.sampled_from(["archived", "activating", "restored", "active", "restored-before"])


@st.composite
def quarantined_repositories(draw: st.DrawFn) -> tuple[Repository, list[Quarantined], Policy]:
    count = draw(st.integers(1, 8))
    images = []
    records = []
    for i in range(count):
        img = image(
            f"i{i}", *(() if draw(st.booleans()) else (f"v{i}",)), days_old=draw(st.integers(0, 60))
        )
        if draw(st.booleans()):  # this tool archived it
            at = NOW - timedelta(days=draw(st.integers(0, 40)))
            records.append(Quarantined(APP, img.digest, at))
            state = draw(STATES)
            img = replace(img, archived=state in ("archived", "activating", "restored-before"))
            img = replace(img, activating=state == "activating", archived_at=at)
            if state in ("activating", "restored"):
                img = replace(img, activated_at=at + timedelta(hours=1))
            if state == "restored-before":
                img = replace(img, activated_at=at - timedelta(hours=1))
        elif draw(st.booleans()):  # archived by something else
            img = replace(img, archived=True)
        images.append(img)
    policy = Policy(
        keep_last=draw(st.integers(0, 3)),
        min_age_days=draw(st.integers(0, 30)),
        quarantine_days=draw(st.integers(0, 30)),
    )
    return Repository(APP, tuple(images)), records, policy


@settings(max_examples=200, deadline=None)
@given(quarantined_repositories(), st.integers(0, 5))
def test_nothing_restored_is_deleted(
    drawn: tuple[Repository, list[Quarantined], Policy], used_index: int
) -> None:
    repo, records, policy = drawn
    used = repo.images[used_index % len(repo.images)]
    scan = usage_scan(use(uri(APP, f"@{used.digest}")))
    plan = build_plan([scan], inventory(repo), policy, NOW, quarantined=records)
    since = {r.digest: r.at for r in records}
    by_digest = {i.digest: i for i in repo.images}
    for decision in plan.deletions:
        img = by_digest[decision.digest]
        if decision.digest in since:
            at = since[decision.digest]
            assert img.archived
            assert not img.activating
            assert img.activated_at is None or img.activated_at <= at
            assert NOW - at >= timedelta(days=policy.quarantine_days)
            assert decision.reason.code is Code.QUARANTINE_OVER
        assert decision.digest != used.digest
    # An image the record names keeps today's reason when today's rules keep it.
    today = build_plan([scan], inventory(repo), policy, NOW)
    assert {d.digest for d in plan.deletions} <= {d.digest for d in today.deletions}


@settings(max_examples=200, deadline=None)
@given(quarantined_repositories(), quarantined_repositories(), st.integers(0, 5))
def test_a_quarantine_never_archives_an_image_a_plan_would_keep(
    reviewed_drawn: tuple[Repository, list[Quarantined], Policy],
    fresh_drawn: tuple[Repository, list[Quarantined], Policy],
    used_index: int,
) -> None:
    # What apply --quarantine archives is recheck's answer: the reviewed plan's deletions that
    # the fresh plan (made at apply time, the world having moved on) still deletes.
    repo, records, policy = reviewed_drawn
    later, _, _ = fresh_drawn
    merged = Repository(
        APP,
        repo.images
        + tuple(i for i in later.images if i.digest not in {x.digest for x in repo.images}),
    )
    used = merged.images[used_index % len(merged.images)]
    reviewed = build_plan([usage_scan()], inventory(repo), policy, NOW, quarantined=records)
    fresh = build_plan(
        [usage_scan(use(uri(APP, f"@{used.digest}")))],
        inventory(merged),
        policy,
        NOW,
        quarantined=records,
    )
    to_archive, _ = recheck(reviewed, fresh)
    kept = {d.digest for d in (*reviewed.kept, *fresh.kept)}
    assert not {d.digest for d in to_archive} & kept
    assert used.digest not in {d.digest for d in to_archive}


def test_an_archived_image_is_never_in_use_by_its_last_pull() -> None:
    # lastRecordedPullTime of an archived image predates its archive (a pull of it fails):
    # at most the pull witness keeps it (pulled within its window before the archive, by
    # something this run did not read: kept to be safe), never "in use", never warned.
    pulled = replace(archived(image("pulled", "v1")), last_pulled_at=NOW - timedelta(days=1))
    policy = Policy(keep_last=0, min_age_days=0, keep_pulled_within_days=30)
    plan = build_plan(
        [usage_scan()],
        inventory(Repository(APP, (pulled,))),
        policy,
        NOW,
        quarantined=[record(pulled)],
    )
    (kept,) = plan.kept
    assert kept.reason.code is Code.PULLED_UNEXPLAINED
    assert not kept.reason.code.in_use
    assert plan.warnings == ()
