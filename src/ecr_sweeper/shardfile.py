"""Shard files: what `plan --shard I/N` read (usage and inventory of its share of the accounts),
for `plan --merge` to plan from once every shard is in. Usage must be global before anything is
planned, so a shard plans nothing itself.

A shard's share is deterministic: the targets sorted by account id, every N-th from position
I-1. Each shard file carries the whole run's targets, policy and sources, so `--merge` can
check that the shards belong together and cover every account exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecr_sweeper.imageref import parse_image
from ecr_sweeper.jsonstream import (
    ArrayAt,
    JSONStreamError,
    NotAnObjectError,
    Streamed,
    elements,
    members,
)
from ecr_sweeper.model import (
    AccountId,
    AccountNote,
    AccountRegion,
    AccountTarget,
    Digest,
    Image,
    ImageRef,
    InspectorSighting,
    InventoryScan,
    Outside,
    Policy,
    PullAccess,
    PullExclusions,
    Region,
    Repository,
    RepositoryKey,
    RepositoryName,
    ScanError,
    Sources,
    Usage,
    UsageOrigin,
    UsageScan,
    origin_order,
)
from ecr_sweeper.planfile import (
    PlanFileError,
    aware_time,
    census_from_json,
    census_to_json,
    error_from_json,
    error_to_json,
    policy_from_json,
    policy_to_json,
    pull_exclusions_from_json,
    pull_exclusions_to_json,
    sources_from_json,
    sources_to_json,
    target_from_json,
    target_to_json,
    write_atomically,
)

SHARD_KIND = "ecr-sweeper-shard"
SHARD_VERSION = 1


def parse_shard(text: str) -> tuple[int, int]:
    """`"2/4"` → (2, 4); 1 ≤ I ≤ N."""
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not 1 <= int(index) <= int(count):
        raise ValueError(f"--shard: expected I/N with 1 ≤ I ≤ N, got {text!r}")
    return int(index), int(count)


def shard_targets(
    targets: Sequence[AccountTarget], index: int, count: int
) -> tuple[AccountTarget, ...]:
    """Shard `index` of `count`: every count-th target by account id, from position index-1."""
    ordered = sorted(targets, key=lambda t: t.account_id)
    return tuple(t for n, t in enumerate(ordered) if n % count == index - 1)


def write_shard(
    path: Path,
    *,
    index: int,
    count: int,
    targets: Sequence[AccountTarget],
    policy: Policy,
    sources: Sources,
    usage: Sequence[UsageScan],
    inventory: Sequence[InventoryScan],
) -> None:
    """Write what one shard read."""
    data = {
        "kind": SHARD_KIND,
        "version": SHARD_VERSION,
        "shard": [index, count],
        "targets": [target_to_json(t) for t in targets],
        "policy": policy_to_json(policy),
        "sources": sources_to_json(sources),
        "usage": [_usage_scan_to_json(s) for s in usage],
        "inventory": [_inventory_to_json(s) for s in inventory],
    }
    write_atomically(path, json.dumps(data) + "\n")


@dataclass(frozen=True, slots=True)
class ShardScan:
    """One account × region's inventory in a shard file: all of it but its repositories, which
    are read from the file one at a time each time they are iterated (the file was checked
    when it was opened), so a merge holds one repository's images at a time."""

    account_id: AccountId
    region: Region
    errors: tuple[ScanError, ...]
    pull_exclusions: PullExclusions | None
    notes: tuple[str, ...]
    path: Path
    at: ArrayAt  # where its "repositories" array starts in the file

    @property
    def repositories(self) -> Iterator[Repository]:
        """Its repositories, read from the file as they are iterated."""
        try:
            with self.path.open("rb") as file:
                for data in elements(file, self.at):
                    yield _repository_from_json(data, self.account_id, self.region)
        except OSError as exc:
            raise PlanFileError(f"{self.path}: cannot read: {exc.strerror}") from exc
        except (JSONStreamError, KeyError, TypeError, ValueError) as exc:  # changed since
            raise PlanFileError(f"{self.path}: not a valid shard file: {exc!r}") from exc

    def whole(self) -> InventoryScan:
        """The scan with every repository in memory."""
        return InventoryScan(
            self.account_id,
            self.region,
            tuple(self.repositories),
            self.errors,
            self.pull_exclusions,
            self.notes,
        )


@dataclass(frozen=True, slots=True)
class Shards:
    """Every shard of a run, checked: what must be global (the run's targets, policy and
    sources, and the whole usage) in memory, the inventory as `ShardScan`s in the order the
    planner takes them (by account, then region)."""

    targets: tuple[AccountTarget, ...]
    policy: Policy
    sources: Sources
    usage: list[UsageScan]
    inventory: list[ShardScan]


def open_shards(paths: Sequence[Path]) -> Shards:
    """Read and cross-check every shard of a run (same targets, policy and sources, and the
    shards 1..N each exactly once), streamed: each shard's repositories are checked one at a
    time and left in its file, for the planner to read again one at a time."""
    if not paths:
        raise PlanFileError("--merge: no shard files given")
    loaded = [(path, *_scan_file(path)) for path in paths]
    first_path, first, _, _ = loaded[0]
    count = _shard_of(first_path, first)[1]
    seen: dict[int, Path] = {}
    for path, data, _, _ in loaded:
        index, this_count = _shard_of(path, data)
        for key in ("targets", "policy", "sources"):
            if data[key] != first[key]:
                raise PlanFileError(f"{path}: {key} differ from {first_path}'s: not the same run")
        if this_count != count:
            raise PlanFileError(
                f"{path}: shard {index}/{this_count}, but {first_path} is of {count}"
            )
        if index in seen:
            raise PlanFileError(f"{path}: shard {index}/{count} given twice (also {seen[index]})")
        seen[index] = path
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        raise PlanFileError(f"--merge: shard(s) {', '.join(map(str, missing))} of {count} missing")
    try:
        for _, _, _, bad in loaded:
            if bad is not None:
                raise bad
        usage = [_usage_scan_from_json(s) for _, d, _, _ in loaded for s in d["usage"]]
        inventory = [scan for _, _, scans, _ in loaded for scan in scans]
        return Shards(
            tuple(target_from_json(t) for t in first["targets"]),
            policy_from_json(first["policy"]),
            sources_from_json(first["sources"]),
            sorted(usage, key=lambda s: origin_order(s.origin)),
            sorted(inventory, key=lambda s: (s.account_id, s.region)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"--merge: not a valid shard file: {exc!r}") from exc


def _shard_of(path: Path, data: dict[str, Any]) -> tuple[int, int]:
    """A shard file's place in its run (index, count), once its run's members are there."""
    shard = data.get("shard")
    if not (
        isinstance(shard, list)
        and len(shard) == 2
        and all(type(n) is int for n in shard)  # not a bool
        and 1 <= shard[0] <= shard[1]
    ):
        raise PlanFileError(f'{path}: not a valid shard file: "shard" is {shard!r}, not [i, n]')
    for key in ("targets", "policy", "sources", "usage"):
        if key not in data:
            raise PlanFileError(f'{path}: not a valid shard file: no "{key}"')
    return shard[0], shard[1]


def read_shards(
    paths: Sequence[Path],
) -> tuple[tuple[AccountTarget, ...], Policy, Sources, list[UsageScan], list[InventoryScan]]:
    """`open_shards`, every repository in memory (a few accounts' worth: tests, tools)."""
    shards = open_shards(paths)
    inventory = [scan.whole() for scan in shards.inventory]
    return shards.targets, shards.policy, shards.sources, shards.usage, inventory


# The members of a shard file's inventory scan read whole (its repositories are streamed).
_SCAN_STREAMED = frozenset({"repositories"})


def _scan_file(path: Path) -> tuple[dict[str, Any], list[ShardScan], Exception | None]:
    """One shard file, streamed: its members but the inventory, its inventory scans (each but
    its repositories), and the first thing in it that is not what a shard file holds (or
    None). Each repository is parsed to check it, then forgotten."""
    data: dict[str, Any] = {}
    scans: list[ShardScan] = []
    bad: Exception | None = None
    try:
        with path.open("rb") as file:
            for key, value in members(file, frozenset({"inventory"})):
                if not isinstance(value, Streamed):
                    data[key] = value
                    continue
                data[key] = []
                for element in value.objects(_SCAN_STREAMED):
                    scan, problem = _scan_of(path, element)
                    if scan is not None:
                        scans.append(scan)
                    bad = bad or problem
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except NotAnObjectError as exc:
        raise PlanFileError(f"{path}: not an ecr-sweeper shard file") from exc
    except JSONStreamError as exc:
        raise PlanFileError(f"{path}: not JSON: {exc}") from exc
    if data.get("kind") != SHARD_KIND:
        raise PlanFileError(f"{path}: not an ecr-sweeper shard file")
    if data.get("version") != SHARD_VERSION:
        raise PlanFileError(f"{path}: shard version {data.get('version')!r}, expected 1")
    return data, scans, bad


def _scan_of(
    path: Path, element: Iterator[tuple[str, Any]]
) -> tuple[ShardScan | None, Exception | None]:
    """One inventory scan of a shard file, its members read in the file's order (each
    repository parsed to check it, and forgotten): the scan, or what is wrong with it."""
    small: dict[str, Any] = {}
    at: ArrayAt | None = None
    bad: Exception | None = None
    try:
        for key, value in element:
            if not isinstance(value, Streamed):
                small[key] = value
                continue
            at = value.at
            account = AccountId(str(small.get("account_id", "")))
            region = Region(str(small.get("region", "")))
            for repository in value:
                if bad is None:
                    try:
                        _repository_from_json(repository, account, region)
                    except (KeyError, TypeError, ValueError) as exc:
                        bad = exc
        if at is None:  # absent (a KeyError, as it was), or not an array
            found = small["repositories"]
            return None, TypeError(f"repositories: expected a list, got {type(found).__name__}")
        exclusions = small.get("pull_exclusions")
        scan = ShardScan(
            AccountId(small["account_id"]),
            Region(small["region"]),
            tuple(error_from_json(e) for e in small["errors"]),
            pull_exclusions_from_json(exclusions) if exclusions else None,
            tuple(str(n) for n in small.get("notes", [])),
            path,
            at,
        )
    except (KeyError, TypeError, ValueError) as exc:
        return None, bad or exc
    return scan, bad


# The region written for an origin that has none (an account as a whole, or a source outside
# every account, whose "account_id" is then its sentinel's name).
NO_REGION = "-"


def _origin_to_json(origin: UsageOrigin) -> tuple[str, str]:
    if isinstance(origin, AccountRegion):
        return origin.account_id, origin.region
    if isinstance(origin, AccountNote):
        return origin.account_id, NO_REGION
    return origin.value, NO_REGION


def _origin_from_json(account: str, region: str) -> UsageOrigin:
    if region != NO_REGION:
        return AccountRegion(AccountId(account), Region(region))
    if account in {o.value for o in Outside}:
        return Outside(account)
    return AccountNote(AccountId(account))


def _usage_scan_to_json(scan: UsageScan) -> dict[str, Any]:
    account, region = _origin_to_json(scan.origin)
    return {
        "account_id": account,
        "region": region,
        "usages": [[u.image, u.source, u.resolved_digest, u.kind] for u in scan.usages],
        "errors": [error_to_json(e) for e in scan.errors],
        "foreign_images": scan.foreign_images,
        "census": [census_to_json(e) for e in scan.census],
        "warnings": list(scan.warnings),
    }


def _usage_scan_from_json(data: dict[str, Any]) -> UsageScan:
    usages = []
    for image, source, resolved, kind in data["usages"]:
        ref = parse_image(image)
        if not isinstance(ref, ImageRef):
            raise TypeError(f"usage of a non-ECR image {image!r}")
        usages.append(Usage(image, ref, source, Digest(resolved) if resolved else None, kind))
    return UsageScan(
        _origin_from_json(str(data["account_id"]), str(data["region"])),
        tuple(usages),
        tuple(error_from_json(e) for e in data["errors"]),
        int(data["foreign_images"]),
        tuple(census_from_json(e) for e in data["census"]),
        tuple(str(w) for w in data["warnings"]),
    )


def _inventory_to_json(scan: InventoryScan) -> dict[str, Any]:
    return {
        "account_id": scan.account_id,
        "region": scan.region,
        "repositories": [
            {
                "name": r.key.name,
                "error": r.error,
                "pull_access": {
                    "accounts": list(r.pull_access.accounts),
                    "organizations": list(r.pull_access.organizations),
                    "anyone": list(r.pull_access.anyone),
                    "services": list(r.pull_access.services),
                },
                "tags": [list(t) for t in r.tags],
                "delete_replicas": [list(d) for d in r.delete_replicas],
                # Inspector's witness (issue 19 §2), beside the images' fixed fields (an
                # image's ACTIVATING status is among its archive fields)
                "inspector_in_use": [
                    [
                        seen.digest,
                        seen.in_use_count,
                        seen.last_in_use_at.isoformat() if seen.last_in_use_at else None,
                    ]
                    for seen in r.inspector_in_use
                ],
                "images": [
                    [
                        i.digest,
                        list(i.tags),
                        i.pushed_at.isoformat(),
                        i.size_bytes,
                        i.media_type,
                        list(i.children),
                        i.subject,
                        i.last_pulled_at.isoformat() if i.last_pulled_at else None,
                        i.artifact_media_type,
                        i.archived,
                        [
                            i.activating,
                            i.archived_at.isoformat() if i.archived_at else None,
                            i.activated_at.isoformat() if i.activated_at else None,
                        ],
                    ]
                    for i in r.images
                ],
            }
            for r in scan.repositories
        ],
        "errors": [error_to_json(e) for e in scan.errors],
        "pull_exclusions": (
            pull_exclusions_to_json(scan.pull_exclusions) if scan.pull_exclusions else None
        ),
        "notes": list(scan.notes),
    }


def _storage(storage: list[Any] | None) -> dict[str, Any]:
    """An image's archive fields: [activating, archived_at, activated_at] (none in a shard of
    an older version)."""
    if not storage:
        return {}
    activating, archived_at, activated_at = storage
    return {
        "activating": bool(activating),
        "archived_at": aware_time(archived_at, "archived_at") if archived_at else None,
        "activated_at": aware_time(activated_at, "activated_at") if activated_at else None,
    }


def _repository_from_json(r: dict[str, Any], account: AccountId, region: Region) -> Repository:
    images = tuple(
        Image(
            digest=Digest(digest),
            tags=tuple(tags),
            pushed_at=aware_time(pushed, "pushed_at"),
            size_bytes=int(size),
            media_type=media,
            children=tuple(Digest(c) for c in children),
            subject=Digest(subject) if subject else None,
            last_pulled_at=aware_time(pulled, "last_pulled_at") if pulled else None,
            artifact_media_type=artifact,
            archived=bool(archived),
            **_storage(storage[0] if storage else None),
        )
        for (
            digest,
            tags,
            pushed,
            size,
            media,
            children,
            subject,
            pulled,
            artifact,
            archived,
            *storage,
        ) in r["images"]
    )
    return Repository(
        RepositoryKey(account, region, RepositoryName(r["name"])),
        images,
        r["error"],
        PullAccess(**{k: tuple(v) for k, v in r["pull_access"].items()}),
        tuple((k, v) for k, v in r["tags"]),
        tuple((AccountId(a), Region(g)) for a, g in r["delete_replicas"]),
        tuple(
            InspectorSighting(
                Digest(digest), int(count), aware_time(at, "last_in_use_at") if at else None
            )
            for digest, count, at in r.get("inspector_in_use", [])
        ),
    )
