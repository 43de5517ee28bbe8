"""Frozen, typed values that flow through the pipeline.

Ids are `NewType`s so that joining an account id with a region (or a tag with a digest) is a
type error. Everything here is plain data: the planner consumes and produces only these.
"""

from __future__ import annotations

import enum
import fnmatch
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, NewType, TypeVar, overload

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


class Outside(enum.StrEnum):
    """Sentinels for the usage sources that belong to no account of the run (h11's
    `make_sentinel`, not a fake `AccountId`). A `StrEnum` so that files and messages spell them
    as they always have ("external", "kubeconfig")."""

    EXTERNAL_IMAGES = "external"  # --external-images / `[sources] external_images`
    KUBECONFIG = "kubeconfig"  # the clusters of --kubeconfig files


@dataclass(frozen=True, slots=True)
class ScanError:
    """A source that could not be read. Usage errors block every deletion of the run."""

    scope: ScanScope
    account_id: AccountId | Outside
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


@dataclass(frozen=True, slots=True, order=True)
class AccountRegion:
    """One account × region."""

    account_id: AccountId
    region: Region


@dataclass(frozen=True, slots=True, order=True)
class AccountNote:
    """What was learnt of one account as a whole (its regions could not be listed, regions
    left out of the usage scan): errors and warnings that belong to no region."""

    account_id: AccountId


# Where a usage scan was read: an account × region, an account as a whole, or a source
# outside every account (the external-images list, kubeconfig clusters).
UsageOrigin = AccountRegion | AccountNote | Outside


def origin_order(origin: UsageOrigin) -> tuple[str, str]:
    """A total order over origins: (account or sentinel, region or "")."""
    if isinstance(origin, AccountRegion):
        return (origin.account_id, origin.region)
    if isinstance(origin, AccountNote):
        return (origin.account_id, "")
    return (origin.value, "")


@dataclass(frozen=True, slots=True)
class UsageScan:
    """What the workloads of one origin (mostly an account × region) use, and the census of
    its consumer kinds."""

    origin: UsageOrigin
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
    # ECR's archive (quarantine, restore): a restore under way (imageStatus ACTIVATING, so
    # `archived` too), and when the image last went to the archive and came back from it.
    activating: bool = False
    archived_at: datetime | None = None  # lastArchivedAt
    activated_at: datetime | None = None  # lastActivatedAt

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
class InspectorSighting:
    """Amazon Inspector sees this image in use (its coverage: `inUseCount`, `lastInUseAt`)."""

    digest: Digest
    in_use_count: int
    last_in_use_at: datetime | None = None


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
    # The second witness: the images of it Amazon Inspector sees in use (where it scans ECR).
    inspector_in_use: tuple[InspectorSighting, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class PullExclusions:
    """The principals whose pulls ECR does not record in one registry (account × region):
    ListPullTimeUpdateExclusions. `error` set: the list could not be read (a warning)."""

    place: AccountRegion
    principals: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class InventoryScan:
    """Every repository (matching the filters) of one account × region."""

    account_id: AccountId
    region: Region
    repositories: tuple[Repository, ...] = ()
    errors: tuple[ScanError, ...] = ()
    pull_exclusions: PullExclusions | None = None  # None: not asked
    notes: tuple[str, ...] = ()  # warnings of the plan (e.g. Inspector's coverage not read)


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


@dataclass(frozen=True, slots=True)
class ArchivePrices:
    """What ECR's archive costs (USD), as AWS's pricing page said when checked (see
    `ARCHIVE_PRICES_CHECKED`); the accounts file's `[policy]` may set its own. Archived storage
    costs what standard storage costs for the first 150 TB a month, `above_150tb_per_gb_month`
    beyond; every archived image is billed for at least `minimum_days`; a restore costs
    `restore_per_gb`."""

    per_gb_month: float = 0.10
    above_150tb_per_gb_month: float = 0.07
    restore_per_gb: float = 0.03
    minimum_days: int = 90


ARCHIVE_PRICES_CHECKED = "AWS's ECR pricing, us-east-1, as checked in March 2026"
DEFAULT_QUARANTINE_DAYS = 14


@dataclass(frozen=True, slots=True, order=True)
class Quarantined:
    """The tool's own record (its apply journal) of an image it archived, and when: what a
    later plan deletes once it stayed archived, and what `restore` undoes. An image archived
    by anything else (a lifecycle rule, a person) has no such record."""

    repository: RepositoryKey
    digest: Digest
    at: datetime


DEFAULT_KEEP_LAST = 10
DEFAULT_MIN_AGE_DAYS = 14
# The pull witness: an image pulled this recently that no usage read explains is kept (0: off).
DEFAULT_PULLED_WITHIN_DAYS = 30
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
    # Quarantine: apply archives (ECR's archive storage class) instead of deleting, and a plan
    # deletes what this tool archived once it stayed archived `quarantine_days`.
    quarantine: bool = False
    quarantine_days: int = DEFAULT_QUARANTINE_DAYS
    archive_prices: ArchivePrices = field(default_factory=ArchivePrices)
    # The pull witness, a safety rule (not retention): keep what was pulled within this many
    # days and no usage read explains (0: off). A rule's `keep_pulled_within_days` (the old
    # key) sets the window for its repositories; the top-level old key is this one.
    pulled_within_days: int = DEFAULT_PULLED_WITHIN_DAYS

    def pull_window(self, repository: str) -> int:
        """The pull witness's window (days) for `repository`: its rule's, else the policy's."""
        pulled = self.retention_for(repository).keep_pulled_within_days
        return self.pulled_within_days if pulled is None else pulled

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


# The codes (their values) of the reasons that keep an image because a workload uses it, and of
# the reasons that delete it (every other reason keeps it).
_IN_USE = frozenset({"digest-pinned", "tag-used", "digest-running", "activating"})
_DELETES = frozenset(
    {
        "unused",
        "manifest-of-deleted",
        "referrer-of-deleted",
        "cosign-subject-deleted",
        "cosign-subject-absent",
        "quarantine-over",
    }
)


class Code(enum.Enum):
    """What decided a verdict, or what a finding, warning or refusal says. The words are the
    renderer's (`wording`); the planner decides on these codes alone.

    `in_use`: a workload uses the image (by digest pin, by tag, or running it), or someone
    asked for it back from the archive (`ACTIVATING`). `deletes`: a
    reason to delete the image. Plain attributes, not properties: the planner reads them once
    per image of a million-image run."""

    in_use: bool
    deletes: bool

    def __init__(self, value: str) -> None:
        self.in_use = value in _IN_USE
        self.deletes = value in _DELETES

    # kept: in use (invariant 2)
    DIGEST_PINNED = "digest-pinned"
    TAG_USED = "tag-used"
    DIGEST_RUNNING = "digest-running"
    # kept: the pull witness, a safety rule (invariant 14)
    PULLED_UNEXPLAINED = "pulled-unexplained"
    ACTIVATING = "activating"
    INSPECTOR_IN_USE = "inspector-in-use"
    # kept: retention (invariant 6)
    PROTECTED_TAG = "protected-tag"
    YOUNG = "young"
    AMONG_NEWEST = "among-newest"
    UNTAGGED_KEPT = "untagged-kept"
    # the manifest graph (invariant 4)
    MANIFEST_OF_KEPT = "manifest-of-kept"
    REFERRER_OF_KEPT = "referrer-of-kept"
    COSIGN_SUBJECT_KEPT = "cosign-subject-kept"
    COSIGN_SUBJECT_WAITING = "cosign-subject-waiting"
    COSIGN_SUBJECT_UNREAD = "cosign-subject-unread"
    # kept: the repository is held whole (invariants 5, 10, 11)
    INVENTORY_INCOMPLETE = "inventory-incomplete"
    ANYONE_PULLS = "anyone-pulls"
    ORGANIZATION_PULLS = "organization-pulls"
    ACCOUNTS_PULL = "accounts-pull"
    NOT_OPTED_IN = "not-opted-in"
    CENSUS_HOLD = "census-hold"
    SERVICE_HOLD = "service-hold"
    REPLICA_HOLD = "replica-hold"
    # not deleted: the plan (or apply's re-check) is blocked (invariants 1, 9, 10)
    BLOCKED_USAGE = "blocked-usage"
    BLOCKED_CENSUS = "blocked-census"
    RECHECK_BLOCKED = "recheck-blocked"
    RECHECK_KEPT = "recheck-kept"
    RECHECK_ABSENT = "recheck-absent"
    # delete
    UNUSED = "unused"
    MANIFEST_OF_DELETED = "manifest-of-deleted"
    REFERRER_OF_DELETED = "referrer-of-deleted"
    COSIGN_SUBJECT_DELETED = "cosign-subject-deleted"
    COSIGN_SUBJECT_ABSENT = "cosign-subject-absent"
    # findings (block the plan), warnings, refusals (caps)
    UNREAD_CONSUMER = "unread-consumer"
    UNREAD_SERVICE = "unread-service"
    ACCEPTED_CONSUMER = "accepted-consumer"
    ACCEPTED_SERVICE = "accepted-service"
    ARCHIVED_IN_USE = "archived-in-use"
    INSPECTOR_HELD = "inspector-held"
    SCAN_NOTE = "scan-note"
    OVER_IMAGE_CAP = "over-image-cap"
    OVER_PERCENT_CAP = "over-percent-cap"
    # a quarantine (apply --quarantine archived it; invariant 13)
    IN_QUARANTINE = "in-quarantine"
    RESTORED_AFTER_QUARANTINE = "restored-after-quarantine"
    QUARANTINE_OVER = "quarantine-over"
    # read back from a plan file: its words, as reviewed
    RECORDED = "recorded"


@dataclass(frozen=True, slots=True)
class InUse:
    """A usage reaches the digest: `DIGEST_PINNED`, `TAG_USED` (with `tag`), `DIGEST_RUNNING`."""

    code: Code
    source: str
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class ProtectedTag:
    code: ClassVar[Code] = Code.PROTECTED_TAG
    tag: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Young:
    code: ClassVar[Code] = Code.YOUNG
    min_age_days: int


@dataclass(frozen=True, slots=True)
class PulledUnexplained:
    """Pulled `days_ago` days ago (lastRecordedPullTime, within the window `within_days`), and
    no usage this run read reaches it: something the run does not know pulled it."""

    code: ClassVar[Code] = Code.PULLED_UNEXPLAINED
    days_ago: int
    within_days: int
    last_pulled_at: datetime


@dataclass(frozen=True, slots=True)
class InspectorInUse:
    """Amazon Inspector sees the image in use and no usage this run read reaches it."""

    code: ClassVar[Code] = Code.INSPECTOR_IN_USE
    in_use_count: int
    last_in_use_at: datetime | None


@dataclass(frozen=True, slots=True)
class Activating:
    """Being restored from the archive (imageStatus ACTIVATING): someone asked for it."""

    code: ClassVar[Code] = Code.ACTIVATING


@dataclass(frozen=True, slots=True)
class AmongNewest:
    code: ClassVar[Code] = Code.AMONG_NEWEST
    keep_last: int


@dataclass(frozen=True, slots=True)
class UntaggedKept:
    code: ClassVar[Code] = Code.UNTAGGED_KEPT


@dataclass(frozen=True, slots=True)
class Follows:
    """A manifest or referrer that follows another image of its repository:
    `MANIFEST_OF_KEPT` and `REFERRER_OF_KEPT` name the kept `parent`;
    `MANIFEST_OF_DELETED` and `REFERRER_OF_DELETED` name none."""

    code: Code
    parent: Digest | None = None


@dataclass(frozen=True, slots=True)
class CosignSubject:
    """A cosign referrer whose subject is not in its repository, judged by that subject:
    `COSIGN_SUBJECT_KEPT`, `_WAITING` and `_DELETED` name the repository `where` it is;
    `_UNREAD` and `_ABSENT` name none."""

    code: Code
    subject: Digest
    where: RepositoryKey | None = None


@dataclass(frozen=True, slots=True)
class InventoryIncomplete:
    code: ClassVar[Code] = Code.INVENTORY_INCOMPLETE
    error: str


@dataclass(frozen=True, slots=True)
class AnyonePulls:
    code: ClassVar[Code] = Code.ANYONE_PULLS
    statements: tuple[str, ...]  # each names its statement and why nothing narrows it


@dataclass(frozen=True, slots=True)
class OrganizationPulls:
    code: ClassVar[Code] = Code.ORGANIZATION_PULLS
    organizations: tuple[str, ...]  # sorted; the first is the one to accept


@dataclass(frozen=True, slots=True)
class AccountsPull:
    code: ClassVar[Code] = Code.ACCOUNTS_PULL
    accounts: tuple[str, ...]  # sorted; the first is the one to accept


@dataclass(frozen=True, slots=True)
class NotOptedIn:
    code: ClassVar[Code] = Code.NOT_OPTED_IN
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class CensusHold:
    """An unread, unaccepted consumer (`kind` in `place`) could pull from the repository."""

    code: ClassVar[Code] = Code.CENSUS_HOLD
    kind: str
    place: AccountRegion
    detail: str


@dataclass(frozen=True, slots=True)
class ServiceHold:
    code: ClassVar[Code] = Code.SERVICE_HOLD
    principal: str
    kind: str


@dataclass(frozen=True, slots=True)
class ReplicaHold:
    code: ClassVar[Code] = Code.REPLICA_HOLD
    unread: tuple[AccountRegion, ...]  # sorted


@dataclass(frozen=True, slots=True)
class NotDeleted:
    """Nothing goes: `BLOCKED_USAGE`, `BLOCKED_CENSUS`, `RECHECK_BLOCKED`, `RECHECK_ABSENT`."""

    code: Code


@dataclass(frozen=True, slots=True)
class NowKept:
    """Apply's re-check keeps what the reviewed plan deleted, for `reason`."""

    code: ClassVar[Code] = Code.RECHECK_KEPT
    reason: Reason


@dataclass(frozen=True, slots=True)
class Unused:
    code: ClassVar[Code] = Code.UNUSED
    min_age_days: int
    keep_last: int


@dataclass(frozen=True, slots=True)
class InQuarantine:
    """Archived by this tool `since`, unused, not restored: deleted once `days` are over."""

    code: ClassVar[Code] = Code.IN_QUARANTINE
    since: datetime
    days: int


@dataclass(frozen=True, slots=True)
class RestoredAfterQuarantine:
    """Archived by this tool `since`, and restored (or pushed again) after: something needed
    it. Kept, and never quarantined again by the rule that quarantined it."""

    code: ClassVar[Code] = Code.RESTORED_AFTER_QUARANTINE
    since: datetime


@dataclass(frozen=True, slots=True)
class QuarantineOver:
    """Archived by this tool `days_ago` days ago and still archived, unused: delete."""

    code: ClassVar[Code] = Code.QUARANTINE_OVER
    since: datetime
    days_ago: int


@dataclass(frozen=True, slots=True)
class Recorded:
    """A reason, finding, warning or refusal read back from a plan file: the words the
    reviewer read. Not parsed back into a code: the words of an older version, or of a
    detail that holds ": " or " of ", could be read wrong, and nothing decides on them (apply
    decides on its fresh plan)."""

    code: ClassVar[Code] = Code.RECORDED
    text: str


Reason = (
    InUse
    | ProtectedTag
    | Young
    | PulledUnexplained
    | Activating
    | InspectorInUse
    | AmongNewest
    | UntaggedKept
    | Follows
    | CosignSubject
    | InventoryIncomplete
    | AnyonePulls
    | OrganizationPulls
    | AccountsPull
    | NotOptedIn
    | CensusHold
    | ServiceHold
    | ReplicaHold
    | NotDeleted
    | NowKept
    | Unused
    | InQuarantine
    | RestoredAfterQuarantine
    | QuarantineOver
    | Recorded
)


@dataclass(frozen=True, slots=True)
class UnreadConsumer:
    """A finding: a consumer present (or maybe present) and not read, not accepted."""

    code: ClassVar[Code] = Code.UNREAD_CONSUMER
    entry: CensusEntry


@dataclass(frozen=True, slots=True)
class UnreadService:
    """A finding: a repository policy lets a service principal pull whose kind is not read."""

    code: ClassVar[Code] = Code.UNREAD_SERVICE
    repository: RepositoryKey
    principal: str
    kind: str


@dataclass(frozen=True, slots=True)
class AcceptedConsumer:
    """A warning: an unread consumer, accepted by `token` (`KIND` or `KIND@ACCOUNT`)."""

    code: ClassVar[Code] = Code.ACCEPTED_CONSUMER
    entry: CensusEntry
    token: str


@dataclass(frozen=True, slots=True)
class AcceptedService:
    code: ClassVar[Code] = Code.ACCEPTED_SERVICE
    repository: RepositoryKey
    principal: str
    kind: str
    token: str


@dataclass(frozen=True, slots=True)
class ArchivedInUse:
    code: ClassVar[Code] = Code.ARCHIVED_IN_USE
    repository: RepositoryKey
    digest: Digest
    reason: Reason  # one whose code is in use


@dataclass(frozen=True, slots=True)
class InspectorHeld:
    """A warning: Amazon Inspector sees an image in use that no consumer this run read uses."""

    code: ClassVar[Code] = Code.INSPECTOR_HELD
    repository: RepositoryKey
    digest: Digest
    reason: InspectorInUse


@dataclass(frozen=True, slots=True)
class ScanNote:
    """A warning a usage scan brought, in the words of the code that read it."""

    code: ClassVar[Code] = Code.SCAN_NOTE
    text: str


@dataclass(frozen=True, slots=True)
class OverImageCap:
    code: ClassVar[Code] = Code.OVER_IMAGE_CAP
    deletions: int
    cap: int


@dataclass(frozen=True, slots=True)
class OverPercentCap:
    code: ClassVar[Code] = Code.OVER_PERCENT_CAP
    repository: RepositoryKey
    deleted: int
    images: int
    cap: float

    @property
    def share(self) -> float:
        return 100.0 * self.deleted / self.images


Finding = UnreadConsumer | UnreadService | Recorded
PlanWarning = (
    AcceptedConsumer | AcceptedService | ArchivedInUse | InspectorHeld | ScanNote | Recorded
)
Refusal = OverImageCap | OverPercentCap | Recorded


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one image, with the rule that decided it."""

    repository: RepositoryKey
    digest: Digest
    tags: tuple[str, ...]
    size_bytes: int
    pushed_at: datetime
    media_type: str
    reason: Reason

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


@dataclass(frozen=True, slots=True, order=True)
class UnexplainedPulls:
    """One repository's images kept by the pull witness (`PulledUnexplained`): how many, and
    the newest of their pulls."""

    repository: RepositoryKey
    images: int
    newest_pull: datetime


T = TypeVar("T")


class LazySequence(Sequence[T]):
    """Items that are read (from a file) as they are iterated, never held all at once:
    iterate them; indexing reads them all."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __iter__(self) -> Iterator[T]: ...

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return tuple(self)[index]

    def __bool__(self) -> bool:
        return len(self) > 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))


class LazyDecisions(LazySequence[Decision]):
    """Decisions that are read (from a plan file, or the planner's store) as they are
    iterated, never held all at once."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} decisions)"


PLAN_VERSION = 1


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything `apply` needs: targets and policy to re-check, and every verdict."""

    created_at: datetime
    policy: Policy
    targets: tuple[AccountTarget, ...]
    # Tuples, or read from a plan file as they are iterated (planfile.FileDecisions).
    deletions: Sequence[Decision]
    kept: Sequence[Decision]
    errors: tuple[ScanError, ...]
    version: int = PLAN_VERSION
    sources: Sources = field(default_factory=Sources)
    refusals: tuple[Refusal, ...] = ()  # caps exceeded: apply refuses until they are raised
    census: tuple[CensusEntry, ...] = ()  # every consumer kind found, and whether it was read
    # Consumers present and not read, not accepted: one each; any blocks the plan.
    findings: tuple[Finding, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()  # accepted findings, regions not read, archived…
    # What this tool archived (apply --quarantine's journal) that the plan was made with: the
    # plan's record of it, which apply's re-check plans with again.
    quarantined: tuple[Quarantined, ...] = ()
    # The pull witness: per repository, the images pulled that no usage read explains; and
    # each swept registry's pull-time update exclusions (why a scanner's pulls count or not).
    unexplained_pulls: tuple[UnexplainedPulls, ...] = ()
    pull_exclusions: tuple[PullExclusions, ...] = ()

    @property
    def blocked(self) -> bool:
        """A usage source failed, or a consumer exists that was not read (and is not
        accepted), so this plan deletes nothing (fail closed)."""
        return bool(self.findings) or any(e.scope == "usage" for e in self.errors)
