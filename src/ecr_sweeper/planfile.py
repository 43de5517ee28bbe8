"""The plan file: a reviewable JSON document that `apply` carries out.

Shape (version 1)::

    {"version": 1, "created_at": "...", "policy": {...}, "targets": [...],
     "summary": {...}, "errors": [...], "census": [...], "findings": [...],
     "warnings": [...], "deletions": [...], "kept": [...]}

Each element of `census` is one consumer kind in one account × region: `kind`, `account_id`,
`region`, `present` (true, false, or null when the census call failed), `read` and `detail`.
`findings` are the unread consumers that block the plan; `warnings` the accepted ones, the
regions whose usage was not read and the archived images in use. `unexplained_pulls` sums up,
per repository, the images the pull witness keeps (`images`, `newest_pull`);
`pull_exclusions` lists each swept registry's pull-time update exclusions (`principals`, or
the `error` that kept them unknown). Plans without them read as having none.

Reasons, findings, warnings and refusals are written as their sentences (`wording`), and read
back as `Recorded` sentences: the words the reviewer read, which `show` and `explain` repeat;
`apply` decides on its fresh plan, never on them.

Each element of `deletions` and `kept` has `account_id`, `region`, `repository`,
`image_digest`, `image_tags`, `size_bytes`, `pushed_at`, `media_type` and `reason`.

Both ways streamed, so that a plan of millions of images is never in memory whole: `write_plan`
encodes one decision at a time (the bytes are those of `json.dumps(..., indent=2)` of the whole
document, as before) and computes the checksum as it goes; `read_plan` checks the file in two
streaming passes (`jsonstream`) and its plan's `deletions` and `kept` read the file again each
time they are iterated. The layout is unchanged: plan files of earlier releases are read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ecr_sweeper import wording
from ecr_sweeper.jsonstream import (
    ArrayAt,
    JSONStreamError,
    NotAnObjectError,
    Streamed,
    elements,
    members,
)
from ecr_sweeper.model import (
    DEFAULT_PULLED_WITHIN_DAYS,
    DEFAULT_QUARANTINE_DAYS,
    PLAN_VERSION,
    AccountId,
    AccountRegion,
    AccountTarget,
    ArchivePrices,
    CensusEntry,
    Decision,
    Digest,
    KubeconfigSource,
    LazyDecisions,
    Outside,
    Patterns,
    Plan,
    Policy,
    PullExclusions,
    Quarantined,
    Reason,
    Recorded,
    Region,
    RepositoryKey,
    RepositoryName,
    RepositoryRule,
    Retention,
    ScanError,
    Sources,
    UnexplainedPulls,
)
from ecr_sweeper.report import totals


class PlanFileError(Exception):
    """The plan file is missing, not JSON, or not a plan this version understands."""


def plan_to_json(plan: Plan, *, decisions: bool = True) -> dict[str, Any]:
    """The plan as a JSON-ready dict (stable key order, stable element order); without
    `decisions`, all but its `deletions` and `kept` (which `write_plan` streams)."""
    said = _Sentences()
    data = {
        "version": plan.version,
        "created_at": plan.created_at.isoformat(),
        "blocked": plan.blocked,
        "policy": policy_to_json(plan.policy),
        "sources": sources_to_json(plan.sources),
        "refusals": wording.refusals(plan.refusals),
        "targets": [target_to_json(t) for t in plan.targets],
        "summary": totals(plan),
        "errors": [error_to_json(e) for e in plan.errors],
        "census": [census_to_json(e) for e in plan.census],
        "findings": wording.findings(plan.findings),
        "warnings": wording.warnings(plan.warnings),
        "unexplained_pulls": [unexplained_pulls_to_json(u) for u in plan.unexplained_pulls],
        "pull_exclusions": [pull_exclusions_to_json(e) for e in plan.pull_exclusions],
        # only when the plan was made with a quarantine's record: other plans read as before
        **(
            {"quarantined": [_quarantined_to_json(q) for q in plan.quarantined]}
            if plan.quarantined
            else {}
        ),
    }
    if decisions:
        data["deletions"] = [_decision_to_json(d, said) for d in plan.deletions]
        data["kept"] = [_decision_to_json(d, said) for d in plan.kept]
    return data


def _quarantined_to_json(q: Quarantined) -> dict[str, str]:
    key = q.repository
    return {
        "account_id": key.account_id,
        "region": key.region,
        "repository": key.name,
        "image_digest": q.digest,
        "at": q.at.isoformat(),
    }


def _quarantined_from_json(d: dict[str, Any]) -> Quarantined:
    key = RepositoryKey(
        AccountId(str(d["account_id"])), Region(str(d["region"])), RepositoryName(d["repository"])
    )
    return Quarantined(key, Digest(str(d["image_digest"])), aware_time(d["at"], "quarantined.at"))


class _Sentences:
    """Each reason's sentence, rendered once per distinct reason: a million decisions share a
    few reasons (by value: decisions read back from the planner's store or a file are new
    objects each time)."""

    def __init__(self) -> None:
        self._by_reason: dict[Reason, str] = {}

    def __call__(self, reason: Reason) -> str:
        text = self._by_reason.get(reason)
        if text is None:
            if len(self._by_reason) >= _SENTENCES_KEPT:  # some name a digest: many distinct
                self._by_reason.clear()
            text = self._by_reason[reason] = wording.reason(reason)
        return text


_SENTENCES_KEPT = 4096


class _Recorder:
    """What decisions read from a file share: `Recorded` reasons, one object per distinct
    sentence (a bounded number of them: some sentences name a digest), and the repository key
    and media type of consecutive decisions (a file lists a repository's decisions together)."""

    def __init__(self) -> None:
        self._by_text: dict[str, Recorded] = {}
        self._key: RepositoryKey | None = None
        self._media_types: dict[str, str] = {}

    def __call__(self, text: object) -> Recorded:
        words = str(text)
        recorded = self._by_text.get(words)
        if recorded is None:
            if len(self._by_text) >= _SENTENCES_KEPT:
                self._by_text.clear()
            recorded = self._by_text[words] = Recorded(words)
        return recorded

    def key(self, account: object, region: object, name: object) -> RepositoryKey:
        """The repository key, the previous decision's object when it is the same."""
        key = RepositoryKey(AccountId(str(account)), Region(str(region)), RepositoryName(str(name)))
        if key != self._key:
            self._key = key
        return self._key

    def media_type(self, value: object) -> str:
        text = str(value)
        if len(self._media_types) >= _SENTENCES_KEPT:
            self._media_types.clear()
        return self._media_types.setdefault(text, text)


def checksum(data: dict[str, Any]) -> str:
    """sha256 of the plan's canonical JSON, without its `checksum` key."""
    body = {k: v for k, v in data.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def write_plan(plan: Plan, path: Path) -> None:
    """Write the plan file (atomically: a reader never sees half a plan), with a checksum that
    `apply` verifies, so an edited or truncated plan is refused.

    Streamed, decision by decision: the file is byte for byte `json.dumps(data, indent=2)` of
    `plan_to_json` and its checksum, and the checksum (of the canonical form, whose keys are
    sorted) is computed as it is written, so neither the whole document nor its text is ever
    in memory: the decisions are the only part that grows with the images, and each is encoded
    and forgotten."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as file:
            for piece in plan_text(plan):
                file.write(piece)
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)  # never leave half a plan behind
        raise


# The keys whose values grow with the images: streamed element by element.
_STREAMED = ("deletions", "kept")


def plan_text(plan: Plan, *, checksum: bool = True) -> Iterator[str]:
    """The plan file's text, piece by piece (see `write_plan`): `json.dumps(data, indent=2)`
    of `plan_to_json` and its checksum, and a newline. Without `checksum`, the text of the
    document without it (and no newline after it): what `--format json` prints."""
    said = _Sentences()
    small = plan_to_json(plan, decisions=False)
    lists = {"deletions": plan.deletions, "kept": plan.kept}
    digest = hashlib.sha256()

    def canonical(value: object) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    # The canonical form's keys, sorted; the two lists in it come in the file's order too
    # (deletions, then kept), so one pass feeds both the file and the checksum.
    hashed = sorted([*small, *_STREAMED]) if checksum else []
    hash_at = 0

    def hash_until(stop: str | None) -> None:
        nonlocal hash_at
        while hash_at < len(hashed) and hashed[hash_at] != stop:
            name = hashed[hash_at]
            sep = "{" if hash_at == 0 else ","
            digest.update(f"{sep}{canonical(name)}:{canonical(small[name])}".encode())
            hash_at += 1

    def indented(value: object, level: int) -> str:
        return _indented(value, "  " * level)

    yield "{"
    for n, name in enumerate([*small, *_STREAMED]):
        yield ("" if n == 0 else ",") + f"\n  {json.dumps(name)}: "
        if name not in lists:
            yield indented(small[name], 1)
            continue
        if checksum:
            hash_until(name)
            digest.update(f"{'{' if hash_at == 0 else ','}{canonical(name)}:[".encode())
            hash_at += 1
        yield "["
        for i, decision in enumerate(lists[name]):
            element = _decision_to_json(decision, said)
            if checksum:
                digest.update(("," if i else "").encode() + canonical(element).encode())
            yield ("," if i else "") + "\n    " + indented(element, 2)
        digest.update(b"]")
        yield "\n  ]" if lists[name] else "]"
    if not checksum:
        yield "\n}"
        return
    hash_until(None)
    digest.update(b"}")
    yield f',\n  "checksum": {json.dumps("sha256:" + digest.hexdigest())}\n}}\n'


_STRING = json.encoder.encode_basestring_ascii  # what json.dumps writes a string as (in C)


def _indented(value: object, pad: str) -> str:
    """`json.dumps(value, indent=2)` of a JSON value whose keys are strings, each line after
    the first indented by `pad`. By hand:
    json's indenting encoder is pure Python (about 16 µs a decision, against 4 here), and a
    large plan is millions of decisions."""
    if isinstance(value, str):
        return _STRING(value)
    if type(value) is int:
        return int.__repr__(value)
    inner = pad + "  "
    if isinstance(value, dict) and value:
        items = (f"{inner}{_STRING(k)}: {_indented(v, inner)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list | tuple) and value:
        return "[\n" + ",\n".join(inner + _indented(v, inner) for v in value) + "\n" + pad + "]"
    return json.dumps(value)  # None, booleans, floats, an empty list or object


def read_json(path: Path) -> Any:
    """A JSON file's content; unreadable or not JSON is a PlanFileError naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path}: not JSON: {exc}") from exc


def write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file and a rename: a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)  # never leave half a plan behind
        raise


def read_plan(path: Path) -> Plan:
    """Load a plan file; any problem is a PlanFileError naming the file and the key.

    Streamed: its decisions are checked (checksum and content) one at a time, and the plan's
    `deletions` and `kept` read them from the file again each time they are iterated, so a
    plan of millions of images is never in memory whole."""
    try:
        with path.open("rb") as file:
            small: dict[str, Any] = {}
            arrays: dict[str, ArrayAt] = {}
            for key, value in members(file, frozenset(_STREAMED)):
                if isinstance(value, Streamed):
                    arrays[key] = value.at
                else:
                    small[key] = value
            if small.get("version") != PLAN_VERSION:
                raise PlanFileError(
                    f"{path}: not a valid plan: version {small.get('version')!r}, "
                    f"expected {PLAN_VERSION}"
                )
            recorded = _Recorder()
            counts, digest, bad = _check_decisions(file, small, arrays, recorded)
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except NotAnObjectError as exc:
        raise PlanFileError(f"{path}: not a valid plan: expected a JSON object") from exc
    except JSONStreamError as exc:
        raise PlanFileError(f"{path}: not JSON: {exc}") from exc
    if small.get("checksum") != digest:
        raise PlanFileError(
            f"{path}: not a valid plan: its checksum does not match its content (changed or "
            "truncated after `plan` wrote it); make a new plan"
        )
    try:
        if bad is not None:
            raise bad
        decisions = {
            name: FileDecisions(path, arrays[name], counts[name], recorded)
            if name in arrays
            # absent from the file: plan_from_json names the missing key
            else small[name]
            for name in _STREAMED
        }
        return plan_from_json({**small, **decisions})
    except NaiveTimeError as exc:
        raise PlanFileError(f"{path}: not a valid plan: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(f"{path}: not a valid plan: {exc!r}") from exc


def _check_decisions(
    file: IO[bytes], small: dict[str, Any], arrays: dict[str, ArrayAt], recorded: _Recorder
) -> tuple[dict[str, int], str, Exception | None]:
    """Stream the plan's canonical form through its checksum, the arrays read again from the
    file, each decision parsed as it goes: (the arrays' lengths, the checksum, the first
    decision that is not one, or None)."""
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    bad: Exception | None = None
    names = sorted(k for k in (*small, *arrays) if k != "checksum")
    for n, name in enumerate(names):
        digest.update(f"{'{' if n == 0 else ','}{_canonical(name)}:".encode())
        if name not in arrays:
            digest.update(_canonical(small[name]).encode())
            continue
        digest.update(b"[")
        count = 0
        for element in elements(file, arrays[name]):
            digest.update(("," if count else "").encode() + _canonical(element).encode())
            count += 1
            if bad is None:
                try:
                    _decision_from_json(element, recorded)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    bad = exc
        digest.update(b"]")
        counts[name] = count
    digest.update(b"}")
    return counts, "sha256:" + digest.hexdigest(), bad


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class FileDecisions(LazyDecisions):
    """The decisions of one list of a plan file, read from the file each time they are
    iterated (the file was checked when it was read)."""

    def __init__(self, path: Path, at: ArrayAt, count: int, recorded: _Recorder) -> None:
        self._path = path
        self._at = at
        self._count = count
        self._recorded = recorded

    def __iter__(self) -> Iterator[Decision]:
        with self._path.open("rb") as file:
            for n, element in enumerate(elements(file, self._at)):
                if n >= self._count:
                    break
                yield _decision_from_json(element, self._recorded)

    def __len__(self) -> int:
        return self._count


class NaiveTimeError(ValueError):
    """A time without a time zone: which instant it means is unknown."""


def aware_time(value: object, key: str) -> datetime:
    """An ISO 8601 time with its time zone (as `plan` writes them), else a clear error."""
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveTimeError(
            f"{key}: {value!r} has no time zone (expected e.g. {moment.isoformat()}+00:00)"
        )
    return moment


def plan_from_json(data: dict[str, Any]) -> Plan:
    """Inverse of `plan_to_json`."""
    if data.get("version") != PLAN_VERSION:
        raise ValueError(f"version {data.get('version')!r}, expected {PLAN_VERSION}")
    recorded = _Recorder()
    return Plan(
        created_at=aware_time(data["created_at"], "created_at"),
        policy=policy_from_json(data["policy"]),
        sources=sources_from_json(data["sources"]),
        refusals=tuple(Recorded(str(r)) for r in data["refusals"]),
        targets=tuple(target_from_json(t) for t in data["targets"]),
        deletions=_decisions(data["deletions"], recorded),
        kept=_decisions(data["kept"], recorded),
        errors=tuple(error_from_json(e) for e in data["errors"]),
        census=tuple(census_from_json(e) for e in data.get("census", [])),
        findings=tuple(Recorded(str(f)) for f in data.get("findings", [])),
        warnings=tuple(Recorded(str(w)) for w in data.get("warnings", [])),
        quarantined=tuple(_quarantined_from_json(q) for q in data.get("quarantined", [])),
        # absent from plans written before the pull witness: none
        unexplained_pulls=tuple(
            unexplained_pulls_from_json(u) for u in data.get("unexplained_pulls", [])
        ),
        pull_exclusions=tuple(
            pull_exclusions_from_json(e) for e in data.get("pull_exclusions", [])
        ),
    )


def unexplained_pulls_to_json(u: UnexplainedPulls) -> dict[str, Any]:
    return {
        "account_id": u.repository.account_id,
        "region": u.repository.region,
        "repository": u.repository.name,
        "images": u.images,
        "newest_pull": u.newest_pull.isoformat(),
    }


def unexplained_pulls_from_json(u: dict[str, Any]) -> UnexplainedPulls:
    return UnexplainedPulls(
        repository=RepositoryKey(
            AccountId(u["account_id"]), Region(u["region"]), RepositoryName(u["repository"])
        ),
        images=int(u["images"]),
        newest_pull=aware_time(u["newest_pull"], "newest_pull"),
    )


def pull_exclusions_to_json(e: PullExclusions) -> dict[str, Any]:
    return {
        "account_id": e.place.account_id,
        "region": e.place.region,
        "principals": list(e.principals),
        "error": e.error,
    }


def pull_exclusions_from_json(e: dict[str, Any]) -> PullExclusions:
    error = e["error"]
    return PullExclusions(
        place=AccountRegion(AccountId(e["account_id"]), Region(e["region"])),
        principals=tuple(str(p) for p in e["principals"]),
        error=None if error is None else str(error),
    )


def _decisions(data: object, recorded: _Recorder) -> Sequence[Decision]:
    """A list of decisions: as it is when streamed from its file, else parsed."""
    if isinstance(data, FileDecisions):
        return data
    if not isinstance(data, list):
        raise TypeError(f"decisions: expected a list, got {type(data).__name__}")
    return tuple(_decision_from_json(d, recorded) for d in data)


def census_to_json(e: CensusEntry) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "account_id": e.account_id,
        "region": e.region,
        "present": e.present,
        "read": e.read,
        "detail": e.detail,
    }


def census_from_json(e: dict[str, Any]) -> CensusEntry:
    present = e["present"]
    if present is not None and not isinstance(present, bool):
        raise ValueError(f"census present: {present!r}")
    return CensusEntry(
        kind=str(e["kind"]),
        account_id=AccountId(e["account_id"]),
        region=Region(e["region"]),
        present=present,
        read=bool(e["read"]),
        detail=str(e["detail"]),
    )


def error_to_json(e: ScanError) -> dict[str, Any]:
    return {
        "scope": e.scope,
        "account_id": e.account_id,
        "region": e.region,
        "subject": e.subject,
        "message": e.message,
    }


def error_from_json(e: dict[str, Any]) -> ScanError:
    scope = e["scope"]
    if scope not in ("usage", "inventory"):
        raise ValueError(f"error scope {scope!r}")
    account = str(e["account_id"])
    return ScanError(
        scope=scope,
        # the sources outside every account keep their sentinel ("external", "kubeconfig")
        account_id=Outside(account) if account in _OUTSIDE else AccountId(account),
        region=Region(e["region"]) if e["region"] else None,
        subject=e["subject"],
        message=e["message"],
    )


_OUTSIDE = frozenset(o.value for o in Outside)


def _retention_to_json(r: Retention) -> dict[str, Any]:
    return {
        "keep_last": r.keep_last,
        "min_age_days": r.min_age_days,
        "protect_tags": list(r.protect_tags),
        "keep_pulled_within_days": r.keep_pulled_within_days,
        "untagged": r.untagged,
    }


def _retention_from_json(d: dict[str, Any]) -> Retention:
    untagged = d["untagged"]
    if untagged not in ("delete", "keep"):
        raise ValueError(f"untagged: {untagged!r}")
    pulled = d["keep_pulled_within_days"]
    return Retention(
        keep_last=int(d["keep_last"]),
        min_age_days=int(d["min_age_days"]),
        protect_tags=tuple(str(t) for t in d["protect_tags"]),
        keep_pulled_within_days=None if pulled is None else int(pulled),
        untagged=untagged,
    )


def policy_to_json(p: Policy) -> dict[str, Any]:
    return {
        **_retention_to_json(p.default_retention),
        "rules": [
            {
                "repositories": {
                    "include": list(r.repositories.include),
                    "exclude": list(r.repositories.exclude),
                },
                **_retention_to_json(r.retention),
            }
            for r in p.rules
        ],
        "accepted_accounts": list(p.accepted_accounts),
        "accepted_unread": list(p.accepted_unread),
        "opt_in_tag": list(p.opt_in_tag) if p.opt_in_tag else None,
        "max_delete_percent": p.max_delete_percent,
        "max_delete_images": p.max_delete_images,
        "organization": p.organization,
        **_quarantine_to_json(p),
        "pulled_within_days": p.pulled_within_days,
    }


def _quarantine_to_json(p: Policy) -> dict[str, Any]:
    """The quarantine's keys, only when one differs from its default (a plan without them
    reads as before, byte for byte)."""
    keys = {
        "quarantine": p.quarantine,
        "quarantine_days": p.quarantine_days,
        "archive_prices": dataclasses.asdict(p.archive_prices),
    }
    defaults = Policy()
    if (p.quarantine, p.quarantine_days, p.archive_prices) == (
        defaults.quarantine,
        defaults.quarantine_days,
        defaults.archive_prices,
    ):
        return {}
    return keys


def policy_from_json(d: dict[str, Any]) -> Policy:
    opt_in = d["opt_in_tag"]
    return Policy.with_default(
        _retention_from_json(d),
        rules=tuple(
            RepositoryRule(
                Patterns(tuple(r["repositories"]["include"]), tuple(r["repositories"]["exclude"])),
                _retention_from_json(r),
            )
            for r in d["rules"]
        ),
        accepted_accounts=tuple(str(a) for a in d["accepted_accounts"]),
        accepted_unread=tuple(str(a) for a in d.get("accepted_unread", [])),
        opt_in_tag=(str(opt_in[0]), str(opt_in[1])) if opt_in else None,
        max_delete_percent=(
            None if d["max_delete_percent"] is None else float(d["max_delete_percent"])
        ),
        max_delete_images=None if d["max_delete_images"] is None else int(d["max_delete_images"]),
        organization=None if d.get("organization") is None else str(d["organization"]),
        quarantine=bool(d.get("quarantine", False)),
        quarantine_days=int(d.get("quarantine_days", DEFAULT_QUARANTINE_DAYS)),
        archive_prices=ArchivePrices(**d.get("archive_prices", {})),
        # Plans written before the pull witness: on, with its default window (apply's re-check
        # is then stricter, never looser).
        pulled_within_days=int(d.get("pulled_within_days", DEFAULT_PULLED_WITHIN_DAYS)),
    )


# Version 1 of the plan file keys each switch of `Sources` as the field it once was; the kinds'
# names have replaced them since (`lambda`, not `lambdas`). Here, in order: file key → kind name.
# A kind added later is keyed by its name, after these (written only when switched off).
_V1_SWITCHES_BEFORE: tuple[tuple[str, str], ...] = (
    ("schedules", "schedules"),
    ("lambdas", "lambda"),
    ("daemons", "ecs-daemons"),
    ("batch", "batch"),
    ("step_functions", "stepfunctions"),
    ("codebuild", "codebuild"),
    ("sagemaker", "sagemaker"),
    ("app_runner", "apprunner"),
    ("emr", "emr"),
    ("pipes", "pipes"),
)
_V1_SWITCHES_AFTER = (("eks", "eks"),)  # after external_images, as the field was
_V1_KINDS = {name for _, name in (*_V1_SWITCHES_BEFORE, *_V1_SWITCHES_AFTER)}
_V1_KEYS = {
    "service_revisions",
    "rollback_revisions",
    "stopped_within_hours",
    "external_images",
    "kubeconfigs",
    "usage_regions",
    *(key for key, _ in (*_V1_SWITCHES_BEFORE, *_V1_SWITCHES_AFTER)),
}


def sources_to_json(sources: Sources) -> dict[str, Any]:
    """`Sources` in the plan (and shard) file's version-1 layout; a kind switched off that the
    layout has no key for is added by its name."""
    return {
        "service_revisions": sources.service_revisions,
        "rollback_revisions": sources.rollback_revisions,
        "stopped_within_hours": sources.stopped_within_hours,
        **{key: sources.reads(name) for key, name in _V1_SWITCHES_BEFORE},
        "external_images": list(sources.external_images),
        **{key: sources.reads(name) for key, name in _V1_SWITCHES_AFTER},
        "kubeconfigs": [
            {"path": k.path, "contexts": list(k.contexts)} for k in sources.kubeconfigs
        ],
        "usage_regions": list(sources.usage_regions),
        **dict.fromkeys(sorted(sources.off - _V1_KINDS), False),
    }


def sources_from_json(d: dict[str, Any]) -> Sources:
    """The inverse of `sources_to_json`. Plans written before a kind existed read it on apply
    (stricter, never looser)."""
    legacy = (*_V1_SWITCHES_BEFORE, *_V1_SWITCHES_AFTER)
    off = {name for key, name in legacy if not bool(d.get(key, True))}
    off |= {key for key, value in d.items() if key not in _V1_KEYS and value is False}
    return Sources(
        off=frozenset(off),
        service_revisions=bool(d["service_revisions"]),
        rollback_revisions=int(d["rollback_revisions"]),
        stopped_within_hours=int(d["stopped_within_hours"]),
        external_images=tuple(str(i) for i in d["external_images"]),
        # absent from plans written before the Kubernetes reader: no kubeconfig
        kubeconfigs=tuple(
            KubeconfigSource(str(k["path"]), tuple(str(c) for c in k["contexts"]))
            for k in d.get("kubeconfigs", [])
        ),
        usage_regions=tuple(str(r) for r in d.get("usage_regions", [])),
    )


def _decision_to_json(d: Decision, said: _Sentences) -> dict[str, Any]:
    return {
        "account_id": d.repository.account_id,
        "region": d.repository.region,
        "repository": d.repository.name,
        "image_digest": d.digest,
        "image_tags": list(d.tags),
        "size_bytes": d.size_bytes,
        "pushed_at": d.pushed_at.isoformat(),
        "media_type": d.media_type,
        "reason": said(d.reason),
    }


def _decision_from_json(d: dict[str, Any], recorded: _Recorder) -> Decision:
    return Decision(
        repository=recorded.key(d["account_id"], d["region"], d["repository"]),
        digest=Digest(d["image_digest"]),
        tags=tuple(d["image_tags"]),
        size_bytes=int(d["size_bytes"]),
        pushed_at=aware_time(d["pushed_at"], "pushed_at"),
        media_type=recorded.media_type(d["media_type"]),
        reason=recorded(d["reason"]),
    )


def target_to_json(t: AccountTarget) -> dict[str, Any]:
    return {
        "account_id": t.account_id,
        "name": t.name,
        "role_arn": t.role_arn,
        "external_id": t.external_id,
        "regions": list(t.regions),
        "clusters": {"include": list(t.clusters.include), "exclude": list(t.clusters.exclude)},
        "repositories": {
            "include": list(t.repositories.include),
            "exclude": list(t.repositories.exclude),
        },
    }


def target_from_json(t: dict[str, Any]) -> AccountTarget:
    return AccountTarget(
        account_id=AccountId(t["account_id"]),
        name=t["name"],
        role_arn=t["role_arn"],
        external_id=t["external_id"],
        regions=tuple(Region(r) for r in t["regions"]),
        clusters=Patterns(tuple(t["clusters"]["include"]), tuple(t["clusters"]["exclude"])),
        repositories=Patterns(
            tuple(t["repositories"]["include"]), tuple(t["repositories"]["exclude"])
        ),
    )
