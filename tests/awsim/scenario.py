"""Declarative, immutable description of an AWS organization for the emulator.

Everything is a frozen dataclass (with ``__slots__`` so a million images stay affordable).
A scenario only *describes* the world; ``awsim.state`` turns it into the mutable state the
server serves and mutates (BatchDeleteImage etc.), so one scenario can back many runs.

Images carry a real manifest: ``Image.digest == "sha256:" + sha256(Image.manifest)``.
An image with ``platforms`` is an image index (OCI index or Docker manifest list) whose
per-platform child manifests (``Image.children``) are stored in the repository as untagged
images, as ECR does.  An image with ``subject`` is an OCI referrer (e.g. a cosign signature).

Example::

    img = Image(tags=("v1",), pushed_at=datetime(2024, 1, 1, tzinfo=UTC))
    scenario = Scenario(accounts=(
        Account("111111111111", regions=(
            Region("us-east-1",
                   repositories=(Repository("team/app", images=(img,)),),
                   task_definitions=(TaskDefinition("app", 1, (ContainerDefinition("app", uri),)),),
                   clusters=(Cluster("prod",
                       services=(Service("web", task_definition="app:1"),),
                       tasks=(Task("app:1", (Container("app", uri, img.digest),),
                                   service="web"),)),)),)),))
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from . import manifests as mf
from .arns import image_uri, task_definition_arn

DEFAULT_TIME = datetime(2024, 1, 1, tzinfo=UTC)

__all__ = [
    "DEFAULT_TIME",
    "UTC",
    "Account",
    "Cluster",
    "Container",
    "ContainerDefinition",
    "Deployment",
    "Image",
    "Platform",
    "Region",
    "Repository",
    "Scenario",
    "Service",
    "Task",
    "TaskDefinition",
    "TaskSet",
]


# --------------------------------------------------------------------------- ECR


@dataclass(frozen=True, slots=True)
class Platform:
    """One platform of a multi-arch image index."""

    architecture: str = "amd64"
    os: str = "linux"
    variant: str | None = None


@dataclass(frozen=True, slots=True)
class Image:
    """An image (manifest) in a repository; ``digest`` is derived from the generated manifest.

    ``key`` only feeds the content identity: two specs with equal fields get equal digests
    (like the same image pushed twice), so set ``key`` to force distinct content.
    """

    tags: tuple[str, ...] = ()
    pushed_at: datetime = DEFAULT_TIME
    size: int = 30_000_000
    platforms: tuple[Platform, ...] = ()
    fmt: str = "docker"  # "docker" or "oci"; decides manifest / index media types
    subject: Image | None = None  # set => OCI referrer artifact pointing at ``subject``
    artifact_type: str = mf.COSIGN_SIGNATURE  # only used with ``subject``
    last_pull: datetime | None = None  # ECR lastRecordedPullTime
    key: str = ""
    platform: Platform | None = None  # set on the children of an index
    status: str = "ACTIVE"  # ECR imageStatus: ACTIVE, ARCHIVED or ACTIVATING
    # Amazon Inspector's coverage of it (where its region's `inspector_ecr` is set)
    in_use_count: int = 0
    last_in_use: datetime | None = None
    # Derived in __post_init__ (not constructor arguments).
    digest: str = field(init=False, compare=False)
    media_type: str = field(init=False, compare=False, repr=False)
    manifest_size: int = field(init=False, compare=False, repr=False)
    children: tuple[Image, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(self.tags))  # accept lists for convenience
        if self.fmt not in ("docker", "oci"):
            raise ValueError(f"fmt must be 'docker' or 'oci', not {self.fmt!r}")
        children: tuple[Image, ...] = ()
        if self.platforms:
            children = tuple(
                Image(
                    pushed_at=self.pushed_at,
                    size=self.size,
                    fmt=self.fmt,
                    last_pull=self.last_pull,
                    key=self._ident(),
                    platform=p,
                )
                for p in self.platforms
            )
        object.__setattr__(self, "children", children)
        data, mt = self._build(children)
        object.__setattr__(self, "digest", mf.sha256_digest(data))
        object.__setattr__(self, "media_type", mt)
        object.__setattr__(self, "manifest_size", len(data))

    def _ident(self) -> str:
        return f"{self.key}|{','.join(self.tags)}|{self.pushed_at.isoformat()}|{self.size}"

    def _build(self, children: tuple[Image, ...]) -> tuple[bytes, str]:
        if children:
            return mf.index_manifest(
                self.fmt,
                [(c.digest, c.manifest_size, c.media_type, c._platform_json()) for c in children],
            )
        if self.subject is not None:
            s = self.subject
            return mf.referrer_manifest(
                self._ident(),
                self.size,
                self.artifact_type,
                s.digest,
                s.manifest_size,
                s.media_type,
            )
        return mf.single_manifest(self._ident(), self.size, self.fmt, self._platform_json())

    def _platform_json(self) -> str:
        p = self.platform or Platform()
        return mf.platform_json(p.os, p.architecture, p.variant)

    @property
    def manifest(self) -> bytes:
        """The exact manifest bytes (rebuilt on demand to keep per-image memory small)."""
        return self._build(self.children)[0]

    @property
    def is_index(self) -> bool:
        return bool(self.children)

    @property
    def artifact_media_type(self) -> str | None:
        """ECR's ``artifactMediaType``: absent for indexes, else the config media type or the
        artifactType."""
        if self.children:
            return None
        if self.subject is not None:
            return self.artifact_type
        return mf.OCI_CONFIG if self.fmt == "oci" else mf.DOCKER_CONFIG

    @property
    def reported_size(self) -> int:
        # Assumption: for an index ECR reports the sum of its platform images.
        return sum(c.size for c in self.children) if self.children else self.size


@dataclass(frozen=True, slots=True)
class Repository:
    """An ECR repository; ``name`` may contain slashes (``team/app``)."""

    name: str
    images: tuple[Image, ...] = ()
    policy: str | None = None  # repository policy JSON text (GetRepositoryPolicy)
    tags: tuple[tuple[str, str], ...] = ()  # resource tags (ListTagsForResource)
    created_at: datetime = DEFAULT_TIME
    tag_mutability: str = "MUTABLE"

    def all_images(self) -> Iterator[Image]:
        """Images as stored: index children first (pushed before their index), then the image."""
        for img in self.images:
            yield from img.children
            yield img

    def image(self, tag: str) -> Image:
        """The image carrying ``tag`` (KeyError if none)."""
        for img in self.images:
            if tag in img.tags:
                return img
        raise KeyError(tag)


# --------------------------------------------------------------------------- ECS


@dataclass(frozen=True, slots=True)
class ContainerDefinition:
    name: str
    image: str


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    family: str
    revision: int
    containers: tuple[ContainerDefinition, ...] = ()
    status: str = "ACTIVE"  # ACTIVE | INACTIVE | DELETE_IN_PROGRESS
    registered_at: datetime = DEFAULT_TIME

    @property
    def ref(self) -> str:
        return f"{self.family}:{self.revision}"

    def arn(self, account: str, region: str) -> str:
        return task_definition_arn(account, region, self.family, self.revision)


@dataclass(frozen=True, slots=True)
class Deployment:
    """A service deployment; ``task_definition`` is ``family:rev`` or a full ARN."""

    task_definition: str
    status: str = "PRIMARY"  # PRIMARY | ACTIVE | INACTIVE
    id: str = ""  # default: deterministic ``ecs-svc/<19 digits>``
    rollout_state: str = "COMPLETED"  # COMPLETED | IN_PROGRESS | FAILED
    desired_count: int = 1
    running_count: int = 1
    created_at: datetime = DEFAULT_TIME
    # (container name, digest) ECS resolved when this deployment started; containers not listed
    # get the digest a running task of the deployment reports, else where the image's tag
    # pointed when the service was loaded or added (see ``OrgState.resolve_deployments``).
    image_digests: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TaskSet:
    """A task set of an EXTERNAL / CODE_DEPLOY service."""

    task_definition: str
    id: str = ""  # default: deterministic ``ecs-svc/<19 digits>``
    status: str = "PRIMARY"  # PRIMARY | ACTIVE | DRAINING
    external_id: str | None = None
    running_count: int = 1
    created_at: datetime = DEFAULT_TIME


@dataclass(frozen=True, slots=True)
class Service:
    """An ECS service.  ``task_definition`` alone is shorthand for one PRIMARY deployment."""

    name: str
    task_definition: str | None = None
    deployments: tuple[Deployment, ...] = ()
    task_sets: tuple[TaskSet, ...] = ()
    controller: str = "ECS"  # ECS | CODE_DEPLOY | EXTERNAL
    status: str = "ACTIVE"  # ACTIVE | DRAINING | INACTIVE (INACTIVE is not listed)
    desired_count: int = 1
    launch_type: str = "FARGATE"
    created_at: datetime = DEFAULT_TIME

    def effective_deployments(self) -> tuple[Deployment, ...]:
        if self.deployments or self.task_definition is None or self.controller != "ECS":
            return self.deployments
        return (
            Deployment(
                self.task_definition,
                desired_count=self.desired_count,
                running_count=self.desired_count,
                created_at=self.created_at,
            ),
        )

    def primary_task_definition(self) -> str | None:
        for d in self.effective_deployments():
            if d.status == "PRIMARY":
                return d.task_definition
        for ts in self.task_sets:
            if ts.status == "PRIMARY":
                return ts.task_definition
        return self.task_definition


@dataclass(frozen=True, slots=True)
class Container:
    """A running container of a task: ``image`` as in the task definition, ``image_digest`` as
    resolved by the agent (None models tasks where ECS reports no digest)."""

    name: str
    image: str
    image_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Task:
    task_definition: str  # ``family:rev`` or full ARN
    containers: tuple[Container, ...] = ()
    service: str | None = None  # sets group=service:NAME, startedBy=ecs-svc/...
    id: str = ""  # default: deterministic 32-hex id
    last_status: str = "RUNNING"
    desired_status: str = "RUNNING"
    started_at: datetime = DEFAULT_TIME
    stopped_at: datetime | None = None
    started_by: str | None = None
    launch_type: str = "FARGATE"


@dataclass(frozen=True, slots=True)
class Cluster:
    name: str
    services: tuple[Service, ...] = ()
    tasks: tuple[Task, ...] = ()
    status: str = "ACTIVE"


# --------------------------------------------------------------------------- org


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    clusters: tuple[Cluster, ...] = ()
    task_definitions: tuple[TaskDefinition, ...] = ()
    repositories: tuple[Repository, ...] = ()
    eks_clusters: tuple[str, ...] = ()  # EKS clusters no access entry lets the sweep read
    replication: str | None = None  # the registry's replicationConfiguration, JSON text
    # The registry's pull-time update exclusions (principal ARNs): ListPullTimeUpdateExclusions.
    pull_time_exclusions: tuple[str, ...] = ()
    inspector_ecr: bool = False  # Amazon Inspector scans ECR here (ops_inspector.py)

    def repository(self, name: str) -> Repository:
        for r in self.repositories:
            if r.name == name:
                return r
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    regions: tuple[Region, ...] = ()
    name: str | None = None
    email: str | None = None
    status: str = "ACTIVE"  # Organizations status: ACTIVE | SUSPENDED
    assume_role_denied: bool = False  # sts:AssumeRole into it fails with AccessDenied
    in_organization: bool = True  # listed by organizations:ListAccounts

    def __post_init__(self) -> None:
        if len(self.id) != 12 or not self.id.isdigit():
            raise ValueError(f"account id must be 12 digits: {self.id!r}")

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Scenario:
    accounts: tuple[Account, ...]
    management_account_id: str | None = None  # default: the first account
    organization_id: str = "o-awsim00001"

    @property
    def management_account(self) -> str:
        return self.management_account_id or self.accounts[0].id

    def account(self, account_id: str) -> Account:
        for a in self.accounts:
            if a.id == account_id:
                return a
        raise KeyError(account_id)

    def repository(self, account: str, region: str, name: str) -> Repository:
        return self.account(account).region(region).repository(name)

    def image_count(self) -> int:
        return sum(
            1
            for a in self.accounts
            for r in a.regions
            for repo in r.repositories
            for _ in repo.all_images()
        )

    @staticmethod
    def image_uri(
        account: str, region: str, repo: str, *, tag: str | None = None, digest: str | None = None
    ) -> str:
        return image_uri(account, region, repo, tag=tag, digest=digest)
