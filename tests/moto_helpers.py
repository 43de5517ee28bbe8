"""Helpers for the behaviour tests against moto's server: seed accounts, run the pipeline from
synchronous tests, and compare plans as sets of (account, region, repository, digest)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

import sweep
from ecr_sweeper.demo.moto_patches import ROLE_NAME, moto_sources
from ecr_sweeper.demo.run import image_manifest, push, push_index
from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    Decision,
    Patterns,
    Plan,
    Policy,
    Region,
    Sources,
)
from ecr_sweeper.results import ApplyResult
from planning import NO_RETENTION

REGISTRY = "111111111111"  # the central registry account
APP = "222222222222"  # an account that runs services
MOTO_DEFAULT_ACCOUNT = "123456789012"  # where moto puts the base (non-assumed) credentials
US = "us-east-1"
EU = "eu-west-1"
API = "platform/api"

# moto 5.2.5's server answers ListServiceDeployments with HTTP 500, which (rightly) blocks a
# plan; on moto that usage source is off, as `--no-service-revisions` does (see demo/run.py).
# Lambda and schedules are off too: no trap here involves them, and reading them costs clients.
# Usage is read where the tests seed workloads: moto's DescribeRegions lists every region it
# knows (about 30), and reading each of them would only make every test slower. ECS Managed
# Daemons and App Runner are off too: moto serves neither (the emulator does).
MOTO_SOURCES = moto_sources(
    Sources(off=frozenset({"lambda", "schedules"}), service_revisions=False, usage_regions=(US, EU))
)

Key = tuple[str, str, str, str]  # (account, region, repository, digest)
CensusKey = tuple[str, str, str]  # (account, region, consumer kind)


def target(
    account: str,
    *regions: str,
    role: bool = True,
    repositories: Patterns | None = None,
) -> AccountTarget:
    """An account target reached through the demo role (as `--role-name EcrSweeper` does)."""
    return AccountTarget(
        account_id=AccountId(account),
        regions=tuple(Region(r) for r in regions),
        role_arn=f"arn:aws:iam::{account}:role/{ROLE_NAME}" if role else None,
        repositories=repositories or Patterns(),
    )


def sweep_plan(
    targets: Sequence[AccountTarget],
    policy: Policy = NO_RETENTION,
    sources: Sources = MOTO_SOURCES,
) -> Plan:
    """`make_plan` against moto's server (sweep.py), moto's sources by default."""
    return sweep.plan(targets, policy, sources=sources)


def sweep_apply(plan: Plan) -> ApplyResult:
    """`apply_plan` against moto's server (sweep.py)."""
    return sweep.apply(plan)


def census(targets: Sequence[AccountTarget], sources: Sources = MOTO_SOURCES) -> set[CensusKey]:
    """The (account, region, kind) of every consumer kind the usage scan found present."""
    scans = sweep.usage(targets, sources=sources)
    return {(e.account_id, e.region, e.kind) for s in scans for e in s.census if e.present}


def keys(decisions: Iterable[Decision]) -> set[Key]:
    """Decisions as comparable (account, region, repository, digest) keys."""
    return {
        (d.repository.account_id, d.repository.region, d.repository.name, d.digest)
        for d in decisions
    }


_SHARED: list[boto3.Session] = []
_CLIENTS: dict[tuple[str, str, str], Any] = {}


def forget_clients() -> None:
    """Drop cached clients (their assumed credentials do not survive a moto reset)."""
    _CLIENTS.clear()
    _SHARED.clear()


def client(account: str, region: str, service_name: str) -> Any:
    """A boto3 client acting in `account` through the demo role, cached for the test.

    Like `ecr_sweeper.demo.moto_patches.account_session`, but one boto3 session serves every account
    (credentials are passed per client), which skips reloading botocore's models each time.
    """
    key = (account, region, service_name)
    if key not in _CLIENTS:
        if not _SHARED:
            _SHARED.append(boto3.Session())
        shared = _SHARED[0]
        if account == MOTO_DEFAULT_ACCOUNT:
            _CLIENTS[key] = shared.client(service_name, region_name=region)
        else:
            sts = shared.client("sts", region_name=region)
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{ROLE_NAME}", RoleSessionName="test-seed"
            )["Credentials"]
            _CLIENTS[key] = shared.client(
                service_name,
                region_name=region,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
    return _CLIENTS[key]


def ecr(account: str, region: str) -> Any:
    """An ECR client acting in `account`."""
    return client(account, region, "ecr")


def ecs(account: str, region: str) -> Any:
    """An ECS client acting in `account`."""
    return client(account, region, "ecs")


def remaining(account: str, region: str, name: str) -> set[str]:
    """Digests now in a repository (as `ecr_sweeper.demo.run.remaining`, with a cached client)."""
    return set(inventory(account, region, name))


def uri(account: str, region: str, repository: str) -> str:
    """The private ECR image URI of a repository, without tag or digest."""
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{repository}"


def service(account: str, region: str, name: str, containers: dict[str, str]) -> str:
    """Run `containers` (name → image) as service `name` in a cluster `apps`; return the
    task definition ARN."""
    client = ecs(account, region)
    client.create_cluster(clusterName="apps")
    family = f"apps-{name}"
    arn = client.register_task_definition(
        family=family,
        containerDefinitions=[
            {"name": c, "image": image, "memory": 256} for c, image in containers.items()
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    client.create_service(cluster="apps", serviceName=name, taskDefinition=arn, desiredCount=1)
    return str(arn)


def repository(account: str, region: str, name: str, *tags: str, seed: str = "") -> dict[str, str]:
    """Create repository `name` with one single-platform image per tag; return tag → digest."""
    client = ecr(account, region)
    client.create_repository(repositoryName=name)
    prefix = seed or f"{account}/{region}/{name}"
    return {tag: push(client, name, image_manifest(f"{prefix}:{tag}"), (tag,)) for tag in tags}


def inventory(account: str, region: str, name: str) -> dict[str, tuple[str, ...]]:
    """Digest → tags of every image now in a repository."""
    client = ecr(account, region)
    pages = client.get_paginator("describe_images").paginate(repositoryName=name)
    return {
        d["imageDigest"]: tuple(sorted(d.get("imageTags", [])))
        for page in pages
        for d in page["imageDetails"]
    }


@dataclass(slots=True)
class Org:
    """A small organization: what was seeded, which images are used, and which are not."""

    used: set[Key] = field(default_factory=set)
    unused: set[Key] = field(default_factory=set)

    @property
    def repositories(self) -> set[tuple[str, str, str]]:
        return {(a, r, n) for a, r, n, _ in self.used | self.unused}


def seed_org() -> Org:
    """Registry account 111111111111 (us-east-1) and app account 222222222222 (both regions).

    - REGISTRY/us-east-1 platform/api v1..v3: v3 used cross-account by APP's `api` service.
    - REGISTRY/us-east-1 web: multi-arch indexes 1.0 (unused) and 2.0 (used by APP).
    - APP/eu-west-1 worker build-1 and latest: the `worker` service names no tag (latest).
    - APP/us-east-1 tools: one untagged image, used by nothing.
    """
    org = Org()
    api = repository(REGISTRY, US, "platform/api", "v1", "v2", "v3")
    web_client = ecr(REGISTRY, US)
    web_client.create_repository(repositoryName="web")
    web_old = push_index(web_client, "web", "web-1.0", ("1.0",))
    web_new = push_index(web_client, "web", "web-2.0", ("2.0",))
    worker = repository(APP, EU, "worker", "build-1", "latest")
    tools_client = ecr(APP, US)
    tools_client.create_repository(repositoryName="tools")
    tools = push(tools_client, "tools", image_manifest("tools-untagged"))

    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, 'platform/api')}:v3"})
    service(APP, US, "web", {"web": f"{uri(REGISTRY, US, 'web')}:2.0"})
    service(APP, EU, "worker", {"worker": uri(APP, EU, "worker")})

    org.used |= {(REGISTRY, US, "platform/api", api["v3"])}
    org.used |= {(REGISTRY, US, "web", d) for d in web_new}
    org.used |= {(APP, EU, "worker", worker["latest"])}
    org.unused |= {(REGISTRY, US, "platform/api", api[v]) for v in ("v1", "v2")}
    org.unused |= {(REGISTRY, US, "web", d) for d in web_old}
    org.unused |= {(APP, EU, "worker", worker["build-1"]), (APP, US, "tools", tools)}
    return org


def org_targets() -> tuple[AccountTarget, ...]:
    """Both accounts of `seed_org`, both regions, through the role."""
    return (target(REGISTRY, US, EU), target(APP, US, EU))


def present(keys_: Iterable[Key]) -> set[Key]:
    """Those of `keys_` whose image is still in its repository."""
    wanted = set(keys_)
    found: set[Key] = set()
    for account, region, name in {(a, r, n) for a, r, n, _ in wanted}:
        digests = remaining(account, region, name)
        found |= {k for k in wanted if k[:3] == (account, region, name) and k[3] in digests}
    return found
