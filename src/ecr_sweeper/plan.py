"""The planner: pure functions from (usage, inventory, policy, now) to a Plan. No I/O here.

Invariants this module keeps (tests/test_plan*.py checks each, several as hypothesis properties):

1. Fail closed. If any usage source of the run could not be read, the plan deletes nothing.
2. Decide by digest. A digest reached by any usage — a tag resolved to where it points now, a
   digest pin, the digest a task or service revision resolved, an external reference — is never
   deleted. Deleting by digest removes all of an image's tags, so a kept image keeps all its
   tags, and an image with any protected tag is kept whole.
3. The usage set is global: usages from every account and region of the run are applied to
   every repository, whichever account the repository lives in.
4. The manifest graph follows its roots: the manifests listed by a kept image index and the
   referrers (signatures, SBOMs, attestations, SOCI indexes; OCI `subject` or cosign's
   `sha256-<hex>.sig|.att|.sbom` tags) of a kept image are kept, transitively. When an image
   goes, its untagged children and its referrers go with it unless something else keeps them.
   A cosign tag may name a subject in another repository of the same registry
   (`COSIGN_REPOSITORY`): it follows that subject once every repository is judged, and when no
   repository this run read holds it, it is deleted only if the run read the whole registry.
5. Nothing is deleted from a repository whose inventory is incomplete, that a principal outside
   the sweep may pull from (its repository policy says so) unless that principal is accepted,
   or that is not opted in when the policy sweeps only opted-in repositories.
6. Retention (per repository: the first matching rule, else the defaults) keeps images pushed
   less than `min_age_days` ago, the `keep_last` most recently pushed tagged images that are
   not referrers (ties broken by digest; untagged images do not count; a tagged manifest an
   index lists counts, as it will once the index is gone), images with a protected tag, and
   untagged top-level images when `untagged = "keep"`. (Images pulled recently are the pull
   witness's: invariant 14.)
7. Every decision carries the rule that decided it (a typed reason: a `Code` and its details),
   and the plan is deterministic: the same inputs give the same plan, in the same order,
   whatever the order of the inputs. Keep or delete, "in use", a finding that blocks: all are
   decided on codes. This module writes no sentence and names no command-line flag: the words
   (and the flags that resolve a finding) are `wording.py`'s.
8. Caps (`max_delete_percent` per repository, `max_delete_images` per run) never change the
   verdicts; they add refusals that make `apply` refuse the whole plan.
9. `recheck` only ever narrows: apply deletes the intersection of the reviewed plan and a fresh
   plan, and nothing at all when the fresh plan is blocked.
10. The census fails closed. A consumer kind present in an account × region (or whose presence
   is unknown) that the run did not read — switched off, failed, or census-only (Beanstalk) —
   holds every repository it could pull: every repository of its own account, and every
   repository whose policy lets that account or anyone (`*`) pull. So does a repository policy
   naming a service principal (`PrincipalKinds`) of a kind the run does not read everywhere.
   Each such finding blocks the plan (nothing is deleted) until it is accepted
   (`accepted_unread`: `KIND` or `KIND@ACCOUNT`); an accepted finding holds nothing and is a
   warning of the plan.
11. A deletion replayed elsewhere is judged everywhere: a repository whose deletions ECR
   replicates (`delete_replicas`) is judged against the usage of every destination too, and
   is held whole when a destination's usage was not read (outside the sweep).
12. An archived image in use is kept like any image in use, and named in the warnings: a
   workload cannot pull it until it is restored.
13. A quarantine is judged by this tool's own record (`Quarantined`: what its apply archived
   instead of deleting, and when), never by an image's status alone: an image archived by
   anything else is judged as any other. An image of the record that would be deleted is kept
   while archived less than `quarantine_days` (`InQuarantine`), and deleted after
   (`QuarantineOver`); one restored since (not archived, ACTIVATING, or `lastActivatedAt` after
   the record) is never deleted nor quarantined again by that rule (`RestoredAfterQuarantine`).
   What keeps an image today (in use, retention, a hold) keeps it still.
14. The pull witness needs no list of kinds. An image ECR saw pulled (`lastRecordedPullTime`)
   within the window (`Policy.pull_window`: the rule's `keep_pulled_within_days`, else
   `pulled_within_days`; 0 is off) that no usage this run read reaches (directly, or as the
   manifest or referrer of an image a usage reaches) is kept, `PULLED_UNEXPLAINED`, before any
   retention rule: something the run does not know pulled it. An image being restored from the
   archive (`ACTIVATING`) is kept too: someone asked for it. Both are safety rules; the plan
   sums the first up per repository (`Plan.unexplained_pulls`). Where Amazon Inspector
   scans ECR, an image it sees in use (`Repository.inspector_in_use`) that no usage read
   explains is kept too (`INSPECTOR_IN_USE`, before the pull witness) and named in a warning.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import heapq
import itertools
import re
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol, TypeVar

from ecr_sweeper.model import (
    AcceptedConsumer,
    AcceptedService,
    AccountId,
    AccountRegion,
    AccountsPull,
    AccountTarget,
    Activating,
    AmongNewest,
    AnyonePulls,
    ArchivedInUse,
    CensusEntry,
    CensusHold,
    Code,
    CosignSubject,
    Decision,
    Digest,
    Finding,
    Follows,
    Image,
    InQuarantine,
    InspectorHeld,
    InspectorInUse,
    InUse,
    InventoryIncomplete,
    LazyDecisions,
    NotDeleted,
    NotOptedIn,
    NowKept,
    OrganizationPulls,
    OverImageCap,
    OverPercentCap,
    Patterns,
    Plan,
    PlanWarning,
    Policy,
    ProtectedTag,
    PulledUnexplained,
    PullExclusions,
    Quarantined,
    QuarantineOver,
    Reason,
    Refusal,
    ReplicaHold,
    Repository,
    RepositoryKey,
    RestoredAfterQuarantine,
    Retention,
    ScanError,
    ScanNote,
    ServiceHold,
    Sources,
    UnexplainedPulls,
    UnreadConsumer,
    UnreadService,
    UntaggedKept,
    Unused,
    Usage,
    UsageScan,
    Young,
)

BLOCKED = NotDeleted(Code.BLOCKED_USAGE)
CENSUS_BLOCKED = NotDeleted(Code.BLOCKED_CENSUS)
UNTAGGED_KEPT = UntaggedKept()
ACTIVATING = Activating()
Relation = Literal["child", "referrer"]
KEPT_WITH: dict[Relation, Code] = {
    "child": Code.MANIFEST_OF_KEPT,
    "referrer": Code.REFERRER_OF_KEPT,
}
# Shared by every image they delete: one object each, not one per image.
DELETED_WITH: dict[Relation, Follows] = {
    "child": Follows(Code.MANIFEST_OF_DELETED),
    "referrer": Follows(Code.REFERRER_OF_DELETED),
}
COSIGN_TAG = re.compile(r"sha256-(?P<hex>[a-f0-9]{64})\.(?:sig|att|sbom)")
# Service principal (lower case) → the consumer kind it pulls for, given by the caller (the
# registry of consumer kinds). A principal not in it is its own kind, which no reader reads: it
# holds its repository.
PrincipalKinds = Mapping[str, str]


def service_kind(principal: str, kinds: PrincipalKinds) -> str:
    """The consumer kind of a service principal (`codebuild.amazonaws.com` → `codebuild`)."""
    return kinds.get(principal.lower(), principal.lower())


def accepts(accepted: Iterable[str], kind: str, account: str) -> str | None:
    """The accepted-unread value (`KIND` or `KIND@ACCOUNT`) that accepts this kind in this
    account, or None."""
    for value in accepted:
        if value in (kind, f"{kind}@{account}"):
            return value
    return None


@dataclass(frozen=True, slots=True)
class Census:
    """The run's census, judged: which consumers hold what, and the plan's lines about it."""

    entries: tuple[CensusEntry, ...]
    pending: dict[AccountId, CensusEntry]  # per account, the first unread, unaccepted consumer
    findings: tuple[Finding, ...]
    warnings: tuple[PlanWarning, ...]
    read_kinds: frozenset[str]  # kinds every account × region of the run read (or lacks)

    @classmethod
    def of(cls, usage: Sequence[UsageScan], accepted: Sequence[str]) -> Census:
        entries = sorted(
            (e for scan in usage for e in scan.census),
            key=lambda e: (e.account_id, e.region, e.kind, e.detail),
        )
        pending: dict[AccountId, CensusEntry] = {}
        findings: list[Finding] = []
        warnings: list[PlanWarning] = []
        for entry in entries:
            if not entry.unread:
                continue
            if token := accepts(accepted, entry.kind, entry.account_id):
                warnings.append(AcceptedConsumer(entry, token))
                continue
            pending.setdefault(entry.account_id, entry)
            findings.append(UnreadConsumer(entry))
        by_kind: dict[str, list[CensusEntry]] = defaultdict(list)
        for entry in entries:
            by_kind[entry.kind].append(entry)
        read_kinds = frozenset(
            kind for kind, of_kind in by_kind.items() if not any(e.unread for e in of_kind)
        )
        return cls(tuple(entries), pending, tuple(findings), tuple(warnings), read_kinds)

    def hold(self, repo: Repository) -> CensusHold | None:
        """Why an unread, unaccepted consumer could pull from this repository, or None."""
        if not self.pending:
            return None
        entry = self.pending.get(repo.key.account_id)
        if entry is None:
            access = repo.pull_access
            pullers = [self.pending[AccountId(p)] for p in access.accounts if p in self.pending]
            # Anyone, or an organization whose accounts the run may not know: any of them may
            # be the unread consumer's account.
            if access.anyone or access.organizations:
                pullers += self.pending.values()
            entry = min(pullers, key=lambda e: (e.account_id, e.region, e.kind), default=None)
        if entry is None:
            return None
        return CensusHold(entry.kind, AccountRegion(entry.account_id, entry.region), entry.detail)

    def unread_services(self, repo: Repository, kinds: PrincipalKinds) -> list[tuple[str, str]]:
        """(service principal, kind) the repository policy lets pull whose kind the run did not
        read everywhere."""
        found = []
        for principal in sorted(repo.pull_access.services):
            kind = service_kind(principal, kinds)
            if kind not in self.read_kinds:
                found.append((principal, kind))
        return found


class Planner:
    """Judges repositories one at a time against the whole run's usage, then assembles the plan.

    The usage (every account and region, external references included) is complete when the
    planner is made: nothing is judged before the whole usage set is known. Repositories can
    then come in any order, one at a time, straight from the inventory scan: only their
    decisions are kept, so a million-image run never holds every image and every decision at
    once. `build_plan` is the same thing for scans already in hand.
    """

    def __init__(
        self,
        usage: Sequence[UsageScan],
        policy: Policy,
        now: datetime,
        targets: Sequence[AccountTarget] = (),
        sources: Sources | None = None,
        *,
        principal_kinds: PrincipalKinds | None = None,
        quarantined: Iterable[Quarantined] = (),
        store: DecisionStore | None = None,
    ) -> None:
        self._quarantined = {(q.repository, q.digest): q.at for q in quarantined}
        self._policy = policy
        self._principal_kinds = principal_kinds or {}
        self._store = store if store is not None else InMemory()
        self._counts = [0, 0]  # decisions kept and to delete, in the store
        self._now = now
        self._targets = tuple(targets)
        self._sources = sources or Sources()
        self._errors = [e for scan in usage for e in scan.errors]
        self._uses = _usages_by_repository(u for scan in usage for u in scan.usages)
        self._blocked = any(e.scope == "usage" for e in self._errors)
        self._in_scope = {t.account_id for t in targets} | set(policy.accepted_accounts)
        self._census = Census.of(usage, policy.accepted_unread)
        self._findings = list(self._census.findings)
        self._warnings = list(self._census.warnings)
        self._warnings += [ScanNote(w) for scan in usage for w in scan.warnings]
        self._read_places = {scan.origin for scan in usage if not scan.errors}
        # Cosign referrers whose subject is in another repository: decided in plan().
        self._elsewhere: list[_Elsewhere] = []

    def judge(self, repo: Repository) -> None:
        """Decide every image of one repository."""
        if repo.error is not None:
            subject = str(repo.key)
            self._errors.append(
                ScanError("inventory", repo.key.account_id, repo.key.region, subject, repo.error)
            )
        services = self._service_hold(repo)  # always asked: its findings block the plan
        hold = (
            _repository_hold(repo, self._policy, self._in_scope | {repo.key.account_id})
            or self._census.hold(repo)
            or services
            or self._replica_hold(repo)
        )
        uses = [
            *self._uses.get(repo.key, ()),
            *(
                use
                for account, region in repo.delete_replicas
                for use in self._uses.get(RepositoryKey(account, region, repo.key.name), ())
            ),
        ]
        verdicts: Iterable[Verdict]
        if hold:
            verdicts = (
                Verdict(image, hold) for image in sorted(repo.images, key=lambda i: i.digest)
            )
        else:
            verdicts, elsewhere = _decide_repository(
                repo,
                _reached(uses, repo),
                self._policy.retention_for(repo.key.name),
                self._now,
                self._policy.pull_window(repo.key.name),
            )
            self._elsewhere += (_Elsewhere(repo.key, *e) for e in elsewhere)
        if self._quarantined:
            verdicts = (self._after_quarantine(repo.key, v) for v in verdicts)
        # By digest, as they come: the store takes them a piece at a time, so a repository of
        # a hundred thousand images is never held as verdicts or decisions whole.
        self._store.put(repo.key, self._recorded(repo, verdicts))

    def _recorded(self, repo: Repository, verdicts: Iterable[Verdict]) -> Iterator[Placed]:
        """Each verdict as the decision it is, in its list, with the warnings it says."""
        archived = {image.digest for image in repo.images if image.archived}
        for verdict in verdicts:
            image, reason = verdict.image, verdict.reason
            if reason.code.in_use and image.digest in archived and reason is not ACTIVATING:
                self._warnings.append(ArchivedInUse(repo.key, image.digest, reason))
            if isinstance(reason, InspectorInUse):
                self._warnings.append(InspectorHeld(repo.key, image.digest, reason))
            yield self._record(repo.key, verdict)

    def note(self, notes: Iterable[str]) -> None:
        """Warnings an inventory scan brought (e.g. Inspector's coverage not read)."""
        self._warnings += [ScanNote(n) for n in notes]

    def _record(self, key: RepositoryKey, verdict: Verdict) -> Placed:
        """Keep or delete, as the verdict's code says (nothing goes while usage is unread)."""
        if not verdict.reason.code.deletes:
            self._counts[0] += 1
            return KEPT, _decision(key, verdict.image, verdict.reason)
        if self._blocked:
            self._counts[0] += 1
            return KEPT, _decision(key, verdict.image, BLOCKED)
        self._counts[1] += 1
        return (DELETED_INDEX if verdict.image.is_index else DELETED), _decision(
            key, verdict.image, verdict.reason
        )

    def _after_quarantine(self, key: RepositoryKey, verdict: Verdict) -> Verdict:
        """The verdict on an image this tool archived (invariant 13): being restored
        (ACTIVATING, which the pull witness keeps too) is said as a restore after quarantine."""
        since = self._quarantined.get((key, verdict.image.digest))
        if since is None or not (verdict.reason.code.deletes or verdict.reason is ACTIVATING):
            return verdict
        return Verdict(
            verdict.image,
            quarantine_reason(verdict.image, since, self._now, self._policy.quarantine_days),
        )

    def _service_hold(self, repo: Repository) -> ServiceHold | None:
        """A service principal of a kind the run did not read may pull: hold, and (unless
        accepted) a finding that blocks the plan."""
        held = None
        for principal, kind in self._census.unread_services(repo, self._principal_kinds):
            account = repo.key.account_id
            if token := accepts(self._policy.accepted_unread, kind, account):
                self._warnings.append(AcceptedService(repo.key, principal, kind, token))
                continue
            self._findings.append(UnreadService(repo.key, principal, kind))
            held = held or ServiceHold(principal, kind)
        return held

    def _replica_hold(self, repo: Repository) -> ReplicaHold | None:
        """ECR replays this repository's deletions in a registry whose usage was not read."""
        unread = sorted(
            place
            for place in (
                AccountRegion(account, region) for account, region in repo.delete_replicas
            )
            if place not in self._read_places
        )
        return ReplicaHold(tuple(unread)) if unread else None

    def plan(
        self,
        inventory_errors: Iterable[ScanError] = (),
        pull_exclusions: Iterable[PullExclusions] = (),
    ) -> Plan:
        """The plan of everything judged, with the inventory's own errors and the pull-time
        update exclusions of the registries it read. Its decisions stay in the store, read
        from it (repository by repository) as the plan is iterated."""
        errors = [*self._errors, *inventory_errors]
        if self._elsewhere:
            self._decide_elsewhere(errors)
        # A finding can come from any repository, judged in any order: only now is it known
        # that the plan is blocked, so what was to go stays.
        blocked = bool(self._findings) and self._counts[1] > 0
        repositories = tuple(sorted(self._store.repositories()))
        kept_count = sum(self._counts) if blocked else self._counts[0]
        kept = _Ordered(self._store, repositories, blocked, kept=True, count=kept_count)
        deletions = _Ordered(
            self._store, repositories, blocked, kept=False, count=0 if blocked else self._counts[1]
        )
        return Plan(
            created_at=self._now,
            policy=self._policy,
            targets=self._targets,
            deletions=deletions,
            kept=kept,
            errors=tuple(sorted(errors, key=_error_order)),
            sources=self._sources,
            refusals=tuple(_refusals(self._policy, deletions, kept)),
            census=self._census.entries,
            # Each once, in an order that does not depend on the order of the repositories;
            # the plan file writes their sentences in the renderer's (alphabetical) order.
            findings=tuple(sorted(set(self._findings), key=repr)),
            warnings=tuple(sorted(set(self._warnings), key=repr)),
            quarantined=tuple(
                sorted(Quarantined(k, d, at) for (k, d), at in self._quarantined.items())
            ),
            unexplained_pulls=unexplained_pulls(kept),
            pull_exclusions=tuple(sorted(set(pull_exclusions))),
        )

    def _decide_elsewhere(self, errors: Sequence[ScanError]) -> None:
        """Decide the cosign referrers whose subject is in another repository of their
        registry (account × region), now that every repository has been judged."""
        wanted = {e.subject for e in self._elsewhere}  # only these: a run has millions
        kept: dict[tuple[str, str], dict[Digest, RepositoryKey]] = defaultdict(dict)
        gone: dict[tuple[str, str], dict[Digest, RepositoryKey]] = defaultdict(dict)
        for key in sorted(self._store.repositories()):  # one repository at a time
            for run in self._store.runs(key):
                for found, decisions in zip((kept, gone, gone), run, strict=True):
                    for d in decisions:
                        if d.digest in wanted:
                            found[(d.repository.account_id, d.repository.region)].setdefault(
                                d.digest, d.repository
                            )
        # A subject that is itself waiting here (a signature of a signature kept in another
        # repository) is not decided yet: what refers to it is kept.
        undecided = {
            (e.key.account_id, e.key.region, e.image.digest): e.key for e in self._elsewhere
        }
        unread = _partly_read_registries(self._targets, errors)

        def verdict(item: _Elsewhere) -> Verdict:
            registry = (item.key.account_id, item.key.region)
            reason: Reason
            if (where := kept[registry].get(item.subject)) is not None:
                reason = CosignSubject(Code.COSIGN_SUBJECT_KEPT, item.subject, where)
            elif (where := undecided.get((*registry, item.subject))) is not None:
                reason = CosignSubject(Code.COSIGN_SUBJECT_WAITING, item.subject, where)
            elif (where := gone[registry].get(item.subject)) is not None:
                reason = CosignSubject(Code.COSIGN_SUBJECT_DELETED, item.subject, where)
            elif registry in unread or item.key.account_id in unread:
                reason = CosignSubject(Code.COSIGN_SUBJECT_UNREAD, item.subject)
            else:
                reason = CosignSubject(Code.COSIGN_SUBJECT_ABSENT, item.subject)
            if item.parent is not None:  # follows the referrer it hangs off
                reason = (
                    DELETED_WITH[item.relation]
                    if reason.code.deletes
                    else Follows(KEPT_WITH[item.relation], item.parent)
                )
            return Verdict(item.image, reason)

        waiting = sorted(self._elsewhere, key=lambda e: (e.key, e.image.digest))
        for key, items in itertools.groupby(waiting, key=lambda e: e.key):
            self._store.put(key, (self._record(key, verdict(item)) for item in items))
        self._elsewhere.clear()


def unexplained_pulls(kept: Iterable[Decision]) -> tuple[UnexplainedPulls, ...]:
    """Per repository, the images the pull witness keeps: how many, and the newest pull."""
    count: dict[RepositoryKey, int] = defaultdict(int)
    newest: dict[RepositoryKey, datetime] = {}
    for d in kept:
        if isinstance(d.reason, PulledUnexplained):
            count[d.repository] += 1
            at = d.reason.last_pulled_at
            newest[d.repository] = max(at, newest.get(d.repository, at))
    return tuple(UnexplainedPulls(key, count[key], newest[key]) for key in sorted(count))


# The lists a store keeps for each `put`, each by digest: kept, the image indexes to delete,
# and the other manifests to delete (deleted after the indexes: `deletion_order`).
KEPT, DELETED_INDEX, DELETED = 0, 1, 2
Placed = tuple[int, Decision]  # a decision and the list it goes to
Run = tuple[Iterable[Decision], Iterable[Decision], Iterable[Decision]]


class DecisionStore(Protocol):
    """Where the planner keeps its verdicts as it judges, repository by repository: in memory
    (`InMemory`), or on disk (the pipeline's spool), so that a run holds one repository's
    decisions at a time, never all of them; and reads them back a piece at a time, so that
    writing the plan never holds a whole repository's either."""

    def put(self, key: RepositoryKey, decisions: Iterable[Placed]) -> None:
        """Add verdicts of one repository (it may be given more than once), each with the list
        it goes to (`KEPT`, `DELETED_INDEX`, `DELETED`), by digest within each list."""

    def repositories(self) -> Iterable[RepositoryKey]:
        """Every repository with verdicts."""

    def runs(self, key: RepositoryKey) -> Sequence[Run]:
        """The verdicts of one repository, its three lists per `put`, in the order put; each
        list read (again) as it is iterated."""


class InMemory:
    """A `DecisionStore` in memory."""

    def __init__(self) -> None:
        self._by_key: dict[RepositoryKey, list[Run]] = {}

    def put(self, key: RepositoryKey, decisions: Iterable[Placed]) -> None:
        kept: list[Decision] = []
        indexes: list[Decision] = []
        others: list[Decision] = []
        for where, decision in decisions:
            (kept, indexes, others)[where].append(decision)
        self._by_key.setdefault(key, []).append((kept, indexes, others))

    def repositories(self) -> Iterable[RepositoryKey]:
        return self._by_key.keys()

    def runs(self, key: RepositoryKey) -> Sequence[Run]:
        return self._by_key.get(key, [])


class _Ordered(LazyDecisions):
    """One list of a plan (kept, or to delete), read from the store when iterated: repository
    by repository in key order; within one, kept images by digest, deletions in
    `deletion_order`. A blocked plan keeps what was to go (`CENSUS_BLOCKED`).

    The store gives each repository's verdicts in lists already by digest (three per `put`):
    they are merged as they are read, so a repository of a hundred thousand images is never
    held whole."""

    def __init__(
        self,
        store: DecisionStore,
        repositories: tuple[RepositoryKey, ...],
        blocked: bool,
        *,
        kept: bool,
        count: int,
    ) -> None:
        self._store = store
        self._repositories = repositories
        self._blocked = blocked
        self._kept = kept
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Decision]:
        if not self._count:
            return
        for key in self._repositories:
            runs = self._store.runs(key)
            kept = [run[KEPT] for run in runs]
            gone = [run[where] for where in (DELETED_INDEX, DELETED) for run in runs]
            if not self._kept:  # indexes first, then the rest: `deletion_order`
                yield from heapq.merge(*gone[: len(runs)], key=_by_digest)
                yield from heapq.merge(*gone[len(runs) :], key=_by_digest)
            elif not self._blocked:
                yield from heapq.merge(*kept, key=_by_digest)
            else:
                yield from heapq.merge(*kept, *map(_held, gone), key=_by_digest)


def _held(deletions: Iterable[Decision]) -> Iterator[Decision]:
    """Deletions of a plan the census blocks: kept."""
    for d in deletions:
        yield dataclasses.replace(d, reason=CENSUS_BLOCKED)


def _by_digest(decision: Decision) -> Digest:
    return decision.digest


def _partly_read_registries(
    targets: Sequence[AccountTarget], errors: Sequence[ScanError]
) -> set[object]:
    """Registries ((account, region)) and whole accounts whose repositories were not all read:
    a repository filter, or an inventory error there."""
    partly: set[object] = {t.account_id for t in targets if t.repositories != Patterns()}
    for e in errors:
        if e.scope == "inventory":
            partly.add((e.account_id, e.region) if e.region else e.account_id)
    return partly


@dataclass(frozen=True, slots=True)
class _Elsewhere:
    """A cosign referrer whose subject is not in its repository (or something hanging off
    such a referrer, with `parent` set): decided once every repository is judged."""

    key: RepositoryKey
    image: Image
    subject: Digest
    parent: Digest | None
    relation: Relation


@dataclass(frozen=True, slots=True)
class Verdict:
    """The planner's word on one image: keep or delete is the reason's code."""

    image: Image
    reason: Reason


def restored_since(image: Image, since: datetime) -> bool:
    """The image came back from the archive after `since`: it is not archived (restored, or
    pushed again), a restore is under way, or ECR says it was restored after."""
    return (
        not image.archived
        or image.activating
        or (image.activated_at is not None and image.activated_at > since)
    )


def quarantine_reason(
    image: Image, since: datetime, now: datetime, days: int
) -> InQuarantine | RestoredAfterQuarantine | QuarantineOver:
    """Why an image this tool archived `since` (and that would be deleted) is kept or goes."""
    if restored_since(image, since):
        return RestoredAfterQuarantine(since)
    age = now - since
    if age >= timedelta(days=days):
        return QuarantineOver(since, age.days)
    return InQuarantine(since, days)


_Item = TypeVar("_Item")


class InventoryRead(Protocol):
    """One account × region's inventory as `build_plan` takes it: an `InventoryScan`, or one
    whose repositories are read as they are iterated (a shard file's, when merging)."""

    @property
    def repositories(self) -> Iterable[Repository]: ...
    @property
    def errors(self) -> Sequence[ScanError]: ...
    @property
    def pull_exclusions(self) -> PullExclusions | None: ...
    @property
    def notes(self) -> Sequence[str]: ...


def build_plan(
    usage: Sequence[UsageScan],
    inventory: Iterable[InventoryRead],
    policy: Policy,
    now: datetime,
    targets: Sequence[AccountTarget] = (),
    *,
    sources: Sources | None = None,
    principal_kinds: PrincipalKinds | None = None,
    quarantined: Iterable[Quarantined] = (),
    store: DecisionStore | None = None,
) -> Plan:
    """Decide, for every image of every scanned repository, whether to keep or delete it
    (the decisions kept in `store`, else in memory).

    `inventory` is iterated once, scan by scan: a caller that hands over its only reference
    (`drain`) lets each scan's images be freed as soon as they are judged.
    """
    planner = Planner(
        usage,
        policy,
        now,
        targets,
        sources,
        principal_kinds=principal_kinds,
        quarantined=quarantined,
        store=store,
    )
    errors: list[ScanError] = []
    exclusions: list[PullExclusions] = []
    for scan in inventory:
        errors.extend(scan.errors)
        planner.note(scan.notes)
        exclusions.extend([scan.pull_exclusions] if scan.pull_exclusions else [])
        for repo in scan.repositories:
            planner.judge(repo)
    return planner.plan(errors, exclusions)


def drain(items: list[_Item]) -> Iterable[_Item]:
    """Yield and forget each item, in order: the list gives up its references as it goes."""
    items.reverse()
    while items:
        yield items.pop()


def protected_digests(
    usages: Iterable[Usage], repositories: Iterable[Repository]
) -> dict[RepositoryKey, dict[Digest, InUse]]:
    """Map each repository to the digests some usage reaches, with the first usage's source.

    Tags resolve against the inventory as it is now; a tag that exists nowhere protects nothing
    (the image could not be pulled either).
    """
    inventory = {repo.key: repo for repo in repositories}
    found = {
        key: _reached(uses, inventory.get(key))
        for key, uses in _usages_by_repository(usages).items()
    }
    return {key: reached for key, reached in found.items() if reached}


def _usages_by_repository(usages: Iterable[Usage]) -> dict[RepositoryKey, list[Usage]]:
    """Usages grouped by the repository they name, each group in one deterministic order (the
    first usage to reach a digest names the reason)."""
    grouped: dict[RepositoryKey, list[Usage]] = defaultdict(list)
    for use in sorted(usages, key=lambda u: (u.source, u.image, u.resolved_digest or "")):
        grouped[use.ref.repository].append(use)
    return grouped


def _reached(uses: Iterable[Usage], repo: Repository | None) -> dict[Digest, InUse]:
    """The digests of one repository these usages reach, each with the first usage's why."""
    found: dict[Digest, InUse] = {}
    tag_index: dict[str, Digest] | None = None
    for use in uses:
        reached: list[tuple[Digest, InUse]] = []
        if use.ref.digest is not None:
            reached.append((use.ref.digest, InUse(Code.DIGEST_PINNED, use.source)))
        if use.ref.tag is not None and repo is not None:
            if tag_index is None:  # built only for repositories some tag reference names
                tag_index = {tag: image.digest for image in repo.images for tag in image.tags}
            if digest := tag_index.get(use.ref.tag):
                reached.append((digest, InUse(Code.TAG_USED, use.source, use.ref.tag)))
        if use.resolved_digest is not None:
            reached.append((use.resolved_digest, InUse(Code.DIGEST_RUNNING, use.source)))
        for digest, why in reached:
            found.setdefault(digest, why)
    return found


def _repository_hold(
    repo: Repository, policy: Policy, in_scope: set[str]
) -> InventoryIncomplete | AnyonePulls | OrganizationPulls | AccountsPull | NotOptedIn | None:
    """Why nothing in this repository may be deleted, or None."""
    if repo.error is not None:
        return InventoryIncomplete(repo.error)
    access = repo.pull_access
    if access.anyone and "*" not in in_scope:
        return AnyonePulls(access.anyone)
    outsiders = sorted(a for a in access.accounts if a not in in_scope)
    organizations = sorted(
        o for o in access.organizations if o not in in_scope and o != policy.organization
    )
    if organizations:
        return OrganizationPulls(tuple(organizations))
    if outsiders:
        return AccountsPull(tuple(outsiders))
    if policy.opt_in_tag is not None and policy.opt_in_tag not in repo.tags:
        key, value = policy.opt_in_tag
        return NotOptedIn(key, value)
    return None


@dataclass(frozen=True, slots=True)
class _Graph:
    """The manifest graph of one repository: who lists or refers to whom."""

    by_digest: dict[Digest, Image]
    dependents: dict[Digest, tuple[Digest, ...]]  # index → children; subject → referrers
    secondary: dict[Digest, Relation]  # digest → how it hangs off another image
    elsewhere: dict[Digest, Digest]  # cosign referrer → its subject, in another repository
    referrers: set[Digest]  # every referrer (an index may list one too)

    @classmethod
    def of(cls, repo: Repository) -> _Graph:
        by_digest = {image.digest: image for image in repo.images}
        dependents: dict[Digest, set[Digest]] = defaultdict(set)
        secondary: dict[Digest, Relation] = {}
        elsewhere: dict[Digest, Digest] = {}
        referrers: set[Digest] = set()
        for image in sorted(repo.images, key=lambda i: i.digest):
            for child in image.children:
                dependents[image.digest].add(child)
                secondary.setdefault(child, "child")
            subject = image.subject or _cosign_subject(image.tags)
            if subject is not None:
                # A referrer is never a top-level image, even when its subject is gone: it
                # follows its subject, and never takes a place among the keep_last newest.
                secondary.setdefault(image.digest, "referrer")
                referrers.add(image.digest)
                if subject in by_digest:
                    dependents[subject].add(image.digest)
                elif image.subject is None:  # a cosign tag may name another repository's
                    elsewhere[image.digest] = subject
        return cls(
            by_digest,
            {k: tuple(sorted(v)) for k, v in dependents.items()},
            secondary,
            elsewhere,
            referrers,
        )


def _cosign_subject(tags: Sequence[str]) -> Digest | None:
    for tag in sorted(tags):
        if match := COSIGN_TAG.fullmatch(tag):
            return Digest(f"sha256:{match['hex']}")
    return None


def _decide_repository(
    repo: Repository,
    in_use: Mapping[Digest, InUse],
    retention: Retention,
    now: datetime,
    pull_window: int = 0,
) -> tuple[Iterator[Verdict], list[tuple[Image, Digest, Digest | None, Relation]]]:
    """Verdicts for one repository's images, by digest, as they are iterated; and the images
    that wait for another repository (a cosign referrer whose subject is elsewhere, and what
    hangs off it): (image, subject, parent it follows or None, relation)."""
    graph = _Graph.of(repo)
    keep = _keep_reasons(repo, graph, in_use, retention, now, pull_window=pull_window)
    waiting = _waiting(graph, keep)

    def verdicts() -> Iterator[Verdict]:  # by digest, made as they are asked for
        for image in sorted(repo.images, key=lambda i: i.digest):
            if image.digest in keep:
                yield Verdict(image, keep[image.digest])
            elif image.digest in waiting:
                continue
            elif image.digest in graph.secondary:
                yield Verdict(image, DELETED_WITH[graph.secondary[image.digest]])
            else:
                yield Verdict(image, _deletion_reason(retention, tagged=bool(image.tags)))

    elsewhere = [(graph.by_digest[d], *waiting[d]) for d in sorted(waiting)]
    return verdicts(), elsewhere


def _waiting(
    graph: _Graph, keep: Mapping[Digest, Reason]
) -> dict[Digest, tuple[Digest, Digest | None, Relation]]:
    """Unkept cosign referrers whose subject is in another repository, and (transitively) the
    unkept images hanging off them: digest → (subject, parent or None, relation)."""
    waiting: dict[Digest, tuple[Digest, Digest | None, Relation]] = {
        d: (subject, None, "referrer") for d, subject in graph.elsewhere.items() if d not in keep
    }
    pending = deque(waiting)
    while pending:
        parent = pending.popleft()
        for dependent in graph.dependents.get(parent, ()):
            if dependent not in keep and dependent not in waiting:
                relation = graph.secondary.get(dependent, "child")
                waiting[dependent] = (waiting[parent][0], parent, relation)
                pending.append(dependent)
    return waiting


def _keep_reasons(
    repo: Repository,
    graph: _Graph,
    in_use: Mapping[Digest, InUse],
    retention: Retention,
    now: datetime,
    *,
    pull_window: int = 0,
) -> dict[Digest, Reason]:
    """Every digest of the repository to keep, with the first rule that keeps it."""
    # keep_last counts tagged images only; untagged ones follow `untagged` (as ECR lifecycle
    # rules count tagStatus TAGGED and UNTAGGED apart). A tagged manifest an index lists counts
    # too: its tag makes it an image of its own, and it stays one when the index goes (else a
    # second plan, after the index is deleted, would count it and delete one more).
    tagged = [i for i in repo.images if i.tags and i.digest not in graph.referrers]
    newest_first = sorted(tagged, key=lambda i: (i.pushed_at, i.digest), reverse=True)
    recent = {i.digest for i in newest_first[: retention.keep_last]}
    young_since = now - timedelta(days=retention.min_age_days)
    pulled_since = now - timedelta(days=pull_window) if pull_window > 0 else None
    # What a usage explains: the digests it reaches and what they list or are referred to by.
    inspected = {s.digest: s for s in repo.inspector_in_use}
    roots = [*in_use, *(i.digest for i in repo.images if i.activating)]
    explained = _following(graph, roots) if pulled_since or inspected else set()
    keep: dict[Digest, Reason] = {}
    for image in sorted(repo.images, key=lambda i: i.digest):  # sorted: reasons are stable
        top = image.digest not in graph.secondary
        pulled = image.last_pulled_at
        if image.digest in in_use:
            keep[image.digest] = in_use[image.digest]
        elif image.activating:
            keep[image.digest] = ACTIVATING
        elif (seen := inspected.get(image.digest)) and image.digest not in explained:
            keep[image.digest] = InspectorInUse(seen.in_use_count, seen.last_in_use_at)
        elif (
            pulled_since is not None
            and pulled is not None
            and pulled > pulled_since
            and image.digest not in explained
        ):
            days_ago = max(0, (now - pulled).days)
            keep[image.digest] = PulledUnexplained(days_ago, pull_window, pulled)
        elif protected := _protected_tag(image.tags, retention.protect_tags):
            keep[image.digest] = protected
        elif image.pushed_at > young_since:
            keep[image.digest] = _young(retention.min_age_days)
        elif image.digest in recent:
            keep[image.digest] = _among_newest(retention.keep_last)
        elif top and not image.tags and retention.untagged == "keep":
            keep[image.digest] = UNTAGGED_KEPT
    # What a kept image lists or is referred to by is kept, transitively.
    pending = deque(d for d in keep if d in graph.dependents)
    while pending:
        parent = pending.popleft()
        for dependent in graph.dependents.get(parent, ()):
            if dependent not in keep:
                relation = graph.secondary.get(dependent, "child")
                keep[dependent] = Follows(KEPT_WITH[relation], parent)
                pending.append(dependent)
    return keep


def _following(graph: _Graph, roots: Iterable[Digest]) -> set[Digest]:
    """`roots` and everything they list or are referred to by, transitively."""
    found = set(roots)
    pending = deque(found)
    while pending:
        for dependent in graph.dependents.get(pending.popleft(), ()):
            if dependent not in found:
                found.add(dependent)
                pending.append(dependent)
    return found


def _protected_tag(tags: Sequence[str], patterns: Sequence[str]) -> ProtectedTag | None:
    """The reason an image is protected by one of its tags, or None."""
    for tag in sorted(tags):
        for pattern in patterns:
            if pattern.startswith("re:"):
                if re.fullmatch(pattern[3:], tag):
                    return ProtectedTag(tag, pattern)
            elif fnmatch.fnmatchcase(tag, pattern):
                return ProtectedTag(tag, pattern)
    return None


# One reason object per setting, shared by every decision it makes (a million decisions).
@functools.cache
def _deletion_reason(retention: Retention, *, tagged: bool) -> Unused:
    # keep_last does not count an untagged image, so its reason does not name it.
    return Unused(retention.min_age_days, retention.keep_last if tagged else 0)


@functools.cache
def _young(min_age_days: int) -> Young:
    return Young(min_age_days)


@functools.cache
def _among_newest(keep_last: int) -> AmongNewest:
    return AmongNewest(keep_last)


def _decision(key: RepositoryKey, image: Image, reason: Reason) -> Decision:
    return Decision(
        repository=key,
        digest=image.digest,
        # Sorted, without a copy per image where there is nothing to sort (a million decisions).
        tags=image.tags if len(image.tags) < 2 else tuple(sorted(image.tags)),
        size_bytes=image.size_bytes,
        pushed_at=image.pushed_at,
        media_type=image.media_type,
        reason=reason,
    )


def _refusals(
    policy: Policy, deletions: Sequence[Decision], kept: Sequence[Decision]
) -> list[Refusal]:
    """The caps this plan exceeds."""
    refusals: list[Refusal] = []
    if policy.max_delete_images is not None and len(deletions) > policy.max_delete_images:
        refusals.append(OverImageCap(len(deletions), policy.max_delete_images))
    if policy.max_delete_percent is not None:
        totals: dict[RepositoryKey, list[int]] = defaultdict(lambda: [0, 0])
        for d in deletions:
            totals[d.repository][0] += 1
        for d in kept:
            totals[d.repository][1] += 1
        for key, (gone, stay) in sorted(totals.items()):
            share = 100.0 * gone / (gone + stay)
            if gone and share > policy.max_delete_percent:
                refusals.append(OverPercentCap(key, gone, gone + stay, policy.max_delete_percent))
    return refusals


def deletion_order(decision: Decision) -> tuple[RepositoryKey, bool, Digest]:
    """Repository by repository, image indexes before the manifests they list (AWS refuses
    to delete a manifest an index in the repository still lists)."""
    return (decision.repository, not decision.is_index, decision.digest)


def _error_order(error: ScanError) -> tuple[str, str, str, str, str]:
    return (error.scope, error.account_id, error.region or "", error.subject, error.message)


RECHECK_BLOCKED = NotDeleted(Code.RECHECK_BLOCKED)
RECHECK_ABSENT = NotDeleted(Code.RECHECK_ABSENT)


def recheck(reviewed: Plan, fresh: Plan) -> tuple[list[Decision], list[tuple[Decision, Reason]]]:
    """What `apply` may delete: the reviewed deletions the fresh plan still deletes.

    Returns (to delete, skipped with why). A blocked fresh plan skips everything. The reviewed
    plan's own reasons are not read (they may be `Recorded` words): only which list holds a
    decision, in each plan. Both lists in the reviewed plan's order. (`apply` does the same
    repository by repository, holding one at a time: `per_repository`, `recheck_repository`.)
    """
    to_delete: list[Decision] = []
    skipped: list[tuple[Decision, Reason]] = []
    for planned, (still, now_kept) in per_repository(
        reviewed.deletions, fresh.deletions, fresh.kept
    ):
        go, stay = recheck_repository(planned, still, now_kept, blocked=fresh.blocked)
        to_delete += go
        skipped += stay
    position = {(d.repository, d.digest): n for n, d in enumerate(reviewed.deletions)}
    to_delete.sort(key=lambda d: position[d.repository, d.digest])
    skipped.sort(key=lambda s: position[s[0].repository, s[0].digest])
    return to_delete, skipped


def recheck_repository(
    planned: Sequence[Decision],
    still: Mapping[Digest, Reason],
    now_kept: Mapping[Digest, Reason],
    *,
    blocked: bool,
) -> tuple[list[Decision], list[tuple[Decision, Reason]]]:
    """`recheck` of one repository: its reviewed deletions against the fresh plan's deletions
    and kept images of the same repository (digest → reason, as `per_repository` gives them)."""
    if blocked:
        return [], [(d, RECHECK_BLOCKED) for d in planned]
    to_delete: list[Decision] = []
    skipped: list[tuple[Decision, Reason]] = []
    for decision in planned:
        if decision.digest in still:
            to_delete.append(decision)
        elif (why := now_kept.get(decision.digest)) is not None:
            skipped.append((decision, NowKept(why)))
        else:
            skipped.append((decision, RECHECK_ABSENT))
    return to_delete, skipped


def per_repository(
    planned: Sequence[Decision], *fresh: Sequence[Decision]
) -> Iterator[tuple[list[Decision], tuple[dict[Digest, Reason], ...]]]:
    """Each repository of `planned`, in order: its decisions, and those of the same repository
    in each of `fresh`, as digest → reason (all a re-check reads of them: a repository of a
    hundred thousand images is not held as decisions twice). One repository at a time (a merge
    of lists in repository order, as plans keep them); a list out of that order is sorted
    first."""
    streams = [_Groups(_in_repository_order(f)) for f in fresh]
    for key, group in itertools.groupby(_in_repository_order(planned), key=_by_repository):
        yield list(group), tuple(stream.take(key) for stream in streams)


def _by_repository(decision: Decision) -> RepositoryKey:
    return decision.repository


def _in_repository_order(decisions: Sequence[Decision]) -> Sequence[Decision]:
    """`decisions`, grouped by repository in key order: as they are when they already are
    (checked in one pass), else sorted."""
    last: RepositoryKey | None = None
    for d in decisions:
        if last is not None and d.repository < last:
            return sorted(decisions, key=deletion_order)
        last = d.repository
    return decisions


class _Groups:
    """A list in repository order, taken repository by repository, as digest → reason: a
    repository's group is read only when it is taken (one at a time in memory)."""

    def __init__(self, decisions: Iterable[Decision]) -> None:
        self._groups = itertools.groupby(decisions, key=_by_repository)
        self._next: tuple[RepositoryKey, Iterator[Decision]] | None = next(self._groups, None)

    def take(self, key: RepositoryKey) -> dict[Digest, Reason]:
        """The decisions of repository `key` (those of repositories before it are passed)."""
        while self._next is not None and self._next[0] < key:
            self._next = next(self._groups, None)
        if self._next is None or self._next[0] != key:
            return {}
        found = {d.digest: d.reason for d in self._next[1]}
        self._next = next(self._groups, None)
        return found
