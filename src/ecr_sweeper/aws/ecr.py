"""ECR inventory and deletion for one account × region.

Inventory: every repository (filtered by name) → every image (DescribeImages, paginated) with
digest, tags, push time, size and media type; image indexes are read (BatchGetImage) to learn
the manifests they list. A repository whose listing fails is returned with `error` set, which
blocks deletions there and nowhere else.

Deletion: BatchDeleteImage by digest, at most 100 ids a call, image indexes before the
manifests they list; every response's `failures` is read.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from tempfile import gettempdir
from typing import Any, Literal, TypeVar

import anyio
import anyio.lowlevel
from botocore.exceptions import ClientError

from ecr_sweeper.aws.limits import (
    Api,
    ImageBudget,
    Share,
    Take,
    chunks,
    describe_errors,
    error_code,
)
from ecr_sweeper.model import (
    INDEX_MEDIA_TYPES,
    AccountId,
    AccountRegion,
    AccountTarget,
    Decision,
    Digest,
    Image,
    InspectorSighting,
    InventoryScan,
    PullAccess,
    PullExclusions,
    Region,
    Repository,
    RepositoryKey,
    RepositoryName,
    ScanError,
)
from ecr_sweeper.repopolicy import pull_access
from ecr_sweeper.results import DeleteOutcome, ImageState, Outcomes, RestoreLine
from ecr_sweeper.spool import IMAGES_PER_PIECE, Pieces, Where
from ecr_sweeper.words import plural

DESCRIBE_IMAGES_PAGE = 1000
ARCHIVED_STATUSES = frozenset({"ARCHIVED", "ACTIVATING"})  # not pullable (yet)
BATCH_GET_IMAGE_MAX = 100
BATCH_DELETE_MAX = 100
# Deletion, archive and restore calls in flight at once in one repository: a few, so that the
# account × region's bucket (paced by `Api`) stays full despite each call's round trip; the
# bucket, not this, sets the rate.
CALLS_AT_ONCE = 4
IMAGE_CONFIGS = frozenset(
    {"application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json"}
)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
T = TypeVar("T")
ACCEPTED_MEDIA_TYPES = [
    *sorted(INDEX_MEDIA_TYPES),
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+json",
]


async def scan_inventory(
    target: AccountTarget,
    region: Region,
    ecr: Any,
    api: Api,
    progress: Callable[[str], None] = lambda _: None,
    *,
    read_tags: bool = False,
    judge: Callable[[Repository], Awaitable[None]] | None = None,
    gate: anyio.Semaphore | None = None,
    begun: anyio.Semaphore | None = None,
    budget: ImageBudget | None = None,
    whole: Callable[[], contextlib.AbstractAsyncContextManager[None]] = contextlib.nullcontext,
    read_pull_exclusions: bool = False,
    inspector_in_use: Mapping[RepositoryName, tuple[InspectorSighting, ...]] | None = None,
) -> InventoryScan:
    """Every matching repository of one account × region with its images. Never raises for
    AWS errors: a failed listing comes back as a ScanError (region) or `Repository.error`.

    With `judge`, each repository is handed to it as soon as it is read (its listing error
    included) and left out of the scan, so its images can be freed once judged. `gate`
    bounds the repositories being read at once (shared by every account × region of a run),
    `begun` the repositories begun at once (their policy read, or waiting for `gate`: a task
    each, so it bounds those too), `budget` their images (page by page); a repository holds
    its place and its images until
    `judge` returns (which may wait: see make_plan). A repository whose images went to disk
    as it was read (see `_images`) is made whole again, and judged, in a `whole()` block."""
    gate = gate or anyio.Semaphore(1 << 30)
    begun = begun or anyio.Semaphore(1 << 30)
    budget = budget or ImageBudget(1 << 62)
    where = f"{target.account_id}/{region}"
    try:
        listed = await api.pages(ecr.describe_repositories, "repositories")
    except Exception as exc:  # noqa: BLE001 - turned into an error that blocks this region
        errors = tuple(
            ScanError("inventory", target.account_id, region, f"ecr {where}", line)
            for line in describe_errors(exc)
        )
        progress(f"inventory {where}: FAILED")
        return InventoryScan(target.account_id, region, (), errors)

    try:
        replication = await _delete_replication(ecr, api, target, region)
    except Exception as exc:  # noqa: BLE001 - where deletions are replayed is unknown: none here
        errors = tuple(
            ScanError(
                "inventory",
                target.account_id,
                region,
                f"ecr {where} replication configuration",
                line,
            )
            for line in describe_errors(exc)
        )
        progress(f"inventory {where}: FAILED (replication configuration)")
        return InventoryScan(target.account_id, region, (), errors)

    def replicas(name: str) -> tuple[tuple[AccountId, Region], ...]:
        return tuple(
            sorted(
                {d for prefixes, dests in replication if _filtered(name, prefixes) for d in dests}
            )
        )

    names = sorted(r["repositoryName"] for r in listed)
    names = [n for n in names if target.repositories.matches(n)]
    repositories: dict[str, Repository] = {}
    image_count = failed = 0

    arns = {r["repositoryName"]: r.get("repositoryArn", "") for r in listed}

    async def scan_one(name: str) -> None:
        key = RepositoryKey(target.account_id, region, RepositoryName(name))
        try:
            # Policy and tags first: small answers, read outside the gate, which only bounds
            # the repositories whose images are in memory at once.
            access = await _pull_access(ecr, api, key)
            tags = await _tags(ecr, api, arns[name]) if read_tags else ()
        except Exception as exc:  # noqa: BLE001 - blocks deletions in this repository only
            await _judged(_unreadable(key, exc))
            return
        async with gate, budget.share() as take:
            try:
                listing = await _images(ecr, api, key, take, budget.most)
            except Exception as exc:  # noqa: BLE001 - blocks deletions in this repository only
                await _judged(_unreadable(key, exc))
                return
            seen = (inspector_in_use or {}).get(RepositoryName(name), ())
            # A repository that waited on disk is whole again only in `whole`, to be judged,
            # and alone: no other repository's pages in memory beside it.
            async with _whole_again(listing, whole, budget, take):
                await _judged(
                    _read_back(
                        key,
                        listing,
                        lambda images: Repository(
                            key, images, None, access, tags, replicas(name), seen
                        ),
                    )
                )

    async def _judged(repository: Repository) -> None:
        nonlocal image_count, failed
        image_count += len(repository.images)
        failed += repository.error is not None
        if judge is None:
            repositories[repository.key.name] = repository
        else:
            await judge(repository)

    await _each_begun(names, begun, scan_one)
    progress(
        f"inventory {where}: {plural(len(names), 'repositories')}, {plural(image_count, 'images')}"
        + (f", {failed} repositories FAILED" if failed else "")
    )
    kept = tuple(repositories[n] for n in names if n in repositories)
    exclusions = (
        await pull_exclusions(ecr, api, AccountRegion(target.account_id, region))
        if read_pull_exclusions
        else None
    )
    return InventoryScan(target.account_id, region, kept, pull_exclusions=exclusions)


async def _each_begun(
    names: Iterable[str], begun: anyio.Semaphore, one: Callable[[str], Awaitable[None]]
) -> None:
    """`one(name)` for each name, a task each, begun only while `begun` (shared by every
    account × region) has room: a task waiting for its turn is a few KB, and an org holds
    thousands of repositories."""

    async def begin(name: str) -> None:
        try:
            await one(name)
        finally:
            begun.release()

    async with anyio.create_task_group() as tg:
        for name in names:
            await begun.acquire()
            tg.start_soon(begin, name)


async def pull_exclusions(ecr: Any, api: Api, place: AccountRegion) -> PullExclusions:
    """The principals whose pulls this registry does not record (ListPullTimeUpdateExclusions:
    the caller's registry in the client's region). Read-only and informative: a failure
    (denied, or an endpoint that does not serve it) is the value's `error`, never the run's."""
    try:
        arns = await api.pages(ecr.list_pull_time_update_exclusions, "pullTimeUpdateExclusions")
    except Exception as exc:  # noqa: BLE001 - a line of the plan, not an error of the run
        return PullExclusions(place, (), "; ".join(describe_errors(exc)))
    return PullExclusions(place, tuple(sorted({str(a) for a in arns})))


Replication = list[tuple[tuple[str, ...] | None, tuple[tuple[AccountId, Region], ...]]]


async def _delete_replication(
    ecr: Any, api: Api, target: AccountTarget, region: Region
) -> Replication:
    """The registry's replication rules that replay deletions (`deleteReplication.enabled`):
    (repository prefixes, or None for every repository; destinations other than this registry).

    The member is newer than botocore 1.43.117's model: the wire client keeps it on
    `ReplicationRule` (`wire.NEWER_THAN_MODEL`); botocore's parser would drop it.
    """
    answer = await api.call(ecr.describe_registry)
    rules: Replication = []
    for rule in (answer.get("replicationConfiguration") or {}).get("rules", []):
        if not (rule.get("deleteReplication") or {}).get("enabled"):
            continue
        filters = rule.get("repositoryFilters") or []
        prefixes = (
            tuple(str(f.get("filter", "")) for f in filters)
            if filters and all(f.get("filterType") == "PREFIX_MATCH" for f in filters)
            else None  # no filter, or one of a type this code does not know: every repository
        )
        destinations = tuple(
            (AccountId(str(d.get("registryId", ""))), Region(str(d.get("region", ""))))
            for d in rule.get("destinations", [])
        )
        rules.append((prefixes, tuple(d for d in destinations if d != (target.account_id, region))))
    return rules


def _filtered(name: str, prefixes: tuple[str, ...] | None) -> bool:
    """A replication rule's repository filters (PREFIX_MATCH, the only type) match `name`."""
    return prefixes is None or any(name.startswith(p) for p in prefixes)


@contextlib.asynccontextmanager
async def _whole_again(
    listing: _Listing,
    whole: Callable[[], contextlib.AbstractAsyncContextManager[None]],
    budget: ImageBudget,
    share: Share,
) -> AsyncIterator[None]:
    """Where a repository is made whole and judged: as it is, if its images are in memory; if
    they waited on disk, in a `whole()` block; and alone in the budget (`ImageBudget.alone`)
    if they are more than a share may hold (fewer add no more than a share beside the others,
    and need not wait for the others' pages to end)."""
    if not listing.on_disk:
        yield
        return
    async with whole():
        if listing.size <= budget.most:
            yield
            return
        async with budget.alone(share):
            yield


def _read_back(
    key: RepositoryKey, listing: _Listing, repository: Callable[[tuple[Image, ...]], Repository]
) -> Repository:
    """The repository of the images listed, or, if those that waited on disk cannot be read
    back, unreadable: its error, which says where, blocks deletions in it only."""
    try:
        images = listing.images()
    except Exception as exc:  # noqa: BLE001 - blocks deletions in this repository only
        where = f"reading its images back from a temporary file in {gettempdir()}"
        return _unreadable(key, exc, where)
    return repository(images)


def _unreadable(key: RepositoryKey, exc: Exception, doing: str = "") -> Repository:
    """A repository whose listing failed (while `doing`, if said): its error holds every image
    in it."""
    lines = describe_errors(exc)
    return Repository(key, (), "; ".join(f"{doing}: {line}" if doing else line for line in lines))


class _Unbounded:
    """No budget: takes any number of images."""

    async def __call__(self, n: int) -> None:  # noqa: ARG002 - any number is taken
        return None

    def fits(self, n: int) -> bool:  # noqa: ARG002 - any number fits
        return True


@dataclass
class _Listing:
    """A repository's images as DescribeImages listed them, in memory or, for a repository
    larger than its share of the image budget, on disk; and the manifests read of them."""

    in_memory: list[Image] = field(default_factory=list)
    manifests: dict[Digest, _Manifest] = field(default_factory=dict)
    _disk: Pieces[Image] | None = None
    _pieces: list[Where] = field(default_factory=list)
    _on_disk: int = 0  # how many images wait there

    @property
    def on_disk(self) -> bool:
        return self._disk is not None

    @property
    def size(self) -> int:
        """How many images were listed (on disk and in memory)."""
        return self._on_disk + len(self.in_memory)

    def spill(self) -> int:
        """Put the images in memory on disk (after those already there); how many there were."""
        self._disk = self._disk or Pieces[Image](IMAGES_PER_PIECE)
        self._pieces += self._disk.put(self.in_memory)
        count = len(self.in_memory)
        self._on_disk += count
        self.in_memory = []
        return count

    def images(self) -> tuple[Image, ...]:
        """Every image, in the order listed, with what its manifest says."""
        listed: Iterable[Image] = self.in_memory
        if self._disk is not None:
            disk = self._disk
            listed = (i for where in self._pieces for i in disk.load(where))
        return tuple(_as_read(image, self.manifests.get(image.digest)) for image in listed)


async def _images(
    ecr: Any,
    api: Api,
    key: RepositoryKey,
    take: Take = _Unbounded(),  # noqa: B008 - stateless
    room: int = 1 << 62,
) -> _Listing:
    """The repository's images, page by page: each page's answer is made into images (and
    forgotten) before the next page is asked for, once `take` has room for them. The images
    read go to disk (given back to `take`) before the next page would wait for room, or would
    pass `room`: the budget is for the pages in flight, and a repository does not wait with
    its images in memory for others to end."""
    listing = _Listing()
    # An index must be read to learn its children, and an artifact (signature, SBOM, SOCI
    # index…) to learn its subject when DescribeImages does not name it. A manifest of unknown
    # type is read too: guessing "not an index" could orphan-delete the children of an index.
    # An archived image cannot be pulled (BatchGetImage answers ImageNotFound) until it is
    # restored: what it lists or refers to stays unknown, and ECR itself refuses to delete a
    # manifest an index in the repository lists (archived or not).
    to_read: list[Digest] = []
    pages = api.each_page(
        ecr.describe_images,
        registryId=key.account_id,
        repositoryName=key.name,
        maxResults=DESCRIBE_IMAGES_PAGE,
        # Without it DescribeImages lists ACTIVE images only: archived ones cost storage too,
        # and one a workload names must be seen to be kept (and reported).
        filter={"imageStatus": "ANY"},
    )
    async with contextlib.aclosing(pages) as answers:
        more = True  # a next page (the last page has no nextToken: each_page ends there)
        while more:
            if listing.in_memory and (
                len(listing.in_memory) + DESCRIBE_IMAGES_PAGE > room
                or not take.fits(DESCRIBE_IMAGES_PAGE)
            ):
                await take(-listing.spill())
            # Room for a whole page before it is asked for (its answer is in memory too); what
            # the page did not fill is given back once it is made into images.
            await take(DESCRIBE_IMAGES_PAGE)
            page = await anext(answers)
            details = page.get("imageDetails", [])
            listing.in_memory += (_image(d) for d in details)
            await take(len(details) - DESCRIBE_IMAGES_PAGE)
            to_read += (
                Digest(d["imageDigest"]) for d in details if _must_read(d) and not _archived(d)
            )
            more = bool(page.get("nextToken"))
            del page, details  # not held while the next page waits for room: only its images
    if listing.on_disk:  # all of it: the manifests are read with none of its images held
        await take(-listing.spill())
    for batch in chunks(to_read, BATCH_GET_IMAGE_MAX):
        answer = await api.call(
            ecr.batch_get_image,
            registryId=key.account_id,
            repositoryName=key.name,
            imageIds=[{"imageDigest": d} for d in batch],
            acceptedMediaTypes=ACCEPTED_MEDIA_TYPES,
        )
        failures = [f for f in answer.get("failures", []) if f.get("failureCode")]
        if failures:
            first = failures[0]
            raise RuntimeError(
                f"BatchGetImage in {key}: {first.get('failureCode')}: {first.get('failureReason')}"
            )
        for image in answer.get("images", []):
            digest = Digest(image["imageId"]["imageDigest"])
            listing.manifests[digest] = _read_manifest(image)
    # An index read back neither as an image nor as a failure would pass for a plain image
    # with no children, and its children for unused images: refuse the repository instead.
    if missing := [d for d in to_read if d not in listing.manifests]:
        raise RuntimeError(f"BatchGetImage in {key}: no manifest and no failure for {missing[0]}")
    return listing


def _image(d: dict[str, Any]) -> Image:
    """An image as DescribeImages tells it (`_as_read` adds what its manifest says)."""
    reported = d.get("subjectManifestDigest")
    pulled = d.get("lastRecordedPullTime")
    return Image(
        digest=Digest(d["imageDigest"]),
        tags=tuple(sorted(d.get("imageTags", []))),
        pushed_at=_utc(d.get("imagePushedAt")),
        size_bytes=int(d.get("imageSizeInBytes", 0)),
        media_type=sys.intern(d.get("imageManifestMediaType", "")),
        subject=Digest(reported) if reported else None,
        last_pulled_at=_utc(pulled) if pulled else None,
        artifact_media_type=sys.intern(d.get("artifactMediaType", "")),
        archived=_archived(d),
        **_storage(d),
    )


def _as_read(image: Image, manifest: _Manifest | None) -> Image:
    """`image` with what its manifest says (read with BatchGetImage): its media type, the
    children of an index, an artifact's subject (ECR's own report of it otherwise)."""
    if manifest is None:
        return image
    return replace(
        image,
        media_type=sys.intern(manifest.media_type),
        children=manifest.children,
        subject=manifest.subject or image.subject,
    )


def _archived(detail: dict[str, Any]) -> bool:
    return detail.get("imageStatus", "ACTIVE") in ARCHIVED_STATUSES


def _storage(detail: dict[str, Any]) -> dict[str, Any]:
    """The archive's fields of an ImageDetail (botocore's `ImageStatus`, `lastArchivedAt`,
    `lastActivatedAt`): a restore under way, and when the image went and came back."""
    archived_at, activated_at = detail.get("lastArchivedAt"), detail.get("lastActivatedAt")
    return {
        "activating": detail.get("imageStatus") == "ACTIVATING",
        "archived_at": _utc(archived_at) if archived_at else None,
        "activated_at": _utc(activated_at) if activated_at else None,
    }


def _must_read(detail: dict[str, Any]) -> bool:
    """Whether DescribeImages leaves out what the plan needs: an index's children, or the
    subject of a manifest that can carry one (an OCI manifest that is not known to be a plain
    runnable image: an artifact type or config that is not an image's, or none reported)."""
    media_type = str(detail.get("imageManifestMediaType", ""))
    artifact = str(detail.get("artifactMediaType", ""))
    if not media_type or media_type in INDEX_MEDIA_TYPES:
        return True
    if detail.get("subjectManifestDigest"):
        return False  # the subject, as ECR read it from the manifest
    if artifact:
        return artifact not in IMAGE_CONFIGS
    return media_type == OCI_MANIFEST  # no artifact media type: it could be a referrer


async def _pull_access(ecr: Any, api: Api, key: RepositoryKey) -> PullAccess:
    """Who the repository policy lets pull (no policy: nobody beyond the account)."""
    try:
        answer = await api.call(
            ecr.get_repository_policy, registryId=key.account_id, repositoryName=key.name
        )
    except ClientError as exc:
        if error_code(exc) == "RepositoryPolicyNotFoundException":
            return PullAccess()
        raise
    return pull_access(answer.get("policyText") or "{}")


async def _tags(ecr: Any, api: Api, arn: str) -> tuple[tuple[str, str], ...]:
    answer = await api.call(ecr.list_tags_for_resource, resourceArn=arn)
    return tuple(sorted((t["Key"], t["Value"]) for t in answer.get("tags", [])))


@dataclass(frozen=True, slots=True)
class _Manifest:
    media_type: str
    children: tuple[Digest, ...] = ()
    subject: Digest | None = None


def _read_manifest(image: dict[str, Any]) -> _Manifest:
    """Media type, child digests and subject of a manifest returned by BatchGetImage."""
    manifest = json.loads(image.get("imageManifest") or "{}")
    media_type = image.get("imageManifestMediaType") or manifest.get("mediaType", "")
    if "manifests" in manifest and media_type not in INDEX_MEDIA_TYPES:
        media_type = "application/vnd.oci.image.index.v1+json"  # an index without mediaType
    children = tuple(Digest(m["digest"]) for m in manifest.get("manifests", []))
    subject = manifest.get("subject", {}).get("digest")
    return _Manifest(media_type, children, Digest(subject) if subject else None)


def _utc(value: datetime | None) -> datetime:
    if value is None:
        # No push time: treat as pushed now, which the min-age rule keeps. Safe by default.
        return datetime.now(UTC)
    if value.tzinfo is UTC:  # as aws/wire.py parses them: no copy
        return value
    # botocore gives every timestamp its own tzlocal() object (~170 bytes); one shared UTC
    # saves hundreds of MB over a million images.
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


async def delete_images(
    ecr: Any,
    api: Api,
    key: RepositoryKey,
    decisions: Sequence[Decision],
    outcome: Outcomes,
    *,
    on_batch: Callable[[DeleteOutcome], None] = lambda _: None,
) -> None:
    """Delete `decisions` (all in repository `key`) by digest: indexes first, ≤ 100 a call.

    Each batch runs to its end and is reported to `on_batch` (the journal) even when the run
    is cancelled (Ctrl-C): cancellation takes effect between batches.
    """
    indexes = [d for d in decisions if d.is_index]
    others = [d for d in decisions if not d.is_index]

    async def delete(batch: list[Decision]) -> None:
        done = await _delete_batch(ecr, api, key, batch)
        on_batch(done)
        outcome.merge(done)

    await _in_order([chunks(indexes, BATCH_DELETE_MAX), chunks(others, BATCH_DELETE_MAX)], delete)


async def _in_order(
    groups: Sequence[Sequence[T]], one: Callable[[T], Awaitable[None]], at_once: int = CALLS_AT_ONCE
) -> None:
    """`one(item)` for every item of `groups`, up to `at_once` at a time within a group, and a
    group only once the one before it has ended (ECR's order: image indexes before the
    manifests they list, or back). Each item runs to its end even when the run is cancelled
    (Ctrl-C), so that its outcome is recorded: cancellation takes effect between items."""

    async def worker(items: Iterator[T]) -> None:
        for item in items:  # shared by the group's workers: each item once
            with anyio.CancelScope(shield=True):
                await one(item)
            await anyio.lowlevel.checkpoint()  # a pending cancellation takes effect here

    for group in groups:
        items = iter(group)
        async with anyio.create_task_group() as tg:
            for _ in range(min(at_once, len(group))):
                tg.start_soon(worker, items)


async def _delete_batch(
    ecr: Any, api: Api, key: RepositoryKey, batch: list[Decision]
) -> DeleteOutcome:
    outcome = DeleteOutcome()
    try:
        answer = await api.call(
            ecr.batch_delete_image,
            registryId=key.account_id,
            repositoryName=key.name,
            imageIds=[{"imageDigest": d.digest} for d in batch],
        )
    except Exception as exc:  # noqa: BLE001 - reported per image, the run goes on
        if error_code(exc) == "RepositoryNotFoundException":
            outcome.already_gone.extend(batch)  # the repository went, and its images with it
        else:
            why = "; ".join(describe_errors(exc))
            outcome.failed.extend((d, why) for d in batch)
        return outcome
    unreported = _read_answer(answer, batch, outcome)
    if unreported:
        await _confirm_gone(ecr, api, key, unreported, outcome)
    return outcome


async def _confirm_gone(
    ecr: Any, api: Api, key: RepositoryKey, unreported: list[Decision], outcome: DeleteOutcome
) -> None:
    """Images BatchDeleteImage said nothing about: look, rather than guess, whether they went.

    (moto's server, for one, deletes an untagged image without listing it in `imageIds`.)
    """
    try:
        answer = await api.call(
            ecr.batch_get_image,
            registryId=key.account_id,
            repositoryName=key.name,
            imageIds=[{"imageDigest": d.digest} for d in unreported],
            acceptedMediaTypes=ACCEPTED_MEDIA_TYPES,
        )
    except Exception as exc:  # noqa: BLE001 - an unknown outcome is reported as a failure
        why = "; ".join(describe_errors(exc))
        outcome.failed.extend((d, f"outcome unknown: {why}") for d in unreported)
        return
    present = {i["imageId"].get("imageDigest") for i in answer.get("images", [])}
    for decision in unreported:
        if decision.digest in present:
            outcome.failed.append((decision, "not deleted, and BatchDeleteImage gave no reason"))
        else:
            outcome.deleted.append(decision)


def _read_answer(
    answer: dict[str, Any], batch: list[Decision], outcome: DeleteOutcome
) -> list[Decision]:
    """Sort the images of a batch into outcomes; return those AWS said nothing about."""
    unreported: list[Decision] = []
    done = {i.get("imageDigest") for i in answer.get("imageIds", [])}
    failures = {
        f.get("imageId", {}).get("imageDigest"): (f.get("failureCode", ""), f.get("failureReason"))
        for f in answer.get("failures", [])
    }
    for decision in batch:
        code, reason = failures.get(decision.digest, ("", None))
        if decision.digest in done:
            outcome.deleted.append(decision)
        elif code == "ImageNotFound":
            outcome.already_gone.append(decision)
        elif code == "ImageReferencedByManifestList":
            outcome.still_referenced.append(decision)
        elif code:
            outcome.failed.append((decision, f"{code}: {reason}"))
        else:
            unreported.append(decision)
    return unreported


# --------------------------------------------------------------------------- the archive

StorageClass = Literal["ARCHIVE", "STANDARD"]


async def archive_images(
    ecr: Any,
    api: Api,
    key: RepositoryKey,
    decisions: Sequence[Decision],
    outcome: Outcomes,
    *,
    on_image: Callable[[DeleteOutcome], None] = lambda _: None,
) -> None:
    """Archive `decisions` (all in repository `key`) instead of deleting them: one
    UpdateImageStorageClass call per image (the API takes one), paced and retried like every
    call, image indexes before the manifests they list (ECR keeps a manifest an active index
    lists, as it does from deletion). Each image's outcome goes to `on_image` (the journal)
    as soon as ECR answers, even when the run is cancelled (Ctrl-C): cancellation takes effect
    between images."""
    indexes = [d for d in decisions if d.is_index]
    others = [d for d in decisions if not d.is_index]

    async def archive(decision: Decision) -> None:
        done = await _move(ecr, api, key, decision, "ARCHIVE")
        on_image(done)
        outcome.merge(done)

    await _in_order([indexes, others], archive)


async def _move(
    ecr: Any, api: Api, key: RepositoryKey, decision: Decision, target: StorageClass
) -> DeleteOutcome:
    """One image to `target`, its outcome read: archived (the answer's `imageStatus`), gone,
    or failed with ECR's words (ImageStorageClassUpdateNotSupportedException included)."""
    outcome = DeleteOutcome()
    try:
        answer = await api.call(
            ecr.update_image_storage_class,
            registryId=key.account_id,
            repositoryName=key.name,
            imageId={"imageDigest": decision.digest},
            targetStorageClass=target,
        )
    except Exception as exc:  # noqa: BLE001 - reported per image, the run goes on
        code = error_code(exc)
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            outcome.already_gone.append(decision)
        elif code == NOT_SUPPORTED and await _status_of(ecr, api, key, decision) == "ARCHIVED":
            outcome.already_archived.append(decision)  # by a lifecycle rule or a person
        else:
            outcome.failed.append((decision, "; ".join(describe_errors(exc))))
        return outcome
    status = answer.get("imageStatus")
    if target == "ARCHIVE" and status == "ARCHIVED":
        outcome.archived.append(decision)
    else:
        outcome.failed.append((decision, f"UpdateImageStorageClass answered {status!r}"))
    return outcome


async def restore_images(
    ecr: Any,
    api: Api,
    key: RepositoryKey,
    digests: Sequence[Digest],
    tags: Sequence[str] = (),
) -> list[RestoreLine]:
    """Restore (UpdateImageStorageClass STANDARD) those of `digests` that are ARCHIVED in
    repository `key` — with `tags`, only images carrying one of them — manifests before the
    image indexes that list them; then read every status again (ACTIVATING, or ACTIVE once
    ECR is done: within 20 minutes, AWS says). An image already ACTIVATING or ACTIVE is left
    alone, so running it again changes nothing. Never raises for AWS errors: they are the
    lines' `why`."""
    try:
        before = await _statuses(ecr, api, key)
    except Exception as exc:  # noqa: BLE001 - every image of the repository: gone, or failed
        gone = error_code(exc) == "RepositoryNotFoundException"
        why = "" if gone else "; ".join(describe_errors(exc))
        state: ImageState = "GONE" if gone else "FAILED"
        return [RestoreLine(key, d, (), state, state, why) for d in sorted(set(digests))]
    wanted = [
        d for d in sorted(set(digests)) if not tags or set(before.get(d, _GONE)[1]) & set(tags)
    ]
    lines: dict[Digest, RestoreLine] = {}
    to_restore = [d for d in wanted if before.get(d, _GONE)[0] == "ARCHIVED"]

    async def restore(digest: Digest) -> None:
        try:
            answer = await api.call(
                ecr.update_image_storage_class,
                registryId=key.account_id,
                repositoryName=key.name,
                imageId={"imageDigest": digest},
                targetStorageClass="STANDARD",
            )
        except Exception as exc:  # noqa: BLE001 - reported per image, the run goes on
            why = "; ".join(describe_errors(exc))
            lines[digest] = RestoreLine(key, digest, before[digest][1], "ARCHIVED", "FAILED", why)
            return
        status = str(answer.get("imageStatus", ""))
        after: ImageState = "ACTIVE" if status == "ACTIVE" else "ACTIVATING"
        lines[digest] = RestoreLine(key, digest, before[digest][1], "ARCHIVED", after)

    # Manifests first: ECR will not restore an index while a manifest it lists is archived.
    await _in_order(
        [
            [d for d in to_restore if before[d][2] not in INDEX_MEDIA_TYPES],
            [d for d in to_restore if before[d][2] in INDEX_MEDIA_TYPES],
        ],
        restore,
    )
    if to_restore:
        try:
            now = await _statuses(ecr, api, key)
        except Exception:  # noqa: BLE001 - the answers of the calls stand
            now = {}
        for digest, line in list(lines.items()):
            if line.after != "FAILED" and digest in now:
                lines[digest] = RestoreLine(
                    key, digest, line.tags, line.before, _state(now[digest][0])
                )
    for digest in wanted:
        if digest not in lines:
            state = _state(before.get(digest, _GONE)[0])
            lines[digest] = RestoreLine(key, digest, before.get(digest, _GONE)[1], state, state)
    return [lines[d] for d in wanted]


_GONE: tuple[str, tuple[str, ...], str] = ("GONE", (), "")
NOT_SUPPORTED = "ImageStorageClassUpdateNotSupportedException"


async def _status_of(ecr: Any, api: Api, key: RepositoryKey, decision: Decision) -> str | None:
    """The image's `imageStatus` now (ECR's refusal does not say it by type), or None when it
    cannot be read."""
    try:
        answer = await api.call(
            ecr.describe_images,
            registryId=key.account_id,
            repositoryName=key.name,
            imageIds=[{"imageDigest": decision.digest}],
            filter={"imageStatus": "ANY"},
        )
    except Exception:  # noqa: BLE001 - unknown: the refusal is reported as it came
        return None
    details = answer.get("imageDetails") or [{}]
    status = details[0].get("imageStatus")
    return str(status) if status else None


async def _statuses(
    ecr: Any, api: Api, key: RepositoryKey
) -> dict[Digest, tuple[str, tuple[str, ...], str]]:
    """Every image of the repository, whatever its status: digest → (imageStatus, tags,
    manifest media type). The whole repository, not by ids: DescribeImages fails the whole
    call when one id is gone."""
    details = await api.pages(
        ecr.describe_images,
        "imageDetails",
        registryId=key.account_id,
        repositoryName=key.name,
        maxResults=DESCRIBE_IMAGES_PAGE,
        filter={"imageStatus": "ANY"},
    )
    return {
        Digest(d["imageDigest"]): (
            str(d.get("imageStatus", "ACTIVE")),
            tuple(sorted(d.get("imageTags", []))),
            str(d.get("imageManifestMediaType", "")),
        )
        for d in details
    }


_STATES: dict[str, ImageState] = {
    "ARCHIVED": "ARCHIVED",
    "ACTIVATING": "ACTIVATING",
    "ACTIVE": "ACTIVE",
    "GONE": "GONE",
}


def _state(status: str) -> ImageState:
    # A status newer than this code: ECR lists it, and it is not one that is archived.
    return _STATES.get(status, "ACTIVE")
