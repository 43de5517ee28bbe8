"""Braket jobs, Clean Rooms ML algorithms, HealthOmics workflows and Greengrass v2 components
as their Get calls (and listings) answer them, for Emulator.add_consumer (ops_kinds.py);
each returns (collection, key, record)."""

from __future__ import annotations

from typing import Any

T = 1_700_000_000
Record = tuple[str, str, dict[str, Any]]


def braket_job(account: str, region: str, name: str, status: str, image: str | None) -> Record:
    """A hybrid job (`image`: its container; None: script mode, Braket's own image)."""
    arn = f"arn:aws:braket:{region}:{account}:job/{name}"
    algorithm: dict[str, Any] = (
        {"containerImage": {"uri": image}}
        if image
        else {"scriptModeConfig": {"entryPoint": "main", "s3Uri": "s3://code/main.tar.gz"}}
    )
    return (
        "braket-jobs",
        arn,
        {
            "status": status,
            "jobArn": arn,
            "jobName": name,
            "device": "arn:aws:braket:::device/quantum-simulator/amazon/sv1",
            "roleArn": f"arn:aws:iam::{account}:role/braket",
            "algorithmSpecification": algorithm,
            "hyperParameters": {"image": "not-an-image"},
            "outputDataConfig": {"s3Path": "s3://out/"},
            "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 30},
            "createdAt": T,
        },
    )


def cleanrooms_ml_algorithm(
    account: str, region: str, name: str, training: str, inference: str | None = None
) -> Record:
    arn = f"arn:aws:cleanrooms-ml:{region}:{account}:configured-model-algorithm/{name}"
    return (
        "cleanrooms-ml-algorithms",
        arn,
        {
            "createTime": T,
            "updateTime": T,
            "configuredModelAlgorithmArn": arn,
            "name": name,
            "trainingContainerConfig": {"imageUri": training, "entrypoint": ["train"]},
            **({"inferenceContainerConfig": {"imageUri": inference}} if inference else {}),
            "roleArn": f"arn:aws:iam::{account}:role/cleanrooms-ml",
        },
    )


def omics_workflow(account: str, region: str, workflow_id: str, kind: str = "PRIVATE") -> Record:
    return (
        "omics-workflows",
        workflow_id,
        {
            "arn": f"arn:aws:omics:{region}:{account}:workflow/{workflow_id}",
            "id": workflow_id,
            "name": f"workflow-{workflow_id}",
            "status": "ACTIVE",
            "type": kind,
            "creationTime": T,
        },
    )


def greengrass_component(account: str, region: str, name: str) -> Record:
    arn = f"arn:aws:greengrass:{region}:{account}:components:{name}"
    return (
        "greengrass-components",
        arn,
        {"arn": arn, "componentName": name, "latestVersion": {"componentVersion": "1.0.0"}},
    )


def greengrass_version(account: str, region: str, name: str, version: str, recipe: Any) -> Record:
    """A version of component `name` whose recipe (a JSON value) is `recipe`."""
    component = f"arn:aws:greengrass:{region}:{account}:components:{name}"
    arn = f"{component}:versions:{version}"
    return (
        "greengrass-versions",
        arn,
        {
            "componentName": name,
            "componentVersion": version,
            "arn": arn,
            "_component": component,
            "_recipe": recipe,
        },
    )


def docker_recipe(name: str, *uris: str) -> dict[str, Any]:
    """A recipe whose one manifest declares `uris` as artifacts (docker: ones are images)."""
    return {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {"DefaultConfiguration": {"URI": "docker:not-an-artifact"}},
        "Manifests": [
            {
                "Platform": {"os": "linux"},
                "Lifecycle": {"Run": "docker run app"},
                "Artifacts": [{"URI": uri} for uri in uris],
            }
        ],
    }


def gamelift_definition(
    account: str,
    region: str,
    name: str,
    version: int,
    game_server: tuple[str, str | None] | None,
    support: tuple[tuple[str, str | None], ...] = (),
) -> dict[str, Any]:
    """A version of a container group definition: its game server container's (image,
    resolved digest), if any, and its support containers'."""

    def container(n: int, image: str, digest: str | None) -> dict[str, Any]:
        return {
            "ContainerName": f"c{n}",
            "ImageUri": image,
            **({"ResolvedImageDigest": digest} if digest else {}),
            "EnvironmentOverride": [{"Name": "IMAGE", "Value": "not-an-image"}],
        }

    definition: dict[str, Any] = {
        "ContainerGroupDefinitionArn": f"arn:aws:gamelift:{region}:{account}:"
        f"containergroupdefinition/{name}:{version}",
        "CreationTime": T,
        "OperatingSystem": "AMAZON_LINUX_2023",
        "Name": name,
        "ContainerGroupType": "GAME_SERVER" if game_server else "PER_INSTANCE",
        "TotalMemoryLimitMebibytes": 1024,
        "TotalVcpuLimit": 1.0,
        "SupportContainerDefinitions": [
            container(n, image, digest) for n, (image, digest) in enumerate(support, 1)
        ],
        "VersionNumber": version,
        "Status": "READY",
    }
    if game_server:
        definition["GameServerContainerDefinition"] = {
            **container(0, *game_server),
            "ServerSdkVersion": "5.2.0",
        }
    return definition
