"""Synthetic, realistic organizations for benchmarks and property tests.

``generate_org(...)`` builds a deterministic (by ``seed``) org:

* account 0 is the management account (no workloads); account 1 is a central registry whose
  ``platform/*`` and ``shared/*`` repositories are used cross-account (their repository policy
  allows org-wide pulls only); the others are workload accounts with one repository per service;
* repositories hold build histories: every build has a ``build-N`` tag (mostly unused), every
  fifth a ``vX.Y.Z`` tag, the newest one ``latest``; some builds are untagged; a fraction are
  multi-arch indexes (2 children) and a fraction carry a cosign-style OCI referrer;
* services reference images by tag, some by ``@sha256`` digest pin, some sidecars come from the
  central registry and some images are not in ECR at all (``public.ecr.aws``, Docker Hub);
* some services have a PRIMARY + ACTIVE deployment (rollout in progress), some are EXTERNAL with
  task sets; tasks report per-container digests (for indexes usually the index digest,
  sometimes the platform child's) and some tags have moved since the task started;
* stopped tasks, INACTIVE task definition revisions and standalone (scheduled) tasks exist.

:func:`generate_org_with_truth` also returns an :class:`OrgSummary` whose ``in_use`` lists every
``(registry account, region, repo, digest)`` a running task or a live deployment uses -- the set
a correct sweeper must never delete.  ``images_total`` counts every stored manifest (index
children and referrers included) and is met approximately (within a few percent).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .arns import image_uri
from .scenario import (
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

REGIONS = (
    "us-east-1",
    "eu-west-1",
    "ap-southeast-2",
    "us-west-2",
    "eu-central-1",
    "ap-northeast-1",
    "sa-east-1",
    "ca-central-1",
)
_PLATFORMS = (Platform("amd64"), Platform("arm64", variant="v8"))
_EXTERNAL = (
    "public.ecr.aws/datadog/agent:7",
    "nginx:1.25",
    "docker.io/library/redis:7.2",
    "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0",
)


@dataclass(frozen=True)
class OrgSummary:
    accounts: int
    regions: int
    repositories: int
    images: int
    services: int
    tasks: int
    management_account: str
    registry_account: str
    in_use: frozenset[tuple[str, str, str, str]] = field(repr=False)


def generate_org(
    accounts: int = 30,
    regions: int = 3,
    services_per_region: int = 40,
    images_total: int = 50_000,
    seed: int = 0,
    **kw: Any,
) -> Scenario:
    """Build a synthetic org (see module docstring).

    Keyword rates as in :func:`generate_org_with_truth`.
    """
    return generate_org_with_truth(
        accounts, regions, services_per_region, images_total, seed, **kw
    )[0]


def _account_id(i: int) -> str:
    return str(100_000_000_000 + i * 10_101_010 + 7)


def generate_org_with_truth(  # noqa: PLR0912 - one builder, top to bottom, like the org
    accounts: int = 30,
    regions: int = 3,
    services_per_region: int = 40,
    images_total: int = 50_000,
    seed: int = 0,
    *,
    central_share: float = 0.3,
    digest_pin_rate: float = 0.1,
    index_rate: float = 0.05,
    signature_rate: float = 0.03,
    untagged_rate: float = 0.15,
    multi_deployment_rate: float = 0.1,
    task_set_rate: float = 0.05,
    tag_drift_rate: float = 0.05,
    stopped_task_rate: float = 0.2,
    now: datetime = datetime(2025, 6, 1, tzinfo=UTC),
) -> tuple[Scenario, OrgSummary]:
    rng = random.Random(seed)
    region_names = REGIONS[: max(1, min(regions, len(REGIONS)))]
    ids = [_account_id(i) for i in range(max(accounts, 1))]
    mgmt = ids[0]
    registry = ids[1] if len(ids) > 1 else ids[0]
    workloads = ids[2:] if len(ids) > 2 else ids[-1:]
    in_use: set[tuple[str, str, str, str]] = set()

    central_repo_names = [
        f"platform/{n}" for n in ("envoy", "base-python", "base-node", "otel")
    ] + [f"shared/lib-{k}" for k in range(max(2, services_per_region // 8))]
    n_workload_repos = len(workloads) * len(region_names) * services_per_region
    n_central_repos = len(central_repo_names) * len(region_names)
    central_budget = int(images_total * central_share) if n_workload_repos else images_total
    workload_budget = images_total - central_budget
    # Skewed sizes: a few big repos, many small ones (lognormal weights).
    central_w = [rng.lognormvariate(0, 0.6) for _ in range(n_central_repos)]
    workload_w = [rng.lognormvariate(0, 1.0) for _ in range(n_workload_repos)]
    central_sizes = _split(central_budget, central_w)
    workload_sizes = _split(workload_budget, workload_w)

    org_policy = (
        '{"Version":"2012-10-17","Statement":[{"Sid":"OrgPull","Effect":"Allow","Principal":"*",'
        '"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"],'
        '"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-awsim00001"}}}]}'
    )

    def build_repo(
        name: str,
        budget: int,
        created: datetime,
        policy: str | None,
        tags: tuple[tuple[str, str], ...],
    ) -> Repository:
        images: list[Image] = []
        used = 0
        k = 0
        n_builds = max(1, budget)
        span = (now - created).total_seconds()
        while used < budget or not images:
            pushed = created + timedelta(seconds=span * (k + 1) / (n_builds + 1))
            r = rng.random()
            tags_: list[str] = []
            if r >= untagged_rate:
                tags_.append(f"build-{k}")
                if k % 5 == 0:
                    tags_.append(f"v1.{k // 5}.0")
            idx = rng.random() < index_rate
            img = Image(
                tags=tuple(tags_),
                pushed_at=pushed,
                size=rng.randrange(5_000_000, 900_000_000),
                platforms=_PLATFORMS if idx else (),
                fmt="oci" if idx and k % 2 else "docker",
                key=f"{name}#{k}",
                last_pull=(pushed + timedelta(days=rng.randrange(0, 30)))
                if rng.random() < 0.6
                else None,
            )
            images.append(img)
            used += 1 + len(img.children)
            if rng.random() < signature_rate:
                images.append(
                    Image(
                        subject=img,
                        pushed_at=pushed + timedelta(minutes=1),
                        size=900,
                        fmt="oci",
                        key=f"{name}#{k}.sig",
                    )
                )
                used += 1
            k += 1
        # The newest plain build also carries "latest" (tags are immutable per spec: rebuild it).
        for i in range(len(images) - 1, -1, -1):
            if images[i].subject is None:
                last = images[i]
                images[i] = Image(
                    tags=(*last.tags, "latest"),
                    pushed_at=last.pushed_at,
                    size=last.size,
                    platforms=last.platforms,
                    fmt=last.fmt,
                    key=last.key,
                    last_pull=last.last_pull,
                )
                break
        return Repository(name, tuple(images), policy=policy, tags=tags, created_at=created)

    # ---- central registry repositories (per region)
    central: dict[str, dict[str, Repository]] = {r: {} for r in region_names}
    ci = 0
    for rname in region_names:
        for name in central_repo_names:
            central[rname][name] = build_repo(
                name,
                central_sizes[ci],
                now - timedelta(days=900),
                org_policy,
                (("owner", "platform"),),
            )
            ci += 1

    def pick(repo: Repository, back: int) -> Image:
        """A tagged, non-referrer image ``back`` builds before the newest."""
        cands = [i for i in repo.images if i.tags and i.subject is None]
        if not cands:
            cands = [i for i in repo.images if i.subject is None]
        return cands[max(0, len(cands) - 1 - back)]

    def ref_of(acct: str, rname: str, repo: Repository, img: Image, pin: bool) -> str:
        if pin:
            return image_uri(acct, rname, repo.name, digest=img.digest)
        tag = next((t for t in img.tags if t.startswith("v")), img.tags[0] if img.tags else None)
        return image_uri(acct, rname, repo.name, tag=tag, digest=None if tag else img.digest)

    def task_digest(img: Image) -> str:
        # ECS reports the index digest for multi-arch images most of the time.
        if img.children and rng.random() < 0.2:
            return img.children[0].digest
        return img.digest

    def mark(acct: str, rname: str, repo: Repository, img: Image) -> None:
        in_use.add((acct, rname, repo.name, img.digest))
        for c in img.children:
            in_use.add((acct, rname, repo.name, c.digest))

    accounts_out: list[Account] = []
    wi = 0
    n_services = n_tasks = n_repos = 0
    for ai, acct in enumerate(ids):
        regions_out: list[Region] = []
        for rname in region_names:
            repos: list[Repository] = list(central[rname].values()) if acct == registry else []
            clusters: list[Cluster] = []
            tds: list[TaskDefinition] = []
            if acct in workloads:
                n_clusters = 1 + services_per_region // 25
                cl_services: list[list[Service]] = [[] for _ in range(n_clusters)]
                cl_tasks: list[list[Task]] = [[] for _ in range(n_clusters)]
                for k in range(services_per_region):
                    repo = build_repo(
                        f"team-{ai:02d}/svc-{k}",
                        workload_sizes[wi],
                        now - timedelta(days=rng.randrange(60, 700)),
                        None,
                        (("team", f"team-{ai:02d}"),)
                        + ((("ecr-sweeper:protect", "true"),) if rng.random() < 0.02 else ()),
                    )
                    wi += 1
                    repos.append(repo)
                    family = f"svc-{k}"
                    n_revs = rng.randrange(1, 5)
                    sidecar = rng.random() < 0.5
                    central_repo = (
                        central[rname][rng.choice(central_repo_names)] if sidecar else None
                    )
                    external = rng.choice(_EXTERNAL) if rng.random() < 0.2 else None
                    pin = rng.random() < digest_pin_rate
                    rev_images: list[
                        tuple[
                            TaskDefinition,
                            list[tuple[str, str, Image | None, str, Repository | None]],
                        ]
                    ] = []
                    for rev in range(1, n_revs + 1):
                        back = n_revs - rev
                        app_img = pick(repo, back * 2)
                        conts: list[tuple[str, str, Image | None, str, Repository | None]] = [
                            ("app", ref_of(acct, rname, repo, app_img, pin), app_img, acct, repo)
                        ]
                        if central_repo is not None:
                            c_img = pick(central_repo, back)
                            conts.append(
                                (
                                    "envoy",
                                    ref_of(registry, rname, central_repo, c_img, False),
                                    c_img,
                                    registry,
                                    central_repo,
                                )
                            )
                        if external:
                            conts.append(("agent", external, None, "", None))
                        status = (
                            "ACTIVE" if rev >= n_revs - 1 else rng.choice(("ACTIVE", "INACTIVE"))
                        )
                        td = TaskDefinition(
                            family,
                            rev,
                            tuple(ContainerDefinition(n, u) for n, u, *_ in conts),
                            status=status,
                            registered_at=now - timedelta(days=10 * (n_revs - rev)),
                        )
                        tds.append(td)
                        rev_images.append((td, [(n, u, i, a, rp) for n, u, i, a, rp in conts]))
                    live: list[tuple[TaskDefinition, str]] = [(rev_images[-1][0], "PRIMARY")]
                    if n_revs > 1 and rng.random() < multi_deployment_rate:
                        live.append((rev_images[-2][0], "ACTIVE"))
                    use_task_sets = rng.random() < task_set_rate
                    svc_name = f"svc-{k}"
                    if use_task_sets:
                        svc = Service(
                            svc_name,
                            task_sets=tuple(
                                TaskSet(td.ref, status=st, external_id=f"ext-{k}-{st.lower()}")
                                for td, st in live
                            ),
                            controller="EXTERNAL",
                            desired_count=2,
                        )
                    else:
                        svc = Service(
                            svc_name,
                            deployments=tuple(
                                Deployment(
                                    td.ref,
                                    status=st,
                                    rollout_state="IN_PROGRESS" if len(live) > 1 else "COMPLETED",
                                    created_at=td.registered_at,
                                )
                                for td, st in live
                            ),
                            desired_count=2,
                        )
                    ci_ = k % n_clusters
                    cl_services[ci_].append(svc)
                    n_services += 1
                    by_td = {td.ref: conts for td, conts in rev_images}
                    drift = rng.random() < tag_drift_rate
                    for td, _st in live:
                        for _ in range(rng.randrange(1, 3)):
                            containers = []
                            for n, u, img, a, rp in by_td[td.ref]:
                                if img is None:
                                    containers.append(
                                        Container(n, u, "sha256:" + f"{rng.getrandbits(256):064x}")
                                    )
                                    continue
                                assert rp is not None
                                if drift and n == "app" and img is not None:
                                    # The tag moved on after this task started:
                                    # it runs an older build.
                                    older = pick(rp, 3)
                                    mark(a, rname, rp, older)
                                    containers.append(Container(n, u, older.digest))
                                    continue
                                mark(a, rname, rp, img)
                                containers.append(Container(n, u, task_digest(img)))
                            cl_tasks[ci_].append(
                                Task(
                                    td.ref,
                                    tuple(containers),
                                    service=svc_name,
                                    started_at=td.registered_at + timedelta(minutes=5),
                                )
                            )
                            n_tasks += 1
                        for _n, _u, img, a, rp in by_td[td.ref]:
                            if img is not None and rp is not None:
                                mark(a, rname, rp, img)
                    if rng.random() < stopped_task_rate and n_revs > 1:
                        old_td, old_conts = rev_images[0]
                        cl_tasks[ci_].append(
                            Task(
                                old_td.ref,
                                tuple(
                                    Container(n, u, i.digest if i else None)
                                    for n, u, i, _a, _r in old_conts
                                ),
                                service=svc_name,
                                last_status="STOPPED",
                                desired_status="STOPPED",
                                started_at=old_td.registered_at,
                                stopped_at=now - timedelta(minutes=rng.randrange(1, 600)),
                            )
                        )
                        n_tasks += 1
                    if k % 10 == 9:  # a scheduled job: standalone task, no service
                        td0, conts0 = rev_images[-1]
                        cl_tasks[ci_].append(
                            Task(
                                td0.ref,
                                tuple(
                                    Container(n, u, i.digest if i else None)
                                    for n, u, i, _a, _r in conts0
                                ),
                                started_by="events-rule/nightly",
                            )
                        )
                        for _n, _u, img, a, rp in conts0:
                            if img is not None and rp is not None:
                                mark(a, rname, rp, img)
                        n_tasks += 1
                clusters = [
                    Cluster(f"cluster-{c}", tuple(cl_services[c]), tuple(cl_tasks[c]))
                    for c in range(n_clusters)
                ]
            n_repos += len(repos)
            if repos or clusters or tds:
                regions_out.append(Region(rname, tuple(clusters), tuple(tds), tuple(repos)))
        name = (
            "management"
            if acct == mgmt
            else "shared-registry"
            if acct == registry
            else f"team-{ai:02d}-prod"
        )
        accounts_out.append(Account(acct, tuple(regions_out), name=name))

    scenario = Scenario(tuple(accounts_out), management_account_id=mgmt)
    n_images = sum(
        len(r.images) + sum(len(i.children) for i in r.images)
        for a in accounts_out
        for reg in a.regions
        for r in reg.repositories
    )
    summary = OrgSummary(
        len(ids),
        len(region_names),
        n_repos,
        n_images,
        n_services,
        n_tasks,
        mgmt,
        registry,
        frozenset(in_use),
    )
    return scenario, summary


def _split(total: int, weights: list[float]) -> list[int]:
    if not weights:
        return []
    s = sum(weights)
    return [max(1, int(total * w / s)) for w in weights]
