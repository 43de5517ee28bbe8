"""Frozen, typed values that flow through the pipeline.

Ids are `NewType`s so that joining an account id with a region (or a tag with a digest) is a
type error. Everything here is plain data: the planner consumes and produces only these.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NewType

AccountId = NewType("AccountId", str)
Region = NewType("Region", str)
Digest = NewType("Digest", str)
RepositoryName = NewType("RepositoryName", str)

INDEX_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    }
)


@dataclass(frozen=True, slots=True, order=True)
class RepositoryKey:
    """One ECR repository: registry account, region and repository name."""

    account_id: AccountId
    region: Region
    name: RepositoryName

    def __str__(self) -> str:
        return f"{self.account_id}/{self.region}/{self.name}"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A parsed private-ECR image reference. At least one of `tag` and `digest` is set."""

    repository: RepositoryKey
    tag: str | None
    digest: Digest | None


@dataclass(frozen=True, slots=True)
class Usage:
    """One place where a workload uses an image.

    `resolved_digest` is the digest the runtime actually pulled (a task container's
    `imageDigest`), which may differ from where the tag points today.
    """

    image: str
    ref: ImageRef
    source: str
    resolved_digest: Digest | None = None
    kind: str = "ecs"  # which reader saw it (ecs, revision, rollback, schedule, lambda…)


ScanScope = Literal["usage", "inventory"]


@dataclass(frozen=True, slots=True)
class ScanError:
    """A source that could not be read. Usage errors block every deletion of the run."""

    scope: ScanScope
    account_id: AccountId
    region: Region | None
    subject: str
    message: str


@dataclass(frozen=True, slots=True)
class CensusEntry:
    """One consumer kind (ECS, Lambda, Batch, EKS…) in one account × region: whether any
    consumer of that kind exists there, and whether the run read what it uses.

    A kind that is present (or whose census call failed: `present is None`) and was not read is
    a consumer the plan knows nothing about: the planner holds every image it could pull.
    """

    kind: str
    account_id: AccountId
    region: Region
    present: bool | None  # None: the census call failed, so presence is unknown
    read: bool  # every reader of this kind was on and read it without error
    detail: str = ""  # what was found, or why it was not read ("switched off (--no-batch)")

    @property
    def unread(self) -> bool:
        """A consumer that exists (or may exist) here and whose usage the run did not read."""
        return self.present is not False and not self.read


@dataclass(frozen=True, slots=True)
class UsageScan:
    """What one account × region's workloads use, and the census of its consumer kinds."""

    account_id: AccountId
    region: Region
    usages: tuple[Usage, ...] = ()
    errors: tuple[ScanError, ...] = ()
    foreign_images: int = 0  # references outside private ECR (Docker Hub, public.ecr.aws…)
    census: tuple[CensusEntry, ...] = ()
    warnings: tuple[str, ...] = ()  # e.g. a region whose consumers were not read (narrowed)


@dataclass(frozen=True, slots=True)
class Image:
    """One image (manifest) in a repository, identified by digest."""

    digest: Digest
    tags: tuple[str, ...]
    pushed_at: datetime
    size_bytes: int
    media_type: str
    children: tuple[Digest, ...] = ()  # manifests listed by an image index
    subject: Digest | None = None  # an OCI referrer's subject (signature, SBOM, attestation)
    last_pulled_at: datetime | None = None  # lastRecordedPullTime: evidence, updated ≤ daily
    artifact_media_type: str = ""
    archived: bool = False  # imageStatus ARCHIVED or ACTIVATING: no workload can pull it now

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


@dataclass(frozen=True, slots=True)
class PullAccess:
    """Who a repository policy lets pull (repopolicy.pull_access reads it).

    `accounts` and the accounts of `organizations` may pull; `anyone` not empty means anyone
    may, each line naming the statement (Sid or index) and why nothing narrows it. `services`
    are the service principals granted pull, however narrowed (kinds of consumer)."""

    accounts: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()  # "o-…": every account of the organization
    anyone: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    @property
    def principals(self) -> tuple[str, ...]:
        """Accounts, organizations and "*" (anyone), sorted."""
        return tuple(sorted({*self.accounts, *self.organizations, *("*" * bool(self.anyone))}))


@dataclass(frozen=True, slots=True)
class Repository:
    """A repository and its images. `error` set means the listing is incomplete."""

    key: RepositoryKey
    images: tuple[Image, ...]
    error: str | None = None
    pull_access: PullAccess = field(default_factory=PullAccess)  # who the policy lets pull
    tags: tuple[tuple[str, str], ...] = ()  # resource tags (read only for the opt-in mode)
    # Registries (account, region) where ECR replays this repository's deletions (registry
    # replication rules with deleteReplication enabled whose filters match the repository).
    delete_replicas: tuple[tuple[AccountId, Region], ...] = ()


@dataclass(frozen=True, slots=True)
class InventoryScan:
    """Every repository (matching the filters) of one account × region."""

    account_id: AccountId
    region: Region
    repositories: tuple[Repository, ...] = ()
    errors: tuple[ScanError, ...] = ()


@dataclass(frozen=True, slots=True)
class Patterns:
    """Glob include/exclude filters on names; exclude wins."""

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        """True when `name` matches an include pattern and no exclude pattern."""
        return any(fnmatch.fnmatchcase(name, p) for p in self.include) and not any(
            fnmatch.fnmatchcase(name, p) for p in self.exclude
        )


@dataclass(frozen=True, slots=True)
class AccountTarget:
    """One account to sweep, and how to reach it.

    `role_arn` None means: use the base credentials as they are (they must belong to
    `account_id`, which is checked). No `regions` means every region enabled in the account
    (asked of EC2 DescribeRegions when the run starts).
    """

    account_id: AccountId
    regions: tuple[Region, ...]
    role_arn: str | None = None
    external_id: str | None = None
    name: str | None = None
    clusters: Patterns = field(default_factory=Patterns)
    repositories: Patterns = field(default_factory=Patterns)


DEFAULT_KEEP_LAST = 10
DEFAULT_MIN_AGE_DAYS = 14
UntaggedMode = Literal["delete", "keep"]


@dataclass(frozen=True, slots=True)
class Retention:
    """The retention rules for one repository, on top of "in use"."""

    keep_last: int = DEFAULT_KEEP_LAST
    min_age_days: int = DEFAULT_MIN_AGE_DAYS
    protect_tags: tuple[str, ...] = ()  # globs, or regular expressions written "re:<regex>"
    keep_pulled_within_days: int | None = None
    untagged: UntaggedMode = "delete"


@dataclass(frozen=True, slots=True)
class RepositoryRule:
    """Retention for the repositories matching `repositories` (the first matching rule wins)."""

    repositories: Patterns
    retention: Retention


@dataclass(frozen=True, slots=True)
class Policy:
    """Retention rules and safety caps. Defaults are deliberately conservative.

    The top-level retention fields apply to every repository no rule matches.
    """

    keep_last: int = DEFAULT_KEEP_LAST
    min_age_days: int = DEFAULT_MIN_AGE_DAYS
    protect_tags: tuple[str, ...] = ()
    keep_pulled_within_days: int | None = None
    untagged: UntaggedMode = "delete"
    rules: tuple[RepositoryRule, ...] = ()
    # Accounts outside the sweep that may pull from a swept repository without protecting it.
    accepted_accounts: tuple[str, ...] = ()
    # Consumer kinds present but not read that the user accepts: "eks" or "eks@111111111111".
    accepted_unread: tuple[str, ...] = ()
    opt_in_tag: tuple[str, str] | None = None  # sweep only repositories with this tag
    # The organization ("o-…") every account of which this run sweeps (`--org` with no
    # filter): a repository policy that lets that organization pull lets no one outside pull.
    organization: str | None = None
    max_delete_percent: float | None = None  # per repository
    max_delete_images: int | None = None  # per run

    @classmethod
    def with_default(cls, default: Retention, **rest: Any) -> Policy:
        """A policy whose top-level retention is `default`; `rest` sets the other fields."""
        return cls(
            keep_last=default.keep_last,
            min_age_days=default.min_age_days,
            protect_tags=default.protect_tags,
            keep_pulled_within_days=default.keep_pulled_within_days,
            untagged=default.untagged,
            **rest,
        )

    @property
    def default_retention(self) -> Retention:
        return Retention(
            keep_last=self.keep_last,
            min_age_days=self.min_age_days,
            protect_tags=self.protect_tags,
            keep_pulled_within_days=self.keep_pulled_within_days,
            untagged=self.untagged,
        )

    def retention_for(self, repository: str) -> Retention:
        """The first rule whose patterns match `repository`, else the defaults."""
        for rule in self.rules:
            if rule.repositories.matches(repository):
                return rule.retention
        return self.default_retention


@dataclass(frozen=True, slots=True)
class KubeconfigSource:
    """A kubeconfig file and the contexts of it to read (none: its current context)."""

    path: str
    contexts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sources:
    """Which consumer kinds are read, and how far back. Stored in the plan so `apply` re-reads
    the same ones."""

    off: frozenset[str] = frozenset()  # the names of the consumer kinds switched off
    service_revisions: bool = True  # DescribeServiceRevisions digests of recent deployments
    rollback_revisions: int = 5  # last N ACTIVE revisions of every task definition family in use
    stopped_within_hours: int = 24  # tasks stopped this recently still protect their images
    external_images: tuple[str, ...] = ()  # image URIs from --external-images files
    # other Kubernetes clusters, read with a kubeconfig's own auth (--kubeconfig)
    kubeconfigs: tuple[KubeconfigSource, ...] = ()
    # Where usage is read: () means every enabled region of every target account (whatever
    # regions are swept); else these regions and the swept ones (--usage-regions).
    usage_regions: tuple[str, ...] = ()

    def reads(self, kind: str) -> bool:
        """Whether the kind of this name is switched on."""
        return kind not in self.off


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one image, with the rule that decided it."""

    repository: RepositoryKey
    digest: Digest
    tags: tuple[str, ...]
    size_bytes: int
    pushed_at: datetime
    media_type: str
    reason: str

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


PLAN_VERSION = 1


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything `apply` needs: targets and policy to re-check, and every verdict."""

    created_at: datetime
    policy: Policy
    targets: tuple[AccountTarget, ...]
    deletions: tuple[Decision, ...]
    kept: tuple[Decision, ...]
    errors: tuple[ScanError, ...]
    version: int = PLAN_VERSION
    sources: Sources = field(default_factory=Sources)
    refusals: tuple[str, ...] = ()  # caps exceeded: apply refuses until they are raised
    census: tuple[CensusEntry, ...] = ()  # every consumer kind found, and whether it was read
    # Consumers present and not read, not accepted: one line each; any blocks the plan.
    findings: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # accepted findings, regions not read, archived in use…

    @property
    def blocked(self) -> bool:
        """A usage source failed, or a consumer exists that was not read (and is not
        accepted), so this plan deletes nothing (fail closed)."""
        return bool(self.findings) or any(e.scope == "usage" for e in self.errors)
