"""The whole sweeper, end to end, against the awsim emulator over HTTP.

Each test builds an organization with `awsim.Scenario` (or `generate_org_with_truth`), runs the
real pipeline (`make_plan`, `apply_plan`) with assumed roles into every account, and checks the
exact outcome as (account, region, repository, digest) sets, then what is left in the emulator.

The policy is `keep_last=0, min_age_days=0`: only "in use" keeps an image, so every expected
set below is exactly "used" versus "not used".

Usage sources: the default `Sources()` also reads EventBridge rules, EventBridge Scheduler and
Lambda, which the emulator does not implement, so every sweep here turns those off. ECS service
revisions (ListServiceDeployments + DescribeServiceRevisions, with the digests each deployment
resolved when it started) are emulated: the revision test and the generated-org test read them
(`WITH_REVISIONS`); the other tests leave them off (`SOURCES`) so that each shows one mechanism.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Protocol

import pytest

import sweep
from awsim import (
    UTC,
    Account,
    Cluster,
    Container,
    ContainerDefinition,
    Deployment,
    Emulator,
    Faults,
    Image,
    Platform,
    Quotas,
    Region,
    Repository,
    Scenario,
    Service,
    Task,
    TaskDefinition,
    TaskSet,
    emulated,
    generate_org_with_truth,
    image_uri,
    run_emulator,
)
from ecr_sweeper import wording
from ecr_sweeper.aws.limits import Limits
from ecr_sweeper.events import Event, Note, Progress
from ecr_sweeper.model import AccountId, AccountTarget, Decision, Plan, Sources
from ecr_sweeper.model import Region as RegionName
from ecr_sweeper.results import ApplyResult
from ecr_sweeper.retry import RetryPolicy

A, B = "111111111111", "222222222222"
US, EU = "us-east-1", "eu-west-1"
NOW = datetime(2025, 6, 1, tzinfo=UTC)
# The emulator serves no EventBridge, Scheduler or Lambda: those sources stay off (see above).
SOURCES = emulated(Sources(service_revisions=False))
WITH_REVISIONS = emulated(Sources(service_revisions=True))
# Token buckets need real waiting between attempts (instant retries would just empty them):
# its test asks for `real_retry_waits`.
PATIENT = RetryPolicy(attempts=40, base_seconds=0.01, max_seconds=0.25)
NO_FAULTS = Faults()
UNLIMITED = Quotas.unlimited()

Key = tuple[str, str, str, str]  # (account, region, repository, digest)


# --------------------------------------------------------------------------- helpers


class StartEmulator(Protocol):
    def __call__(
        self, scenario: Scenario, *, faults: Faults = ..., quotas: Quotas = ...
    ) -> AbstractContextManager[Emulator]: ...


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> StartEmulator:
    """`with emulator(scenario, ...) as emu:` runs the emulator (no quotas unless given) with
    the AWS environment pointed at it, and nowhere else."""

    @contextmanager
    def start(
        scenario: Scenario, *, faults: Faults = NO_FAULTS, quotas: Quotas = UNLIMITED
    ) -> Iterator[Emulator]:
        with run_emulator(scenario, faults=faults, quotas=quotas) as emu:
            for name in list(os.environ):
                if name.startswith("AWS_"):
                    monkeypatch.delenv(name)
            for name, value in emu.env().items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
            monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
            monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
            yield emu

    return start


def target(account: str, *regions: str) -> AccountTarget:
    return AccountTarget(
        account_id=AccountId(account),
        regions=tuple(RegionName(r) for r in regions or (US,)),
        role_arn=f"arn:aws:iam::{account}:role/EcrSweeper",
    )


def plan(
    targets: Iterable[AccountTarget],
    *,
    sources: Sources = SOURCES,
    retry: RetryPolicy | None = None,
    limits: Limits | None = None,
) -> Plan:
    """sweep.plan at this file's clock, with its sources."""
    return sweep.plan(targets, sources=sources, now=NOW, retry=retry, limits=limits)


def apply(reviewed: Plan, progress: Progress = lambda _: None) -> ApplyResult:
    """sweep.apply at this file's clock."""
    return sweep.apply(reviewed, now=NOW, progress=progress)


def keys(decisions: Iterable[Decision]) -> set[Key]:
    return {
        (d.repository.account_id, d.repository.region, d.repository.name, d.digest)
        for d in decisions
    }


def stored(account: str, region: str, repo: Repository) -> set[Key]:
    """Every manifest the scenario stores in `repo` (index children included)."""
    return {(account, region, repo.name, i.digest) for i in repo.all_images()}


def uri(account: str, region: str, repo: str, tag: str | None = None, digest: str = "") -> str:
    return image_uri(account, region, repo, tag=tag, digest=digest or None)


def service_using(
    name: str, family: str, image: str, digest: str | None
) -> tuple[Service, TaskDefinition, Task]:
    """A one-container service with one running task (that resolved `digest`)."""
    td = TaskDefinition(family, 1, (ContainerDefinition("app", image),))
    task = Task(f"{family}:1", (Container("app", image, digest),), service=name)
    return Service(name, task_definition=f"{family}:1"), td, task


def one_region(
    *repositories: Repository, clusters: Iterable[Cluster] = (), tds: Iterable[TaskDefinition] = ()
) -> Scenario:
    region = Region(US, tuple(clusters), tuple(tds), repositories)
    return Scenario((Account(A, (region,)),))


# --------------------------------------------------------------------------- paging and batches


def test_paging_at_every_level_keeps_every_used_image_and_deletes_the_rest(
    emulator: StartEmulator,
) -> None:
    # One cluster with 250 services (and 250 tasks), one repository with 2,500 images,
    # 29 more clusters with one service each, and enough repositories to page
    # DescribeRepositories: every list the sweeper reads is longer than its page.
    big = Repository("big", tuple(Image(tags=(f"b{i}",), key=f"big{i}") for i in range(2500)))
    services, tds, tasks = [], [], []
    used: set[Key] = set()
    for i in range(250):
        image = big.images[i * 10]
        svc, td, task = service_using(
            f"s{i:03d}", f"svc{i:03d}", uri(A, US, "big", f"b{i * 10}"), image.digest
        )
        services.append(svc)
        tds.append(td)
        tasks.append(task)
        used.add((A, US, "big", image.digest))
    clusters = [Cluster("big", tuple(services), tuple(tasks))]
    smalls = []
    for j in range(29):
        repo = Repository(
            f"small/{j:02d}",
            (Image(tags=("used",), key=f"s{j}u"), Image(tags=("old",), key=f"s{j}o")),
        )
        smalls.append(repo)
        svc, td, task = service_using(
            "only", f"small{j:02d}", uri(A, US, repo.name, "used"), repo.images[0].digest
        )
        clusters.append(Cluster(f"c{j:02d}", (svc,), (task,)))
        tds.append(td)
        used.add((A, US, repo.name, repo.images[0].digest))
    unused = [Repository(f"unused/{k:03d}", (Image(tags=("x",), key=f"u{k}"),)) for k in range(80)]
    repositories = (big, *smalls, *unused)
    everything = set().union(*(stored(A, US, r) for r in repositories))
    scenario = one_region(*repositories, clusters=clusters, tds=tds)

    with emulator(scenario) as emu:
        reviewed = plan([target(A)])
        assert reviewed.errors == ()
        assert keys(reviewed.kept) == used
        assert keys(reviewed.deletions) == everything - used
        assert len(reviewed.deletions) == 2250 + 29 + 80

        # Each list was read past its first page (the emulator's maximum page sizes).
        assert emu.call_count(operation="ListServices") >= math.ceil(250 / 100) + 29
        assert emu.call_count(operation="DescribeImages") >= math.ceil(2500 / 1000) + 29 + 80
        assert emu.call_count(operation="DescribeRepositories") >= 1  # 110 repos: page is 100
        assert emu.call_count(operation="ListTasks") >= math.ceil(250 / 100)
        # Batches at the documented maxima (the emulator rejects longer ones).
        assert emu.max_items("DescribeServices", "services") == 10
        assert emu.max_items("DescribeTasks", "tasks") == 100

        result = apply(reviewed)
        assert result.skipped == []
        assert keys(result.outcome.deleted) == everything - used
        assert result.complete
        assert emu.max_items("BatchDeleteImage", "imageIds") == 100
        assert emu.call_count(operation="BatchDeleteImage") == math.ceil(2250 / 100) + 29 + 80
        left = {(A, US, r.name, d) for r in repositories for d in emu.image_digests(A, US, r.name)}
        assert left == used


def test_describe_repositories_pages_past_100(
    emulator: StartEmulator,
) -> None:
    repositories = [Repository(f"r{k:03d}", (Image(tags=("t",), key=f"r{k}"),)) for k in range(230)]
    with emulator(one_region(*repositories)) as emu:
        reviewed = plan([target(A)])
        assert reviewed.errors == ()
        assert keys(reviewed.deletions) == set().union(*(stored(A, US, r) for r in repositories))
        # Default page 100, maximum 1000: at least one call, all 230 repositories read.
        assert emu.call_count(operation="DescribeRepositories") >= 1
        assert emu.call_count(operation="DescribeImages") == 230


# --------------------------------------------------------------------------- what "in use" means


def test_rolling_deployment_keeps_the_images_of_both_deployments(
    emulator: StartEmulator,
) -> None:
    # Different families, so neither the rollback window nor a running task explains the keep:
    # only reading every deployment does. Only the PRIMARY deployment's task is running.
    repo = Repository(
        "web",
        (
            Image(tags=("blue",), key="blue"),
            Image(tags=("green",), key="green"),
            Image(tags=("stale",), key="stale"),
        ),
    )
    blue, green, stale = repo.images
    tds = (
        TaskDefinition("web-blue", 1, (ContainerDefinition("web", uri(A, US, "web", "blue")),)),
        TaskDefinition("web-green", 1, (ContainerDefinition("web", uri(A, US, "web", "green")),)),
    )
    svc = Service(
        "web",
        deployments=(
            Deployment("web-green:1", "PRIMARY", rollout_state="IN_PROGRESS"),
            Deployment("web-blue:1", "ACTIVE"),
        ),
    )
    task = Task(
        "web-green:1", (Container("web", uri(A, US, "web", "green"), green.digest),), service="web"
    )
    scenario = one_region(repo, clusters=[Cluster("prod", (svc,), (task,))], tds=tds)
    with emulator(scenario) as emu:
        reviewed = plan([target(A)])
        assert reviewed.errors == ()
        assert keys(reviewed.kept) == {(A, US, "web", blue.digest), (A, US, "web", green.digest)}
        assert keys(reviewed.deletions) == {(A, US, "web", stale.digest)}
        assert apply(reviewed).complete
        assert emu.image_digests(A, US, "web") == {blue.digest, green.digest}


def test_task_sets_of_an_external_controller_keep_their_images(
    emulator: StartEmulator,
) -> None:
    repo = Repository(
        "api",
        tuple(Image(tags=(t,), key=t) for t in ("primary", "active", "draining", "unused")),
    )
    tds = tuple(
        TaskDefinition(f"api-{t}", 1, (ContainerDefinition("api", uri(A, US, "api", t)),))
        for t in ("primary", "active", "draining")
    )
    svc = Service(
        "api",
        controller="EXTERNAL",
        task_sets=(
            TaskSet("api-primary:1", status="PRIMARY", external_id="a"),
            TaskSet("api-active:1", status="ACTIVE", external_id="b"),
            TaskSet("api-draining:1", status="DRAINING", external_id="c"),
        ),
    )
    scenario = one_region(repo, clusters=[Cluster("prod", (svc,))], tds=tds)
    digest = {i.tags[0]: i.digest for i in repo.images}
    with emulator(scenario):
        reviewed = plan([target(A)])
        assert reviewed.errors == ()
        assert keys(reviewed.kept) == {
            (A, US, "api", digest[t]) for t in ("primary", "active", "draining")
        }
        assert keys(reviewed.deletions) == {(A, US, "api", digest["unused"])}


def test_every_container_of_a_task_keeps_the_digest_it_runs_after_its_tag_moved(
    emulator: StartEmulator,
) -> None:
    # Three containers from three repositories; each tag moved on to a new build after the
    # task started, so the task runs the old digest while the tag points at the new one.
    names = ("app", "envoy", "log-router")
    repos = {
        n: Repository(
            f"team/{n}",
            (
                Image(tags=("build-1",), key=f"{n}-old"),
                Image(tags=("live",), key=f"{n}-new"),
                Image(tags=("build-0",), key=f"{n}-older"),
            ),
        )
        for n in names
    }
    td = TaskDefinition(
        "app", 1, tuple(ContainerDefinition(n, uri(A, US, f"team/{n}", "live")) for n in names)
    )
    task = Task(
        "app:1",
        tuple(
            Container(n, uri(A, US, f"team/{n}", "live"), repos[n].images[0].digest) for n in names
        ),
        service="app",
    )
    svc = Service("app", task_definition="app:1")
    scenario = one_region(*repos.values(), clusters=[Cluster("prod", (svc,), (task,))], tds=(td,))
    with emulator(scenario) as emu:
        reviewed = plan([target(A)])
        assert reviewed.errors == ()
        kept = {(A, US, r.name, i.digest) for r in repos.values() for i in r.images[:2]}
        assert keys(reviewed.kept) == kept
        assert keys(reviewed.deletions) == {
            (A, US, r.name, r.images[2].digest) for r in repos.values()
        }
        running = {str(d.digest): wording.reason(d.reason) for d in reviewed.kept}
        for repo in repos.values():
            assert running[repo.images[0].digest].startswith("in use: digest running in task")
        assert apply(reviewed).complete
        for n, repo in repos.items():
            assert emu.image_digests(A, US, f"team/{n}") == {i.digest for i in repo.images[:2]}


def test_image_index_children_are_kept_with_a_kept_index_and_deleted_with_a_deleted_one(
    emulator: StartEmulator,
) -> None:
    arches = (Platform("amd64"), Platform("arm64", variant="v8"))
    used_index = Image(tags=("v2",), platforms=arches, key="v2")
    old_index = Image(tags=("v1",), platforms=arches, fmt="oci", key="v1")
    # An index whose task resolved a platform child: the child is in use, the index is not.
    child_run = Image(tags=("v0",), platforms=arches, key="v0")
    plain = Image(tags=("plain",), key="plain")
    repo = Repository("multi", (used_index, old_index, child_run, plain))
    image = uri(A, US, "multi", "v2")
    pinned_child = uri(A, US, "multi", digest=child_run.children[0].digest)
    td = TaskDefinition(
        "multi", 1, (ContainerDefinition("a", image), ContainerDefinition("b", pinned_child))
    )
    task = Task(
        "multi:1",
        (
            Container("a", image, used_index.digest),
            Container("b", pinned_child, child_run.children[0].digest),
        ),
        service="multi",
    )
    scenario = one_region(
        repo,
        clusters=[Cluster("prod", (Service("multi", task_definition="multi:1"),), (task,))],
        tds=(td,),
    )
    kept = {
        used_index.digest,
        *(c.digest for c in used_index.children),
        child_run.children[0].digest,
    }
    everything = {i.digest for i in repo.all_images()}
    with emulator(scenario) as emu:
        reviewed = plan([target(A)])
        assert reviewed.errors == ()
        assert {k[3] for k in keys(reviewed.kept)} == kept
        assert {k[3] for k in keys(reviewed.deletions)} == everything - kept
        result = apply(reviewed)
        # Indexes go before the manifests they list: AWS never refuses a child here.
        assert result.outcome.still_referenced == []
        assert result.outcome.failed == []
        assert result.complete
        assert emu.image_digests(A, US, "multi") == kept


def test_service_revisions_keep_the_digest_resolved_at_deployment(
    emulator: StartEmulator,
) -> None:
    # The deployment resolved `live` to the old build; then `live` moved on. No task runs
    # right now (scaled in, or being replaced), so only the service revision knows the digest
    # the next task of this deployment will launch with.
    repo = Repository("app", (Image(tags=("live",), key="old"), Image(tags=("next",), key="new")))
    old, new = repo.images
    td = TaskDefinition("app", 1, (ContainerDefinition("app", uri(A, US, "app", "live")),))
    svc = Service("app", deployments=(Deployment("app:1", desired_count=0, running_count=0),))
    scenario = one_region(repo, clusters=[Cluster("prod", (svc,))], tds=(td,))
    with emulator(scenario) as emu:
        emu.move_tag(A, US, "app", "live", new.digest)

        without = plan([target(A)])
        assert keys(without.deletions) == {(A, US, "app", old.digest)}

        reviewed = plan([target(A)], sources=WITH_REVISIONS)
        assert reviewed.errors == ()
        assert reviewed.deletions == ()
        assert keys(reviewed.kept) == {(A, US, "app", old.digest), (A, US, "app", new.digest)}
        assert emu.call_count(operation="DescribeServiceRevisions") == 1


# --------------------------------------------------------------------------- failures


def _throttle_org() -> Scenario:
    scenario, _ = generate_org_with_truth(
        accounts=3, regions=1, services_per_region=12, images_total=600, seed=7
    )
    return scenario


@pytest.mark.usefixtures("real_retry_waits")
def test_a_throttling_storm_gives_the_same_complete_plan(
    emulator: StartEmulator,
) -> None:
    scenario = _throttle_org()
    targets = [target(a.id, US) for a in scenario.accounts]
    with emulator(scenario) as emu:
        calm = plan(targets)
        calm_calls = emu.call_count()
    assert calm.errors == ()
    assert calm.deletions

    storm = Faults(throttle_rate=0.3, seed=3)
    low = Quotas.uniform(rate=200.0, burst=5.0)
    with emulator(scenario, faults=storm, quotas=low) as emu:
        stormy = plan(targets, retry=PATIENT)
        assert emu.throttled_count() > 0.2 * calm_calls  # it really stormed
    assert stormy.errors == ()
    assert stormy.deletions == calm.deletions
    assert stormy.kept == calm.kept


def test_one_repository_at_a_time_gives_the_same_plan(emulator: StartEmulator) -> None:
    """The inventory's memory bound (repositories read at once, run-wide) changes nothing but
    how many are in flight: every repository is judged, exactly once."""
    scenario = _throttle_org()
    targets = [target(a.id, US) for a in scenario.accounts]
    with emulator(scenario):
        wide = plan(targets)
        narrow = plan(targets, limits=Limits(repositories_at_once=1, calls_per_region=2))
    assert wide.errors == ()
    assert wide.deletions
    assert narrow.deletions == wide.deletions
    assert narrow.kept == wide.kept


@pytest.mark.parametrize(
    "how",
    ["assume_role_denied", "faults_denied_account", "faults_denied_region"],
)
def test_an_account_that_denies_access_blocks_every_deletion(
    emulator: StartEmulator, how: str
) -> None:
    repo = Repository("app", (Image(tags=("old",), key="old"),))
    region = Region(US, repositories=(repo,))
    other = Region(EU, repositories=(repo,))
    scenario = Scenario(
        (
            Account(A, (region,)),
            Account(B, (region, other), assume_role_denied=how == "assume_role_denied"),
        )
    )
    faults = {
        "assume_role_denied": Faults(),
        "faults_denied_account": Faults(denied_accounts=frozenset({B})),
        "faults_denied_region": Faults(denied_account_regions=frozenset({(B, EU)})),
    }[how]
    with emulator(scenario, faults=faults) as emu:
        reviewed = plan([target(A), target(B, US, EU)])
        assert reviewed.blocked
        assert reviewed.deletions == ()
        usage_errors = [e for e in reviewed.errors if e.scope == "usage"]
        assert usage_errors
        assert {e.account_id for e in usage_errors} == {B}
        assert all(B in f"{e.subject} {e.message}" for e in usage_errors)
        if how == "faults_denied_region":
            assert {e.region for e in usage_errors} == {EU}
        # Apply re-checks: still blocked, nothing deleted.
        result = apply(reviewed)
        assert result.outcome.deleted == []
        assert emu.deleted() == []


@pytest.mark.parametrize("operation", ["DescribeRepositories", "DescribeImages"])
def test_an_inventory_failure_in_one_region_only_holds_that_region(
    emulator: StartEmulator, operation: str
) -> None:
    repo = Repository("app", (Image(tags=("used",), key="u"), Image(tags=("old",), key="o")))
    used, old = repo.images
    svc, td, task = service_using("app", "app", uri(A, US, "app", "used"), used.digest)
    us = Region(US, (Cluster("prod", (svc,), (task,)),), (td,), (repo,))
    eu = Region(EU, repositories=(repo,))
    scenario = Scenario((Account(A, (us, eu)),))
    broken = Faults(error_5xx_rate=1.0, operations=frozenset({operation}), regions=frozenset({EU}))
    with emulator(scenario, faults=broken) as emu:
        reviewed = plan([target(A, US, EU)])
        assert not reviewed.blocked
        assert keys(reviewed.deletions) == {(A, US, "app", old.digest)}
        assert {(e.scope, e.region) for e in reviewed.errors} == {("inventory", EU)}
        assert apply(reviewed).complete
        assert emu.deleted() == [(A, US, "app", old.digest)]
        assert emu.image_digests(A, EU, "app") == {used.digest, old.digest}


# --------------------------------------------------------------------------- plan, then apply


def _tagged(*tags: str) -> Repository:
    return Repository("app", tuple(Image(tags=(t,), key=t) for t in tags))


def test_a_tag_moved_between_plan_and_apply_onto_a_planned_deletion_saves_it(
    emulator: StartEmulator,
) -> None:
    repo = _tagged("prod", "v2", "v3")
    prod, v2, v3 = repo.images
    svc, td, _ = service_using("app", "app", uri(A, US, "app", "prod"), None)
    scenario = one_region(repo, clusters=[Cluster("prod", (svc,))], tds=(td,))
    with emulator(scenario) as emu:
        reviewed = plan([target(A)])
        assert keys(reviewed.deletions) == {(A, US, "app", v2.digest), (A, US, "app", v3.digest)}
        emu.move_tag(A, US, "app", "prod", v2.digest)  # a deploy: prod now means v2

        result = apply(reviewed)
        assert keys(result.outcome.deleted) == {(A, US, "app", v3.digest)}
        skipped = {str(d.digest): why for d, why in result.skipped}
        assert set(skipped) == {v2.digest}
        assert skipped[v2.digest].startswith("not deleted: now in use: tag 'prod'")
        # The old prod image is untagged and unused now, but was never reviewed for deletion.
        assert emu.image_digests(A, US, "app") == {prod.digest, v2.digest}


def test_a_repository_deleted_before_apply_is_already_gone(
    emulator: StartEmulator,
) -> None:
    one, two = _tagged("a", "b"), Repository("gone", (Image(tags=("c",), key="c"),))
    with emulator(one_region(one, two)) as emu:
        reviewed = plan([target(A)])
        assert len(reviewed.deletions) == 3
        emu.delete_repository(A, US, "gone")
        result = apply(reviewed)
        assert keys(result.outcome.deleted) == stored(A, US, one)
        # The re-check read the region cleanly and the repository is not there: its images
        # are already gone (what apply was to do is done), not "skipped".
        assert keys(result.outcome.already_gone) == stored(A, US, two)
        assert result.skipped == []
        assert result.complete


def test_a_repository_deleted_during_apply_fails_those_images_only(
    emulator: StartEmulator,
) -> None:
    one, two = _tagged("a", "b"), Repository("gone", (Image(tags=("c",), key="c"),))
    with emulator(one_region(one, two)) as emu:
        reviewed = plan([target(A)])

        def delete_after_rescan(event: Event) -> None:
            # The re-check has read the inventory; delete the repository before the deletions.
            read = isinstance(event, Note) and event.text.startswith(f"inventory {A}/{US}")
            if read and "gone" in emu.repositories(A, US):
                emu.delete_repository(A, US, "gone")

        result = apply(reviewed, delete_after_rescan)
        assert keys(result.outcome.deleted) == stored(A, US, one)
        # Gone with its repository: already gone, or failed naming why; never "deleted".
        gone = keys(result.outcome.already_gone) | keys(d for d, _ in result.outcome.failed)
        assert gone == stored(A, US, two)
        assert all("RepositoryNotFoundException" in why for _, why in result.outcome.failed)
        assert emu.image_digests(A, US, "app") == set()


# --------------------------------------------------------------------------- a whole org


def test_a_generated_org_keeps_everything_in_use_and_converges(
    emulator: StartEmulator,
) -> None:
    scenario, truth = generate_org_with_truth(
        accounts=4, regions=2, services_per_region=20, images_total=3000, seed=1
    )
    regions = sorted({r.name for a in scenario.accounts for r in a.regions})
    targets = [target(a.id, *regions) for a in scenario.accounts]
    with emulator(scenario) as emu:
        reviewed = plan(targets, sources=WITH_REVISIONS)
        assert reviewed.errors == ()
        assert emu.call_count(operation="DescribeServiceRevisions") > 0
        assert not keys(reviewed.deletions) & truth.in_use
        assert truth.in_use <= keys(reviewed.kept)
        assert len(reviewed.deletions) > truth.images // 2

        result = apply(reviewed)
        assert result.complete
        assert result.skipped == []
        assert keys(result.outcome.deleted) == keys(reviewed.deletions)
        assert not set(emu.deleted()) & truth.in_use
        for account, region, repo, digest in truth.in_use:
            assert digest in emu.image_digests(account, region, repo)

        again = plan(targets, sources=WITH_REVISIONS)
        assert again.errors == ()
        assert again.deletions == ()


def test_apply_deletes_in_every_region_at_once_whatever_the_memory_budget(
    emulator: StartEmulator,
) -> None:
    """Two regions of 600 unused images each (six batches each), with an inventory budget of
    a hundred images: apply deletes in both regions at once (their deletions interleave), not
    one region after the other as the plan lists them, and deletes each image once."""
    images = tuple(Image(tags=(f"t{n}",), key=f"old-{n}") for n in range(600))
    scenario = Scenario(
        accounts=(
            Account(
                "111111111111",
                regions=tuple(
                    Region(r, repositories=(Repository("app", images=images),)) for r in (EU, US)
                ),
            ),
        )
    )
    small = Limits(images_in_memory=100)
    with emulator(scenario, faults=Faults(latency_s=0.02)) as emu:
        reviewed = plan([target("111111111111", EU, US)], limits=small)
        result = sweep.apply(reviewed, now=NOW, limits=small)
        order = [region for _, region, _, _ in emu.deleted()]
    assert len(reviewed.deletions) == 1200
    assert len(result.outcome.deleted) == 1200
    assert sorted(order) == [EU] * 600 + [US] * 600
    # Interleaved: the first region in the plan (eu-west-1) is not done before the other starts.
    assert order.index(US) < len(order) - 1 - order[::-1].index(EU)
