"""Reading requests and answers by the service model's shapes (no network): the members that
name images are found wherever the shapes put them, user data never counts, and a run-time
value fails closed only where it could name an image."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from botocore.exceptions import EndpointResolutionError

from ecr_sweeper.aws.consumers import endpoints
from ecr_sweeper.aws.consumers.batch import report_definition
from ecr_sweeper.aws.consumers.emr import report_application
from ecr_sweeper.aws.consumers.endpoints import listed
from ecr_sweeper.aws.consumers.integrations import REFERENCES
from ecr_sweeper.aws.consumers.kind import ReadContext
from ecr_sweeper.aws.consumers.sagemaker_endpoints import report_endpoint
from ecr_sweeper.aws.consumers.sagemaker_pipelines import report_pipeline
from ecr_sweeper.aws.consumers.scan import read_context
from ecr_sweeper.aws.consumers.shapes import Schema, Unresolvable
from ecr_sweeper.aws.limits import Api
from ecr_sweeper.model import AccountId, AccountTarget, Region, Sources
from ecr_sweeper.retry import RetryPolicy


async def _no_client(service: str) -> Any:
    raise AssertionError(f"no call expected ({service})")


def context() -> ReadContext:
    return read_context(
        AccountTarget(AccountId("111111111111"), (Region("us-east-1"),)),
        Region("us-east-1"),
        api=Api(1, RetryPolicy()),
        client=_no_client,
        sources=Sources(),
        now=datetime.now(UTC),
    )


def test_batch_job_definition_images_in_every_container_kind() -> None:
    found = context().findings()
    definition = {
        "jobDefinitionName": "mixed",
        "revision": 4,
        "containerProperties": {
            "image": "a",
            "environment": [{"name": "image", "value": "not-an-image"}],
        },
        "nodeProperties": {
            "nodeRangeProperties": [
                {"targetNodes": "0:", "container": {"image": "b"}},
                {
                    "targetNodes": "1:",
                    "ecsProperties": {
                        "taskProperties": [{"containers": [{"name": "n", "image": "c"}]}]
                    },
                },
            ]
        },
        "ecsProperties": {"taskProperties": [{"containers": [{"name": "web", "image": "d"}]}]},
        "eksProperties": {
            "podProperties": {
                "containers": [{"name": "e", "image": "e"}],
                "initContainers": [{"name": "f", "image": "f"}],
            }
        },
        "tags": {"image": "not-an-image"},
        "parameters": {"image": "not-an-image"},
    }
    report_definition(found, definition, "", "batch")
    assert {(s.image, s.source) for s in found.reading().images} == {
        ("a", "Batch job definition mixed:4 (container)"),
        ("b", "Batch job definition mixed:4 (nodeProperties.nodeRangeProperties[0].container)"),
        (
            "c",
            "Batch job definition mixed:4 (nodeProperties.nodeRangeProperties[1]"
            ".ecsProperties.taskProperties[0].containers[0] n)",
        ),
        ("d", "Batch job definition mixed:4 (ecsProperties.taskProperties[0].containers[0] web)"),
        ("e", "Batch job definition mixed:4 (eksProperties.podProperties.containers[0] e)"),
        ("f", "Batch job definition mixed:4 (eksProperties.podProperties.initContainers[0] f)"),
    }


def submit_job() -> tuple[Schema, Any]:
    schema = Schema("batch", REFERENCES["batch"], requests=True)
    shape = schema.input_shape("SubmitJob")
    assert shape is not None
    return schema, shape


def test_templated_request_keys_are_pascal_case_and_overrides_are_read() -> None:
    schema, shape = submit_job()
    request = {
        "JobDefinition": "etl:3",
        "Parameters": {"JobDefinition": "user data"},
        "EksPropertiesOverride": {"PodProperties": {"Containers": [{"Image": "override"}]}},
    }
    found = {(f.meaning, f.value) for f in schema.find(shape, request, templated=True)}
    assert found == {("job definition", "etl:3"), ("image", "override")}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"JobDefinition.$": "$.jd"}, "jobDefinition"),
        ({"JobDefinition": "{% $states.input.jd %}"}, "jobDefinition"),
        ({"JobDefinition": "etl", "EksPropertiesOverride.$": "$.o"}, "eksPropertiesOverride"),
        (
            {
                "JobDefinition": "etl",
                "EksPropertiesOverride": {"PodProperties": {"Containers": ["{% $x %}"]}},
            },
            "eksPropertiesOverride.podProperties.containers[0]",
        ),
        ("{% $states.input %}", "(the whole request)"),
    ],
)
def test_a_run_time_value_that_can_name_an_image_is_unresolvable(request_: Any, field: str) -> None:
    schema, shape = submit_job()
    with pytest.raises(Unresolvable) as caught:
        schema.find(shape, request_, templated=True)
    assert caught.value.field == field


def test_run_time_values_that_cannot_name_an_image_are_fine() -> None:
    schema, shape = submit_job()
    request = {
        "JobDefinition": "etl",
        "JobName.$": "$.name",
        "ContainerOverrides.$": "$.c",
        "Parameters.$": "$.p",
    }
    assert [f.value for f in schema.find(shape, request, templated=True)] == ["etl"]


def test_an_answer_is_not_templated() -> None:
    schema, shape = submit_job()
    found = schema.find(shape, {"jobDefinition.$": "$.x", "jobDefinition": "etl"})
    assert [f.value for f in found] == ["etl"]


def test_botocore_endpoint_data_lists_where_each_service_is_offered() -> None:
    assert listed("codebuild", "us-east-1") is True
    assert listed("apprunner", "sa-east-1") is False  # App Runner is in a dozen regions
    assert listed("batch", "xx-future-1") is None  # a region newer than botocore's data
    # a service newer than the data (resolved by its rule set) is listed nowhere
    assert not endpoints.known("bedrock-agentcore-control")
    assert endpoints.known("apprunner")


AWS_AGENTCORE = "https://bedrock-agentcore-control.sa-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("endpoint_url", "name_exists", "expected"),
    [
        (AWS_AGENTCORE, False, False),  # AWS's endpoint, and AWS has no such name
        (AWS_AGENTCORE, True, True),  # AWS's endpoint, and the name exists
        ("http://127.0.0.1:9", False, True),  # another endpoint: the data cannot say, read
    ],
)
def test_a_service_the_data_does_not_know_is_absent_only_where_dns_says_so(
    monkeypatch: pytest.MonkeyPatch, endpoint_url: str, *, name_exists: bool, expected: bool
) -> None:
    async def dns(host: str) -> bool:  # noqa: ARG001 - the answer is the test's
        return name_exists

    monkeypatch.setattr(endpoints, "name_exists", dns)
    monkeypatch.setattr(endpoints, "_NAME_EXISTS", {})
    offered = anyio.run(endpoints.offered, "bedrock-agentcore-control", "sa-east-1", endpoint_url)
    assert offered is expected


AWS_SA = "https://apprunner.sa-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("region", "endpoint_url", "name_exists", "expected"),
    [
        ("us-east-1", "https://apprunner.us-east-1.amazonaws.com", False, True),  # listed
        ("xx-future-1", "https://apprunner.xx-future-1.amazonaws.com", False, True),  # newer
        ("sa-east-1", AWS_SA, False, False),  # not listed, and AWS has no such name
        ("sa-east-1", AWS_SA, True, True),  # not listed, but the name exists (a launch): read
        ("sa-east-1", "http://127.0.0.1:9", True, False),  # not AWS's endpoint: the data
    ],
)
def test_a_service_is_absent_only_where_the_data_and_dns_both_say_so(
    monkeypatch: pytest.MonkeyPatch,
    region: str,
    endpoint_url: str,
    *,
    name_exists: bool,
    expected: bool,
) -> None:
    asked: list[str] = []

    async def dns(host: str) -> bool:
        asked.append(host)
        return name_exists

    monkeypatch.setattr(endpoints, "name_exists", dns)
    monkeypatch.setattr(endpoints, "_NAME_EXISTS", {})
    assert anyio.run(endpoints.offered, "apprunner", region, endpoint_url) is expected
    assert asked == ([AWS_SA.removeprefix("https://")] if endpoint_url == AWS_SA else [])


@pytest.mark.parametrize(("region", "absent"), [("sa-east-1", True), ("us-east-1", False)])
def test_an_endpoint_botocore_cannot_name_is_absence_only_where_the_data_agrees(
    region: str, *, absent: bool
) -> None:
    async def no_endpoint(service: str) -> Any:
        raise EndpointResolutionError(msg=f"no endpoint for {service}")

    ctx = replace(context(), region=Region(region), client=no_endpoint)
    if absent:  # App Runner is not in sa-east-1's data
        assert anyio.run(ctx.client_if_offered, "apprunner") is None
    else:  # listed in us-east-1: nothing was read, so presence stays unknown (it raises)
        with pytest.raises(EndpointResolutionError):
            anyio.run(ctx.client_if_offered, "apprunner")


def test_aws_host_names_follow_the_endpoint_prefix_and_the_partition() -> None:
    assert endpoints.aws_host("sagemaker", "eu-west-1") == "api.sagemaker.eu-west-1.amazonaws.com"
    assert endpoints.aws_host("stepfunctions", "us-east-1") == "states.us-east-1.amazonaws.com"
    assert endpoints.aws_host("lightsail", "cn-north-1") == "lightsail.cn-north-1.amazonaws.com.cn"


def test_a_name_that_cannot_exist_does_not() -> None:
    assert anyio.run(endpoints.name_exists, "lightsail.invalid") is False  # RFC 2606
    assert anyio.run(endpoints.name_exists, "localhost") is True


def test_emr_serverless_application_images_and_resolved_digests() -> None:
    found = context().findings()
    answer = {
        "application": {
            "applicationId": "00f1",
            "name": "etl",
            "releaseLabel": "emr-7.0.0",
            "type": "SPARK",
            "state": "STOPPED",
            "imageConfiguration": {"imageUri": "app-image", "resolvedImageDigest": "sha256:aa"},
            "workerTypeSpecifications": {
                "Executor": {"imageConfiguration": {"imageUri": "executor-image"}}
            },
            "tags": {"imageUri": "not-an-image"},
        }
    }
    report_application(found, answer)
    assert {(s.image, s.source, s.digest) for s in found.reading().images} == {
        (
            "app-image",
            "EMR Serverless application etl (application.imageConfiguration)",
            "sha256:aa",
        ),
        (
            "executor-image",
            "EMR Serverless application etl "
            "(application.workerTypeSpecifications[Executor].imageConfiguration)",
            None,
        ),
    }


def test_sagemaker_endpoint_deployed_images_specified_and_resolved() -> None:
    found = context().findings()
    image = "111111111111.dkr.ecr.us-east-1.amazonaws.com/serve"
    deployed = {"SpecifiedImage": f"{image}:v1", "ResolvedImage": f"{image}@sha256:aa"}
    answer = {
        "EndpointName": "scorer",
        "ProductionVariants": [{"VariantName": "main", "DeployedImages": [deployed]}],
        "ShadowProductionVariants": [{"VariantName": "shadow", "DeployedImages": []}],
        "PendingDeploymentSummary": {
            "EndpointConfigName": "next",
            "ProductionVariants": [
                {"VariantName": "main", "DeployedImages": [{"SpecifiedImage": f"{image}:v2"}]}
            ],
        },
    }
    report_endpoint(found, answer)
    reading = found.reading()
    assert {(s.image, s.source) for s in reading.images} == {
        (
            f"{image}:v1",
            "SageMaker endpoint scorer (ProductionVariants[0].DeployedImages[0].SpecifiedImage)",
        ),
        (
            f"{image}@sha256:aa",
            "SageMaker endpoint scorer (ProductionVariants[0].DeployedImages[0].ResolvedImage)",
        ),
        (
            f"{image}:v2",
            "SageMaker endpoint scorer "
            "(PendingDeploymentSummary.ProductionVariants[0].DeployedImages[0].SpecifiedImage)",
        ),
    }
    assert reading.unread == (
        "SageMaker endpoint scorer ShadowProductionVariants shadow: reports no DeployedImages "
        "and hosts no inference component (not yet deployed?)",
    )


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"Get": "Steps.Build.Properties.ImageUri"}, "AppSpecification.ImageUri"),
        ({"Std:Join": {"On": ":", "Values": ["repo", "v1"]}}, "AppSpecification.ImageUri"),
    ],
)
def test_a_sagemaker_pipeline_value_known_at_run_time_is_unread(value: object, field: str) -> None:
    found = context().findings()
    step = {
        "Name": "Prep",
        "Type": "Processing",
        "Arguments": {"AppSpecification": {"ImageUri": value}},
    }
    report_pipeline(found, "etl", json.dumps({"Steps": [step]}))
    [line] = found.reading().unread
    assert line.startswith(f"SageMaker pipeline etl step Prep: Arguments.{field} is only known")
    assert not found.reading().images


def test_a_sagemaker_pipeline_step_of_an_unknown_type_is_unread_and_known_ones_are_not() -> None:
    found = context().findings()
    steps = [
        {"Name": "Notify", "Type": "Lambda", "Arguments": {}},
        {"Name": "New", "Type": "Quantum", "Arguments": {"Image": "x"}},
        {"Name": "Batch", "Type": "Transform", "Arguments": {"ModelName": "m"}},
    ]
    report_pipeline(found, "etl", json.dumps({"Steps": steps}))
    assert found.reading().unread == (
        "SageMaker pipeline etl step New: step type 'Quantum' is not read",
    )
    report_pipeline(found, "broken", "not json")
    assert (
        found.reading().unread[-1]
        == "SageMaker pipeline broken: its definition is not a JSON object"
    )


def test_sagemaker_pipeline_tuning_and_model_steps_are_read_by_their_requests_shapes() -> None:
    found = context().findings()
    spec = {"TrainingImage": "tune-image", "TrainingInputMode": "File"}
    steps = [
        {
            "Name": "Tune",
            "Type": "Tuning",
            "Arguments": {
                "TrainingJobDefinition": {"AlgorithmSpecification": spec},
                "TrainingJobDefinitions": [{"AlgorithmSpecification": spec}],
            },
        },
        {
            "Name": "Make",
            "Type": "Model",
            "Arguments": {
                "PrimaryContainer": {"Image": "model-image", "Environment": {"Image": "no"}},
                "Containers": [{"Image": "second-image"}],
            },
        },
    ]
    report_pipeline(found, "hpo", json.dumps({"Steps": steps}))
    reading = found.reading()
    assert reading.unread == ()
    assert {(s.image, s.source) for s in reading.images} == {
        (
            "tune-image",
            "SageMaker pipeline hpo step Tune "
            "(TrainingJobDefinition.AlgorithmSpecification.TrainingImage)",
        ),
        (
            "tune-image",
            "SageMaker pipeline hpo step Tune "
            "(TrainingJobDefinitions[0].AlgorithmSpecification.TrainingImage)",
        ),
        ("model-image", "SageMaker pipeline hpo step Make (PrimaryContainer.Image)"),
        ("second-image", "SageMaker pipeline hpo step Make (Containers[0].Image)"),
    }
