"""ECS operations of the awsim emulator, exercised through real boto3 clients over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from awsim import (
    UTC,
    Account,
    Cluster,
    Container,
    ContainerDefinition,
    Deployment,
    Emulator,
    Image,
    Quotas,
    Region,
    Repository,
    Scenario,
    Service,
    Task,
    TaskDefinition,
    TaskSet,
    image_uri,
    run_emulator,
)
from awsim.fixtures import assume, client, pages

MGMT, WL = "111111111111", "222222222222"
R = "us-east-1"
APP_V2 = Image(tags=("v2",), key="app2")
APP_V3 = Image(tags=("v3", "latest"), key="app3")
SIDECAR = Image(tags=("1.0",), key="envoy")
U_APP = image_uri(WL, R, "team/app", tag="v3")
U_APP2 = image_uri(WL, R, "team/app", tag="v2")
U_SIDE = image_uri(MGMT, R, "platform/envoy", tag="1.0")
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _scenario() -> Scenario:
    app_tds = tuple(
        TaskDefinition(
            "app",
            rev,
            (
                ContainerDefinition("app", U_APP if rev == 3 else U_APP2),
                ContainerDefinition("envoy", U_SIDE),
            ),
            status="INACTIVE" if rev == 1 else "ACTIVE",
        )
        for rev in (1, 2, 3)
    )
    many = tuple(
        TaskDefinition("many", rev, (ContainerDefinition("m", "nginx:1"),)) for rev in range(1, 151)
    )
    other = (
        TaskDefinition("job", 1, (ContainerDefinition("job", U_APP),)),
        TaskDefinition("old", 1, (ContainerDefinition("old", "busybox"),), status="INACTIVE"),
    )
    web = Service(
        "web",
        deployments=(
            Deployment("app:3", status="PRIMARY", rollout_state="IN_PROGRESS", created_at=NOW),
            Deployment("app:2", status="ACTIVE", created_at=NOW - timedelta(days=3)),
        ),
        desired_count=2,
    )
    blue = Service(
        "blue",
        controller="EXTERNAL",
        task_sets=(
            TaskSet("app:3", status="PRIMARY", external_id="green"),
            TaskSet("app:2", status="ACTIVE"),
        ),
    )
    prod_tasks = (
        Task(
            "app:3",
            (Container("app", U_APP, APP_V3.digest), Container("envoy", U_SIDE, SIDECAR.digest)),
            service="web",
            id="t-web-new",
        ),
        Task(
            "app:2",
            (Container("app", U_APP2, APP_V2.digest), Container("envoy", U_SIDE, None)),
            service="web",
            id="t-web-old",
        ),
        Task(
            "app:2",
            (Container("app", U_APP2, APP_V2.digest),),
            service="web",
            id="t-stopped",
            last_status="STOPPED",
            desired_status="STOPPED",
            stopped_at=NOW,
        ),
        Task(
            "job:1",
            (Container("job", U_APP, APP_V3.digest),),
            id="t-job",
            started_by="events-rule/nightly",
        ),
    )
    big = Cluster(
        "big",
        services=tuple(Service(f"svc-{i:03d}", task_definition="app:3") for i in range(250)),
        tasks=tuple(
            Task("app:3", (Container("app", U_APP, APP_V3.digest),), service=f"svc-{i % 250:03d}")
            for i in range(250)
        ),
    )
    clusters = (
        Cluster("prod", services=(web, blue), tasks=prod_tasks),
        big,
        *(Cluster(f"c-{i:02d}") for i in range(28)),
    )
    return Scenario(
        (
            Account(
                MGMT,
                name="mgmt",
                regions=(
                    Region(R, repositories=(Repository("platform/envoy", images=(SIDECAR,)),)),
                ),
            ),
            Account(
                WL,
                name="workload",
                regions=(
                    Region(
                        R,
                        clusters=clusters,
                        task_definitions=app_tds + many + other,
                        repositories=(Repository("team/app", images=(APP_V2, APP_V3)),),
                    ),
                ),
            ),
        )
    )


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with run_emulator(_scenario(), quotas=Quotas.unlimited()) as e:
        yield e


@pytest.fixture(scope="module")
def ecs(emu: Emulator) -> Any:
    return client(emu.endpoint_url, "ecs", creds=assume(emu.endpoint_url, WL))


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_list_clusters_paginates_30_clusters(ecs: Any) -> None:
    ps = pages(ecs.list_clusters, "clusterArns", maxResults=7)
    arns = [a for p in ps for a in p]
    assert len(arns) == 30
    assert len(set(arns)) == 30
    assert [len(p) for p in ps] == [7, 7, 7, 7, 2]
    assert f"arn:aws:ecs:{R}:{WL}:cluster/prod" in arns
    assert len(ecs.list_clusters()["clusterArns"]) == 30  # default page 100
    with pytest.raises(ClientError) as e:
        ecs.list_clusters(maxResults=101)
    assert _code(e) == "InvalidParameterException"


def test_describe_clusters(ecs: Any) -> None:
    r = ecs.describe_clusters(clusters=["prod", f"arn:aws:ecs:{R}:{WL}:cluster/big", "nope"])
    assert [c["clusterName"] for c in r["clusters"]] == ["prod", "big"]
    assert r["clusters"][1]["activeServicesCount"] == 250
    assert r["failures"] == [{"arn": f"arn:aws:ecs:{R}:{WL}:cluster/nope", "reason": "MISSING"}]


def test_list_services_default_page_10_and_250_total(ecs: Any) -> None:
    first = ecs.list_services(cluster="big")
    assert len(first["serviceArns"]) == 10
    assert first["nextToken"]
    ps = pages(ecs.list_services, "serviceArns", cluster="big", maxResults=100)
    assert [len(p) for p in ps] == [100, 100, 50]
    assert len({a for p in ps for a in p}) == 250
    paginator = ecs.get_paginator("list_services")
    assert sum(len(p["serviceArns"]) for p in paginator.paginate(cluster="big")) == 250


def test_cluster_not_found_is_exact_error(ecs: Any) -> None:
    calls: tuple[Callable[[], Any], ...] = (
        lambda: ecs.list_services(cluster="nope"),
        lambda: ecs.describe_services(cluster="nope", services=["x"]),
        lambda: ecs.list_tasks(cluster="nope"),
        lambda: ecs.describe_tasks(cluster="nope", tasks=["x"]),
    )
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert _code(e) == "ClusterNotFoundException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_describe_services_limit_and_missing(ecs: Any) -> None:
    with pytest.raises(ClientError) as e:
        ecs.describe_services(cluster="big", services=[f"svc-{i:03d}" for i in range(11)])
    assert _code(e) == "InvalidParameterException"
    r = ecs.describe_services(
        cluster="big", services=[f"svc-{i:03d}" for i in range(9)] + ["ghost"]
    )
    assert len(r["services"]) == 9
    assert r["failures"] == [{"arn": f"arn:aws:ecs:{R}:{WL}:service/ghost", "reason": "MISSING"}]


def test_deployments_primary_and_active(ecs: Any) -> None:
    svc = ecs.describe_services(cluster="prod", services=["web"])["services"][0]
    deps = {d["status"]: d for d in svc["deployments"]}
    assert set(deps) == {"PRIMARY", "ACTIVE"}
    assert deps["PRIMARY"]["taskDefinition"] == f"arn:aws:ecs:{R}:{WL}:task-definition/app:3"
    assert deps["ACTIVE"]["taskDefinition"] == f"arn:aws:ecs:{R}:{WL}:task-definition/app:2"
    assert deps["PRIMARY"]["rolloutState"] == "IN_PROGRESS"
    assert svc["taskDefinition"].endswith("app:3")
    assert svc["deploymentController"] == {"type": "ECS"}
    assert all(d["id"].startswith("ecs-svc/") for d in svc["deployments"])


def test_task_sets(ecs: Any) -> None:
    svc = ecs.describe_services(cluster="prod", services=["blue"])["services"][0]
    assert svc["deploymentController"] == {"type": "EXTERNAL"}
    assert svc["deployments"] == []
    assert {t["status"]: t["taskDefinition"].rsplit("/", 1)[1] for t in svc["taskSets"]} == {
        "PRIMARY": "app:3",
        "ACTIVE": "app:2",
    }
    sets = ecs.describe_task_sets(cluster="prod", service="blue")["taskSets"]
    assert len(sets) == 2
    assert sets[0]["externalId"] == "green"
    only = ecs.describe_task_sets(cluster="prod", service="blue", taskSets=[sets[1]["taskSetArn"]])
    assert [t["id"] for t in only["taskSets"]] == [sets[1]["id"]]
    with pytest.raises(ClientError) as e:
        ecs.describe_task_sets(cluster="prod", service="web")
    assert _code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        ecs.describe_task_sets(cluster="prod", service="ghost")
    assert _code(e) == "ServiceNotFoundException"


def test_list_tasks_filters_and_pagination(ecs: Any) -> None:
    ps = pages(ecs.list_tasks, "taskArns", cluster="big")
    assert [len(p) for p in ps] == [100, 100, 50]
    web = ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]
    assert {a.rsplit("/", 1)[1] for a in web} == {"t-web-new", "t-web-old"}
    stopped = ecs.list_tasks(cluster="prod", desiredStatus="STOPPED")["taskArns"]
    assert [a.rsplit("/", 1)[1] for a in stopped] == ["t-stopped"]
    assert [
        a.rsplit("/", 1)[1] for a in ecs.list_tasks(cluster="prod", family="job")["taskArns"]
    ] == ["t-job"]
    assert len(ecs.list_tasks(cluster="prod", startedBy="events-rule/nightly")["taskArns"]) == 1
    with pytest.raises(ClientError) as e:
        ecs.list_tasks(cluster="prod", serviceName="ghost")
    assert _code(e) == "ServiceNotFoundException"
    with pytest.raises(ClientError) as e:
        ecs.list_tasks(cluster="big", maxResults=101)
    assert _code(e) == "InvalidParameterException"


def test_describe_tasks_reports_all_containers_and_digests(ecs: Any) -> None:
    r = ecs.describe_tasks(cluster="prod", tasks=["t-web-new", "t-web-old", "t-stopped", "nope"])
    by_id = {t["taskArn"].rsplit("/", 1)[1]: t for t in r["tasks"]}
    new = by_id["t-web-new"]
    assert [(c["name"], c["image"], c.get("imageDigest")) for c in new["containers"]] == [
        ("app", U_APP, APP_V3.digest),
        ("envoy", U_SIDE, SIDECAR.digest),
    ]
    old = by_id["t-web-old"]
    assert old["containers"][1].get("imageDigest") is None  # no digest reported
    assert old["group"] == "service:web"
    assert old["startedBy"].startswith("ecs-svc/")
    assert by_id["t-stopped"]["lastStatus"] == "STOPPED"
    assert by_id["t-stopped"]["stoppedAt"] == NOW
    assert r["failures"][0]["reason"] == "MISSING"
    with pytest.raises(ClientError) as e:
        ecs.describe_tasks(cluster="big", tasks=[f"t{i}" for i in range(101)])
    assert _code(e) == "InvalidParameterException"


def test_task_definitions(ecs: Any) -> None:
    td = ecs.describe_task_definition(taskDefinition="app")["taskDefinition"]  # latest ACTIVE
    assert td["revision"] == 3
    assert [c["image"] for c in td["containerDefinitions"]] == [
        U_APP,
        U_SIDE,
    ]
    assert (
        ecs.describe_task_definition(taskDefinition="app:1")["taskDefinition"]["status"]
        == "INACTIVE"
    )
    arn = f"arn:aws:ecs:{R}:{WL}:task-definition/app:2"
    assert (
        ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["taskDefinitionArn"]
        == arn
    )
    with pytest.raises(ClientError) as e:
        ecs.describe_task_definition(taskDefinition="ghost:1")
    assert _code(e) == "ClientException"
    many = [
        a
        for p in pages(ecs.list_task_definitions, "taskDefinitionArns", familyPrefix="many")
        for a in p
    ]
    assert len(many) == 150
    assert many[0].endswith("many:1")
    assert many[-1].endswith("many:150")
    desc = ecs.list_task_definitions(familyPrefix="app", sort="DESC")["taskDefinitionArns"]
    assert [a.rsplit(":", 1)[1] for a in desc] == ["3", "2"]
    inactive = ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"]
    assert {a.rsplit("/", 1)[1] for a in inactive} == {"app:1", "old:1"}
    assert ecs.list_task_definition_families()["families"] == ["app", "job", "many"]
    assert ecs.list_task_definition_families(status="INACTIVE")["families"] == ["old"]
    assert ecs.list_task_definition_families(status="ALL", familyPrefix="o")["families"] == ["old"]


def test_service_deployments_and_revisions(ecs: Any) -> None:
    deps = ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    assert len(deps) == 2
    revs = ecs.describe_service_revisions(
        serviceRevisionArns=[d["targetServiceRevisionArn"] for d in deps]
    )
    tds = {r["taskDefinition"].rsplit("/", 1)[1]: r for r in revs["serviceRevisions"]}
    assert set(tds) == {"app:3", "app:2"}
    imgs = {c["containerName"]: c.get("imageDigest") for c in tds["app:3"]["containerImages"]}
    assert imgs == {"app": APP_V3.digest, "envoy": SIDECAR.digest}
    bad = f"arn:aws:ecs:{R}:{WL}:service-revision/prod/web/1"
    assert (
        ecs.describe_service_revisions(serviceRevisionArns=[bad])["failures"][0]["reason"]
        == "MISSING"
    )
    with pytest.raises(ClientError) as e:
        ecs.describe_service_revisions(serviceRevisionArns=[bad] * 21)
    assert _code(e) == "InvalidParameterException"


def test_inactive_service_not_listed_and_mutators(emu: Emulator, ecs: Any) -> None:
    arn = emu.add_service(
        WL, R, "c-00", Service("gone", task_definition="app:3", status="INACTIVE")
    )
    emu.add_service(WL, R, "c-00", Service("new", task_definition="app:3"))
    listed = ecs.list_services(cluster="c-00")["serviceArns"]
    assert listed == [f"arn:aws:ecs:{R}:{WL}:service/c-00/new"]
    assert (
        ecs.describe_services(cluster="c-00", services=[arn])["services"][0]["status"] == "INACTIVE"
    )
    t = emu.add_task(
        WL, R, "c-00", Task("app:3", (Container("app", U_APP, APP_V3.digest),), service="new")
    )
    assert ecs.list_tasks(cluster="c-00")["taskArns"] == [t]
    emu.stop_task(WL, R, "c-00", t)
    assert ecs.list_tasks(cluster="c-00")["taskArns"] == []
    assert ecs.list_tasks(cluster="c-00", desiredStatus="STOPPED")["taskArns"] == [t]
    emu.remove_service(WL, R, "c-00", "new")
    emu.remove_service(WL, R, "c-00", "gone")


def test_stopped_task_retention() -> None:
    scn = Scenario(
        (
            Account(
                WL,
                regions=(
                    Region(
                        R,
                        clusters=(
                            Cluster(
                                "c",
                                tasks=(
                                    Task(
                                        "a:1",
                                        id="old",
                                        last_status="STOPPED",
                                        desired_status="STOPPED",
                                        stopped_at=datetime.now(UTC) - timedelta(hours=2),
                                    ),
                                    Task(
                                        "a:1",
                                        id="recent",
                                        last_status="STOPPED",
                                        desired_status="STOPPED",
                                        stopped_at=datetime.now(UTC) - timedelta(minutes=5),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        )
    )
    with run_emulator(scn, stopped_task_retention_s=3600) as e:
        ecs = client(e.endpoint_url, "ecs")
        ids = [
            a.rsplit("/", 1)[1]
            for a in ecs.list_tasks(cluster="c", desiredStatus="STOPPED")["taskArns"]
        ]
        assert ids == ["recent"]


def test_service_revision_digests_are_frozen_when_the_deployment_starts() -> None:
    live = Image(tags=("live",), key="live-old")
    newer = Image(tags=("next",), key="live-new")
    pinned = Image(tags=("p",), key="pinned")
    u_live = image_uri(WL, R, "team/app", tag="live")
    u_pin = image_uri(WL, R, "team/app", digest=pinned.digest)
    tds = (
        TaskDefinition(
            "a", 1, (ContainerDefinition("app", u_live), ContainerDefinition("x", "nginx:1"))
        ),
        TaskDefinition(
            "b", 1, (ContainerDefinition("app", u_live), ContainerDefinition("pin", u_pin))
        ),
    )
    svc = Service(
        "web",
        deployments=(
            Deployment("a:1", status="PRIMARY", image_digests=(("x", "sha256:" + "e" * 64),)),
            Deployment("b:1", status="ACTIVE", created_at=NOW - timedelta(days=1)),
        ),
    )
    region = Region(
        R,
        clusters=(Cluster("prod", (svc,)),),
        task_definitions=tds,
        repositories=(Repository("team/app", (live, newer, pinned)),),
    )
    with run_emulator(Scenario((Account(WL, (region,)),)), quotas=Quotas.unlimited()) as emu:
        emu.move_tag(WL, R, "team/app", "live", newer.digest)  # after both deployments started
        emu.add_service(WL, R, "prod", Service("late", task_definition="a:1"))  # starts now
        ecs = client(emu.endpoint_url, "ecs", creds=assume(emu.endpoint_url, WL))

        def digests(service: str) -> dict[str, dict[str, str | None]]:
            deps = ecs.list_service_deployments(cluster="prod", service=service)
            arns = [d["targetServiceRevisionArn"] for d in deps["serviceDeployments"]]
            revs = ecs.describe_service_revisions(serviceRevisionArns=arns)["serviceRevisions"]
            return {
                r["taskDefinition"].rsplit("/", 1)[1]: {
                    c["containerName"]: c.get("imageDigest") for c in r["containerImages"]
                }
                for r in revs
            }

        assert digests("web") == {
            "a:1": {"app": live.digest, "x": "sha256:" + "e" * 64},
            "b:1": {"app": live.digest, "pin": pinned.digest},
        }
        assert digests("late") == {"a:1": {"app": newer.digest, "x": None}}
