"""The words of the plan: every reason, finding, warning and refusal the planner decides, as
the sentence the plan file, the reports and the console show.

The planner (`plan.py`) decides on codes and typed details; only this module writes
sentences, and only this module names the command line's flags (`--accept-account`,
`--accept-unread`, `--external-images`, `--max-delete-images`, …) that resolve them. A plan
file holds these sentences exactly as the planner's own strings read before reasons were
typed: the plan file is the artefact people review, so its bytes do not change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import assert_never

from ecr_sweeper.model import (
    AcceptedConsumer,
    AcceptedService,
    AccountsPull,
    Activating,
    AmongNewest,
    AnyonePulls,
    ArchivedInUse,
    CensusEntry,
    CensusHold,
    Code,
    CosignSubject,
    Finding,
    Follows,
    InQuarantine,
    InspectorHeld,
    InspectorInUse,
    InUse,
    InventoryIncomplete,
    NotDeleted,
    NotOptedIn,
    NowKept,
    OrganizationPulls,
    OverImageCap,
    OverPercentCap,
    PlanWarning,
    ProtectedTag,
    PulledUnexplained,
    PullExclusions,
    QuarantineOver,
    Reason,
    Recorded,
    Refusal,
    ReplicaHold,
    RestoredAfterQuarantine,
    ScanNote,
    ServiceHold,
    UnexplainedPulls,
    UnreadConsumer,
    UnreadService,
    UntaggedKept,
    Unused,
    Young,
)
from ecr_sweeper.words import plural

# The sentences that take no detail, and the templates of the codes that share a type.
FIXED: dict[Code, str] = {
    Code.UNTAGGED_KEPT: "kept: untagged images are kept by policy",
    Code.BLOCKED_USAGE: "not deleted: the usage scan is incomplete, so nothing is (fail closed)",
    Code.BLOCKED_CENSUS: (
        "not deleted: a consumer the run did not read blocks the plan (see its findings)"
    ),
    Code.RECHECK_BLOCKED: "not deleted: the re-check's usage scan is incomplete (fail closed)",
    Code.RECHECK_ABSENT: "not deleted: absent from the re-check's inventory",
    Code.MANIFEST_OF_DELETED: "delete: manifest of an image index that is deleted",
    Code.REFERRER_OF_DELETED: (
        "delete: referrer (signature, SBOM, attestation) of an image deleted or gone"
    ),
}
IN_USE: dict[Code, str] = {
    Code.DIGEST_PINNED: "in use: digest pinned by {source}",
    Code.TAG_USED: "in use: tag {tag!r} used by {source}",
    Code.DIGEST_RUNNING: "in use: digest running in {source}",
}
KEPT_WITH: dict[Code, str] = {
    Code.MANIFEST_OF_KEPT: "kept: manifest of kept image index {parent}",
    Code.REFERRER_OF_KEPT: "kept: referrer (signature, SBOM, attestation) of kept image {parent}",
}
COSIGN = "cosign referrer (signature, SBOM, attestation)"
COSIGN_SUBJECT: dict[Code, str] = {
    Code.COSIGN_SUBJECT_KEPT: "kept: {what} of kept image {subject} in {where}",
    Code.COSIGN_SUBJECT_WAITING: (
        "kept: {what} of image {subject} in {where}, itself a referrer of an image in another "
        "repository"
    ),
    Code.COSIGN_SUBJECT_DELETED: "delete: {what} of image {subject}, deleted from {where}",
    Code.COSIGN_SUBJECT_UNREAD: (
        "kept: {what} of image {subject}, which may be in a repository of this registry that "
        "this run did not read"
    ),
    Code.COSIGN_SUBJECT_ABSENT: (
        "delete: {what} of image {subject}, which no repository of this registry holds"
    ),
}
RESOLVE_UNREAD = (
    "Resolve: list its images with --external-images FILE, or accept with --accept-unread "
    "{kind}@{account}"
)


def reason(why: Reason) -> str:  # noqa: PLR0911, PLR0912 - one case per reason type
    """The sentence of one reason (a verdict's, or why apply skips a reviewed deletion)."""
    match why:
        case InUse(code=code, source=source, tag=tag):
            return IN_USE[code].format(source=source, tag=tag)
        case ProtectedTag(tag=tag, pattern=pattern):
            return f"kept: tag {tag!r} matches protected pattern {pattern!r}"
        case Young(min_age_days=days):
            return f"kept: pushed less than {days} days ago"
        case PulledUnexplained(days_ago=days_ago):
            return f"kept: {pulled_ago(days_ago)}; no consumer this run read uses it"
        case Activating():
            return "in use: being restored from the archive (imageStatus ACTIVATING)"
        case InspectorInUse(in_use_count=count, last_in_use_at=at):
            return f"kept: {inspector_sees(count, at)}; no consumer this run read uses it"
        case AmongNewest(keep_last=keep_last):
            return f"kept: among the {keep_last} most recently pushed"
        case UntaggedKept() | NotDeleted():
            return FIXED[why.code]
        case Follows(code=code, parent=parent):
            return KEPT_WITH[code].format(parent=parent) if parent is not None else FIXED[code]
        case CosignSubject(code=code, subject=subject, where=where):
            return COSIGN_SUBJECT[code].format(what=COSIGN, subject=subject, where=where)
        case InventoryIncomplete(error=error):
            return f"not deleted: inventory incomplete ({error})"
        case AnyonePulls(statements=statements):
            return (
                f"kept: the repository policy lets anyone pull, outside this sweep "
                f"({'; '.join(statements)}); accept with --accept-account '*'"
            )
        case OrganizationPulls(organizations=organizations):
            return (
                f"kept: the repository policy lets the accounts of organization "
                f"{', '.join(organizations)} pull, and this run does not sweep every account "
                f"of it (--org with no filter does); accept with --accept-account "
                f"{organizations[0]}"
            )
        case AccountsPull(accounts=accounts):
            return (
                f"kept: the repository policy lets {', '.join(accounts)} pull, outside this "
                f"sweep; accept with --accept-account {accounts[0]}"
            )
        case NotOptedIn(key=key, value=value):
            return f"kept: repository not opted in (no resource tag {key}={value})"
        case CensusHold(kind=kind, place=place, detail=detail):
            return (
                f"kept: {kind} in {place.account_id}/{place.region} may pull from this "
                f"repository and was not read ({detail or 'not read'})"
            )
        case ServiceHold(principal=principal, kind=kind):
            return (
                f"kept: the repository policy lets {principal} pull, and the run does not "
                f"read {kind}"
            )
        case ReplicaHold(unread=unread):
            places = ", ".join(f"{p.account_id}/{p.region}" for p in unread)
            return (
                f"kept: replication replays its deletions in {places}, whose usage this run "
                f"did not read (add the account and region to the sweep)"
            )
        case NowKept(reason=now):
            return f"not deleted: now {reason(now)}"
        case Unused(min_age_days=days, keep_last=keep_last):
            return _unused(days, keep_last)
        case InQuarantine(since=since, days=days):
            return (
                f"kept: quarantined (archived) on {since:%Y-%m-%d}; deleted once archived "
                f"{plural(days, 'days')} unless restored (`ecr-sweeper restore`)"
            )
        case RestoredAfterQuarantine():
            return "kept: restored after quarantine: something needed it"
        case QuarantineOver(days_ago=days_ago):
            return f"delete: quarantined {days_ago} days ago, nobody restored or used it"
        case Recorded(text=text):
            return text
        case _:
            assert_never(why)


def inspector_sees(count: int, last: datetime | None) -> str:
    """`Amazon Inspector sees it in use (2 workloads, last 2026-10-30)`."""
    when = f", last {last:%Y-%m-%d}" if last is not None else ""
    return f"Amazon Inspector sees it in use ({plural(count, 'workloads')}{when})"


def pulled_ago(days_ago: int) -> str:
    """`pulled today`, `pulled 1 day ago`, `pulled 3 days ago` (lastRecordedPullTime)."""
    return "pulled today" if days_ago == 0 else f"pulled {plural(days_ago, 'days')} ago"


REGISTER_EXCLUSION = "aws ecr register-pull-time-update-exclusion --principal-arn ROLE_ARN"


def unexplained_pulls(pulls: UnexplainedPulls) -> str:
    """One repository's summary line of the pull witness."""
    key = pulls.repository
    return (
        f"{key.account_id}/{key.region} {key.name}: {plural(pulls.images, 'images')} pulled "
        f"(newest {pulls.newest_pull:%Y-%m-%d}) that no consumer this run read uses: kept"
    )


def pull_exclusions(found: PullExclusions) -> str:
    """A registry's pull-time update exclusions, or why they are unknown."""
    where = f"{found.place.account_id}/{found.place.region}"
    if found.error is not None:
        return f"{where}: pull-time update exclusions not read ({found.error})"
    if not found.principals:
        return (
            f"{where}: no pull-time update exclusions: every pull counts (a scanner that pulls "
            f"every image keeps it; register its role: {REGISTER_EXCLUSION})"
        )
    return f"{where}: pulls not recorded for {', '.join(found.principals)}"


def pull_witness(plan_pulls: Iterable[UnexplainedPulls], within_days: int) -> str:
    """The pull witness's headline: its window, and what it keeps."""
    pulls = list(plan_pulls)
    if within_days <= 0:
        return "pull witness: off (pulled_within_days = 0): a recent pull keeps nothing"
    total = sum(p.images for p in pulls)
    return (
        f"pull witness: {plural(total, 'images')} in {plural(len(pulls), 'repositories')} "
        f"pulled within {plural(within_days, 'days')} that no consumer this run read uses "
        "(kept: find what pulls them)"
    )


def _unused(days: int, keep_last: int) -> str:
    """Why an unused image goes; a rule of 0 ("older than 0 days") says nothing, so is left
    out."""
    rules = ([f"older than {plural(days, 'days')}"] if days else []) + (
        [f"not among the {keep_last} most recently pushed"] if keep_last else []
    )
    return "delete: no workload uses this digest" + ("; " + " and ".join(rules) if rules else "")


def _unread(entry: CensusEntry) -> tuple[str, str]:
    """`account/region: KIND present, not read (why)` as its two parts: place, and the rest."""
    found = "present" if entry.present else "may be present (the census call failed)"
    return (
        f"{entry.account_id}/{entry.region}",
        f"{entry.kind} {found}, not read ({entry.detail or 'not read'})",
    )


def finding(found: Finding) -> str:
    """The sentence of one finding: what blocks the plan, and how to resolve it."""
    match found:
        case UnreadConsumer(entry=entry):
            where, what = _unread(entry)
            resolve = RESOLVE_UNREAD.format(kind=entry.kind, account=entry.account_id)
            return f"{where}: {what}; nothing it could pull is deleted. {resolve}"
        case UnreadService(repository=key, principal=principal, kind=kind):
            resolve = RESOLVE_UNREAD.format(kind=kind, account=key.account_id)
            return (
                f"{key.account_id}/{key.region}: repository {key.name}: its policy lets "
                f"{principal} pull and the run does not read {kind}; nothing in it is "
                f"deleted. {resolve}"
            )
        case Recorded(text=text):
            return text
        case _:
            assert_never(found)


def warning(said: PlanWarning) -> str:
    """The sentence of one warning."""
    match said:
        case AcceptedConsumer(entry=entry, token=token):
            where, what = _unread(entry)
            return (
                f"{where}: {what}; accepted by --accept-unread {token}: only --external-images "
                f"protects its images"
            )
        case AcceptedService(repository=key, principal=principal, kind=kind, token=token):
            return (
                f"{key}: its policy lets {principal} pull and the run does not read {kind}; "
                f"accepted by --accept-unread {token}"
            )
        case ArchivedInUse(repository=key, digest=digest, reason=in_use):
            return (
                f"{key}@{digest}: archived and {reason(in_use)}; a workload cannot pull it "
                "until it is restored (UpdateImageStorageClass to STANDARD)"
            )
        case InspectorHeld(repository=key, digest=digest, reason=seen):
            return (
                f"{key}@{digest}: {inspector_sees(seen.in_use_count, seen.last_in_use_at)}, "
                "and no consumer this run read uses it: held; find what runs it"
            )
        case ScanNote(text=text) | Recorded(text=text):
            return text
        case _:
            assert_never(said)


def refusal(cap: Refusal) -> str:
    """The sentence of one refusal: the cap the plan exceeds and how to raise it."""
    match cap:
        case OverImageCap(deletions=deletions, cap=most):
            return (
                f"the run would delete {deletions} images, over the cap of {most} "
                f"(raise --max-delete-images)"
            )
        case OverPercentCap(repository=key, deleted=deleted, images=images, cap=most):
            return (
                f"{key} would lose {cap.share:.0f}% of its images ({deleted} of {images}), "
                f"over the cap of {most:g}% (raise --max-delete-percent)"
            )
        case Recorded(text=text):
            return text
        case _:
            assert_never(cap)


def findings(found: Iterable[Finding]) -> list[str]:
    """The findings' sentences, each once, in the plan file's (alphabetical) order."""
    return sorted({finding(f) for f in found})


def warnings(said: Iterable[PlanWarning]) -> list[str]:
    """The warnings' sentences, each once, in the plan file's (alphabetical) order."""
    return sorted({warning(w) for w in said})


def refusals(caps: Iterable[Refusal]) -> list[str]:
    """The refusals' sentences, in the plan's order (the run's cap, then each repository)."""
    return [refusal(r) for r in caps]


def grouped_findings(found: Iterable[Finding]) -> list[str]:
    """The findings for people (console, report.md): an unread consumer kind of one account
    that repeats per region is one line naming its regions. The plan file keeps one sentence
    per account × region (`findings`)."""
    return _grouped(
        (f.entry, finding(f)) if isinstance(f, UnreadConsumer) else (None, finding(f))
        for f in found
    )


def grouped_warnings(said: Iterable[PlanWarning]) -> list[str]:
    """The warnings for people, as `grouped_findings` groups findings (`warnings` keeps one
    per account × region)."""
    return _grouped(
        (w.entry, warning(w)) if isinstance(w, AcceptedConsumer) else (None, warning(w))
        for w in said
    )


def _grouped(sentences: Iterable[tuple[CensusEntry | None, str]]) -> list[str]:
    """Sentences of census entries that differ only by region, as one sentence per account
    naming the regions (`ACCOUNT in N regions (R1, R2, …): …`); every other sentence once.
    Sorted, as the plan file's lists are."""
    regions: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    lines: set[str] = set()
    for entry, sentence in sentences:
        where = f"{entry.account_id}/{entry.region}: " if entry is not None else ""
        if entry is None or not sentence.startswith(where):
            lines.add(sentence)
            continue
        regions[(entry.account_id, sentence.removeprefix(where))].add(entry.region)
    for (account, rest), names in regions.items():
        place = (
            f"{account}/{next(iter(names))}"
            if len(names) == 1
            else f"{account} in {len(names)} regions ({', '.join(sorted(names))})"
        )
        lines.add(f"{place}: {rest}")
    return sorted(lines)
