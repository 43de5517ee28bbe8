"""EKS on moto's server: a cluster moto makes up (its endpoint on eks.amazonaws.com) is never
contacted from a run pointed at an emulator; the demo cluster (demo/kube_server.py) is read."""

from __future__ import annotations

import pytest

import sweep
from ecr_sweeper import wording
from ecr_sweeper.demo.kube_server import demo_eks_cluster, demo_pod, demo_replica_set
from ecr_sweeper.demo.moto_patches import account_session
from ecr_sweeper.demo.run import image_manifest as manifest
from ecr_sweeper.demo.run import push
from ecr_sweeper.model import AccountId, AccountRegion, Region, Sources, UsageScan
from moto_helpers import APP, MOTO_SOURCES, REGISTRY, US, sweep_plan, target
from planning import NOW

pytestmark = pytest.mark.usefixtures("aws")
EKS = Sources(off=frozenset({"lambda", "schedules"}), service_revisions=False)


def usage(account: str) -> UsageScan:
    return next(
        s
        for s in sweep.usage([target(account, US)], sources=EKS, now=NOW)
        if s.origin == AccountRegion(AccountId(account), Region(US))
    )


def test_a_moto_cluster_on_an_aws_host_is_not_contacted() -> None:
    account_session(APP, US).client("eks").create_cluster(
        name="made-up",
        roleArn=f"arn:aws:iam::{APP}:role/eks",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
    )
    (entry,) = [e for e in usage(APP).census if e.kind == "eks" and e.region == US]
    assert entry.unread
    assert "cluster made-up: no API to read: its endpoint https://" in entry.detail
    assert "not contacted" in entry.detail


def test_the_demo_cluster_keeps_what_it_runs_and_may_roll_back_to() -> None:
    ecr = account_session(REGISTRY, US).client("ecr")
    ecr.create_repository(repositoryName="payments/api")
    ran = push(ecr, "payments/api", manifest("ran"))
    push(ecr, "payments/api", manifest("v2"), ("v2",))
    push(ecr, "payments/api", manifest("v1"), ("v1",))
    push(ecr, "payments/api", manifest("unused"), ("unused",))
    repo = f"{REGISTRY}.dkr.ecr.{US}.amazonaws.com/payments/api"
    objects = [
        demo_pod("payments", "api-7c9d4-x2x7q", f"{repo}:v2", resolved=f"{repo}@{ran}"),
        demo_replica_set("payments", "api-5f6b7c8d9", f"{repo}:v1", replicas=0),
    ]
    with demo_eks_cluster(APP, US, "prod-eks", objects):
        plan = sweep_plan(
            [target(REGISTRY, US), target(APP, US)],
            sources=Sources(off=frozenset({"lambda", "schedules"}), service_revisions=False),
        )
    assert plan.errors == ()
    reasons = {d.tags[0] if d.tags else d.digest: wording.reason(d.reason) for d in plan.kept}
    assert reasons[ran] == (
        "in use: digest running in pod payments/api-7c9d4-x2x7q container app "
        f"(cluster prod-eks, {APP}/{US})"
    )
    assert "replicaset payments/api-5f6b7c8d9" in reasons["v1"]
    assert {t for d in plan.deletions for t in d.tags} == {"unused"}
    assert MOTO_SOURCES.reads("eks")  # the moto suites read EKS too (moto lists no clusters there)
