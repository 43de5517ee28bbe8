"""Hypothesis properties of the planner over random organizations.

Generated data follows one physical rule of registries: an index's children are pushed before
the index (clients push manifests, then the index that lists them).
"""

from __future__ import annotations

import os
import random
from dataclasses import replace
from datetime import timedelta
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_sweeper.model import (
    AccountId,
    AccountRegion,
    CensusEntry,
    Code,
    Digest,
    Image,
    InventoryScan,
    Plan,
    Policy,
    Region,
    Repository,
    RepositoryKey,
    Usage,
    UsageScan,
)
from ecr_sweeper.plan import (
    CENSUS_BLOCKED,
    Planner,
    build_plan,
    deletion_order,
    protected_digests,
    recheck,
)
from ecr_sweeper.spool import Spool
from planning import NOW, OCI_INDEX, OCI_MANIFEST, digest, key, uri, usage_scan, use

# In CI the examples are derived from the test names, so a red run is reproducible by rerunning
# it; locally they are random, to keep finding new cases.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

KEYS = [key("api"), key("api", region="eu-west-1"), key("web", account="222222222222")]
TAGS = ["latest", "v1", "v2", "v3", "prod", "stable"]


@st.composite
def repositories(draw: st.DrawFn, repo_key: RepositoryKey) -> Repository:
    count = draw(st.integers(0, 12))
    images: list[Image] = []
    used_tags: set[str] = set()
    for n in range(count):  # n is also the push order: strictly increasing times
        seed = f"{repo_key}/{n}"
        pushed_at = NOW - timedelta(days=40 - 3 * n, minutes=draw(st.integers(0, 5)))
        earlier = [i.digest for i in images]
        children: tuple[Digest, ...] = ()
        has_children = draw(st.booleans())
        if earlier and has_children:
            children = tuple(draw(st.sets(st.sampled_from(earlier), min_size=1, max_size=3)))
        subject: Digest | None = None
        refers = draw(st.booleans())
        if earlier and refers and not children:
            subject = draw(st.sampled_from(earlier))  # a signature / SBOM of an earlier image
        free = [t for t in TAGS if t not in used_tags]
        tags: set[str] = draw(st.sets(st.sampled_from(free), max_size=2)) if free else set()
        used_tags |= tags
        images.append(
            Image(
                digest=digest(seed),
                tags=tuple(sorted(tags)),
                pushed_at=pushed_at,
                size_bytes=draw(st.integers(0, 10**9)),
                media_type=OCI_INDEX if children else OCI_MANIFEST,
                children=children,
                subject=subject,
            )
        )
    return Repository(repo_key, tuple(images))


@st.composite
def orgs(draw: st.DrawFn) -> tuple[list[UsageScan], list[InventoryScan], Policy]:
    repos = [draw(repositories(k)) for k in KEYS]
    usages: list[Usage] = []
    for n in range(draw(st.integers(0, 8))):
        repo = draw(st.sampled_from(repos))
        known = [i.digest for i in repo.images] or [digest("nowhere")]
        kind = draw(st.sampled_from(["tag", "digest", "tag+digest", "resolved", "none"]))
        tag = draw(st.sampled_from([*TAGS, "missing"]))
        pinned = draw(st.sampled_from(known))
        source = f"service s{n}"
        if kind == "tag":
            usages.append(use(uri(repo.key, f":{tag}"), source))
        elif kind == "digest":
            usages.append(use(uri(repo.key, f"@{pinned}"), source))
        elif kind == "tag+digest":
            usages.append(use(uri(repo.key, f":{tag}@{pinned}"), source))
        elif kind == "resolved":
            usages.append(use(uri(repo.key, f":{tag}"), source, resolved=pinned))
        else:
            usages.append(use(uri(repo.key, ""), source))
    policy = Policy(keep_last=draw(st.integers(0, 4)), min_age_days=draw(st.integers(0, 30)))
    inventory = [InventoryScan(r.key.account_id, r.key.region, (r,)) for r in repos]
    return [usage_scan(*usages)], inventory, policy


def reachable(usage: list[UsageScan], inventory: list[InventoryScan]) -> set[tuple[str, str]]:
    """Written independently of the planner: every (repository, digest) some usage reaches."""
    result: set[tuple[str, str]] = set()
    for use_ in (u for scan in usage for u in scan.usages):
        repo_key = str(use_.ref.repository)
        for scan in inventory:
            for repo in scan.repositories:
                if str(repo.key) != repo_key:
                    continue
                for image in repo.images:
                    if use_.ref.tag in image.tags:
                        result.add((repo_key, image.digest))
        for d in (use_.ref.digest, use_.resolved_digest):
            if d:
                result.add((repo_key, d))
    return result


@settings(max_examples=150, deadline=None)
@given(orgs())
def test_never_deletes_a_digest_in_use(
    org: tuple[list[UsageScan], list[InventoryScan], Policy],
) -> None:
    usage, inventory, policy = org
    plan = build_plan(usage, inventory, policy, NOW)
    in_use = reachable(usage, inventory)
    assert not {(str(d.repository), d.digest) for d in plan.deletions} & in_use


@settings(max_examples=150, deadline=None)
@given(orgs())
def test_never_deletes_a_child_or_referrer_of_a_kept_image(
    org: tuple[list[UsageScan], list[InventoryScan], Policy],
) -> None:
    usage, inventory, policy = org
    plan = build_plan(usage, inventory, policy, NOW)
    images = {
        (str(r.key), i.digest): i for s in inventory for r in s.repositories for i in r.images
    }
    deleted = {(str(d.repository), d.digest) for d in plan.deletions}
    kept = {(str(d.repository), d.digest) for d in plan.kept}
    for repo, kept_digest in kept:
        for child in images[(repo, kept_digest)].children:
            assert (repo, child) not in deleted
    for (repo, image_digest), image_ in images.items():
        if image_.subject is not None and (repo, image_.subject) in kept:
            assert (repo, image_digest) not in deleted


@settings(max_examples=150, deadline=None)
@given(orgs(), st.sampled_from(["delete", "keep"]))
def test_keep_last_counts_tagged_images_and_untagged_ones_follow_their_setting(
    org: tuple[list[UsageScan], list[InventoryScan], Policy], untagged: Literal["delete", "keep"]
) -> None:
    """As ECR lifecycle rules count tagStatus TAGGED and UNTAGGED apart: the keep_last newest
    tagged images that are not referrers (a tagged manifest an index lists counts) are kept,
    and only they are kept for being among the newest; untagged top-level images follow
    `untagged`."""
    usage, inventory, policy = org
    policy = replace(policy, untagged=untagged)
    plan = build_plan(usage, inventory, policy, NOW)
    verdicts = {(d.repository, d.digest): d.reason for d in (*plan.kept, *plan.deletions)}
    kept = {(d.repository, d.digest) for d in plan.kept}
    for repo in (r for s in inventory for r in s.repositories):
        listed = {c for i in repo.images for c in i.children}
        counted = [i for i in repo.images if i.subject is None]
        newest = sorted(
            (i for i in counted if i.tags), key=lambda i: (i.pushed_at, i.digest), reverse=True
        )[: policy.keep_last]
        among = {(repo.key, i.digest) for i in newest}
        assert among <= kept
        for image_ in counted:
            reason = verdicts[(repo.key, image_.digest)]
            if reason.code is Code.AMONG_NEWEST:
                assert (repo.key, image_.digest) in among
            if not image_.tags and image_.digest not in listed and untagged == "keep":
                assert (repo.key, image_.digest) in kept


@settings(max_examples=100, deadline=None)
@given(orgs())
def test_every_image_gets_exactly_one_reasoned_verdict(
    org: tuple[list[UsageScan], list[InventoryScan], Policy],
) -> None:
    usage, inventory, policy = org
    plan = build_plan(usage, inventory, policy, NOW)
    verdicts = [(str(d.repository), d.digest) for d in (*plan.kept, *plan.deletions)]
    images = [(str(r.key), i.digest) for s in inventory for r in s.repositories for i in r.images]
    assert sorted(verdicts) == sorted(images)
    assert all(d.reason for d in (*plan.kept, *plan.deletions))


@settings(max_examples=100, deadline=None)
@given(orgs(), st.randoms(use_true_random=False))
def test_plan_is_deterministic(
    org: tuple[list[UsageScan], list[InventoryScan], Policy], rng: random.Random
) -> None:
    usage, inventory, policy = org
    shuffled_usage = [replace(s, usages=tuple(rng.sample(s.usages, len(s.usages)))) for s in usage]
    shuffled_inventory = [
        replace(
            s,
            repositories=tuple(
                replace(r, images=tuple(rng.sample(r.images, len(r.images))))
                for r in s.repositories
            ),
        )
        for s in rng.sample(inventory, len(inventory))
    ]
    assert build_plan(usage, inventory, policy, NOW) == build_plan(
        shuffled_usage, shuffled_inventory, policy, NOW
    )


@settings(max_examples=100, deadline=None)
@given(orgs(), st.randoms(use_true_random=False))
def test_judging_repositories_one_at_a_time_in_any_order_gives_the_same_plan(
    org: tuple[list[UsageScan], list[InventoryScan], Policy], rng: random.Random
) -> None:
    """make_plan judges each repository as the inventory reads it, in whatever order the
    reads finish; the plan must be build_plan's."""
    usage, inventory, policy = org
    planner = Planner(usage, policy, NOW)
    repositories = [r for scan in inventory for r in scan.repositories]
    for repo in rng.sample(repositories, len(repositories)):
        planner.judge(repo)
    errors = [e for scan in rng.sample(inventory, len(inventory)) for e in scan.errors]
    assert planner.plan(errors) == build_plan(usage, inventory, policy, NOW)


def apply_locally(plan: Plan, inventory: list[InventoryScan]) -> list[InventoryScan]:
    """What the registries hold after every planned deletion succeeded."""
    gone = {(d.repository, d.digest) for d in plan.deletions}
    return [
        replace(
            s,
            repositories=tuple(
                replace(r, images=tuple(i for i in r.images if (r.key, i.digest) not in gone))
                for r in s.repositories
            ),
        )
        for s in inventory
    ]


@settings(max_examples=150, deadline=None)
@given(orgs())
def test_replanning_after_apply_finds_nothing(
    org: tuple[list[UsageScan], list[InventoryScan], Policy],
) -> None:
    usage, inventory, policy = org
    first = build_plan(usage, inventory, policy, NOW)
    second = build_plan(usage, apply_locally(first, inventory), policy, NOW)
    assert second.deletions == ()
    # and what was in use is still there, with the same protection
    assert (
        protected_digests(
            (u for s in usage for u in s.usages), [r for s in inventory for r in s.repositories]
        ).keys()
        >= protected_digests(
            (u for s in usage for u in s.usages),
            [r for s in apply_locally(first, inventory) for r in s.repositories],
        ).keys()
    )


@settings(max_examples=100, deadline=None)
@given(orgs())
def test_a_failed_usage_source_blocks_everything(
    org: tuple[list[UsageScan], list[InventoryScan], Policy],
) -> None:
    usage, inventory, policy = org
    plan = build_plan(
        [*usage, usage_scan(account="999999999999", error="AccessDenied")], inventory, policy, NOW
    )
    assert plan.blocked
    assert plan.deletions == ()


KINDS = ["eks", "batch", "agentcore", "a-kind-this-tool-never-heard-of"]
PLACES = [(k.account_id, k.region) for k in KEYS]


@st.composite
def pulled_orgs(draw: st.DrawFn) -> tuple[list[UsageScan], list[InventoryScan], Policy]:
    """`orgs`, with any pull times, any window, and any consumer kinds present and left unread
    (accepted or not) anywhere."""
    usage, inventory, policy = draw(orgs())
    scans = []
    for scan in inventory:
        repos = []
        for repo in scan.repositories:
            images = []
            for i in repo.images:
                days = draw(st.none() | st.integers(0, 60))
                at = (
                    None
                    if days is None
                    else NOW - timedelta(days=days, minutes=draw(st.integers(0, 5)))
                )
                images.append(replace(i, last_pulled_at=at))
            repos.append(replace(repo, images=tuple(images)))
        scans.append(replace(scan, repositories=tuple(repos)))
    census = tuple(
        CensusEntry(kind, account, region, present, read=False, detail="not read")
        for kind, (account, region), present in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(KINDS), st.sampled_from(PLACES), st.sampled_from([True, None])
                ),
                max_size=3,
            )
        )
    )
    accepted = tuple(draw(st.sets(st.sampled_from(KINDS))))
    unread = UsageScan(AccountRegion(KEYS[0].account_id, KEYS[0].region), census=census)
    policy = replace(policy, pulled_within_days=draw(st.integers(1, 40)), accepted_unread=accepted)
    return [*usage, unread], scans, policy


@settings(max_examples=150, deadline=None)
@given(pulled_orgs())
def test_never_deletes_an_image_pulled_within_the_window(
    org: tuple[list[UsageScan], list[InventoryScan], Policy],
) -> None:
    """Whatever kinds the run read or left unread (accepted or not), an image ECR saw pulled
    within the window is never planned for deletion; and an image kept as an unexplained pull
    is one that no usage this run read reaches (the two lists are told apart)."""
    usage, inventory, policy = org
    plan = build_plan(usage, inventory, policy, NOW)
    since = NOW - timedelta(days=policy.pulled_within_days)
    pulls = {
        (str(r.key), i.digest): i.last_pulled_at
        for s in inventory
        for r in s.repositories
        for i in r.images
    }
    for d in plan.deletions:
        at = pulls[(str(d.repository), d.digest)]
        assert at is None or at <= since, (d, at)
    in_use = reachable(usage, inventory)
    unexplained = {
        (str(d.repository), d.digest) for d in plan.kept if d.reason.code is Code.PULLED_UNEXPLAINED
    }
    assert not unexplained & in_use
    assert sum(u.images for u in plan.unexplained_pulls) == len(unexplained)


@settings(max_examples=100, deadline=None)
@given(orgs(), st.data())
def test_the_plan_is_the_same_with_its_decisions_on_disk(
    org: tuple[list[UsageScan], list[InventoryScan], Policy], data: st.DataObject
) -> None:
    # The pipeline keeps decisions in a spool file as repositories are judged; the plan read
    # from it is the plan kept in memory, in the same order, with the same reasons.
    usage, inventory, policy = org
    order = data.draw(st.permutations([r for scan in inventory for r in scan.repositories]))
    in_memory = build_plan(usage, inventory, policy, NOW)
    planner = Planner(usage, policy, NOW, store=Spool())
    for repo in order:
        planner.judge(repo)
    on_disk = planner.plan()
    assert tuple(on_disk.deletions) == tuple(in_memory.deletions)
    assert tuple(on_disk.kept) == tuple(in_memory.kept)
    assert (len(on_disk.deletions), len(on_disk.kept)) == (
        len(in_memory.deletions),
        len(in_memory.kept),
    )
    assert on_disk == in_memory


@settings(max_examples=100, deadline=None)
@given(orgs(), orgs())
def test_the_recheck_by_repository_is_the_recheck_of_the_whole_plans(
    first: tuple[list[UsageScan], list[InventoryScan], Policy],
    second: tuple[list[UsageScan], list[InventoryScan], Policy],
) -> None:
    # apply re-checks one repository at a time; what it deletes and skips is what comparing
    # the two whole plans at once (as sets) gives.
    reviewed = build_plan(*first, NOW)
    fresh = build_plan(*second, NOW)
    still = {(d.repository, d.digest) for d in fresh.deletions}
    now_kept = {(d.repository, d.digest) for d in fresh.kept}
    expected_go = [d for d in reviewed.deletions if (d.repository, d.digest) in still]
    to_delete, skipped = recheck(reviewed, fresh)
    if fresh.blocked:
        assert to_delete == []
        assert [d for d, _ in skipped] == list(reviewed.deletions)
        return
    assert to_delete == expected_go
    assert [(d, why.code) for d, why in skipped] == [
        (d, Code.RECHECK_KEPT if (d.repository, d.digest) in now_kept else Code.RECHECK_ABSENT)
        for d in reviewed.deletions
        if (d.repository, d.digest) not in still
    ]


@settings(max_examples=100, deadline=None)
@given(orgs(), st.integers(1, 3), st.data())
def test_the_spool_reads_each_list_back_in_its_order_a_piece_at_a_time(
    org: tuple[list[UsageScan], list[InventoryScan], Policy], piece: int, data: st.DataObject
) -> None:
    # The spool writes each repository's lists in pieces, sorted, and the plan merges them as
    # it reads: its lists must come in the plan's order (kept by repository and digest,
    # deletions in `deletion_order`), and a plan the census blocks keeps what was to go, in
    # the order of the kept ones, as if both lists had been sorted together.
    usage, inventory, policy = org
    order = data.draw(st.permutations([r for scan in inventory for r in scan.repositories]))

    def planned(usage: list[UsageScan]) -> Plan:
        planner = Planner(usage, policy, NOW, store=Spool(piece))
        for repo in order:
            planner.judge(repo)
        return planner.plan()

    free = planned(usage)
    assert list(free.kept) == sorted(free.kept, key=lambda d: (d.repository, d.digest))
    assert list(free.deletions) == sorted(free.deletions, key=deletion_order)
    # A consumer nobody read, in an account whose repositories are not in the run: it holds
    # none of them, and blocks the plan.
    unread = CensusEntry("eks", AccountId("999999999999"), Region("us-east-1"), True, False, "x")
    blocked = planned(
        [*usage, UsageScan(AccountRegion(unread.account_id, unread.region), census=(unread,))]
    )
    held = [replace(d, reason=CENSUS_BLOCKED) for d in free.deletions]
    assert blocked.blocked
    assert list(blocked.deletions) == []
    assert list(blocked.kept) == sorted([*free.kept, *held], key=lambda d: (d.repository, d.digest))
    assert len(blocked.kept) == len(free.kept) + len(free.deletions)
