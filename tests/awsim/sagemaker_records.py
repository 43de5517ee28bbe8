"""SageMaker resources as their Describe calls answer them, with the members botocore's model
requires (the conformance suite checks them), for Emulator.add_sagemaker."""

from __future__ import annotations

from typing import Any

T = 1_700_000_000  # every creation and modification time
ROLE = "arn:aws:iam::111111111111:role/sagemaker"


def _arn(account: str, region: str, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:{kind}/{name}"


def model(account: str, region: str, name: str, image: str) -> dict[str, Any]:
    return {
        "ModelName": name,
        "ModelArn": _arn(account, region, "model", name),
        "CreationTime": T,
        "PrimaryContainer": {"Image": image, "Environment": {"Image": "not-an-image"}},
    }


def endpoint(
    account: str, region: str, name: str, variants: dict[str, list[str]]
) -> dict[str, Any]:
    """An endpoint whose variants (name → images deployed; none: it hosts inference
    components) are InService."""
    return {
        "EndpointName": name,
        "EndpointArn": _arn(account, region, "endpoint", name),
        "EndpointConfigName": name,
        "EndpointStatus": "InService",
        "CreationTime": T,
        "LastModifiedTime": T,
        "ProductionVariants": [
            {
                "VariantName": variant,
                **({"DeployedImages": [{"SpecifiedImage": i} for i in images]} if images else {}),
            }
            for variant, images in variants.items()
        ],
    }


def inference_component(
    account: str,
    region: str,
    name: str,
    endpoint_name: str,
    variant: str,
    *,
    specified: str | None = None,
    resolved: str | None = None,
    model_name: str | None = None,
) -> dict[str, Any]:
    """A component running a container (its deployed image: `specified`, `resolved`), or a
    model (`model_name`)."""
    specification: dict[str, Any] = {"ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1}}
    if model_name is not None:
        specification["ModelName"] = model_name
    else:
        deployed = {"SpecifiedImage": specified, "ResolvedImage": resolved}
        specification["Container"] = {
            "DeployedImage": {k: v for k, v in deployed.items() if v is not None},
            "Environment": {"IMAGE": "not-an-image"},
        }
    return {
        "InferenceComponentName": name,
        "InferenceComponentArn": _arn(account, region, "inference-component", name),
        "EndpointName": endpoint_name,
        "EndpointArn": _arn(account, region, "endpoint", endpoint_name),
        "VariantName": variant,
        "Specification": specification,
        "InferenceComponentStatus": "InService",
        "CreationTime": T,
        "LastModifiedTime": T,
    }


def training_job(account: str, region: str, name: str, status: str, image: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": _arn(account, region, "training-job", name),
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://models/{name}"},
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training" if status == "InProgress" else status,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Environment": {"TRAINING_IMAGE": "not-an-image"},
        "CreationTime": T,
    }


def processing_job(account: str, region: str, name: str, status: str, image: str) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "ProcessingJobArn": _arn(account, region, "processing-job", name),
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 10,
            }
        },
        "AppSpecification": {"ImageUri": image},
        "ProcessingJobStatus": status,
        "CreationTime": T,
    }


def transform_job(
    account: str, region: str, name: str, status: str, model_name: str
) -> dict[str, Any]:
    return {
        "TransformJobName": name,
        "TransformJobArn": _arn(account, region, "transform-job", name),
        "TransformJobStatus": status,
        "ModelName": model_name,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://in/"}}
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "CreationTime": T,
    }


def tuning_job(account: str, region: str, name: str, status: str, image: str) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": _arn(account, region, "hyper-parameter-tuning-job", name),
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxParallelTrainingJobs": 1},
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://out/"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
        "HyperParameterTuningJobStatus": status,
        "CreationTime": T,
        "TrainingJobStatusCounters": {"InProgress": 1},
        "ObjectiveStatusCounters": {"Pending": 1},
    }


def _cluster() -> dict[str, Any]:
    return {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}


def monitoring_schedule(
    account: str,
    region: str,
    name: str,
    *,
    image: str | None = None,
    definition: str | None = None,
    kind: str = "DataQuality",
) -> dict[str, Any]:
    """A schedule running `image` (its own job definition), or the job definition
    `definition` of type `kind`."""
    config: dict[str, Any] = {"ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"}}
    if image is not None:
        config["MonitoringJobDefinition"] = {
            "MonitoringInputs": [],
            "MonitoringOutputConfig": {"MonitoringOutputs": []},
            "MonitoringResources": {"ClusterConfig": _cluster()},
            "MonitoringAppSpecification": {"ImageUri": image},
            "RoleArn": ROLE,
        }
    else:
        config["MonitoringJobDefinitionName"] = definition
        config["MonitoringType"] = kind
    return {
        "MonitoringScheduleArn": _arn(account, region, "monitoring-schedule", name),
        "MonitoringScheduleName": name,
        "MonitoringScheduleStatus": "Scheduled",
        "MonitoringType": kind,
        "CreationTime": T,
        "LastModifiedTime": T,
        "MonitoringScheduleConfig": config,
        "EndpointName": "scorer",
    }


def data_quality_job_definition(account: str, region: str, name: str, image: str) -> dict[str, Any]:
    return {
        "JobDefinitionArn": _arn(account, region, "data-quality-job-definition", name),
        "JobDefinitionName": name,
        "CreationTime": T,
        "DataQualityAppSpecification": {"ImageUri": image},
        "DataQualityJobInput": {},
        "DataQualityJobOutputConfig": {"MonitoringOutputs": []},
        "JobResources": {"ClusterConfig": _cluster()},
        "RoleArn": ROLE,
    }


def algorithm(
    account: str, region: str, name: str, training: str, serving: str, digest: str | None = None
) -> dict[str, Any]:
    return {
        "AlgorithmName": name,
        "AlgorithmArn": _arn(account, region, "algorithm", name),
        "CreationTime": T,
        "TrainingSpecification": {
            "TrainingImage": training,
            **({"TrainingImageDigest": digest} if digest else {}),
            "SupportedTrainingInstanceTypes": ["ml.m5.large"],
            "TrainingChannels": [],
        },
        "InferenceSpecification": {"Containers": [{"Image": serving}]},
        "AlgorithmStatus": "Completed",
        "AlgorithmStatusDetails": {},
    }


def image(account: str, region: str, name: str) -> dict[str, Any]:
    return {
        "CreationTime": T,
        "ImageArn": _arn(account, region, "image", name),
        "ImageName": name,
        "ImageStatus": "CREATED",
        "LastModifiedTime": T,
    }


def image_version(account: str, region: str, name: str, version: int, base: str) -> dict[str, Any]:
    return {
        "BaseImage": base,
        "ContainerImage": base,
        "CreationTime": T,
        "ImageArn": _arn(account, region, "image", name),
        "ImageVersionArn": _arn(account, region, "image-version", f"{name}/{version}"),
        "ImageVersionStatus": "CREATED",
        "LastModifiedTime": T,
        "Version": version,
    }
