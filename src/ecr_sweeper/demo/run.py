"""`ecr-sweeper demo`: a plan and an apply against moto's server on loopback, seeded with a small
but realistic organization. Nothing here can reach AWS: every AWS_* setting of the caller is
dropped and the endpoint is the embedded server.

The organization (role EcrSweeper in each account; regions us-east-1 and eu-west-1):

- 111111111111 "registry", the central registry (us-east-1) (policy: keep_last 0, min age 0,
  protect tags release-*):
  platform/api v1..v5 — v5 used cross-account by prod, v3 pinned by digest by staging, v4 in
  the rollback window of prod's task definition family; release-2025.10 protected by tag;
  cosign signatures of v5 (kept with it) and of v1 (deleted with it);
  jobs v0, v1 (a Lambda function's image) and report (an EventBridge-scheduled task's);
  web — multi-arch image indexes 1.0 and 2.0 (each with amd64 + arm64 children), 2.0 in use;
  docker-hub/library/nginx (a pull-through-cache style name) 1.24 and 1.25, 1.25 in use.
- 222222222222 "prod": services api (platform/api:v5) and web (web:2.0) plus Docker Hub and
  public.ecr.aws sidecars in us-east-1; in eu-west-1 a worker service uses its own
  `worker` repository with no tag (so `latest`). A `worker` repository of the same name in
  us-east-1 is used by nothing.
- 333333333333 "staging" (eu-west-1): api pinned by digest to platform/api v3, proxy on nginx 1.25.
- Beyond ECS, in prod (us-east-1): a Batch job definition `etl` (jobs:etl), a Step Functions
  state machine `nightly` whose `ecs:runTask.sync` state runs `nightly-report` (jobs:nightly),
  and an EKS cluster `prod-eks` the sweep reads through its API: a pod runs payments/api by
  digest, a ReplicaSet scaled to 0 keeps v1 for a rollback, v0 goes.
- agents:v1 in the registry, run only by a Bedrock AgentCore runtime `support_bot` in prod's
  eu-west-1 (a workload in one region pulling from the registry in another).
- jobs:adhoc in the registry, used by nothing the run reads but pulled 3 days ago: the pull
  witness keeps it ("pulled 3 days ago; no consumer this run read uses it").
- In staging (eu-west-1), an EKS cluster `legacy-eks` that grants the sweep no access: the
  consumer census blocks the first plan (exit 3); the demo then accepts it, as a user who has
  checked that cluster would (`--accept-unread eks@333333333333`), and plans again.

The demo runs what a user runs: `ecr-sweeper plan … --output <tmp>/plan.json` and
`ecr-sweeper apply <tmp>/plan.json --yes` (with its journal), through the same entry point and
progress display, in a temporary folder removed at the end.

More consumers come as seed functions (`SEEDS`): each seeds one part of the organization on
the endpoint, records in the `DemoOrg` which images must survive and which must go, and adds
the plan flags it needs (`org.plan_flags`, e.g. `--accept-unread` after an EKS cluster that
blocks the census). `seed_demo_org(seeds)` runs them in order; later seeds may use what
earlier ones recorded (`org.digests`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import signal
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import boto3

from ecr_sweeper import wording
from ecr_sweeper.cli import main
from ecr_sweeper.demo.kube_server import demo_eks_cluster, demo_pod, demo_replica_set
from ecr_sweeper.demo.moto_patches import (
    ROLE_NAME,
    account_session,
    extend_moto,
    moto_server,
    record_pull,
    seed_batch_and_stepfunctions,
)
from ecr_sweeper.model import AccountId, Region
from ecr_sweeper.planfile import read_plan
from ecr_sweeper.render import Renderer

# `ecr-sweeper`'s documented exit code for a plan the census blocked (see `--help`)
BLOCKED = 3
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest's exact bytes and its real digest (sha256 of those bytes)."""

    body: str
    media_type: str

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.body.encode()).hexdigest()


def image_manifest(seed: str, size: int = 30_000_000) -> Manifest:
    """A single-platform OCI image manifest whose content (and digest) derives from `seed`."""

    def blob(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"{seed}/{kind}".encode()).hexdigest()

    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": blob("config"),
            "size": 1024,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": blob("layer"),
                "size": size,
            }
        ],
    }
    return Manifest(json.dumps(body, separators=(",", ":")), OCI_MANIFEST)


def image_index(children: dict[str, Manifest]) -> Manifest:
    """An OCI image index listing `children` by architecture."""
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": child.media_type,
                "digest": child.digest,
                "size": len(child.body),
                "platform": {"architecture": arch, "os": "linux"},
            }
            for arch, child in children.items()
        ],
    }
    return Manifest(json.dumps(body, separators=(",", ":")), OCI_INDEX)


def push(ecr: Any, repository: str, manifest: Manifest, tags: tuple[str, ...] = ()) -> str:
    """Put a manifest into a repository (untagged when `tags` is empty); return its digest."""
    for tag in tags or (None,):
        extra = {"imageTag": tag} if tag else {}
        ecr.put_image(
            repositoryName=repository,
            imageManifest=manifest.body,
            imageManifestMediaType=manifest.media_type,
            imageDigest=manifest.digest,
            **extra,
        )
    return manifest.digest


def push_index(ecr: Any, repository: str, seed: str, tags: tuple[str, ...]) -> list[str]:
    """A multi-arch image: children first (untagged), then the index. Returns all digests,
    index first."""
    children = {arch: image_manifest(f"{seed}/{arch}") for arch in ("amd64", "arm64")}
    digests = [push(ecr, repository, child) for child in children.values()]
    return [push(ecr, repository, image_index(children), tags), *digests]


def run_service(ecs: Any, cluster: str, name: str, containers: dict[str, str]) -> str:
    """Register a task definition with `containers` (name → image) and run it as a service."""
    family = f"{cluster}-{name}"
    arn = ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {"name": c, "image": image, "memory": 256} for c, image in containers.items()
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=arn, desiredCount=1)
    return str(arn)


def isolate_from_aws(endpoint_url: str) -> None:
    """Point this process at `endpoint_url` with fake credentials, dropping every AWS_*
    setting (profiles, per-service endpoints, web identity) that could reach real AWS."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            del os.environ[key]
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",  # noqa: S106 - moto accepts any credentials
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        # HealthOmics' calls go to a `workflows-` host prefix, which only AWS's hosts have
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
    )


REGISTRY, PROD, STAGING = (
    AccountId("111111111111"),
    AccountId("222222222222"),
    AccountId("333333333333"),
)
US, EU = Region("us-east-1"), Region("eu-west-1")


Where = tuple[str, str, str, str]  # (account, region, repository, digest)


@dataclass(slots=True)
class DemoOrg:
    """What was seeded: what must survive and what must go (label → where), the digests
    seeds share (label → digest), and the plan flags the seeds need."""

    must_keep: dict[str, Where] = field(default_factory=dict)
    must_delete: dict[str, Where] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    plan_flags: list[str] = field(default_factory=list)
    # flags a person adds after reading why the first plan was blocked (the census)
    accept_after_block: list[str] = field(default_factory=list)
    # what the seeds keep running while the demo plans and applies (demo Kubernetes APIs)
    running: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


Seed = Callable[[DemoOrg], None]
HOST = f"{REGISTRY}.dkr.ecr.{US}.amazonaws.com"  # the central registry


def seed_registry(org: DemoOrg) -> None:
    """111111111111's repositories and images (what each must become is recorded by the seeds
    of their consumers, and here for what nothing uses)."""
    ecr = account_session(REGISTRY, US).client("ecr")
    ecr.create_repository(repositoryName="platform/api")
    for v in ("v1", "v2", "v3", "v4", "v5", "release-2025.10"):
        org.digests[f"platform/api:{v}"] = push(
            ecr, "platform/api", image_manifest(f"api-{v}"), (v,)
        )
    # cosign signatures, linked to their image by cosign's tag scheme
    for v in ("v1", "v5"):
        digest = org.digests[f"platform/api:{v}"]
        org.digests[f"signature of platform/api:{v}"] = push(
            ecr, "platform/api", image_manifest(f"sig-{v}", size=600), (cosign_tag(digest),)
        )
    ecr.create_repository(repositoryName="jobs")
    for t in ("v0", "v1", "report"):
        org.digests[f"jobs:{t}"] = push(ecr, "jobs", image_manifest(f"jobs-{t}"), (t,))
    ecr.create_repository(repositoryName="web")
    for version in ("1.0", "2.0"):
        index, *children = push_index(ecr, "web", f"web-{version}", (version,))
        org.digests[f"web:{version}"] = index
        for n, child in enumerate(children):
            org.digests[f"web:{version} child manifest {n + 1}"] = child
    ecr.create_repository(repositoryName="docker-hub/library/nginx")
    for v in ("1.24", "1.25"):
        org.digests[f"docker-hub/library/nginx:{v}"] = push(
            ecr, "docker-hub/library/nginx", image_manifest(f"nginx-{v}"), (v,)
        )

    def where(label: str) -> Where:
        return (
            REGISTRY,
            US,
            label.split(":", maxsplit=1)[0].rsplit(" ", maxsplit=1)[-1],
            org.digests[label],
        )

    org.must_keep["platform/api:release-2025.10 (protected tag)"] = where(
        "platform/api:release-2025.10"
    )
    for label in (
        "jobs:v0",
        "platform/api:v1",
        "platform/api:v2",
        "web:1.0",
        "web:1.0 child manifest 1",
        "web:1.0 child manifest 2",
        "docker-hub/library/nginx:1.24",
    ):
        org.must_delete[label] = where(label)
    org.must_delete["signature of platform/api:v1"] = (
        REGISTRY,
        US,
        "platform/api",
        org.digests["signature of platform/api:v1"],
    )
    org.plan_flags += ["--protect-tag", "release-*"]


def seed_prod(org: DemoOrg) -> None:
    """222222222222: ECS services, a Lambda function and an EventBridge schedule in us-east-1
    (on the registry's images), and a worker on its own repository in eu-west-1."""
    prod_us = account_session(PROD, US)
    ecs = prod_us.client("ecs")
    ecs.create_cluster(clusterName="prod")
    # prod-api:1 ran v4 before the current prod-api:2: the rollback window keeps it
    ecs.register_task_definition(
        family="prod-api",
        containerDefinitions=[{"name": "api", "image": f"{HOST}/platform/api:v4", "memory": 256}],
    )
    run_service(ecs, "prod", "api", {"api": f"{HOST}/platform/api:v5"})
    run_lambda(prod_us, "nightly-export", f"{HOST}/jobs:v1")
    schedule_task(prod_us, "weekly-report", f"{HOST}/jobs:report")
    run_service(
        ecs,
        "prod",
        "web",
        {
            "web": f"{HOST}/web:2.0",
            "agent": "datadog/agent:7",
            "proxy": "public.ecr.aws/nginx/nginx:stable",
        },
    )
    prod_us.client("ecr").create_repository(repositoryName="worker")
    worker_us = [
        push(prod_us.client("ecr"), "worker", image_manifest(f"worker-us-{t}"), (t,))
        for t in ("build-40", "latest")
    ]

    prod_eu = account_session(PROD, EU)
    prod_eu.client("ecr").create_repository(repositoryName="worker")
    worker_eu = {
        t: push(prod_eu.client("ecr"), "worker", image_manifest(f"worker-eu-{t}"), (t,))
        for t in ("build-41", "latest")
    }
    ecs_eu = prod_eu.client("ecs")
    ecs_eu.create_cluster(clusterName="prod-eu")
    run_service(
        ecs_eu, "prod-eu", "worker", {"worker": f"{PROD}.dkr.ecr.{EU}.amazonaws.com/worker"}
    )

    def registry(label: str) -> Where:
        repository = label.split(":", maxsplit=1)[0].removeprefix("signature of ")
        return (REGISTRY, US, repository, org.digests[label])

    keep = org.must_keep
    keep["platform/api:v5 (used cross-account by prod)"] = registry("platform/api:v5")
    keep["signature of platform/api:v5"] = registry("signature of platform/api:v5")
    keep["platform/api:v4 (rollback window of prod-api)"] = registry("platform/api:v4")
    keep["web:2.0 multi-arch index"] = registry("web:2.0")
    for n in (1, 2):
        keep[f"web:2.0 child manifest {n}"] = registry(f"web:2.0 child manifest {n}")
    keep["jobs:v1 (Lambda nightly-export)"] = registry("jobs:v1")
    keep["jobs:report (EventBridge schedule)"] = registry("jobs:report")
    keep["worker (implicit latest, eu-west-1)"] = (PROD, EU, "worker", worker_eu["latest"])
    delete = org.must_delete
    delete["worker:build-41 (eu-west-1)"] = (PROD, EU, "worker", worker_eu["build-41"])
    delete["worker:latest (us-east-1, same name, unused)"] = (PROD, US, "worker", worker_us[1])
    delete["worker:build-40 (us-east-1)"] = (PROD, US, "worker", worker_us[0])


def seed_staging(org: DemoOrg) -> None:
    """333333333333 (eu-west-1): api pinned by digest to platform/api v3, proxy on nginx."""
    staging = account_session(STAGING, EU).client("ecs")
    staging.create_cluster(clusterName="staging")
    v3 = org.digests["platform/api:v3"]
    run_service(staging, "staging", "api", {"api": f"{HOST}/platform/api@{v3}"})
    run_service(staging, "staging", "proxy", {"proxy": f"{HOST}/docker-hub/library/nginx:1.25"})
    org.must_keep["platform/api@v3 digest (pinned by staging)"] = (
        REGISTRY,
        US,
        "platform/api",
        v3,
    )
    org.must_keep["docker-hub/library/nginx:1.25"] = (
        REGISTRY,
        US,
        "docker-hub/library/nginx",
        org.digests["docker-hub/library/nginx:1.25"],
    )


def seed_batch_and_step_functions(org: DemoOrg) -> None:
    """222222222222 (us-east-1): a Batch job definition and a Step Functions state machine,
    each on an image of the central registry's `jobs` repository."""
    ecr = account_session(REGISTRY, US).client("ecr")
    for t in ("etl", "nightly"):
        org.digests[f"jobs:{t}"] = push(ecr, "jobs", image_manifest(f"jobs-{t}"), (t,))
    seed_batch_and_stepfunctions(
        account_session(PROD, US), f"{HOST}/jobs:etl", f"{HOST}/jobs:nightly"
    )
    org.must_keep["jobs:etl (Batch job definition etl)"] = (
        REGISTRY,
        US,
        "jobs",
        org.digests["jobs:etl"],
    )
    org.must_keep["jobs:nightly (Step Functions nightly, ecs:runTask.sync)"] = (
        REGISTRY,
        US,
        "jobs",
        org.digests["jobs:nightly"],
    )


VERSIONS = ("v0", "v1", "v2")  # of payments/api, the EKS-run image


def seed_eks(org: DemoOrg) -> None:
    """An EKS cluster in prod the sweep reads (served on loopback for as long as the demo
    runs), and one in staging it may not read, which blocks the census until accepted."""
    ecr = account_session(REGISTRY, US).client("ecr")
    ecr.create_repository(repositoryName="payments/api")
    for t in VERSIONS:
        org.digests[f"payments/api:{t}"] = push(
            ecr, "payments/api", image_manifest(f"payments-{t}"), (t,)
        )
    image = f"{HOST}/payments/api"
    running = demo_pod(
        "payments",
        "api-7c9d4-x2x7q",
        f"{image}:v2",
        resolved=f"{image}@{org.digests['payments/api:v2']}",
    )
    history = demo_replica_set("payments", "api-5f6b7c8d9", f"{image}:v1", replicas=0)
    org.running.enter_context(demo_eks_cluster(PROD, US, "prod-eks", [running, history]))
    # No access entry for the sweep's role: moto's made-up endpoint is never contacted, so
    # the cluster is unread, and the plan is blocked until a person accepts it.
    account_session(STAGING, EU).client("eks").create_cluster(
        name="legacy-eks",
        roleArn=f"arn:aws:iam::{STAGING}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"]},
    )
    org.accept_after_block += ["--accept-unread", f"eks@{STAGING}"]
    where = {t: (REGISTRY, US, "payments/api", org.digests[f"payments/api:{t}"]) for t in VERSIONS}
    org.must_keep["payments/api:v2 (pod in EKS prod-eks, by digest)"] = where["v2"]
    org.must_keep["payments/api:v1 (ReplicaSet scaled to 0, prod-eks)"] = where["v1"]
    org.must_delete["payments/api:v0"] = where["v0"]


def seed_agentcore(org: DemoOrg) -> None:
    """222222222222 (eu-west-1): a Bedrock AgentCore runtime on the registry's agents:v1, the
    image's only consumer (kept: "used by AgentCore runtime support_bot version 1")."""
    ecr = account_session(REGISTRY, US).client("ecr")
    ecr.create_repository(repositoryName="agents")
    digest = push(ecr, "agents", image_manifest("agents-v1"), ("v1",))
    account_session(PROD, EU).client("bedrock-agentcore-control").create_agent_runtime(
        agentRuntimeName="support_bot",
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": f"{HOST}/agents:v1"}},
        roleArn=f"arn:aws:iam::{PROD}:role/support-bot",
        networkConfiguration={"networkMode": "PUBLIC"},
    )
    org.digests["agents:v1"] = digest
    org.must_keep["agents:v1 (AgentCore runtime support_bot, eu-west-1)"] = (
        REGISTRY,
        US,
        "agents",
        digest,
    )


def seed_unexplained_pull(org: DemoOrg) -> None:
    """An image no consumer of the org uses, pulled 3 days ago (by a laptop, say): the pull
    witness keeps it, "pulled 3 days ago; no consumer this run read uses it"."""
    ecr = account_session(REGISTRY, US).client("ecr")
    digest = push(ecr, "jobs", image_manifest("jobs-adhoc"), ("adhoc",))
    record_pull(REGISTRY, US, "jobs", digest, datetime.now(UTC) - timedelta(days=3))
    org.digests["jobs:adhoc"] = digest
    org.must_keep["jobs:adhoc (pulled 3 days ago; no consumer uses it)"] = (
        REGISTRY,
        US,
        "jobs",
        digest,
    )


def seed_moto_limits(org: DemoOrg) -> None:
    """What moto's server cannot serve, switched off as a user would: ECS service revisions
    (moto answers ListServiceDeployments with HTTP 500, which rightly blocks the plan), ECS
    Managed Daemons and App Runner (moto has neither); and usage is read in the demo's two
    regions only (moto lists 38 enabled regions, each read in turn)."""
    org.plan_flags += ["--no-service-revisions", "--no-ecs-daemons", "--no-apprunner"]
    org.plan_flags += ["--usage-regions", US, "--usage-regions", EU]


# In order: the registry first (its digests are what the others use).
SEEDS: tuple[Seed, ...] = (
    seed_registry,
    seed_prod,
    seed_staging,
    seed_batch_and_step_functions,
    seed_eks,
    seed_agentcore,
    seed_unexplained_pull,
    seed_moto_limits,
)


def seed_demo_org(seeds: Sequence[Seed] = SEEDS) -> DemoOrg:
    """Create the demo organization (module docstring) on the current endpoint."""
    org = DemoOrg()
    for seed in seeds:
        seed(org)
    return org


def cosign_tag(digest: str) -> str:
    """The tag cosign gives the signature of `digest`."""
    return digest.replace(":", "-") + ".sig"


def run_lambda(session: boto3.Session, name: str, image: str) -> None:
    """An image-packaged Lambda function, published as version 1."""
    role = session.client("iam").create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    session.client("lambda").create_function(
        FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": image}, Publish=True
    )


def schedule_task(session: boto3.Session, name: str, image: str) -> None:
    """An EventBridge rule that runs a task definition of `image` on the prod cluster."""
    ecs = session.client("ecs")
    arn = ecs.register_task_definition(
        family=name, containerDefinitions=[{"name": name, "image": image, "memory": 256}]
    )["taskDefinition"]["taskDefinitionArn"]
    events = session.client("events")
    events.put_rule(Name=name, ScheduleExpression="rate(7 days)")
    events.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": "1",
                "Arn": f"arn:aws:ecs:{US}:{PROD}:cluster/prod",
                "RoleArn": f"arn:aws:iam::{PROD}:role/ecsEventsRole",
                "EcsParameters": {"TaskDefinitionArn": arn, "TaskCount": 1},
            }
        ],
    )


def remaining(account: str, region: str, repository: str) -> set[str]:
    """Digests now in a repository."""
    ecr = account_session(account, region).client("ecr")
    pages = ecr.get_paginator("describe_images").paginate(repositoryName=repository)
    return {d["imageDigest"] for page in pages for d in page["imageDetails"]}


def demo_plan_arguments(org: DemoOrg, plan_path: Path) -> list[str]:
    """The `ecr-sweeper plan` command line of the demo: the three accounts, both regions,
    role EcrSweeper, no retention (delete everything unused), and the seeds' flags."""
    accounts = [arg for account in (REGISTRY, PROD, STAGING) for arg in ("--account", account)]
    return [
        "plan",
        *accounts,
        *("--region", US, "--region", EU),
        *("--role-name", ROLE_NAME, "--keep-last", "0", "--min-age-days", "0"),
        *org.plan_flags,
        *("--output", str(plan_path)),
    ]


def plan_until_accepted(render: Renderer, org: DemoOrg, plan_path: Path) -> int:
    """`plan`; when the census blocks it (exit 3) and the seeds said what a person would
    accept, say so and plan again with those flags. Returns the last plan's exit code."""
    out = render.out
    plan_args = demo_plan_arguments(org, plan_path)
    out.print(f"\n[bold]$ ecr-sweeper {shlex.join(plan_args)}[/bold]", markup=True)
    code = main(plan_args)
    if code != BLOCKED or not org.accept_after_block:
        return code
    out.print(
        "\nThe census found a consumer the run could not read, so nothing was deleted. Having "
        "checked that it runs nothing from these registries, accept it and plan again:",
        markup=False,
    )
    plan_args += org.accept_after_block
    out.print(f"\n[bold]$ ecr-sweeper {shlex.join(plan_args)}[/bold]", markup=True)
    return main(plan_args)


def run_demo(render: Renderer, *, keep_server: bool = False, seeds: Sequence[Seed] = SEEDS) -> int:
    """Seed, then `plan` to a file and `apply FILE --yes` as a user would, then verify.
    Returns the exit code (0 when every check passes)."""
    out = render.out
    extend_moto()  # the reads moto 5.2.5 lacks (moto_patches.py)
    with (
        moto_server() as url,
        tempfile.TemporaryDirectory(prefix="ecr-sweeper-demo-") as tmp,
        contextlib.ExitStack() as running,
    ):
        isolate_from_aws(url)
        out.print(f"[bold]moto server[/bold] on {url}; seeding a 3-account organization…")
        org = seed_demo_org(seeds)
        running.enter_context(org.running)  # the demo Kubernetes APIs, until the end
        plan_path = Path(tmp) / "plan.json"
        if (code := plan_until_accepted(render, org, plan_path)) != 0:
            out.print(f"demo: plan exited {code}", markup=False)
            return code
        plan = read_plan(plan_path)
        out.print("\n[bold]why each image goes:[/bold]")
        for decision in plan.deletions:
            out.print(f"  {_label(decision)}: {wording.reason(decision.reason)}", markup=False)
        out.print("\n[bold]why each kept image is kept:[/bold]")
        for decision in plan.kept:
            out.print(f"  {_label(decision)}: {wording.reason(decision.reason)}", markup=False)

        apply_args = ["apply", str(plan_path), "--yes"]
        out.print(f"\n[bold]$ ecr-sweeper {shlex.join(apply_args)}[/bold]")
        applied = main(apply_args)
        journal = plan_path.with_name(plan_path.name + ".journal")
        entries = len(journal.read_text(encoding="utf-8").splitlines()) if journal.exists() else 0
        out.print(f"apply exited {applied}; its journal {journal.name} has {entries} lines")
        failures = verify(render, org) + (applied != 0)
        if keep_server:
            out.print(f"moto server still on {url}; Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                anyio.run(anyio.sleep_forever)
    out.print(f"temporary folder {tmp} removed", markup=False)
    return 1 if failures else 0


def serve_demo(render: Renderer, *, seeds: Sequence[Seed] = SEEDS) -> int:
    """`demo --serve`: seed the demo's organization on its (patched) moto server and keep it
    running, with the exports and the `plan` commands to try from another shell, until SIGINT
    (Ctrl-C) or SIGTERM. Returns 0 once stopped."""
    out = render.out
    extend_moto()  # the reads moto 5.2.5 lacks (moto_patches.py)
    with moto_server() as url, contextlib.ExitStack() as running:
        isolate_from_aws(url)
        out.print(f"moto server on {url}; seeding a 3-account organization…", markup=False)
        org = seed_demo_org(seeds)
        running.enter_context(org.running)  # the demo Kubernetes APIs, until stopped
        # What the demo's own commands run with (isolate_from_aws): the endpoint, its fake
        # credentials, and no config or credentials files, no instance metadata.
        settings = {k: v for k, v in sorted(os.environ.items()) if k.startswith("AWS_")}
        plan_args = demo_plan_arguments(org, Path("plan.json"))
        lines = [
            "",
            "In another shell (settings that could reach AWS unset, the demo's exported):",
            "",
            f"unset {' '.join(CLEARED_SETTINGS)}",
            f"export {' '.join(f'{k}={shlex.quote(v)}' for k, v in settings.items())}",
            f"ecr-sweeper {shlex.join(plan_args)}",
        ]
        if org.accept_after_block:
            lines += [
                "",
                "It is blocked (exit 3) by a consumer the sweep cannot read; having read why:",
                "",
                f"ecr-sweeper {shlex.join(plan_args + org.accept_after_block)}",
            ]
        lines += ["", "Ctrl-C (or SIGTERM) stops the server."]
        for line in lines:
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        out.file.flush()  # a pipe reads the exports now, not when the server stops
        stopped_by = anyio.run(_until_stopped)
    out.print(f"stopped by {stopped_by.name}; moto server stopped", markup=False)
    return 0


# The settings that could send another shell's calls elsewhere than the demo's endpoint.
CLEARED_SETTINGS = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_REGION",
)


async def _until_stopped() -> signal.Signals:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
        async for signum in received:
            return signal.Signals(signum)
    raise AssertionError("unreachable: a signal receiver never ends")  # pragma: no cover


def _label(decision: Any) -> str:
    tags = ",".join(decision.tags) or "(untagged)"
    return f"{decision.repository} {tags} {decision.digest[:19]}…"


def verify(render: Renderer, org: DemoOrg) -> int:
    """Check every seeded image against expectations; print a table; return failure count."""
    from rich.table import Table

    table = Table(title="after apply: every image in use survived", title_justify="left")
    table.add_column("image")
    table.add_column("expected")
    table.add_column("now")
    table.add_column("check")
    failures = 0
    cache: dict[tuple[str, str, str], set[str]] = {}
    for label, (account, region, repo, digest), expected in [
        *((label, where, "kept") for label, where in org.must_keep.items()),
        *((label, where, "deleted") for label, where in org.must_delete.items()),
    ]:
        key = (account, region, repo)
        if key not in cache:
            cache[key] = remaining(account, region, repo)
        now = "present" if digest in cache[key] else "gone"
        ok = (now == "present") == (expected == "kept")
        failures += not ok
        table.add_row(label, expected, now, "[green]ok[/green]" if ok else "[red]WRONG[/red]")
    render.out.print(table)
    render.out.print("demo: all checks passed" if not failures else f"demo: {failures} FAILED")
    return failures
