"""The census rule (plan.py invariant 10), replication with deletes (11) and archived images in
use (12): table tests, and a hypothesis property over random organizations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_sweeper import wording
from ecr_sweeper.model import (
    AccountId,
    AccountRegion,
    AccountTarget,
    CensusEntry,
    Plan,
    Policy,
    PullAccess,
    Region,
    Repository,
    RepositoryKey,
    Usage,
    UsageScan,
)
from ecr_sweeper.pipeline import PRINCIPAL_KINDS
from ecr_sweeper.plan import CENSUS_BLOCKED, build_plan, recheck, service_kind
from ecr_sweeper.planfile import plan_from_json, plan_to_json
from planning import NO_RETENTION, NOW, image, inventory, key, uri, use

A, B, C = "111111111111", "222222222222", "333333333333"  # C is outside the sweep
US, EU = "us-east-1", "eu-west-1"
CENSUS_BLOCKED_TEXT = (
    "not deleted: a consumer the run did not read blocks the plan (see its findings)"
)
TARGETS = tuple(AccountTarget(AccountId(a), (Region(US), Region(EU))) for a in (A, B))


def entry(
    kind: str,
    account: str,
    region: str = US,
    *,
    present: bool | None = True,
    read: bool = False,
    detail: str = "no reader in this tool",
) -> CensusEntry:
    return CensusEntry(kind, AccountId(account), Region(region), present, read, detail)


def scan(
    account: str, region: str = US, *census: CensusEntry, usages: tuple[Usage, ...] = ()
) -> UsageScan:
    return UsageScan(AccountRegion(AccountId(account), Region(region)), usages, census=census)


def every_place(*census: CensusEntry) -> list[UsageScan]:
    """A usage scan of every target account × region, with these census entries in theirs."""
    scans = []
    for account in (A, B):
        for region in (US, EU):
            mine = tuple(e for e in census if (e.account_id, e.region) == (account, region))
            scans.append(scan(account, region, *mine))
    return scans


def access(principals: tuple[str, ...] = (), services: tuple[str, ...] = ()) -> PullAccess:
    """Who a repository policy lets pull: accounts, "*" (anyone), service principals."""
    accounts = tuple(p for p in principals if p != "*")
    anyone = ("statement #0 lets anyone pull",) if "*" in principals else ()
    return PullAccess(accounts=accounts, anyone=anyone, services=services)


def repo(
    name: str,
    account: str,
    region: str = US,
    *,
    pull_principals: tuple[str, ...] = (),
    pull_services: tuple[str, ...] = (),
    **fields: Any,
) -> Repository:
    return Repository(
        key(name, account, region),
        (image(f"{account}{region}{name}", "old"),),
        pull_access=access(pull_principals, pull_services),
        **fields,
    )


REPOS = (
    repo("own", A),  # the consumer's own account
    repo("own-eu", A, EU),  # its own account, another region
    repo("lets-a", B, pull_principals=(A,)),  # another account's, whose policy lets A pull
    repo("lets-anyone", B, pull_principals=("*",)),  # whose policy lets anyone pull
    repo("private", B),  # nothing lets A pull
)


def plan_of(
    usage: list[UsageScan], policy: Policy = NO_RETENTION, repos: Sequence[Repository] = REPOS
) -> Plan:
    return build_plan(
        usage, inventory(*repos), policy, NOW, TARGETS, principal_kinds=PRINCIPAL_KINDS
    )


def reasons(plan: Plan) -> dict[str, str]:
    return {d.repository.name: wording.reason(d.reason) for d in (*plan.kept, *plan.deletions)}


def test_an_unread_eks_cluster_holds_every_repository_it_could_pull_and_blocks() -> None:
    plan = plan_of(every_place(entry("eks", A)))
    assert plan.blocked
    assert plan.deletions == ()
    why = reasons(plan)
    held = "kept: eks in 111111111111/us-east-1 may pull from this repository and was not read"
    for name in ("own", "own-eu", "lets-a"):
        assert why[name].startswith(held), name
    assert why["lets-anyone"].startswith("kept: the repository policy lets anyone")  # rule 5
    assert why["private"] == CENSUS_BLOCKED_TEXT  # not reachable, but the plan is blocked
    assert wording.findings(plan.findings) == [
        "111111111111/us-east-1: eks present, not read (no reader in this tool); nothing it "
        "could pull is deleted. Resolve: list its images with --external-images FILE, or "
        "accept with --accept-unread eks@111111111111",
    ]


@pytest.mark.parametrize("accepted", ["eks", "eks@111111111111"])
def test_an_accepted_unread_consumer_holds_nothing_and_is_a_warning(accepted: str) -> None:
    plan = plan_of(every_place(entry("eks", A)), replace(NO_RETENTION, accepted_unread=(accepted,)))
    assert not plan.blocked
    assert {d.repository.name for d in plan.deletions} == {"own", "own-eu", "lets-a", "private"}
    assert wording.warnings(plan.warnings) == [
        "111111111111/us-east-1: eks present, not read (no reader in this tool); accepted by "
        f"--accept-unread {accepted}: only --external-images protects its images",
    ]


def test_accepting_one_account_leaves_the_others_blocked() -> None:
    policy = replace(NO_RETENTION, accepted_unread=("eks@111111111111",))
    plan = plan_of(every_place(entry("eks", A), entry("eks", B, EU)), policy)
    assert plan.blocked
    assert [f.split(":")[0] for f in wording.findings(plan.findings)] == ["222222222222/eu-west-1"]
    why = reasons(plan)
    assert why["private"].startswith("kept: eks in 222222222222/eu-west-1 may pull")
    assert why["own"] == CENSUS_BLOCKED_TEXT


@pytest.mark.parametrize(
    ("census", "blocked"),
    [
        (entry("eks", A, present=False), False),  # no cluster there: nothing to read
        (entry("eks", A, present=None), True),  # the census call failed: may be present
        (entry("lambda", A, read=True, detail=""), False),  # present and read
        (entry("lambda", A, detail="lambda: switched off"), True),
    ],
)
def test_what_counts_as_unread(census: CensusEntry, blocked: bool) -> None:
    plan = plan_of(every_place(census))
    assert plan.blocked is blocked
    assert bool(plan.deletions) is not blocked


def test_a_failed_census_says_the_consumer_may_be_present() -> None:
    plan = plan_of(every_place(entry("eks", A, present=None, detail="census failed: denied")))
    assert wording.findings(plan.findings)[0].startswith(
        "111111111111/us-east-1: eks may be present (the census call failed), not read "
        "(census failed: denied)"
    )


def test_an_unread_consumer_in_an_account_outside_the_run_is_not_a_census_entry() -> None:
    # C is not a target: no census there. Its access is the repository policy rule's (5).
    plan = plan_of(every_place(), repos=(repo("lets-c", B, pull_principals=(C,)),))
    assert not plan.blocked
    assert reasons(plan)["lets-c"].startswith("kept: the repository policy lets 333333333333")


def test_a_service_principal_of_a_kind_the_run_does_not_read_holds_its_repository() -> None:
    repos = (repo("built", B, pull_services=("codebuild.amazonaws.com",)), repo("other", B))
    plan = plan_of(every_place(), repos=repos)
    assert plan.blocked
    assert reasons(plan)["built"] == (
        "kept: the repository policy lets codebuild.amazonaws.com pull, and the run does not "
        "read codebuild"
    )
    assert wording.findings(plan.findings) == [
        "222222222222/us-east-1: repository built: its policy lets codebuild.amazonaws.com "
        "pull and the run does not read codebuild; nothing in it is deleted. Resolve: list its "
        "images with --external-images FILE, or accept with --accept-unread "
        "codebuild@222222222222",
    ]


def test_a_service_principal_finding_does_not_depend_on_another_hold() -> None:
    both = repo("shared", B, pull_principals=(C,), pull_services=("codebuild.amazonaws.com",))
    plan = plan_of(every_place(), repos=(both,))
    assert reasons(plan)["shared"].startswith("kept: the repository policy lets 333333333333")
    assert plan.blocked
    assert "its policy lets codebuild.amazonaws.com pull" in wording.findings(plan.findings)[0]


def test_a_service_principal_of_a_kind_read_everywhere_holds_nothing() -> None:
    read = [entry("lambda", a, r, read=True, detail="") for a in (A, B) for r in (US, EU)]
    repos = (repo("fn", B, pull_services=("lambda.amazonaws.com",)),)
    plan = plan_of(every_place(*read), repos=repos)
    assert not plan.blocked
    assert [d.repository.name for d in plan.deletions] == ["fn"]


def test_a_service_principal_is_accepted_like_a_kind() -> None:
    repos = (repo("built", B, pull_services=("codebuild.amazonaws.com",)),)
    policy = replace(NO_RETENTION, accepted_unread=("codebuild",))
    plan = plan_of(every_place(), policy, repos)
    assert not plan.blocked
    assert wording.warnings(plan.warnings) == [
        "222222222222/us-east-1/built: its policy lets codebuild.amazonaws.com pull and the run "
        "does not read codebuild; accepted by --accept-unread codebuild",
    ]


def test_service_principals_map_to_kinds_and_unknown_ones_are_their_own_kind() -> None:
    assert service_kind("CodeBuild.amazonaws.com", PRINCIPAL_KINDS) == "codebuild"
    assert service_kind("build.apprunner.amazonaws.com", PRINCIPAL_KINDS) == "apprunner"
    assert service_kind("states.amazonaws.com", PRINCIPAL_KINDS) == "stepfunctions"
    assert service_kind("new.amazonaws.com", PRINCIPAL_KINDS) == "new.amazonaws.com"  # holds


def test_excluded_ecs_clusters_are_present_but_unread() -> None:
    excluded = entry("ecs", A, detail="2 cluster(s) excluded by the cluster patterns: batch, old")
    plan = plan_of([*every_place(excluded), scan(A, US, entry("ecs", A, read=True, detail=""))])
    assert plan.blocked
    assert (
        "ecs present, not read (2 cluster(s) excluded by the cluster patterns"
        in wording.findings(plan.findings)[0]
    )


def test_a_fresh_plan_blocked_by_the_census_deletes_nothing_on_apply() -> None:
    reviewed = plan_of(every_place())
    assert reviewed.deletions
    fresh = plan_of(every_place(entry("eks", B, EU)))
    to_delete, skipped = recheck(reviewed, fresh)
    assert to_delete == []
    assert len(skipped) == len(reviewed.deletions)


def test_the_plan_file_records_the_census_findings_and_warnings() -> None:
    policy = replace(NO_RETENTION, accepted_unread=("eks@111111111111",))
    census = (entry("eks", A), entry("eks", B, present=None), entry("ecs", A, read=True))
    plan = plan_of(every_place(*census), policy)
    data = plan_to_json(plan)
    assert [c["kind"] for c in data["census"]] == ["ecs", "eks", "eks"]
    assert data["policy"]["accepted_unread"] == ["eks@111111111111"]
    assert data["findings"]
    assert data["warnings"]
    again = plan_from_json(data)
    assert again.census == plan.census
    assert wording.findings(again.findings) == data["findings"] == wording.findings(plan.findings)
    assert wording.warnings(again.warnings) == data["warnings"] == wording.warnings(plan.warnings)
    assert again.blocked


# -- replication with deletes ------------------------------------------------------------------


def test_a_deletion_replayed_outside_the_sweep_holds_the_source_repository() -> None:
    source = repo("app", A, delete_replicas=((AccountId(C), Region(US)),))
    plan = plan_of(every_place(), repos=(source,))
    assert plan.deletions == ()
    assert reasons(plan)["app"] == (
        "kept: replication replays its deletions in 333333333333/us-east-1, whose usage this "
        "run did not read (add the account and region to the sweep)"
    )


def test_usage_of_a_destination_in_the_sweep_protects_the_source_image() -> None:
    source = Repository(
        key("app", A),
        (image("used", "v1"), image("unused", "v0")),
        delete_replicas=((AccountId(B), Region(EU)),),
    )
    replica = key("app", B, EU)  # the destination's copy, used by a service in B
    usage = every_place()
    usage[-1] = scan(B, EU, usages=(use(uri(replica, ":v1")),))
    plan = plan_of(usage, repos=(source,))
    assert [d.tags for d in plan.deletions] == [("v0",)]
    assert [wording.reason(d.reason) for d in plan.kept] == [
        "in use: tag 'v1' used by service prod/api"
    ]


def test_a_destination_whose_usage_failed_to_read_is_not_read() -> None:
    source = repo("app", A, delete_replicas=((AccountId(B), Region(EU)),))
    usage = [s for s in every_place() if s.origin != AccountRegion(AccountId(B), Region(EU))]
    plan = plan_of(usage, repos=(source,))
    assert reasons(plan)["app"].startswith("kept: replication replays its deletions in 2222")


# -- archived images ---------------------------------------------------------------------------


def test_an_archived_image_in_use_is_kept_and_warned_about_and_an_unused_one_goes() -> None:
    repo_key = key("app", A)
    used = replace(image("used", "v1"), archived=True)
    unused = replace(image("unused", "v0"), archived=True)
    usage = every_place()
    usage[0] = scan(A, US, usages=(use(uri(repo_key, ":v1")),))
    plan = plan_of(usage, repos=(Repository(repo_key, (used, unused)),))
    assert [d.digest for d in plan.deletions] == [unused.digest]
    assert wording.warnings(plan.warnings) == [
        f"{repo_key}@{used.digest}: archived and in use: tag 'v1' used by service prod/api; a "
        "workload cannot pull it until it is restored (UpdateImageStorageClass to STANDARD)",
    ]


# -- the property ------------------------------------------------------------------------------

ACCOUNTS = (A, B)
KINDS = ("ecs", "lambda", "batch", "eks")
REPO_KEYS = [key(f"r{n}", a, r) for n, (a, r) in enumerate([(A, US), (A, EU), (B, US), (B, EU)])]


Consumer = tuple[str, str, str, RepositoryKey, str]  # kind, account, region, repository, tag


@st.composite
def orgs(draw: st.DrawFn) -> tuple[list[Repository], list[Consumer]]:
    """Repositories (random pull principals) and consumers (kind, account, region, the
    repository and tag they use)."""
    repos = []
    for repo_key in REPO_KEYS:
        tags = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4))
        principals = draw(st.sets(st.sampled_from([A, B, C, "*"]), max_size=2))
        images = tuple(image(f"{repo_key}{t}", t) for t in tags)
        repos.append(Repository(repo_key, images, pull_access=access(tuple(sorted(principals)))))
    consumers = draw(
        st.lists(
            st.tuples(
                st.sampled_from(KINDS),
                st.sampled_from(ACCOUNTS),
                st.sampled_from([US, EU]),
                st.sampled_from(REPO_KEYS),
                st.sampled_from(["a", "b", "c", "d"]),
            ),
            max_size=8,
        )
    )
    return repos, consumers


def could_pull(consumer_account: str, repo: Repository) -> bool:
    """What the census rule promises an unread consumer: its own account's repositories, and
    those whose policy lets its account (or anyone) pull."""
    return repo.key.account_id == consumer_account or bool(
        {consumer_account, "*"} & set(repo.pull_access.principals)
    )


@settings(max_examples=300, deadline=None)
@given(
    org=orgs(),
    unread=st.sets(st.sampled_from(KINDS)),
    accepted=st.sets(st.sampled_from([*KINDS, *(f"{k}@{a}" for k in KINDS for a in ACCOUNTS)])),
)
def test_nothing_an_unread_consumer_could_pull_is_deleted_in_any_account(
    org: tuple[list[Repository], list[Consumer]],
    unread: set[str],
    accepted: set[str],
) -> None:
    repos, consumers = org
    usage = []
    for account in ACCOUNTS:
        for region in (US, EU):
            here = [c for c in consumers if (c[1], c[2]) == (account, region)]
            census = tuple(
                entry(kind, account, region, read=kind not in unread)
                for kind in sorted({c[0] for c in here})
            )
            # A read consumer's usage is read; an accepted unread one is listed by the user
            # (--external-images); an unread, unaccepted one is known only by its census.
            seen = tuple(
                use(uri(repo_key, f":{tag}"), f"{kind} {account}/{region}")
                for kind, _, _, repo_key, tag in here
                if kind not in unread or kind in accepted or f"{kind}@{account}" in accepted
            )
            usage.append(scan(account, region, *census, usages=seen))
    plan = plan_of(usage, replace(NO_RETENTION, accepted_unread=tuple(sorted(accepted))), repos)

    deleted = {(d.repository, d.digest) for d in plan.deletions}
    pending = [
        (kind, account)
        for kind, account, _, _, _ in consumers
        if kind in unread and kind not in accepted and f"{kind}@{account}" not in accepted
    ]
    assert plan.blocked is bool(pending)
    by_key = {r.key: r for r in repos}
    for _, account in pending:
        for repo in repos:
            if could_pull(account, repo):
                assert not any(d[0] == repo.key for d in deleted), (account, repo.key)
                # Held by the census itself, not only by the block (or by another hold).
                for decision in plan.kept:
                    if decision.repository == repo.key:
                        assert decision.reason != CENSUS_BLOCKED
    for kind, account, _, repo_key, tag in consumers:  # whatever is seen is never deleted
        if kind not in unread or kind in accepted or f"{kind}@{account}" in accepted:
            for img in by_key[repo_key].images:
                if tag in img.tags:
                    assert (repo_key, img.digest) not in deleted
