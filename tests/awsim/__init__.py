"""awsim -- a test-only emulator of the AWS APIs ecr-sweeper uses (STS, Organizations, ECS, ECR).

Public API::

    from awsim import Scenario, Account, Region, Repository, Image, Platform, Cluster, Service, \
        Deployment, TaskSet, Task, Container, TaskDefinition, ContainerDefinition
    from awsim import run_emulator, Faults, Quotas, RateLimit, generate_org, spawn_emulator

See the module docstrings of ``scenario``, ``server``, ``faults``, ``quotas``, ``ops_ecr``.
"""

from typing import Any

from .arns import image_uri, repository_arn, service_arn, task_arn, task_definition_arn
from .faults import Faults
from .generate import OrgSummary, generate_org, generate_org_with_truth
from .quotas import Quotas, RateLimit
from .remote import RemoteEmulator, spawn_emulator
from .scenario import (
    DEFAULT_TIME,
    UTC,
    Account,
    Cluster,
    Container,
    ContainerDefinition,
    Deployment,
    Image,
    Platform,
    Region,
    Repository,
    Scenario,
    Service,
    Task,
    TaskDefinition,
    TaskSet,
)
from .server import CallKey, Emulator, run_emulator, start_emulator

__all__ = [
    "DEFAULT_TIME",
    "UTC",
    "Account",
    "CallKey",
    "Cluster",
    "Container",
    "ContainerDefinition",
    "Deployment",
    "Emulator",
    "Faults",
    "Image",
    "OrgSummary",
    "Platform",
    "Quotas",
    "RateLimit",
    "Region",
    "RemoteEmulator",
    "Repository",
    "Scenario",
    "Service",
    "Task",
    "TaskDefinition",
    "TaskSet",
    "emulated",
    "generate_org",
    "generate_org_with_truth",
    "image_uri",
    "repository_arn",
    "run_emulator",
    "service_arn",
    "spawn_emulator",
    "start_emulator",
    "task_arn",
    "task_definition_arn",
]


def emulated(sources: Any) -> Any:
    """`sources` (an ecr_sweeper `Sources`) without the readers of services the emulator does
    not serve: it serves ECS (daemons included), ECR, STS, Organizations, App Runner and
    Lightsail container services, and answers Bedrock AgentCore's runtimes with none.
    SageMaker's reads are served (ops_sagemaker.py) but off here: its tests switch it on."""
    from dataclasses import replace

    return replace(
        sources,
        off=sources.off
        | {
            "batch",
            "codebuild",
            "emr",
            "lambda",
            "pipes",
            "sagemaker",
            "schedules",
            "stepfunctions",
        },
    )
