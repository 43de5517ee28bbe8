"""Table tests of the planner: one trap per test, plain data in, plain data out."""

from __future__ import annotations

from dataclasses import replace

from ecr_sweeper import wording
from ecr_sweeper.model import Plan, Policy, Repository
from ecr_sweeper.plan import build_plan, recheck
from planning import NO_RETENTION, NOW, digest, image, inventory, key, uri, usage_scan, use

API = key("platform/api")


def deleted(plan: Plan) -> set[str]:
    return {d.digest for d in plan.deletions}


def reason_of(plan: Plan, seed: str) -> str:
    return next(
        wording.reason(d.reason) for d in (*plan.kept, *plan.deletions) if d.digest == digest(seed)
    )


def test_unused_images_are_deleted_and_used_tag_is_kept() -> None:
    repo = Repository(API, (image("v1", "v1"), image("v2", "v2"), image("v3", "v3")))
    plan = build_plan([usage_scan(use(uri(API, ":v2")))], inventory(repo), NO_RETENTION, NOW)
    assert deleted(plan) == {digest("v1"), digest("v3")}
    assert "tag 'v2' used by service prod/api" in reason_of(plan, "v2")
    assert all(wording.reason(d.reason).startswith("delete:") for d in plan.deletions)


def test_usage_from_another_account_protects_the_central_registry() -> None:
    repo = Repository(API, (image("v1", "v1"), image("v2", "v2")))
    usage = [
        usage_scan(account="111111111111"),  # the registry account itself runs nothing
        usage_scan(use(uri(API, ":v1")), account="333333333333", region="eu-west-1"),
    ]
    plan = build_plan(usage, inventory(repo), NO_RETENTION, NOW)
    assert deleted(plan) == {digest("v2")}


def test_digest_pin_protects_the_digest_not_the_tag() -> None:
    repo = Repository(API, (image("v1", "v1"), image("v2", "latest")))
    plan = build_plan(
        [usage_scan(use(uri(API, f"@{digest('v1')}")))], inventory(repo), NO_RETENTION, NOW
    )
    assert deleted(plan) == {digest("v2")}
    assert "digest pinned" in reason_of(plan, "v1")


def test_tag_and_digest_keeps_both() -> None:
    repo = Repository(API, (image("v1"), image("v2", "stable"), image("v3", "old")))
    ref = uri(API, f":stable@{digest('v1')}")
    plan = build_plan([usage_scan(use(ref))], inventory(repo), NO_RETENTION, NOW)
    assert deleted(plan) == {digest("v3")}


def test_running_task_digest_is_kept_after_the_tag_moved() -> None:
    # The task resolved :prod to v1 at launch; :prod now points at v2. Both are in use.
    repo = Repository(API, (image("v1"), image("v2", "prod"), image("v3", "v3")))
    running = use(uri(API, ":prod"), source="task prod/abc", resolved=digest("v1"))
    plan = build_plan([usage_scan(running)], inventory(repo), NO_RETENTION, NOW)
    assert deleted(plan) == {digest("v3")}
    assert "digest running in task prod/abc" in reason_of(plan, "v1")


def test_implicit_latest() -> None:
    repo = Repository(API, (image("a", "latest"), image("b", "b")))
    plan = build_plan([usage_scan(use(uri(API, "")))], inventory(repo), NO_RETENTION, NOW)
    assert deleted(plan) == {digest("b")}


def test_same_repository_name_in_two_regions_is_two_repositories() -> None:
    east, west = key("worker"), key("worker", region="eu-west-1")
    repos = (
        Repository(east, (image("east", "latest"),)),
        Repository(west, (image("west", "latest"),)),
    )
    plan = build_plan([usage_scan(use(uri(west, ":latest")))], inventory(*repos), NO_RETENTION, NOW)
    assert [(d.repository, d.digest) for d in plan.deletions] == [(east, digest("east"))]


def test_children_of_kept_index_are_kept_and_of_deleted_index_deleted_index_first() -> None:
    new_children = (digest("new-amd64"), digest("new-arm64"))
    old_children = (digest("old-amd64"), digest("old-arm64"))
    repo = Repository(
        API,
        (
            image("new-amd64"),
            image("new-arm64"),
            image("new", "2.0", children=new_children),
            image("old-amd64"),
            image("old-arm64"),
            image("old", "1.0", children=old_children),
        ),
    )
    plan = build_plan([usage_scan(use(uri(API, ":2.0")))], inventory(repo), NO_RETENTION, NOW)
    assert deleted(plan) == {digest("old"), *old_children}
    assert plan.deletions[0].digest == digest("old")  # index before its children
    assert "manifest of kept image index" in reason_of(plan, "new-arm64")
    assert "manifest of an image index that is deleted" in reason_of(plan, "old-amd64")


def test_child_shared_by_a_kept_and_a_deleted_index_is_kept() -> None:
    shared = digest("shared")
    repo = Repository(
        API,
        (
            image("shared"),
            image("a", "a", children=(shared,)),
            image("b", "b", children=(shared,)),
        ),
    )
    plan = build_plan([usage_scan(use(uri(API, ":a")))], inventory(repo), NO_RETENTION, NOW)
    assert deleted(plan) == {digest("b")}


def test_directly_used_child_is_kept_though_its_index_goes() -> None:
    repo = Repository(API, (image("c"), image("idx", "x", children=(digest("c"),))))
    plan = build_plan(
        [usage_scan(use(uri(API, f"@{digest('c')}")))], inventory(repo), NO_RETENTION, NOW
    )
    assert deleted(plan) == {digest("idx")}


def test_keep_last_counts_top_level_images_newest_first() -> None:
    repo = Repository(
        API,
        (
            image("old", "old", days_old=30),
            image("mid", "mid", days_old=20),
            image("kid", days_old=10),
            image("new", "new", days_old=10, children=(digest("kid"),)),
        ),
    )
    plan = build_plan([usage_scan()], inventory(repo), Policy(keep_last=2, min_age_days=0), NOW)
    assert deleted(plan) == {digest("old")}
    assert "among the 2 most recently pushed" in reason_of(plan, "mid")


def test_keep_last_counts_tagged_images_and_untagged_ones_follow_untagged() -> None:
    # As ECR lifecycle rules count tagStatus TAGGED and UNTAGGED apart: the newest pushes are
    # untagged (a rebuilt `latest` leaves its predecessor untagged) and take no place.
    repo = Repository(
        API,
        (
            image("old", "old", days_old=40),
            image("mid", "mid", days_old=30),
            image("new", "new", days_old=20),
            image("loose-1", days_old=19),
            image("loose-2", days_old=18),
        ),
    )
    policy = Policy(keep_last=2, min_age_days=0)
    plan = build_plan([usage_scan()], inventory(repo), policy, NOW)
    assert deleted(plan) == {digest("old"), digest("loose-1"), digest("loose-2")}
    assert reason_of(plan, "mid") == "kept: among the 2 most recently pushed"
    # keep_last does not count an untagged image, so its reason does not name it
    assert reason_of(plan, "loose-1") == "delete: no workload uses this digest"
    assert "not among the 2" in reason_of(plan, "old")

    plan = build_plan([usage_scan()], inventory(repo), replace(policy, untagged="keep"), NOW)
    assert deleted(plan) == {digest("old")}
    assert reason_of(plan, "loose-2") == "kept: untagged images are kept by policy"


def test_min_age_keeps_young_images() -> None:
    repo = Repository(API, (image("young", days_old=2), image("old", days_old=40)))
    plan = build_plan([usage_scan()], inventory(repo), Policy(keep_last=0, min_age_days=7), NOW)
    assert deleted(plan) == {digest("old")}
    assert "pushed less than 7 days ago" in reason_of(plan, "young")


def test_default_policy_is_conservative() -> None:
    images = tuple(image(f"i{n}", days_old=n) for n in range(30))
    plan = build_plan([usage_scan()], inventory(Repository(API, images)), Policy(), NOW)
    # 14 days of age protection, and the 10 newest: images 0..13 kept.
    assert deleted(plan) == {digest(f"i{n}") for n in range(14, 30)}


def test_any_usage_error_blocks_every_deletion() -> None:
    repo = Repository(API, (image("v1", "v1"), image("v2", "v2")))
    usage = [usage_scan(use(uri(API, ":v1"))), usage_scan(account="999999999999", error="denied")]
    plan = build_plan(usage, inventory(repo), NO_RETENTION, NOW)
    assert plan.blocked
    assert plan.deletions == ()
    assert "fail closed" in reason_of(plan, "v2")
    assert [e.message for e in plan.errors] == ["denied"]


def test_inventory_error_blocks_only_that_repository() -> None:
    broken = Repository(key("broken"), (image("b1"),), error="AccessDenied")
    fine = Repository(key("fine"), (image("f1"),))
    plan = build_plan([usage_scan()], inventory(broken, fine), NO_RETENTION, NOW)
    assert not plan.blocked
    assert deleted(plan) == {digest("f1")}
    assert "inventory incomplete" in reason_of(plan, "b1")
    assert [e.scope for e in plan.errors] == ["inventory"]


def test_tag_that_exists_nowhere_protects_nothing_and_is_not_an_error() -> None:
    repo = Repository(API, (image("v1", "v1"),))
    plan = build_plan([usage_scan(use(uri(API, ":gone")))], inventory(repo), NO_RETENTION, NOW)
    assert deleted(plan) == {digest("v1")}
    assert plan.errors == ()


def test_plan_is_deterministic_whatever_the_input_order() -> None:
    repos = [
        Repository(key(f"r{n}"), tuple(image(f"r{n}-{m}", f"t{m}") for m in range(4)))
        for n in range(3)
    ]
    usages = [use(uri(key("r1"), ":t2")), use(uri(key("r0"), ":t1"), source="other")]
    a = build_plan([usage_scan(*usages)], inventory(*repos), NO_RETENTION, NOW)
    shuffled = [replace(r, images=tuple(reversed(r.images))) for r in reversed(repos)]
    b = build_plan([usage_scan(*reversed(usages))], inventory(*shuffled), NO_RETENTION, NOW)
    assert a == b


def test_recheck_drops_what_became_used_and_keeps_the_rest() -> None:
    repo = Repository(API, (image("v1", "v1"), image("v2", "v2"), image("v3", "v3")))
    reviewed = build_plan([usage_scan()], inventory(repo), NO_RETENTION, NOW)
    fresh = build_plan([usage_scan(use(uri(API, ":v2")))], inventory(repo), NO_RETENTION, NOW)
    to_delete, skipped = recheck(reviewed, fresh)
    assert {d.digest for d in to_delete} == {digest("v1"), digest("v3")}
    assert [
        (d.digest, wording.reason(why).startswith("not deleted: now in use")) for d, why in skipped
    ] == [(digest("v2"), True)]


def test_recheck_never_adds_deletions() -> None:
    repo = Repository(API, (image("v1", "v1"),))
    reviewed = build_plan([usage_scan(use(uri(API, ":v1")))], inventory(repo), NO_RETENTION, NOW)
    fresh = build_plan([usage_scan()], inventory(repo), NO_RETENTION, NOW)
    assert fresh.deletions
    assert recheck(reviewed, fresh) == ([], [])


def test_recheck_blocked_deletes_nothing() -> None:
    repo = Repository(API, (image("v1", "v1"),))
    reviewed = build_plan([usage_scan()], inventory(repo), NO_RETENTION, NOW)
    fresh = build_plan([usage_scan(error="throttled")], inventory(repo), NO_RETENTION, NOW)
    to_delete, skipped = recheck(reviewed, fresh)
    assert to_delete == []
    assert len(skipped) == 1


def test_recheck_pairs_repositories_whatever_the_order_of_the_reviewed_plan() -> None:
    # apply pairs each repository's reviewed deletions with the fresh plan's, one repository at
    # a time; a reviewed plan out of repository order (made by hand) is paired all the same.
    web = key("web")
    repos = [
        Repository(API, (image("a1", "a1"), image("a2", "a2"))),
        Repository(web, (image("w1", "w1"), image("w2", "w2"))),
    ]
    reviewed = build_plan([usage_scan()], inventory(*repos), NO_RETENTION, NOW)
    fresh = build_plan([usage_scan(use(uri(web, ":w2")))], inventory(*repos), NO_RETENTION, NOW)
    shuffled = replace(reviewed, deletions=tuple(reversed(tuple(reviewed.deletions))))
    for plan in (reviewed, shuffled):
        to_delete, skipped = recheck(plan, fresh)
        assert sorted(d.digest for d in to_delete) == sorted(digest(s) for s in ("a1", "a2", "w1"))
        assert [(d.digest, why.code.value) for d, why in skipped] == [
            (digest("w2"), "recheck-kept")
        ]
