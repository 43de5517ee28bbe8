"""The planner: pure functions from (usage, inventory, policy, now) to a Plan. No I/O here.

Invariants this module keeps (tests/test_plan*.py checks each, several as hypothesis properties):

1. Fail closed. If any usage source of the run could not be read, the plan deletes nothing.
2. Decide by digest. A digest reached by any usage — a tag resolved to where it points now, a
   digest pin, or the digest a running task resolved — is never deleted. Deleting by digest
   removes all of an image's tags, so a kept image keeps all its tags.
3. The usage set is global: usages from every account and region of the run are applied to
   every repository, whichever account the repository lives in.
4. The manifests listed by a kept image index are kept (transitively).
5. Nothing is deleted from a repository whose inventory is incomplete.
6. Images pushed less than `min_age_days` ago, and the `keep_last` most recently pushed
   top-level images of each repository, are kept.
7. Every decision carries the reason that decided it, and the plan is deterministic: the same
   inputs give the same plan, in the same order.
8. `recheck` only ever narrows: apply deletes the intersection of the reviewed plan and a fresh
   plan, and nothing at all when the fresh plan is blocked.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from ecr_sweeper.model import (
    AccountTarget,
    Decision,
    Digest,
    Image,
    InventoryScan,
    Plan,
    Policy,
    Repository,
    RepositoryKey,
    ScanError,
    Usage,
    UsageScan,
)

BLOCKED_REASON = "not deleted: the usage scan is incomplete, so nothing is (fail closed)"


def build_plan(
    usage: Sequence[UsageScan],
    inventory: Sequence[InventoryScan],
    policy: Policy,
    now: datetime,
    targets: Sequence[AccountTarget] = (),
) -> Plan:
    """Decide, for every image of every scanned repository, whether to keep or delete it."""
    errors = [e for scan in usage for e in scan.errors]
    errors += [e for scan in inventory for e in scan.errors]
    repositories = [repo for scan in inventory for repo in scan.repositories]
    in_use = protected_digests((u for scan in usage for u in scan.usages), repositories)
    blocked = any(e.scope == "usage" for e in errors)

    kept: list[Decision] = []
    deletions: list[Decision] = []
    for repo in sorted(repositories, key=lambda r: r.key):
        if repo.error is not None:
            errors.append(
                ScanError(
                    "inventory", repo.key.account_id, repo.key.region, str(repo.key), repo.error
                )
            )
        for image, reason, delete in _decide_repository(
            repo, in_use.get(repo.key, {}), policy, now
        ):
            if delete and blocked:
                kept.append(_decision(repo.key, image, BLOCKED_REASON))
            else:
                (deletions if delete else kept).append(_decision(repo.key, image, reason))

    deletions.sort(key=deletion_order)
    return Plan(
        created_at=now,
        policy=policy,
        targets=tuple(targets),
        deletions=tuple(deletions),
        kept=tuple(kept),
        errors=tuple(sorted(errors, key=_error_order)),
    )


def protected_digests(
    usages: Iterable[Usage], repositories: Iterable[Repository]
) -> dict[RepositoryKey, dict[Digest, str]]:
    """Map each repository to the digests some usage reaches, with the first usage's source.

    Tags resolve against the inventory as it is now; a tag that exists nowhere protects nothing
    (the image could not be pulled either).
    """
    tag_index: dict[RepositoryKey, dict[str, Digest]] = {
        repo.key: {tag: image.digest for image in repo.images for tag in image.tags}
        for repo in repositories
    }
    found: dict[RepositoryKey, dict[Digest, str]] = defaultdict(dict)
    for use in sorted(usages, key=lambda u: (u.source, u.image, u.resolved_digest or "")):
        key = use.ref.repository
        reached: list[tuple[Digest, str]] = []
        if use.ref.digest is not None:
            reached.append((use.ref.digest, f"digest pinned by {use.source}"))
        if use.ref.tag is not None and (digest := tag_index.get(key, {}).get(use.ref.tag)):
            reached.append((digest, f"tag {use.ref.tag!r} used by {use.source}"))
        if use.resolved_digest is not None:
            reached.append((use.resolved_digest, f"digest running in {use.source}"))
        for digest, why in reached:
            found[key].setdefault(digest, f"in use: {why}")
    return dict(found)


def _decide_repository(
    repo: Repository, in_use: Mapping[Digest, str], policy: Policy, now: datetime
) -> list[tuple[Image, str, bool]]:
    """Verdicts for one repository's images: (image, reason, delete?)."""
    if repo.error is not None:
        why = f"not deleted: inventory incomplete ({repo.error})"
        return [(image, why, False) for image in repo.images]
    children = {child for image in repo.images for child in image.children}
    keep = _keep_reasons(repo, children, in_use, policy, now)
    verdicts: list[tuple[Image, str, bool]] = []
    for image in sorted(repo.images, key=lambda i: i.digest):
        if image.digest in keep:
            verdicts.append((image, keep[image.digest], False))
        elif image.digest in children:
            verdicts.append((image, "delete: manifest of an image index that is deleted", True))
        else:
            verdicts.append((image, _deletion_reason(image, policy), True))
    return verdicts


def _keep_reasons(
    repo: Repository,
    children: set[Digest],
    in_use: Mapping[Digest, str],
    policy: Policy,
    now: datetime,
) -> dict[Digest, str]:
    """Every digest of the repository to keep, with the first rule that keeps it."""
    newest_first = sorted(
        (i for i in repo.images if i.digest not in children),
        key=lambda i: (i.pushed_at, i.digest),
        reverse=True,
    )
    recent = {i.digest for i in newest_first[: policy.keep_last]}
    young_since = now - timedelta(days=policy.min_age_days)
    keep: dict[Digest, str] = {}
    for image in sorted(repo.images, key=lambda i: i.digest):  # sorted: reasons are stable
        if image.digest in in_use:
            keep[image.digest] = in_use[image.digest]
        elif image.pushed_at > young_since:
            keep[image.digest] = f"kept: pushed less than {policy.min_age_days} days ago"
        elif image.digest in recent:
            keep[image.digest] = f"kept: among the {policy.keep_last} most recently pushed"
    # Children of kept indexes are kept, transitively (an index may list another index).
    by_digest = {image.digest: image for image in repo.images}
    pending = deque(d for d in keep if d in by_digest)
    while pending:
        parent = by_digest[pending.popleft()]
        for child in parent.children:
            if child not in keep:
                keep[child] = f"kept: manifest of kept image index {parent.digest}"
                if child in by_digest:
                    pending.append(child)
    return keep


def _deletion_reason(image: Image, policy: Policy) -> str:
    tags = ", ".join(image.tags) if image.tags else "untagged"
    return (
        f"delete: no workload uses this digest ({tags}); older than {policy.min_age_days} days "
        f"and not among the {policy.keep_last} most recently pushed"
    )


def _decision(key: RepositoryKey, image: Image, reason: str) -> Decision:
    return Decision(
        repository=key,
        digest=image.digest,
        tags=tuple(sorted(image.tags)),
        size_bytes=image.size_bytes,
        pushed_at=image.pushed_at,
        media_type=image.media_type,
        reason=reason,
    )


def deletion_order(decision: Decision) -> tuple[RepositoryKey, bool, Digest]:
    """Repository by repository, image indexes before the manifests they list (AWS refuses
    to delete a manifest an index in the repository still lists)."""
    return (decision.repository, not decision.is_index, decision.digest)


def _error_order(error: ScanError) -> tuple[str, str, str, str, str]:
    return (error.scope, error.account_id, error.region or "", error.subject, error.message)


def recheck(reviewed: Plan, fresh: Plan) -> tuple[list[Decision], list[tuple[Decision, str]]]:
    """What `apply` may delete: the reviewed deletions the fresh plan still deletes.

    Returns (to delete, skipped with why). A blocked fresh plan skips everything.
    """
    if fresh.blocked:
        why = "not deleted: the re-check's usage scan is incomplete (fail closed)"
        return [], [(d, why) for d in reviewed.deletions]
    still = {(d.repository, d.digest) for d in fresh.deletions}
    now_kept = {(d.repository, d.digest): d.reason for d in fresh.kept}
    to_delete: list[Decision] = []
    skipped: list[tuple[Decision, str]] = []
    for decision in reviewed.deletions:
        key = (decision.repository, decision.digest)
        if key in still:
            to_delete.append(decision)
        elif key in now_kept:
            skipped.append((decision, f"not deleted: now {now_kept[key]}"))
        else:
            skipped.append((decision, "already gone: the image is no longer in the repository"))
    return to_delete, skipped
