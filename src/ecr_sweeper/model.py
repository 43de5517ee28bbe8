"""Frozen, typed values that flow through the pipeline.

Ids are `NewType`s so that joining an account id with a region (or a tag with a digest) is a
type error. Everything here is plain data: the planner consumes and produces only these.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NewType

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
class UsageScan:
    """What one account × region's ECS workloads use."""

    account_id: AccountId
    region: Region
    usages: tuple[Usage, ...] = ()
    errors: tuple[ScanError, ...] = ()
    foreign_images: int = 0  # references outside private ECR (Docker Hub, public.ecr.aws…)


@dataclass(frozen=True, slots=True)
class Image:
    """One image (manifest) in a repository, identified by digest."""

    digest: Digest
    tags: tuple[str, ...]
    pushed_at: datetime
    size_bytes: int
    media_type: str
    children: tuple[Digest, ...] = ()  # manifests listed by an image index

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


@dataclass(frozen=True, slots=True)
class Repository:
    """A repository and its images. `error` set means the listing is incomplete."""

    key: RepositoryKey
    images: tuple[Image, ...]
    error: str | None = None


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
    `account_id`, which is checked).
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


@dataclass(frozen=True, slots=True)
class Policy:
    """Retention rules on top of "in use". Defaults are deliberately conservative."""

    keep_last: int = DEFAULT_KEEP_LAST
    min_age_days: int = DEFAULT_MIN_AGE_DAYS


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

    @property
    def blocked(self) -> bool:
        """A usage source failed, so this plan deletes nothing (fail closed)."""
        return any(e.scope == "usage" for e in self.errors)
