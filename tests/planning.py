"""Builders for planner tests: plain data, no AWS."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ecr_sweeper import wording
from ecr_sweeper.imageref import parse_image
from ecr_sweeper.model import (
    AccountId,
    AccountRegion,
    Digest,
    Image,
    ImageRef,
    InventoryScan,
    Plan,
    Policy,
    Recorded,
    Region,
    Repository,
    RepositoryKey,
    RepositoryName,
    ScanError,
    Usage,
    UsageScan,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the tests' fixed clock
# Delete everything unused at once: the retention rules have their own tests.
NO_RETENTION = Policy(keep_last=0, min_age_days=0)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(seed: str) -> Digest:
    """A real-looking digest derived from `seed`."""
    return Digest("sha256:" + hashlib.sha256(seed.encode()).hexdigest())


def key(repo: str, account: str = "111111111111", region: str = "us-east-1") -> RepositoryKey:
    return RepositoryKey(AccountId(account), Region(region), RepositoryName(repo))


def image(
    seed: str,
    *tags: str,
    days_old: float = 100,
    size: int = 1000,
    children: tuple[Digest, ...] = (),
) -> Image:
    return Image(
        digest=digest(seed),
        tags=tags,
        pushed_at=NOW - timedelta(days=days_old),
        size_bytes=size,
        media_type=OCI_INDEX if children else OCI_MANIFEST,
        children=children,
    )


def uri(repo_key: RepositoryKey, suffix: str) -> str:
    """`suffix` is ':tag', '@sha256:…' or ''."""
    return f"{repo_key.account_id}.dkr.ecr.{repo_key.region}.amazonaws.com/{repo_key.name}{suffix}"


def use(image_uri: str, source: str = "service prod/api", resolved: Digest | None = None) -> Usage:
    ref = parse_image(image_uri)
    assert isinstance(ref, ImageRef)
    return Usage(image=image_uri, ref=ref, source=source, resolved_digest=resolved)


def usage_scan(
    *usages: Usage, account: str = "222222222222", region: str = "us-east-1", error: str = ""
) -> UsageScan:
    errors = (
        (ScanError("usage", AccountId(account), Region(region), "ecs", error),) if error else ()
    )
    return UsageScan(AccountRegion(AccountId(account), Region(region)), usages, errors)


def inventory(*repos: Repository) -> list[InventoryScan]:
    """One InventoryScan per (account, region) of the given repositories."""
    by_place: dict[tuple[str, str], list[Repository]] = {}
    for repo in repos:
        by_place.setdefault((repo.key.account_id, repo.key.region), []).append(repo)
    return [
        InventoryScan(AccountId(a), Region(r), tuple(rs)) for (a, r), rs in sorted(by_place.items())
    ]


def as_read_back(plan: Plan) -> Plan:
    """`plan` as `read_plan` gives it back from its file: every reason, finding, warning and
    refusal the sentence it was written as (`Recorded`), in the file's order."""

    def recorded(texts: list[str]) -> tuple[Recorded, ...]:
        return tuple(Recorded(t) for t in texts)

    return replace(
        plan,
        deletions=tuple(
            replace(d, reason=Recorded(wording.reason(d.reason))) for d in plan.deletions
        ),
        kept=tuple(replace(d, reason=Recorded(wording.reason(d.reason))) for d in plan.kept),
        findings=recorded(wording.findings(plan.findings)),
        warnings=recorded(wording.warnings(plan.warnings)),
        refusals=recorded(wording.refusals(plan.refusals)),
    )
