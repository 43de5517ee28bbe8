"""EKS clusters read through their Kubernetes API, on the emulator: EKS ListClusters and
DescribeCluster point at the emulator's fake API server (tests/awsim/kube.py), which checks the
presigned STS token, pages with `continue`, expires tokens (410), forbids namespaces (403).

Each trap of issue 12 is one test here; the plan tests run the whole pipeline (usage, census,
inventory, plan) and look at what is kept and why."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

import sweep
from awsim import Account, Emulator, Image, Quotas, Region, Repository, Scenario, run_emulator
from awsim import kube_objects as k
from awsim.arns import image_uri
from awsim.kube import KubeCluster
from conftest import use_only
from ecr_sweeper import wording
from ecr_sweeper.cli import EXIT_BLOCKED, plan_exit_code
from ecr_sweeper.kube.client import KubeLimits
from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    CensusEntry,
    Plan,
    Sources,
    UsageScan,
)
from ecr_sweeper.model import Region as RegionName
from ecr_sweeper.retry import RetryPolicy
from planning import NOW

APP, REGISTRY, OTHER = "222222222222", "111111111111", "333333333333"
EU = "eu-west-1"
ROLE = "EcrSweeper"
OLD = NOW - timedelta(days=90)
# Only the EKS source: the ECS ones find nothing on these scenarios anyway.
EKS_ONLY = Sources(off=frozenset({"lambda", "schedules"}), service_revisions=False)


def role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{ROLE}"


def target(account: str) -> AccountTarget:
    return AccountTarget(AccountId(account), (RegionName(EU),), role_arn=role_arn(account))


def cluster(name: str = "prod-eks", *objects: dict[str, Any], **kw: Any) -> KubeCluster:
    """A cluster whose access entry lets the plan role of APP read it."""
    found = KubeCluster(name, principals={role_arn(APP)}, **kw)
    found.add(*objects)
    return found


def image(tag: str, key: str | None = None) -> Image:
    return Image(tags=(tag,) if tag else (), key=key or tag, pushed_at=OLD)


def uri(
    repo: str, tag: str | None = None, digest: str | None = None, account: str = REGISTRY
) -> str:
    return image_uri(account, EU, repo, tag=tag, digest=digest)


def org(*repos: Repository, other: tuple[Repository, ...] = ()) -> Scenario:
    """The registry account holds `repos`; APP runs the clusters; OTHER holds `other`."""
    return Scenario(
        (
            Account(REGISTRY, regions=(Region(EU, repositories=repos),)),
            Account(APP, regions=(Region(EU),)),
            Account(OTHER, regions=(Region(EU, repositories=other),)),
        )
    )


def plan_with(emu: Emulator, clusters: list[KubeCluster], monkeypatch: pytest.MonkeyPatch) -> Plan:
    for c in clusters:
        emu.add_eks_cluster(APP, EU, c)
    use_only(monkeypatch, emu.env(EU))
    return sweep.plan([target(REGISTRY), target(APP), target(OTHER)], sources=EKS_ONLY, now=NOW)


def usage_of(
    emu: Emulator,
    clusters: list[KubeCluster],
    monkeypatch: pytest.MonkeyPatch,
    sources: Sources = EKS_ONLY,
) -> UsageScan:
    """The usage scan of APP/EU alone."""
    for c in clusters:
        emu.add_eks_cluster(APP, EU, c)
    use_only(monkeypatch, emu.env(EU))
    return sweep.usage([target(APP)], sources=sources, now=NOW)[0]


def eks_census(scan: UsageScan) -> CensusEntry:
    (entry,) = [e for e in scan.census if e.kind == "eks"]
    return entry


def kept(plan: Plan) -> dict[str, str]:
    """tag (or digest when untagged) → reason, of every kept image."""
    return {(d.tags[0] if d.tags else d.digest): wording.reason(d.reason) for d in plan.kept}


def deleted(plan: Plan) -> set[str]:
    return {(d.tags[0] if d.tags else d.digest) for d in plan.deletions}


# --------------------------------------------------------------------------- traps


def test_deployment_mid_rollout_keeps_both_replica_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repository("payments/api", (image("v1"), image("v2"), image("v0")))
    old = k.replica_set(
        "payments", "api", [("api", uri("payments/api", "v1"))], revision=1, replicas=1
    )
    new = k.replica_set(
        "payments", "api", [("api", uri("payments/api", "v2"))], revision=2, replicas=2
    )
    rollout = k.deployment("payments", "api", [("api", uri("payments/api", "v2"))], revision=2)
    with run_emulator(org(repo), quotas=Quotas.unlimited()) as emu:
        plan = plan_with(emu, [cluster("prod-eks", rollout, old, new)], monkeypatch)
    assert plan.errors == ()
    reasons = kept(plan)
    assert set(reasons) == {"v1", "v2"}
    assert deleted(plan) == {"v0"}
    old_name = old["metadata"]["name"]
    assert reasons["v1"] == (
        f"in use: tag 'v1' used by replicaset payments/{old_name} container api "
        f"(cluster prod-eks, {APP}/{EU})"
    )


def test_replica_set_scaled_to_zero_in_history_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repository("payments/api", (image("v1"), image("v2"), image("unused")))
    history = k.replica_set(
        "payments", "api", [("api", uri("payments/api", "v1"))], revision=1, replicas=0
    )
    current = k.replica_set(
        "payments", "api", [("api", uri("payments/api", "v2"))], revision=2, replicas=2
    )
    deployment = k.deployment("payments", "api", [("api", uri("payments/api", "v2"))], revision=2)
    with run_emulator(org(repo), quotas=Quotas.unlimited()) as emu:
        plan = plan_with(emu, [cluster("prod-eks", deployment, history, current)], monkeypatch)
    assert history["spec"]["replicas"] == 0
    assert set(kept(plan)) == {"v1", "v2"}
    assert "replicaset payments/api-" in kept(plan)["v1"]
    assert deleted(plan) == {"unused"}


def test_cron_job_that_has_not_fired_keeps_its_image(monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repository("reports/monthly", (image("2026.11"), image("2026.10")))
    cron = k.cron_job(
        "reports", "monthly", [("report", uri("reports/monthly", "2026.11"))], "0 3 1 * *"
    )
    with run_emulator(org(repo), quotas=Quotas.unlimited()) as emu:
        plan = plan_with(emu, [cluster("prod-eks", cron)], monkeypatch)
    assert "lastScheduleTime" not in cron["status"]
    assert kept(plan)["2026.11"].startswith("in use: tag '2026.11' used by cronjob reports/monthly")
    assert deleted(plan) == {"2026.10"}


def test_init_container_from_another_accounts_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Repository("payments/api", (image("v1"),))
    migrations = Repository("platform/migrate", (image("m7"), image("m6")))
    running = k.pod(
        "payments",
        "api-7c9d4-x2x7q",
        [("api", uri("payments/api", "v1"))],
        init=[("migrate", uri("platform/migrate", "m7", account=OTHER))],
    )
    with run_emulator(org(app, other=(migrations,)), quotas=Quotas.unlimited()) as emu:
        plan = plan_with(emu, [cluster("prod-eks", running)], monkeypatch)
    by_repo = {(str(d.repository.account_id), d.tags): wording.reason(d.reason) for d in plan.kept}
    assert by_repo[(OTHER, ("m7",))] == (
        "in use: tag 'm7' used by pod payments/api-7c9d4-x2x7q init container migrate "
        f"(cluster prod-eks, {APP}/{EU})"
    )
    assert {(d.repository.account_id, d.tags) for d in plan.deletions} == {(OTHER, ("m6",))}


def test_pod_whose_tag_moved_keeps_the_digest_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = image("", key="ran")  # v1 pointed here when the pod started
    now = image("v1", key="moved")  # v1 points here now
    repo = Repository("payments/api", (ran, now, image("stale")))
    spec_image = uri("payments/api", "v1")
    running = k.pod(
        "payments",
        "api-7c9d4-x2x7q",
        [("api", spec_image)],
        image_ids={"api": f"{uri('payments/api', digest=ran.digest).split('@')[0]}@{ran.digest}"},
    )
    with run_emulator(org(repo), quotas=Quotas.unlimited()) as emu:
        plan = plan_with(emu, [cluster("prod-eks", running)], monkeypatch)
    reasons = kept(plan)
    assert reasons[ran.digest] == (
        "in use: digest running in pod payments/api-7c9d4-x2x7q container api "
        f"(cluster prod-eks, {APP}/{EU})"
    )
    assert "v1" in reasons
    assert deleted(plan) == {"stale"}


def test_pod_image_id_in_docker_pullable_form(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = image("", key="ran")
    repo = Repository("payments/api", (ran, image("v2", key="v2")))
    running = k.pod(
        "payments",
        "api-1",
        [("api", uri("payments/api", "v2"))],
        image_ids={"api": f"docker-pullable://{uri('payments/api', digest=ran.digest)}"},
    )
    with run_emulator(org(repo), quotas=Quotas.unlimited()) as emu:
        plan = plan_with(emu, [cluster("prod-eks", running)], monkeypatch)
    assert set(kept(plan)) == {ran.digest, "v2"}


def test_daemon_set_previous_controller_revision_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repository("platform/fluent-bit", (image("3.1"), image("3.2"), image("3.0")))
    current = k.daemon_set("kube-system", "fluent-bit", [("fb", uri("platform/fluent-bit", "3.2"))])
    revisions = [
        k.controller_revision(
            "kube-system", "DaemonSet", "fluent-bit", [("fb", uri("platform/fluent-bit", tag))], n
        )
        for n, tag in ((1, "3.1"), (2, "3.2"))
    ]
    with run_emulator(org(repo), quotas=Quotas.unlimited()) as emu:
        plan = plan_with(emu, [cluster("prod-eks", current, *revisions)], monkeypatch)
    reasons = kept(plan)
    assert set(reasons) == {"3.1", "3.2"}
    assert reasons["3.1"].startswith(
        "in use: tag '3.1' used by controllerrevision kube-system/fluent-bit-"
    )
    assert "of daemonset fluent-bit revision 1" in reasons["3.1"]
    assert deleted(plan) == {"3.0"}


def test_stateful_set_job_and_optional_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    tags = ("db", "job", "canary", "knative-tag", "knative-ran", "scaled", "unused")
    repo = Repository("apps/all", tuple(image(t) for t in tags))
    ran = next(i for i in repo.images if i.tags == ("knative-ran",))
    objects = [
        k.stateful_set("data", "db", [("db", uri("apps/all", "db"))]),
        k.job("batch", "once", [("job", uri("apps/all", "job"))]),
        k.rollout("web", "front", [("front", uri("apps/all", "canary"))]),
        k.knative_revision(
            "fn", "hello-00001", uri("apps/all", "knative-tag"), uri("apps/all", digest=ran.digest)
        ),
        k.scaled_job("queue", "worker", [("worker", uri("apps/all", "scaled"))]),
    ]
    with run_emulator(org(repo), quotas=Quotas.unlimited()) as emu:
        plan = plan_with(emu, [cluster("prod-eks", *objects)], monkeypatch)
    reasons = kept(plan)
    assert set(reasons) == set(tags) - {"unused"}
    assert "argo rollout web/front" in reasons["canary"]
    assert "knative revision fn/hello-00001" in reasons["knative-ran"]
    assert "keda scaledjob queue/worker" in reasons["scaled"]


# --------------------------------------------------------------------------- fail closed


def test_cluster_that_denies_access_is_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    readable = cluster("prod-eks", k.pod("payments", "api-1", [("api", uri("payments/api", "v1"))]))
    locked = KubeCluster("locked-eks", principals=set())  # no access entry for the plan role
    locked.add(k.pod("payments", "api-2", [("api", uri("payments/api", "v9"))]))
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [readable, locked], monkeypatch)
        assert locked.identities == []  # never let in
    entry = eks_census(scan)
    assert entry.present is True
    assert entry.read is False
    assert entry.unread
    assert "cluster locked-eks: GET /api/v1/pods: 401 Unauthorized" in entry.detail
    assert "EKS access entry with AmazonEKSViewPolicy" in entry.detail
    assert "prod-eks" not in entry.detail
    # the readable cluster was still read, and the run's usage did not fail
    assert scan.errors == ()
    assert {u.ref.tag for u in scan.usages} == {"v1"}


def test_cluster_that_denies_access_blocks_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repository("payments/api", (image("v9"),))
    locked = KubeCluster("locked-eks", principals=set())
    locked.add(k.pod("payments", "api-2", [("api", uri("payments/api", "v9"))]))
    with run_emulator(org(repo), quotas=Quotas.unlimited()) as emu:
        plan = plan_with(emu, [locked], monkeypatch)
    assert plan.deletions == ()
    assert plan_exit_code(plan) == EXIT_BLOCKED


def test_forbidden_namespace_makes_the_cluster_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    scoped = cluster(
        "prod-eks",
        k.pod("payments", "api-1", [("api", uri("payments/api", "v1"))]),
        forbidden_namespaces={"secret-team"},
    )
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [scoped], monkeypatch)
    entry = eks_census(scan)
    assert entry.unread
    assert "cluster prod-eks: GET /api/v1/pods: 403 Forbidden: pods is forbidden" in entry.detail
    assert "at the cluster scope" in entry.detail
    assert "cluster scope (docs/iam.md)" in entry.detail


def test_unreachable_private_endpoint_is_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    private = cluster("private-eks", endpoint="http://127.0.0.1:9/", private_only=True)
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [private], monkeypatch)
    entry = eks_census(scan)
    assert entry.unread
    assert "cluster private-eks: GET /api/v1/pods: cannot connect" in entry.detail
    assert "endpoint is private-only: run the plan inside the cluster's VPC" in entry.detail


def test_api_group_that_errors_is_unread_after_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    failing = cluster(
        "prod-eks",
        k.rollout("web", "front", [("front", uri("apps/all", "canary"))]),
        failing={"/apis/argoproj.io/v1alpha1/rollouts": 503},
    )
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [failing], monkeypatch)
    entry = eks_census(scan)
    assert "GET /apis/argoproj.io/v1alpha1/rollouts: 503" in entry.detail
    assert failing.calls["/apis/argoproj.io/v1alpha1/rollouts"] == RetryPolicy().attempts


def test_describe_cluster_denied_is_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [cluster("prod-eks", describe_denied=True)], monkeypatch)
    entry = eks_census(scan)
    assert entry.unread
    assert "cluster prod-eks: DescribeCluster failed" in entry.detail
    assert "grant eks:DescribeCluster" in entry.detail
    assert scan.errors == ()


def test_object_without_its_schema_is_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = k.pod("payments", "api-1", [("api", uri("payments/api", "v1"))])
    broken["spec"]["containers"] = {"api": "not a list"}
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [cluster("prod-eks", broken)], monkeypatch)
    assert "pod payments/api-1: containers: expected a list" in eks_census(scan).detail


# --------------------------------------------------------------------------- paging


def test_expired_continue_token_restarts_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    many = cluster(
        "prod-eks", *k.pods("payments", "api", 1200, uri("payments/api", "v1")), expire_continue=1
    )
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [many], monkeypatch)
    assert eks_census(scan).read
    # pages of 500: page 1, then 410 on page 2, then pages 1-3 again
    assert many.calls["/api/v1/pods"] == 5
    names = {u.source.split(" ")[1] for u in scan.usages}
    assert len(names) == 1200


def test_list_that_keeps_expiring_is_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    many = cluster(
        "prod-eks", *k.pods("payments", "api", 600, uri("payments/api", "v1")), expire_continue=100
    )
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [many], monkeypatch)
    assert "GET /api/v1/pods: the list expired 4 times before it ended" in eks_census(scan).detail


def test_2000_pods_across_pages(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bounded: one cluster of 2,000 pods (4 pages of 500), read once; prints the figures."""
    digests = [f"sha256:{n:064x}" for n in range(2000)]
    pods = [
        k.pod(
            "load",
            f"api-{n:04d}",
            [("api", uri("load/api", "v1"))],
            image_ids={"api": f"{uri('load/api', 'v1').rsplit(':', 1)[0]}@{digests[n]}"},
        )
        for n in range(2000)
    ]
    big = cluster("big-eks", *pods)
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        started = time.perf_counter()
        scan = usage_of(emu, [big], monkeypatch)
        elapsed = time.perf_counter() - started
        eks_calls = emu.call_count(service="eks")
    assert eks_census(scan).read
    assert {u.resolved_digest for u in scan.usages if u.resolved_digest} == set(digests)
    assert big.calls["/api/v1/pods"] == 4
    with capsys.disabled():
        print(
            f"\n2,000 pods: usage of the account x region read in {elapsed:.2f} s, "
            f"{big.list_calls()} Kubernetes API calls ({big.calls['/api/v1/pods']} pod pages), "
            f"{eks_calls} EKS calls"
        )


# --------------------------------------------------------------------------- census, off


def test_census_without_clusters_is_absent_and_no_eks_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [], monkeypatch)
    entry = eks_census(scan)
    assert (entry.present, entry.read, entry.unread) == (False, True, False)


def test_throttled_calls_are_retried_and_slow_the_cluster_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    busy = cluster(
        "prod-eks", k.pod("p", "api-1", [("api", uri("payments/api", "v1"))]), throttle=5
    )
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [busy], monkeypatch)
    assert eks_census(scan).read
    assert busy.list_calls() == 9 + 5  # every list and discovery once, and the 5 throttled
    assert {u.ref.tag for u in scan.usages} == {"v1"}


def test_no_eks_leaves_the_kind_unread_where_clusters_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dataclasses import replace

    present = cluster("prod-eks", k.pod("p", "api-1", [("api", uri("payments/api", "v1"))]))
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [present], monkeypatch, replace(EKS_ONLY, off=EKS_ONLY.off | {"eks"}))
    entry = eks_census(scan)
    assert (entry.present, entry.read) == (True, False)
    assert "eks: switched off" in entry.detail
    assert scan.usages == ()
    assert present.list_calls() == 0


def test_calls_to_one_cluster_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = cluster("prod-eks", *k.pods("p", "api", 1500, uri("payments/api", "v1")), latency_s=0.3)
    with run_emulator(org(), quotas=Quotas.unlimited()) as emu:
        scan = usage_of(emu, [slow], monkeypatch)
    assert eks_census(scan).read
    assert slow.max_in_flight == KubeLimits().calls_at_once  # 9 lists wanted at once
