"""Seed a moto server (``python -m moto.server``) from an awsim scenario.

Covers what moto 5.2.5 server mode can express: repositories (policy, resource tags), images
with their real manifests and digests (``PutImage`` accepts ``imageDigest``), task definitions
(revisions registered in order; INACTIVE ones and gaps deregistered), clusters, services (one
deployment: the primary task definition) and FARGATE tasks via ``RunTask`` (moto gives them
random ids and no container digests).  Accounts other than moto's default are reached through
``sts:AssumeRole``, which moto maps to the role's account.

Not expressible in moto: pagination limits, multiple deployments, task sets, container image
digests, stopped tasks, image index semantics (children are stored as plain images).
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

from .scenario import Scenario, TaskDefinition

MOTO_DEFAULT_ACCOUNT = "123456789012"


def _clients(endpoint_url: str, account: str, region: str) -> tuple[Any, Any, Any]:
    base: dict[str, Any] = {
        "endpoint_url": endpoint_url,
        "region_name": region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "config": Config(retries={"max_attempts": 2}),
    }
    if account != MOTO_DEFAULT_ACCOUNT:
        c = boto3.client("sts", **base).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/awsim-seed", RoleSessionName="awsim-seed"
        )["Credentials"]
        base.update(
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"],
        )
    return boto3.client("ecr", **base), boto3.client("ecs", **base), boto3.client("ec2", **base)


def _network(ec2: Any) -> dict[str, Any]:
    """RunTask of awsvpc tasks needs a subnet and security group that exist in moto's EC2;
    moto's default VPC provides both."""
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    sg = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    return {
        "awsvpcConfiguration": {
            "subnets": [subnet],
            "securityGroups": [sg],
            "assignPublicIp": "DISABLED",
        }
    }


def _register_family(ecs: Any, tds: list[TaskDefinition]) -> None:
    by_rev = {td.revision: td for td in tds}
    for rev in range(1, max(by_rev) + 1):
        td = by_rev.get(rev) or TaskDefinition(
            tds[0].family, rev, tds[0].containers, status="INACTIVE"
        )
        r = ecs.register_task_definition(
            family=td.family,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=[
                {"name": c.name, "image": c.image, "essential": i == 0, "memory": 256}
                for i, c in enumerate(td.containers)
            ],
        )
        assert r["taskDefinition"]["revision"] == rev, "moto must start from an empty family"
        if td.status != "ACTIVE":
            ecs.deregister_task_definition(taskDefinition=f"{td.family}:{rev}")


def seed_moto(endpoint_url: str, scenario: Scenario) -> None:  # noqa: PLR0912 - one branch per resource kind
    """Create the scenario's resources in a (freshly reset) moto server."""
    for account in scenario.accounts:
        for region in account.regions:
            ecr, ecs, ec2 = _clients(endpoint_url, account.id, region.name)
            for repo in region.repositories:
                arn = ecr.create_repository(
                    repositoryName=repo.name, imageTagMutability=repo.tag_mutability
                )["repository"]["repositoryArn"]
                if repo.policy:
                    ecr.set_repository_policy(repositoryName=repo.name, policyText=repo.policy)
                if repo.tags:
                    ecr.tag_resource(
                        resourceArn=arn, tags=[{"Key": k, "Value": v} for k, v in repo.tags]
                    )
                for img in repo.all_images():
                    for tag in img.tags or (None,):
                        ecr.put_image(
                            repositoryName=repo.name,
                            imageManifest=img.manifest.decode(),
                            imageManifestMediaType=img.media_type,
                            imageDigest=img.digest,
                            **({"imageTag": tag} if tag else {}),
                        )
            families: dict[str, list[TaskDefinition]] = {}
            for td in region.task_definitions:
                families.setdefault(td.family, []).append(td)
            for tds in families.values():
                _register_family(ecs, tds)
            network = _network(ec2) if any(c.tasks for c in region.clusters) else {}
            for cluster in region.clusters:
                ecs.create_cluster(clusterName=cluster.name)
                for svc in cluster.services:
                    primary = svc.primary_task_definition()
                    ecs.create_service(
                        cluster=cluster.name,
                        serviceName=svc.name,
                        taskDefinition=primary,
                        desiredCount=svc.desired_count,
                        launchType=svc.launch_type,
                    )
                for task in cluster.tasks:
                    if task.desired_status != "RUNNING":
                        continue
                    ecs.run_task(
                        cluster=cluster.name,
                        taskDefinition=task.task_definition,
                        launchType="FARGATE",
                        count=1,
                        networkConfiguration=network,
                        **({"group": f"service:{task.service}"} if task.service else {}),
                    )


def reset_moto(endpoint_url: str) -> None:
    req = urllib.request.Request(  # noqa: S310 - loopback http only
        f"{endpoint_url}/moto-api/reset", data=b"", method="POST"
    )
    urllib.request.urlopen(req, timeout=30).read()  # noqa: S310 - loopback http only


@contextmanager
def run_moto_server(port: int) -> Iterator[str]:
    """``python -m moto.server -H 127.0.0.1 -p PORT`` as a child process; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=2).read()  # noqa: S310 - loopback
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
