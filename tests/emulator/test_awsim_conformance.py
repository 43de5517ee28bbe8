"""Conformance: the same read (and a few delete) calls against moto and against awsim, both
seeded from one scenario, must give the same normalized answers for what moto supports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from awsim import (
    Account,
    Cluster,
    Container,
    ContainerDefinition,
    Image,
    Quotas,
    Region,
    Repository,
    Scenario,
    Service,
    Task,
    TaskDefinition,
    image_uri,
    run_emulator,
)
from awsim.fixtures import client, free_port
from awsim.moto_seed import MOTO_DEFAULT_ACCOUNT, reset_moto, run_moto_server, seed_moto

A, R = MOTO_DEFAULT_ACCOUNT, "us-east-1"
V1 = Image(tags=("v1", "stable"), key="v1")
V2 = Image(tags=("v2",), key="v2", fmt="oci")
V3 = Image(tags=("v3", "latest"), key="v3")
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "pull", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}
        ],
    }
)
U = image_uri(A, R, "team/app", tag="v3")


def _scenario() -> Scenario:
    tds = (
        TaskDefinition(
            "app",
            1,
            (ContainerDefinition("app", image_uri(A, R, "team/app", tag="v1")),),
            status="INACTIVE",
        ),
        TaskDefinition(
            "app",
            2,
            (
                ContainerDefinition("app", image_uri(A, R, "team/app", tag="v2")),
                ContainerDefinition("sidecar", "nginx:1.25"),
            ),
        ),
        TaskDefinition("app", 3, (ContainerDefinition("app", U),)),
        TaskDefinition("job", 1, (ContainerDefinition("job", U),)),
    )
    prod = Cluster(
        "prod",
        services=(
            Service("web", task_definition="app:3", desired_count=2),
            Service("api", task_definition="app:2"),
        ),
        tasks=(
            Task("app:3", (Container("app", U, V3.digest),), service="web"),
            Task("app:3", (Container("app", U, V3.digest),), service="web"),
            Task("job:1", (Container("job", U, V3.digest),)),
        ),
    )
    return Scenario(
        (
            Account(
                A,
                regions=(
                    Region(
                        R,
                        clusters=(prod, Cluster("empty")),
                        task_definitions=tds,
                        repositories=(
                            Repository(
                                "team/app",
                                images=(V1, V2, V3),
                                policy=POLICY,
                                tags=(("team", "a"),),
                            ),
                            Repository("other", images=(Image(tags=("x",), key="x"),)),
                        ),
                    ),
                ),
            ),
        )
    )


@pytest.fixture(scope="module")
def backends() -> Iterator[dict[str, str]]:
    scn = _scenario()
    with (
        run_moto_server(free_port()) as moto_url,
        run_emulator(scn, quotas=Quotas.unlimited()) as emu,
    ):
        reset_moto(moto_url)
        seed_moto(moto_url, scn)
        yield {"moto": moto_url, "awsim": emu.endpoint_url}


def _both(backends: dict[str, str], service: str, fn: Callable[[Any], Any]) -> tuple[Any, Any]:
    return fn(client(backends["moto"], service)), fn(client(backends["awsim"], service))


def _nothing(answer: Any) -> bool:
    """An answer with nothing in it: None, an empty collection or string, 0, or a tuple of
    such (two backends answering nothing agree vacuously)."""
    if isinstance(answer, tuple) and answer:
        return all(_nothing(part) for part in answer)
    return answer is None or answer in ("", 0) or (hasattr(answer, "__len__") and not answer)


def _same(
    backends: dict[str, str], service: str, fn: Callable[[Any], Any], *, empty: bool = False
) -> Any:
    """Both backends answer `fn` alike, and (unless `empty`: nothing is the point) with
    something: an agreement on nothing checks nothing."""
    moto, ours = _both(backends, service, fn)
    assert ours == moto
    if not empty:
        assert not _nothing(ours), f"both answered nothing: {ours!r}"
    return ours


def _answer(response: dict[str, Any]) -> dict[str, Any]:
    """A whole answer but its request metadata (its keys say the answer was read)."""
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def test_clusters(backends: dict[str, str]) -> None:
    got = _same(backends, "ecs", lambda c: sorted(c.list_clusters()["clusterArns"]))
    assert got == [f"arn:aws:ecs:{R}:{A}:cluster/empty", f"arn:aws:ecs:{R}:{A}:cluster/prod"]
    _same(
        backends,
        "ecs",
        lambda c: [
            (x["clusterName"], x["status"], x["clusterArn"])
            for x in c.describe_clusters(clusters=["prod", "empty"])["clusters"]
        ],
    )


def test_services(backends: dict[str, str]) -> None:
    _same(backends, "ecs", lambda c: sorted(c.list_services(cluster="prod")["serviceArns"]))

    def describe(c: Any) -> Any:
        svcs = c.describe_services(cluster="prod", services=["web", "api", "ghost"])
        return (
            sorted(
                (
                    s["serviceName"],
                    s["serviceArn"],
                    s["status"],
                    s["taskDefinition"],
                    s["desiredCount"],
                    [d["taskDefinition"] for d in s["deployments"] if d["status"] == "PRIMARY"],
                )
                for s in svcs["services"]
            ),
            [(f["arn"], f["reason"]) for f in svcs["failures"]],
        )

    got = _same(backends, "ecs", describe)
    assert got[1] == [(f"arn:aws:ecs:{R}:{A}:service/ghost", "MISSING")]


def test_task_definitions(backends: dict[str, str]) -> None:
    _same(backends, "ecs", lambda c: c.list_task_definitions()["taskDefinitionArns"])
    _same(
        backends, "ecs", lambda c: c.list_task_definitions(status="INACTIVE")["taskDefinitionArns"]
    )
    _same(
        backends, "ecs", lambda c: c.list_task_definitions(familyPrefix="app")["taskDefinitionArns"]
    )  # moto ignores sort
    _same(backends, "ecs", lambda c: sorted(c.list_task_definition_families()["families"]))

    def describe(c: Any) -> Any:
        out = []
        for ref in ("app", "app:1", "app:2", f"arn:aws:ecs:{R}:{A}:task-definition/job:1"):
            td = c.describe_task_definition(taskDefinition=ref)["taskDefinition"]
            out.append(
                (
                    td["taskDefinitionArn"],
                    td["family"],
                    td["revision"],
                    td["status"],
                    [(x["name"], x["image"]) for x in td["containerDefinitions"]],
                )
            )
        return out

    _same(backends, "ecs", describe)


def test_tasks(backends: dict[str, str]) -> None:
    def tasks(c: Any) -> Any:
        arns = c.list_tasks(cluster="prod")["taskArns"]
        described = c.describe_tasks(cluster="prod", tasks=arns)["tasks"]
        return sorted(
            (
                t["taskDefinitionArn"],
                t["group"],
                t["desiredStatus"],
                [(x["name"], x["image"]) for x in t["containers"]],
            )
            for t in described
        )

    got = _same(backends, "ecs", tasks)
    assert len(got) == 3
    _same(backends, "ecs", lambda c: len(c.list_tasks(cluster="prod", family="job")["taskArns"]))


def test_ecs_errors(backends: dict[str, str]) -> None:
    def code(fn: Callable[[], Any]) -> str:
        with pytest.raises(ClientError) as e:
            fn()
        return str(e.value.response["Error"]["Code"])

    _same(backends, "ecs", lambda c: code(lambda: c.list_services(cluster="ghost")))
    _same(
        backends,
        "ecs",
        lambda c: code(lambda: c.describe_task_definition(taskDefinition="ghost:1")),
    )


def test_repositories(backends: dict[str, str]) -> None:
    _same(
        backends,
        "ecr",
        lambda c: sorted(
            (r["repositoryName"], r["repositoryArn"], r["repositoryUri"], r["registryId"])
            for r in c.describe_repositories()["repositories"]
        ),
    )
    _same(
        backends,
        "ecr",
        lambda c: json.loads(c.get_repository_policy(repositoryName="team/app")["policyText"]),
    )
    _same(
        backends,
        "ecr",
        lambda c: c.list_tags_for_resource(resourceArn=f"arn:aws:ecr:{R}:{A}:repository/team/app")[
            "tags"
        ],
    )


def _images(c: Any, repo: str = "team/app") -> Any:
    return sorted(
        (
            d["imageDigest"],
            sorted(d.get("imageTags", [])),
            d["imageManifestMediaType"],
            d["registryId"],
            d["repositoryName"],
        )
        for d in c.describe_images(repositoryName=repo)["imageDetails"]
    )


def test_images(backends: dict[str, str]) -> None:
    got = _same(backends, "ecr", _images)
    assert {g[0] for g in got} == {V1.digest, V2.digest, V3.digest}
    _same(
        backends,
        "ecr",
        lambda c: sorted(
            (i["imageDigest"], i.get("imageTag", ""))
            for i in c.list_images(repositoryName="team/app")["imageIds"]
        ),
    )
    _same(
        backends,
        "ecr",
        lambda c: [
            (i["imageId"]["imageDigest"], i["imageManifest"], i["imageManifestMediaType"])
            for i in c.batch_get_image(repositoryName="team/app", imageIds=[{"imageTag": "v2"}])[
                "images"
            ]
        ],
    )
    _same(
        backends,
        "ecr",
        lambda c: [
            d["imageDigest"]
            for d in c.describe_images(
                repositoryName="team/app", imageIds=[{"imageTag": "stable"}]
            )["imageDetails"]
        ],
    )

    def missing(c: Any) -> str:
        with pytest.raises(ClientError) as e:
            c.describe_images(repositoryName="ghost")
        return str(e.value.response["Error"]["Code"])

    _same(backends, "ecr", missing)


def test_batch_delete(backends: dict[str, str]) -> None:
    """Runs last in this module: it mutates both backends the same way."""

    def delete(c: Any) -> Any:
        r1 = c.batch_delete_image(repositoryName="other", imageIds=[{"imageTag": "x"}])
        r2 = c.batch_delete_image(repositoryName="team/app", imageIds=[{"imageDigest": V2.digest}])
        r3 = c.batch_delete_image(repositoryName="team/app", imageIds=[{"imageTag": "stable"}])
        return (
            [i["imageDigest"] for i in r1["imageIds"]],
            [i["imageDigest"] for i in r2["imageIds"]],
            [(i["imageDigest"], i.get("imageTag")) for i in r3["imageIds"]],
            r3["failures"],
        )

    moto, ours = _both(backends, "ecr", delete)
    assert ours == moto
    _same(backends, "ecr", _images)
    # `other` held one image, deleted above (r1 names it): empty is the point here
    _same(backends, "ecr", lambda c: _images(c, "other"), empty=True)


def test_registry_replication_configuration(backends: dict[str, str]) -> None:
    got = _same(
        backends,
        "ecr",
        lambda c: {k: v for k, v in c.describe_registry().items() if k != "ResponseMetadata"},
    )
    assert got == {"registryId": A, "replicationConfiguration": {"rules": []}}


def test_describe_images_of_every_status(backends: dict[str, str]) -> None:
    # moto 5.2.5 ignores `imageStatus`; with every image ACTIVE, both answer the same.
    _same(
        backends,
        "ecr",
        lambda c: sorted(
            d["imageDigest"]
            for d in c.describe_images(repositoryName="team/app", filter={"imageStatus": "ANY"})[
                "imageDetails"
            ]
        ),
    )


# ------------------------------------------------- ECS Managed Daemons and App Runner (no moto)
# moto serves neither, so the emulator's answers are checked against botocore's model instead:
# every member is one the output shape has, of its type (enums included), and every required
# member is there. The raw JSON is checked (botocore's parser drops what it does not know).


_SCALARS: dict[str, Any] = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "long": int,
    "timestamp": (int, float),
    "double": (int, float),
    "float": (int, float),
}


def _conforms(shape: Any, value: Any, path: str = "") -> list[str]:
    kind = shape.type_name
    if kind in ("structure", "map") and not isinstance(value, dict):
        return [f"{path}: not an object"]
    if kind == "list" and not isinstance(value, list):
        return [f"{path}: not a list"]
    problems: list[str] = []
    if kind == "structure":
        problems += [f"{path}.{k}: not in {shape.name}" for k in value if k not in shape.members]
        problems += [f"{path}.{k}: required" for k in shape.required_members if k not in value]
        for key, item in value.items():
            if key in shape.members:
                problems += _conforms(shape.members[key], item, f"{path}.{key}")
    elif kind == "list":
        for n, item in enumerate(value):
            problems += _conforms(shape.member, item, f"{path}[{n}]")
    elif kind == "map":
        for key, item in value.items():
            problems += _conforms(shape.value, item, f"{path}[{key}]")
    elif not isinstance(value, _SCALARS.get(kind, object)) or (
        kind in ("integer", "long") and isinstance(value, bool)
    ):
        problems.append(f"{path}: not a {kind}")
    elif kind == "string" and shape.enum and value not in shape.enum:
        problems.append(f"{path}: {value!r} not one of {shape.enum}")
    return problems


@pytest.fixture(scope="module")
def daemons_and_app_runner() -> Iterator[str]:
    scn = Scenario((Account(A, regions=(Region(R, clusters=(Cluster("hosts"),)),)),))
    with run_emulator(scn, quotas=Quotas.unlimited()) as emu:
        definitions = [
            emu.register_daemon_task_definition(A, R, "monitor", n, {"agent": U}) for n in (1, 2)
        ]
        emu.add_daemon(A, R, "hosts", "monitor", [(definitions[1], {"agent": (U, V3.digest)})])
        emu.add_app_runner_service(A, R, "storefront", U)
        emu.add_lightsail_container_service(A, R, "shop", {"web": U}, {"web": U, "cache": "redis"})
        yield emu.endpoint_url


def _raw(endpoint: str, service: str, call: Callable[[Any], Any]) -> tuple[Any, dict[str, Any]]:
    """Make the call; return its operation model and the raw JSON answered."""
    c = client(endpoint, service)
    seen: dict[str, Any] = {}

    def keep(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        seen["operation"], seen["body"] = operation_model, json.loads(response_dict["body"])

    c.meta.events.register("before-parse", keep)
    call(c)
    return seen["operation"], seen["body"]


@pytest.mark.parametrize(
    ("service", "call"),
    [
        # The whole answer: an empty list must be one both backends answered under its key.
        ("eks", lambda c: _answer(c.list_clusters(maxResults=1))),
        ("lambda", lambda c: _answer(c.list_functions(MaxItems=1))),
        ("bedrock-agentcore-control", lambda c: _answer(c.list_agent_runtimes(maxResults=1))),
        ("scheduler", lambda c: _answer(c.list_schedules(MaxResults=1))),
        ("events", lambda c: [b["Name"] for b in c.list_event_buses()["EventBuses"]]),
        ("events", lambda c: _answer(c.list_rules(EventBusName="default", Limit=1))),
        (
            "elasticbeanstalk",
            lambda c: _answer(c.describe_environments(IncludeDeleted=False)),
        ),
    ],
)
def test_census_calls_of_an_account_without_those_consumers(
    backends: dict[str, str], service: str, call: Callable[[Any], Any]
) -> None:
    """The emulator answers the census calls of consumers it does not model like moto answers
    an account that has none of them."""
    _same(backends, service, call)


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("ecs", lambda c: c.list_daemons(clusterArn=f"arn:aws:ecs:{R}:{A}:cluster/hosts")),
        (
            "ecs",
            lambda c: c.describe_daemon(
                daemonArn=c.list_daemons()["daemonSummariesList"][0]["daemonArn"]
            ),
        ),
        (
            "ecs",
            lambda c: c.describe_daemon_revisions(
                daemonRevisionArns=[
                    r["arn"]
                    for r in c.describe_daemon(
                        daemonArn=c.list_daemons()["daemonSummariesList"][0]["daemonArn"]
                    )["daemon"]["currentRevisions"]
                ]
                + [f"arn:aws:ecs:{R}:{A}:daemon/hosts/gone/0"]
            ),
        ),
        (
            "ecs",
            lambda c: c.list_daemon_task_definitions(family="monitor", sort="DESC", maxResults=1),
        ),
        ("ecs", lambda c: c.describe_daemon_task_definition(daemonTaskDefinition="monitor:1")),
        (
            "ecs",
            lambda c: c.describe_daemon_deployments(
                daemonDeploymentArns=[
                    c.describe_daemon(
                        daemonArn=c.list_daemons()["daemonSummariesList"][0]["daemonArn"]
                    )["daemon"]["deploymentArn"]
                ]
            ),
        ),
        ("apprunner", lambda c: c.list_services(MaxResults=1)),
        ("lightsail", lambda c: c.get_container_services()),
        ("lightsail", lambda c: c.get_container_services(serviceName="shop")),
        (
            "apprunner",
            lambda c: c.describe_service(
                ServiceArn=c.list_services()["ServiceSummaryList"][0]["ServiceArn"]
            ),
        ),
    ],
)
def test_daemon_and_app_runner_answers_follow_the_model(
    daemons_and_app_runner: str, service: str, call: Callable[[Any], Any]
) -> None:
    operation, body = _raw(daemons_and_app_runner, service, call)
    # an empty answer conforms to any shape: each call here is one with something to answer
    assert not all(_nothing(value) for value in body.values()), body
    assert _conforms(operation.output_shape, body) == []


def test_daemon_and_app_runner_paging_and_errors(daemons_and_app_runner: str) -> None:
    ecs = client(daemons_and_app_runner, "ecs")
    first = ecs.list_daemon_task_definitions(family="monitor", sort="DESC", maxResults=1)
    assert [d["arn"].rsplit(":", 1)[-1] for d in first["daemonTaskDefinitions"]] == ["2"]
    rest = ecs.list_daemon_task_definitions(
        family="monitor", sort="DESC", nextToken=first["nextToken"]
    )
    assert [d["arn"].rsplit(":", 1)[-1] for d in rest["daemonTaskDefinitions"]] == ["1"]
    assert "nextToken" not in rest
    with pytest.raises(ClientError) as missing:
        ecs.describe_daemon(daemonArn=f"arn:aws:ecs:{R}:{A}:daemon/hosts/none")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as too_many:
        client(daemons_and_app_runner, "apprunner").list_services(MaxResults=21)
    assert too_many.value.response["Error"]["Code"] in (
        "InvalidRequestException",
        "ParamValidation",
    )
    with pytest.raises(ClientError) as no_service:
        client(daemons_and_app_runner, "lightsail").get_container_services(serviceName="none")
    assert no_service.value.response["Error"]["Code"] == "NotFoundException"


# ------------------------------------------------------------------ SageMaker beyond moto's
# moto lacks inference components, monitoring schedules, algorithms and Studio images, and its
# jobs are all Completed and its endpoints report no DeployedImages: each operation the
# readers call is checked against botocore's model instead, with something to answer.


@pytest.fixture(scope="module")
def sagemaker() -> Iterator[str]:
    from awsim import sagemaker_records as records

    scn = Scenario((Account(A, regions=(Region(R),)),))
    with run_emulator(scn, quotas=Quotas.unlimited()) as emu:
        add = emu.add_sagemaker
        add(A, R, "Endpoint", "chat", records.endpoint(A, R, "chat", {"main": [], "old": [U]}))
        for name in ("llm", "llm2"):
            component = records.inference_component(A, R, name, "chat", "main", specified=U)
            add(A, R, "InferenceComponent", name, component)
        add(A, R, "Model", "m", records.model(A, R, "m", U))
        add(A, R, "TrainingJob", "t", records.training_job(A, R, "t", "InProgress", U))
        add(A, R, "ProcessingJob", "p", records.processing_job(A, R, "p", "Stopping", U))
        add(A, R, "TransformJob", "b", records.transform_job(A, R, "b", "InProgress", "m"))
        tuning = records.tuning_job(A, R, "h", "InProgress", U)
        add(A, R, "HyperParameterTuningJob", "h", tuning)
        add(A, R, "MonitoringSchedule", "s", records.monitoring_schedule(A, R, "s", image=U))
        named = records.monitoring_schedule(A, R, "n", definition="dq")
        add(A, R, "MonitoringSchedule", "n", named)
        definition = records.data_quality_job_definition(A, R, "dq", U)
        add(A, R, "DataQualityJobDefinition", "dq", definition)
        add(A, R, "Algorithm", "a", records.algorithm(A, R, "a", U, U, V3.digest))
        add(A, R, "Image", "studio", records.image(A, R, "studio"))
        version = records.image_version(A, R, "studio", 1, U)
        emu.add_sagemaker_image_version(A, R, "studio", 1, version)
        yield emu.endpoint_url


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.list_endpoints(MaxResults=1),
        lambda c: c.describe_endpoint(EndpointName="chat"),
        lambda c: c.list_inference_components(MaxResults=100),
        lambda c: c.list_inference_components(EndpointNameEquals="chat", VariantNameEquals="main"),
        lambda c: c.describe_inference_component(InferenceComponentName="llm"),
        lambda c: c.list_models(),
        lambda c: c.describe_model(ModelName="m"),
        lambda c: c.list_training_jobs(StatusEquals="InProgress"),
        lambda c: c.describe_training_job(TrainingJobName="t"),
        lambda c: c.list_processing_jobs(StatusEquals="Stopping"),
        lambda c: c.describe_processing_job(ProcessingJobName="p"),
        lambda c: c.list_transform_jobs(StatusEquals="InProgress"),
        lambda c: c.describe_transform_job(TransformJobName="b"),
        lambda c: c.list_hyper_parameter_tuning_jobs(StatusEquals="InProgress"),
        lambda c: c.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="h"),
        lambda c: c.list_monitoring_schedules(),
        lambda c: c.describe_monitoring_schedule(MonitoringScheduleName="s"),
        lambda c: c.describe_monitoring_schedule(MonitoringScheduleName="n"),
        lambda c: c.describe_data_quality_job_definition(JobDefinitionName="dq"),
        lambda c: c.list_algorithms(),
        lambda c: c.describe_algorithm(AlgorithmName="a"),
        lambda c: c.list_images(),
        lambda c: c.list_image_versions(ImageName="studio"),
        lambda c: c.describe_image_version(ImageName="studio", Version=1),
        lambda c: c.describe_image_version(ImageName="studio"),
    ],
)
def test_sagemaker_answers_follow_the_model(sagemaker: str, call: Callable[[Any], Any]) -> None:
    operation, body = _raw(sagemaker, "sagemaker", call)
    assert not all(_nothing(value) for value in body.values()), body
    assert _conforms(operation.output_shape, body) == []


def test_sagemaker_filters_paging_and_errors(sagemaker: str) -> None:
    c = client(sagemaker, "sagemaker")
    first = c.list_inference_components(MaxResults=1)
    rest = c.list_inference_components(MaxResults=1, NextToken=first["NextToken"])
    names = [x["InferenceComponentName"] for x in first["InferenceComponents"]]
    names += [x["InferenceComponentName"] for x in rest["InferenceComponents"]]
    assert (names, "NextToken" in rest) == (["llm", "llm2"], False)
    assert c.list_training_jobs(StatusEquals="Completed")["TrainingJobSummaries"] == []
    assert c.list_inference_components(EndpointNameEquals="other")["InferenceComponents"] == []
    calls: list[tuple[Callable[[], Any], str]] = [
        (lambda: c.describe_model(ModelName="gone"), "ValidationException"),
        (lambda: c.describe_training_job(TrainingJobName="gone"), "ResourceNotFound"),
        (
            lambda: c.describe_data_quality_job_definition(JobDefinitionName="gone"),
            "ResourceNotFound",
        ),
        (lambda: c.list_image_versions(ImageName="gone"), "ResourceNotFound"),
    ]
    for call, code in calls:
        with pytest.raises(ClientError) as error:
            call()
        assert error.value.response["Error"]["Code"] == code


# ------------------------------- Braket, Clean Rooms ML, HealthOmics, Greengrass v2 (no moto)


@pytest.fixture(scope="module")
def rest_kinds() -> Iterator[str]:
    from awsim import kinds_records as records

    scn = Scenario((Account(A, regions=(Region(R),)),))
    with run_emulator(scn, quotas=Quotas.unlimited()) as emu:
        recipe = records.docker_recipe("edge", f"docker:{U}")
        for collection, key, record in (
            records.braket_job(A, R, "vqe", "RUNNING", U),
            records.braket_job(A, R, "script", "COMPLETED", None),
            records.cleanrooms_ml_algorithm(A, R, "lookalike", U, U),
            records.omics_workflow(A, R, "1234567"),
            records.greengrass_component(A, R, "edge"),
            records.greengrass_version(A, R, "edge", "1.0.0", recipe),
            records.greengrass_version(A, R, "edge", "1.1.0", recipe),
        ):
            emu.add_consumer(A, R, collection, key, record)
        yield emu.endpoint_url


def _first(c: Any, call: str, key: str, member: str, **request: Any) -> Any:
    return getattr(c, call)(**request)[key][0][member]


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("braket", lambda c: c.search_jobs(filters=[], maxResults=100)),
        (
            "braket",
            lambda c: c.get_job(jobArn=_first(c, "search_jobs", "jobs", "jobArn", filters=[])),
        ),
        ("cleanroomsml", lambda c: c.list_configured_model_algorithms()),
        (
            "cleanroomsml",
            lambda c: c.get_configured_model_algorithm(
                configuredModelAlgorithmArn=_first(
                    c,
                    "list_configured_model_algorithms",
                    "configuredModelAlgorithms",
                    "configuredModelAlgorithmArn",
                )
            ),
        ),
        ("omics", lambda c: c.list_workflows(type="PRIVATE", maxResults=1)),
        ("greengrassv2", lambda c: c.list_components(scope="PRIVATE")),
        (
            "greengrassv2",
            lambda c: c.list_component_versions(
                arn=_first(c, "list_components", "components", "arn", scope="PRIVATE")
            ),
        ),
        (
            "greengrassv2",
            lambda c: c.get_component(
                arn=_first(
                    c,
                    "list_component_versions",
                    "componentVersions",
                    "arn",
                    arn=_first(c, "list_components", "components", "arn", scope="PRIVATE"),
                ),
                recipeOutputFormat="JSON",
            ),
        ),
    ],
)
def test_rest_kinds_answers_follow_the_model(
    rest_kinds: str, service: str, call: Callable[[Any], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")  # HealthOmics' workflows-
    operation, body = _raw(rest_kinds, service, call)
    assert not all(_nothing(value) for value in body.values()), body
    assert _conforms(operation.output_shape, body) == []


def test_rest_kinds_paging_and_errors(rest_kinds: str) -> None:
    greengrass = client(rest_kinds, "greengrassv2")
    arn = greengrass.list_components(scope="PRIVATE")["components"][0]["arn"]
    first = greengrass.list_component_versions(arn=arn, maxResults=1)
    rest = greengrass.list_component_versions(arn=arn, nextToken=first["nextToken"])
    versions = [v["componentVersion"] for v in first["componentVersions"]]
    versions += [v["componentVersion"] for v in rest["componentVersions"]]
    assert (versions, "nextToken" in rest) == (["1.0.0", "1.1.0"], False)
    recipe = greengrass.get_component(arn=f"{arn}:versions:1.0.0", recipeOutputFormat="JSON")
    assert json.loads(recipe["recipe"])["Manifests"][0]["Artifacts"] == [{"URI": f"docker:{U}"}]
    with pytest.raises(ClientError) as missing:
        client(rest_kinds, "braket").get_job(jobArn=f"arn:aws:braket:{R}:{A}:job/none")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.fixture(scope="module")
def gamelift() -> Iterator[str]:
    from awsim import kinds_records as records

    scn = Scenario((Account(A, regions=(Region(R),)),))
    with run_emulator(scn, quotas=Quotas.unlimited()) as emu:
        for version in (1, 2):
            definition = records.gamelift_definition(
                A, R, "arena", version, (U, V3.digest), ((U, None),)
            )
            emu.add_gamelift_container_group_definition(A, R, definition)
        yield emu.endpoint_url


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.list_container_group_definitions(Limit=1),
        lambda c: c.list_container_group_definition_versions(Name="arena"),
    ],
)
def test_gamelift_answers_follow_the_model(gamelift: str, call: Callable[[Any], Any]) -> None:
    operation, body = _raw(gamelift, "gamelift", call)
    assert body["ContainerGroupDefinitions"][0]["GameServerContainerDefinition"]["ImageUri"] == U
    assert _conforms(operation.output_shape, body) == []


def test_gamelift_paging_and_errors(gamelift: str) -> None:
    c = client(gamelift, "gamelift")
    first = c.list_container_group_definition_versions(Name="arena", Limit=1)
    rest = c.list_container_group_definition_versions(Name="arena", NextToken=first["NextToken"])
    versions = [d["VersionNumber"] for d in first["ContainerGroupDefinitions"]]
    versions += [d["VersionNumber"] for d in rest["ContainerGroupDefinitions"]]
    assert (versions, "NextToken" in rest) == ([2, 1], False)
    with pytest.raises(ClientError) as missing:
        c.list_container_group_definition_versions(Name="none")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
