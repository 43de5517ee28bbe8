"""Table tests for the protection model and retention rules (issue 4): one rule per test."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ecr_sweeper import wording
from ecr_sweeper.external import external_usage
from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    Image,
    Patterns,
    Plan,
    Policy,
    PullAccess,
    Region,
    Repository,
    RepositoryRule,
    Retention,
    Usage,
)
from ecr_sweeper.plan import build_plan
from ecr_sweeper.repopolicy import PolicyParseError, pull_principals
from planning import NO_RETENTION, NOW, digest, image, inventory, key, uri, usage_scan, use

APP = key("app")
TARGETS = [AccountTarget(AccountId("111111111111"), (Region("us-east-1"),))]


def deleted(plan: Plan) -> set[str]:
    return {d.digest for d in plan.deletions}


def reason_of(plan: Plan, seed: str) -> str:
    return next(
        wording.reason(d.reason) for d in (*plan.kept, *plan.deletions) if d.digest == digest(seed)
    )


def plan_of(*images: Image, policy: Policy = NO_RETENTION, usages: tuple[Usage, ...] = ()) -> Plan:
    repo = Repository(APP, images)
    return build_plan([usage_scan(*usages)], inventory(repo), policy, NOW, TARGETS)


def test_protected_tag_glob_keeps_the_whole_image() -> None:
    plan = plan_of(
        image("rel", "release-1.2", "scratch"),
        image("dev", "dev-1"),
        policy=replace(NO_RETENTION, protect_tags=("release-*",)),
    )
    assert deleted(plan) == {digest("dev")}
    assert reason_of(plan, "rel") == "kept: tag 'release-1.2' matches protected pattern 'release-*'"


def test_protected_tag_regex() -> None:
    plan = plan_of(
        image("semver", "v1.2.3"),
        image("other", "v1.2"),
        policy=replace(NO_RETENTION, protect_tags=(r"re:v\d+\.\d+\.\d+",)),
    )
    assert deleted(plan) == {digest("other")}


def test_keep_pulled_within_days_uses_last_recorded_pull_time() -> None:
    recent = replace(image("recent", "a"), last_pulled_at=NOW - timedelta(days=3))
    stale = replace(image("stale", "b"), last_pulled_at=NOW - timedelta(days=60))
    never = image("never", "c")
    policy = replace(NO_RETENTION, keep_pulled_within_days=30, pulled_within_days=0)
    plan = plan_of(recent, stale, never, policy=policy)
    # The old key is the pull witness's window (tests/test_plan_witness.py has its rules).
    assert deleted(plan) == {digest("stale"), digest("never")}
    assert reason_of(plan, "recent") == "kept: pulled 3 days ago; no consumer this run read uses it"


def test_untagged_keep_mode_keeps_untagged_top_level_images_only() -> None:
    plan = plan_of(
        image("loose"),
        image("tagged", "t"),
        image("child"),
        image("old-index", "x", children=(digest("child"),)),
        policy=replace(NO_RETENTION, untagged="keep"),
    )
    # The untagged child of a deleted index still goes with it.
    assert deleted(plan) == {digest("tagged"), digest("old-index"), digest("child")}
    assert reason_of(plan, "loose") == "kept: untagged images are kept by policy"


def test_first_matching_repository_rule_wins_over_defaults() -> None:
    base, other = key("base/python"), key("app")
    repos = (
        Repository(base, (image("b1", "1"), image("b2", "2"))),
        Repository(other, (image("a1", "1"), image("a2", "2"))),
    )
    policy = replace(
        NO_RETENTION,
        rules=(
            RepositoryRule(Patterns(("base/*",)), Retention(keep_last=5, min_age_days=0)),
            RepositoryRule(Patterns(("*",)), Retention(keep_last=0, min_age_days=0)),
        ),
    )
    plan = build_plan([usage_scan()], inventory(*repos), policy, NOW, TARGETS)
    assert deleted(plan) == {digest("a1"), digest("a2")}


def test_repository_pullable_by_an_account_outside_the_sweep_is_not_touched() -> None:
    repo = Repository(APP, (image("v1", "v1"),), pull_access=PullAccess(accounts=("444444444444",)))
    plan = build_plan([usage_scan()], inventory(repo), NO_RETENTION, NOW, TARGETS)
    assert deleted(plan) == set()
    assert "lets 444444444444 pull" in reason_of(plan, "v1")
    assert "--accept-account 444444444444" in reason_of(plan, "v1")


def test_a_held_repository_is_listed_in_digest_order_whatever_order_ecr_answers() -> None:
    images = (image("v1", "v1"), image("v2", "v2"), image("v3", "v3"))
    plans = [
        build_plan(
            [usage_scan()],
            inventory(Repository(APP, order, pull_access=PullAccess(accounts=("444444444444",)))),
            NO_RETENTION,
            NOW,
            TARGETS,
        )
        for order in (images, images[::-1])
    ]
    assert plans[0] == plans[1]
    assert [d.digest for d in plans[0].kept] == sorted(d.digest for d in plans[0].kept)


def test_accepted_or_in_scope_accounts_do_not_hold_the_repository() -> None:
    repo = Repository(
        APP, (image("v1", "v1"),), pull_access=PullAccess(accounts=("111111111111", "444444444444"))
    )
    policy = replace(NO_RETENTION, accepted_accounts=("444444444444",))
    plan = build_plan([usage_scan()], inventory(repo), policy, NOW, TARGETS)
    assert deleted(plan) == {digest("v1")}


def test_a_wildcard_principal_holds_the_repository() -> None:
    access = PullAccess(anyone=("statement 'Open' (Principal '*'): no condition narrows it",))
    repo = Repository(APP, (image("v1", "v1"),), pull_access=access)
    plan = build_plan([usage_scan()], inventory(repo), NO_RETENTION, NOW, TARGETS)
    assert deleted(plan) == set()
    assert "lets anyone pull" in reason_of(plan, "v1")
    assert "statement 'Open'" in reason_of(plan, "v1")


def test_opt_in_mode_sweeps_only_tagged_repositories() -> None:
    opted = Repository(key("opted"), (image("o1", "1"),), tags=(("sweep", "yes"),))
    other = Repository(key("other"), (image("x1", "1"),))
    policy = replace(NO_RETENTION, opt_in_tag=("sweep", "yes"))
    plan = build_plan([usage_scan()], inventory(opted, other), policy, NOW, TARGETS)
    assert deleted(plan) == {digest("o1")}
    assert reason_of(plan, "x1") == "kept: repository not opted in (no resource tag sweep=yes)"


def test_referrer_of_kept_image_is_kept_and_of_deleted_image_deleted() -> None:
    kept_sig = replace(image("sig-live"), subject=digest("live"))
    dead_sbom = replace(image("sbom-dead"), subject=digest("dead"))
    plan = plan_of(
        image("live", "v2"),
        image("dead", "v1"),
        kept_sig,
        dead_sbom,
        usages=(use(uri(APP, ":v2")),),
    )
    assert deleted(plan) == {digest("dead"), digest("sbom-dead")}
    assert reason_of(plan, "sig-live").startswith("kept: referrer (signature, SBOM, attestation)")
    assert reason_of(plan, "sbom-dead").startswith("delete: referrer")


def test_cosign_tag_scheme_links_signature_to_its_subject() -> None:
    live_hex = digest("live").removeprefix("sha256:")
    dead_hex = digest("dead").removeprefix("sha256:")
    plan = plan_of(
        image("live", "v2"),
        image("dead", "v1"),
        image("sig", f"sha256-{live_hex}.sig"),
        image("att", f"sha256-{live_hex}.att"),
        image("old-sig", f"sha256-{dead_hex}.sig"),
        usages=(use(uri(APP, ":v2")),),
    )
    assert deleted(plan) == {digest("dead"), digest("old-sig")}


def test_referrer_of_an_index_child_chain_is_kept_transitively() -> None:
    sig = replace(image("sig"), subject=digest("index"))
    plan = plan_of(
        image("amd64"),
        image("index", "2.0", children=(digest("amd64"),)),
        sig,
        usages=(use(uri(APP, ":2.0")),),
    )
    assert deleted(plan) == set()


def test_referrers_do_not_count_towards_keep_last() -> None:
    sig = replace(image("sig", days_old=1), subject=digest("old"))
    plan = plan_of(image("old", "v1", days_old=50), sig, policy=replace(NO_RETENTION, keep_last=1))
    assert deleted(plan) == set()  # v1 is the newest top-level image; its signature follows


def test_external_references_protect_like_workloads() -> None:
    usage = external_usage([uri(APP, ":v1"), "docker.io/library/nginx:1"])
    repo = Repository(APP, (image("v1", "v1"), image("v2", "v2")))
    plan = build_plan([usage], inventory(repo), NO_RETENTION, NOW, TARGETS)
    assert deleted(plan) == {digest("v2")}
    assert reason_of(plan, "v1") == "in use: tag 'v1' used by the external image list"


def test_bad_external_reference_blocks_the_plan() -> None:
    repo = Repository(APP, (image("v1", "v1"),))
    plan = build_plan(
        [external_usage(["Not An Image"])], inventory(repo), NO_RETENTION, NOW, TARGETS
    )
    assert plan.blocked
    assert plan.deletions == ()


def test_caps_refuse_without_changing_verdicts() -> None:
    images = [image(f"i{n}", f"t{n}") for n in range(10)]
    plan = plan_of(
        *images, policy=replace(NO_RETENTION, max_delete_percent=50, max_delete_images=5)
    )
    assert len(plan.deletions) == 10
    assert wording.refusals(plan.refusals) == [
        "the run would delete 10 images, over the cap of 5 (raise --max-delete-images)",
        "111111111111/us-east-1/app would lose 100% of its images (10 of 10), over the cap of "
        "50% (raise --max-delete-percent)",
    ]
    assert plan_of(*images, policy=replace(NO_RETENTION, max_delete_images=10)).refusals == ()


@pytest.mark.parametrize(
    ("policy", "principals"),
    [
        ('{"Statement": []}', ()),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": '
            '["arn:aws:iam::444444444444:root", "555555555555"]}, '
            '"Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}',
            ("444444444444", "555555555555"),
        ),
        (
            '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "ecr:*", '
            '"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}}',
            ("*",),
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},'
            ' "Action": "ecr:BatchGetImage", "Condition": {"StringLike": {"aws:sourceArn": '
            '"arn:aws:lambda:us-east-1:666666666666:function:*"}}}]}',
            ("666666666666",),
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}'
            ', "Action": "ecr:BatchGetImage"}]}',
            ("*",),
        ),
        (  # push-only grants and denies do not let anyone pull
            '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "777777777777"}, '
            '"Action": ["ecr:PutImage"]}, {"Effect": "Deny", "Principal": "*", "Action": "*"}]}',
            (),
        ),
    ],
)
def test_repository_policy_pull_principals(policy: str, principals: tuple[str, ...]) -> None:
    assert pull_principals(policy) == principals


def test_repository_policy_that_is_not_json() -> None:
    with pytest.raises(PolicyParseError):
        pull_principals("{")
