"""SageMaker's consumers moto lacks, on the emulator (ops_sagemaker.py): inference components
(and the endpoints that host them), running jobs, monitoring schedules, algorithms and Studio
images. Each seed uses some images of one repository and leaves `unused`; a real plan keeps
exactly what is used, naming the consumer; a denied read, and a consumer whose images cannot
be known, block the plan with a census line; the census sees each resource alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from awsim import (
    Account,
    Emulator,
    Faults,
    Image,
    Quotas,
    Region,
    Repository,
    Scenario,
    emulated,
    image_uri,
    run_emulator,
)
from awsim import sagemaker_records as records
from conftest import use_only
from ecr_sweeper import wording
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.model import AccountId, AccountTarget, CensusEntry, Plan, Sources
from ecr_sweeper.model import Region as RegionName
from ecr_sweeper.pipeline import make_plan, scan_usage
from planning import NO_RETENTION
from sweep import connected

A, US = "111111111111", "us-east-1"
TARGET = AccountTarget(AccountId(A), (RegionName(US),), role_arn=f"arn:aws:iam::{A}:role/Sweeper")
BASE = emulated(Sources(service_revisions=False))
SAGEMAKER = replace(BASE, off=BASE.off - {"sagemaker"})
TAGS = (
    *("ic", "pinned", "model", "train", "old", "proc", "tune"),
    *("monitor", "inline", "algo", "serve", "studio", "unused"),
)
IMAGES = {tag: Image(tags=(tag,), key=tag) for tag in TAGS}
SCENARIO = Scenario(
    (
        Account(
            A,
            regions=(Region(US, repositories=(Repository("ml", images=tuple(IMAGES.values())),)),),
        ),
    )
)
Seed = Callable[[Emulator], None]


def uri(tag: str) -> str:
    return image_uri(A, US, "ml", tag=tag)


def run(
    seed: Seed, sources: Sources = SAGEMAKER, faults: Faults | None = None
) -> tuple[Plan, CensusEntry]:
    """Plan after `seed`; and the census entry of sagemaker."""
    with run_emulator(SCENARIO, quotas=Quotas.unlimited(), faults=faults or Faults()) as emu:
        seed(emu)
        with pytest.MonkeyPatch.context() as monkeypatch:
            use_only(monkeypatch, emu.env())

            async def go(connections: Connections) -> tuple[Plan, CensusEntry]:
                now = datetime.now(UTC)
                plan = await make_plan([TARGET], NO_RETENTION, connections, now, sources=sources)
                _, usage = await scan_usage([TARGET], connections, now, sources=sources)
                [entry] = [e for s in usage for e in s.census if e.kind == "sagemaker"]
                return plan, entry

            return connected(go)


def deleted(plan: Plan) -> set[str]:
    return {tag for d in plan.deletions for tag in d.tags}


def reason(plan: Plan, tag: str) -> str:
    return next(wording.reason(d.reason) for d in (*plan.kept, *plan.deletions) if tag in d.tags)


def components(emu: Emulator) -> None:
    """Endpoint `chat` hosts two components on variant `main` (so it reports no deployed
    images): one running a container (`ic`, resolved to `pinned`'s digest), one a model."""
    add = emu.add_sagemaker
    add(A, US, "Endpoint", "chat", records.endpoint(A, US, "chat", {"main": []}))
    pinned = f"{image_uri(A, US, 'ml')}@{IMAGES['pinned'].digest}"
    llm = records.inference_component(
        A, US, "llm", "chat", "main", specified=uri("ic"), resolved=pinned
    )
    add(A, US, "InferenceComponent", "llm", llm)
    add(A, US, "Model", "ranker", records.model(A, US, "ranker", uri("model")))
    ranker = records.inference_component(A, US, "ranks", "chat", "main", model_name="ranker")
    add(A, US, "InferenceComponent", "ranks", ranker)


def test_inference_components_keep_their_images_and_their_endpoint_is_read() -> None:
    plan, entry = run(components)
    assert plan.errors == ()
    assert (entry.present, entry.read, entry.detail) == (True, True, "")
    assert not plan.blocked
    assert deleted(plan) == set(TAGS) - {"ic", "pinned", "model"}
    assert reason(plan, "ic") == (
        "in use: tag 'ic' used by SageMaker inference component llm (endpoint chat) "
        "(Specification.Container.DeployedImage.SpecifiedImage)"
    )
    assert "SageMaker inference component llm (endpoint chat) " in reason(plan, "pinned")


def jobs(emu: Emulator) -> None:
    add = emu.add_sagemaker
    add(A, US, "TrainingJob", "t1", records.training_job(A, US, "t1", "InProgress", uri("train")))
    add(A, US, "TrainingJob", "t0", records.training_job(A, US, "t0", "Completed", uri("old")))
    add(A, US, "ProcessingJob", "p", records.processing_job(A, US, "p", "Stopping", uri("proc")))
    add(
        A,
        US,
        "HyperParameterTuningJob",
        "h",
        records.tuning_job(A, US, "h", "InProgress", uri("tune")),
    )
    add(A, US, "Model", "scorer", records.model(A, US, "scorer", uri("model")))
    add(A, US, "TransformJob", "b", records.transform_job(A, US, "b", "InProgress", "scorer"))


def test_running_jobs_keep_their_images_and_ended_ones_do_not() -> None:
    plan, entry = run(jobs)
    assert plan.errors == ()
    assert (entry.present, entry.read) == (True, True)
    assert deleted(plan) == set(TAGS) - {"train", "proc", "tune", "model"}
    assert reason(plan, "train") == (
        "in use: tag 'train' used by SageMaker training job t1 (AlgorithmSpecification)"
    )
    assert reason(plan, "proc") == (
        "in use: tag 'proc' used by SageMaker processing job p (AppSpecification)"
    )
    assert reason(plan, "tune") == (
        "in use: tag 'tune' used by SageMaker tuning job h "
        "(TrainingJobDefinition.AlgorithmSpecification)"
    )


def others(emu: Emulator) -> None:
    """A monitoring schedule of its own image, one naming a data quality job definition, an
    algorithm, and a Studio image's version."""
    add = emu.add_sagemaker
    inline = records.monitoring_schedule(A, US, "inline", image=uri("inline"))
    add(A, US, "MonitoringSchedule", "inline", inline)
    drift = records.monitoring_schedule(A, US, "drift", definition="dq")
    add(A, US, "MonitoringSchedule", "drift", drift)
    definition = records.data_quality_job_definition(A, US, "dq", uri("monitor"))
    add(A, US, "DataQualityJobDefinition", "dq", definition)
    algorithm = records.algorithm(A, US, "algo", uri("algo"), uri("serve"))
    add(A, US, "Algorithm", "algo", algorithm)
    add(A, US, "Image", "studio", records.image(A, US, "studio"))
    version = records.image_version(A, US, "studio", 1, uri("studio"))
    emu.add_sagemaker_image_version(A, US, "studio", 1, version)


def test_monitoring_schedules_algorithms_and_studio_images_keep_their_images() -> None:
    plan, entry = run(others)
    assert plan.errors == ()
    assert (entry.present, entry.read) == (True, True)
    assert deleted(plan) == set(TAGS) - {"inline", "monitor", "algo", "serve", "studio"}
    assert reason(plan, "inline") == (
        "in use: tag 'inline' used by SageMaker monitoring schedule inline "
        "(MonitoringScheduleConfig.MonitoringJobDefinition.MonitoringAppSpecification.ImageUri)"
    )
    assert reason(plan, "monitor") == (
        "in use: tag 'monitor' used by SageMaker monitoring schedule drift "
        "(DataQuality job definition dq DataQualityAppSpecification.ImageUri)"
    )
    assert reason(plan, "algo") == (
        "in use: tag 'algo' used by SageMaker algorithm algo (TrainingSpecification.TrainingImage)"
    )
    assert "SageMaker algorithm algo (InferenceSpecification.Containers[0].Image)" in (
        reason(plan, "serve")
    )
    assert "SageMaker Studio image studio version 1 (" in reason(plan, "studio")


def everything(emu: Emulator) -> None:
    components(emu)
    jobs(emu)
    others(emu)


@pytest.mark.parametrize(
    ("operation", "reader"),
    [
        ("ListInferenceComponents", "sagemaker endpoints, sagemaker inference components"),
        ("DescribeInferenceComponent", "sagemaker inference components"),
        ("ListTrainingJobs", "sagemaker jobs"),
        ("DescribeTransformJob", "sagemaker jobs"),
        ("DescribeMonitoringSchedule", "sagemaker monitoring schedules"),
        ("DescribeDataQualityJobDefinition", "sagemaker monitoring schedules"),
        ("DescribeAlgorithm", "sagemaker algorithms"),
        ("DescribeImageVersion", "sagemaker studio images"),
    ],
)
def test_a_denied_read_blocks_the_plan_with_its_census_line(operation: str, reader: str) -> None:
    plan, entry = run(everything, faults=Faults(denied_operations=frozenset({operation})))
    assert plan.deletions == ()
    assert (entry.present, entry.read) == (True, False)
    assert entry.detail == f"read failed: {reader}"
    assert any(operation in e.message and "AccessDenied" in e.message for e in plan.errors)
    assert (
        f"{A}/{US}: sagemaker present, not read (read failed: {reader})"
        in (wording.findings(plan.findings)[0])
    )


def orphans(emu: Emulator) -> None:
    """A component and a transform job whose model is gone, a component not deployed yet, a
    schedule whose job definition is gone."""
    add = emu.add_sagemaker
    add(A, US, "Endpoint", "chat", records.endpoint(A, US, "chat", {"main": []}))
    llm = records.inference_component(A, US, "llm", "chat", "main", specified=uri("ic"))
    add(A, US, "InferenceComponent", "llm", llm)
    gone = records.inference_component(A, US, "gone", "chat", "main", model_name="deleted")
    add(A, US, "InferenceComponent", "gone", gone)
    later = records.inference_component(A, US, "later", "chat", "main")
    add(A, US, "InferenceComponent", "later", later)
    add(A, US, "TransformJob", "b", records.transform_job(A, US, "b", "InProgress", "deleted"))
    drift = records.monitoring_schedule(A, US, "drift", definition="dq")
    add(A, US, "MonitoringSchedule", "drift", drift)


def test_what_cannot_be_known_leaves_sagemaker_unread_and_blocks_the_plan() -> None:
    plan, entry = run(orphans)
    assert plan.errors == ()
    assert (entry.present, entry.read) == (True, False)
    assert entry.detail == "unread: " + "; ".join(
        [
            "SageMaker inference component gone (endpoint chat): its model deleted cannot be "
            "described (deleted?)",
            "SageMaker inference component later (endpoint chat): its container reports no "
            "deployed image yet",
            "SageMaker monitoring schedule drift: its job definition dq is not found",
            "SageMaker transform job b: its model deleted cannot be described (deleted?)",
        ]
    )
    assert plan.blocked
    assert plan.deletions == ()
    assert reason(plan, "unused").startswith(
        f"kept: sagemaker in {A}/{US} may pull from this repository and was not read (unread: "
    )


def test_an_endpoint_variant_hosting_no_component_and_no_image_is_unread() -> None:
    def seed(emu: Emulator) -> None:
        emu.add_sagemaker(A, US, "Endpoint", "e", records.endpoint(A, US, "e", {"main": []}))

    _, entry = run(seed)
    assert entry.detail == (
        "unread: SageMaker endpoint e ProductionVariants main: reports no DeployedImages and "
        "hosts no inference component (not yet deployed?)"
    )


ALONE = {
    "inference component": (
        "InferenceComponent",
        records.inference_component(A, US, "c", "x", "main", specified=uri("ic")),
    ),
    "running training job": (
        "TrainingJob",
        records.training_job(A, US, "t", "InProgress", uri("train")),
    ),
    "stopping tuning job": (
        "HyperParameterTuningJob",
        records.tuning_job(A, US, "h", "Stopping", uri("tune")),
    ),
    "monitoring schedule": (
        "MonitoringSchedule",
        records.monitoring_schedule(A, US, "m", image=uri("inline")),
    ),
    "algorithm": ("Algorithm", records.algorithm(A, US, "a", uri("algo"), uri("serve"))),
    "studio image": ("Image", records.image(A, US, "s")),
}


@pytest.mark.parametrize("what", sorted(ALONE))
def test_the_census_sees_each_alone_and_switched_off_it_blocks(what: str) -> None:
    collection, record = ALONE[what]
    plan, entry = run(lambda emu: emu.add_sagemaker(A, US, collection, what, record), BASE)
    assert (entry.present, entry.read) == (True, False)
    assert plan.blocked
    assert plan.deletions == ()


def test_the_census_does_not_count_a_job_that_ended() -> None:
    def seed(emu: Emulator) -> None:
        old = records.training_job(A, US, "t0", "Completed", uri("old"))
        emu.add_sagemaker(A, US, "TrainingJob", "t0", old)

    plan, entry = run(seed, BASE)
    assert entry.present is False
    assert not plan.blocked
    assert deleted(plan) == set(TAGS)
