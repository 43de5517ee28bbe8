"""Plans that reach every reason, finding, warning and refusal the planner has, and every text
made of them: the plan file, the Markdown report, the CSV rows and apply's re-check.

`tests/golden/rich_plan.txt` holds these texts as the code wrote them before reasons were
typed (run `python tests/rich_plan.py` against that code to see): the plan file is the artefact
people review, so typing the reasons must not change a byte of it. The few lines that differ
between the two versions' constructors are in `_scan` and `_text`. Changed on purpose since:
the pull witness (issue 19 §2), whose reason replaced "pulled within N days", and which added
`pulled_within_days`, `unexplained_pulls` and `pull_exclusions` (regenerated with
`python tests/rich_plan.py > tests/golden/rich_plan.txt`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from ecr_sweeper import model
from ecr_sweeper.external import external_usage
from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    CensusEntry,
    Patterns,
    Plan,
    Policy,
    PullAccess,
    Region,
    Repository,
    RepositoryRule,
    Retention,
    ScanError,
    Usage,
    UsageScan,
)
from ecr_sweeper.pipeline import PRINCIPAL_KINDS as KINDS
from ecr_sweeper.plan import build_plan, recheck
from ecr_sweeper.planfile import checksum, plan_to_json
from ecr_sweeper.report import csv_rows, markdown
from planning import NOW, digest, image, key, uri, use

OPTED_IN = (("sweep", "yes"),)
GOLDEN = Path(__file__).parent / "golden" / "rich_plan.txt"
A, B, C, D = "111111111111", "222222222222", "333333333333", "444444444444"
US, EU = "us-east-1", "eu-west-1"


def _scan(account: str, region: str | None, **what: Any) -> UsageScan:
    """A usage scan of an account × region, an account as a whole (region None), or of a
    source outside every account (account "external" or "kubeconfig")."""
    if hasattr(model, "AccountRegion"):  # typed origins
        origin: Any
        if account in ("external", "kubeconfig"):
            origin = model.Outside(account)  # type: ignore[attr-defined, unused-ignore]
        elif region is None:
            origin = model.AccountNote(AccountId(account))  # type: ignore[attr-defined, unused-ignore]
        else:
            origin = model.AccountRegion(AccountId(account), Region(region))  # type: ignore[attr-defined, unused-ignore]
        return UsageScan(origin, **what)
    return UsageScan(AccountId(account), Region(region or "-"), **what)  # type: ignore[arg-type, call-arg, unused-ignore]


def _text(reason: object) -> str:
    if isinstance(reason, str):
        return reason
    from ecr_sweeper import wording

    return wording.reason(reason)  # type: ignore[arg-type, unused-ignore]


def _cosign(subject: str) -> str:
    return "sha256-" + digest(subject).removeprefix("sha256:") + ".sig"


def _app() -> Repository:
    """Every retention reason, the manifest graph both ways, and an archived image in use."""
    child, kept_index_child = image("child-of-gone"), image("child-of-kept")
    return Repository(
        key("app"),
        tags=OPTED_IN,
        images=(
            image("pinned"),
            image("tagged", "prod"),
            image("running"),
            image("protected-glob", "release-1"),
            image("protected-re", "v3"),
            image("young", "dev", days_old=3),
            image("newest-old", "rc", days_old=20),
            replace(image("pulled", "old"), last_pulled_at=NOW - timedelta(days=5)),
            replace(image("archived", "cold"), archived=True),
            replace(image("activating", "thaw"), archived=True, activating=True),
            image("kept-index", "multi", children=(kept_index_child.digest,)),
            kept_index_child,
            replace(image("sig-of-kept"), subject=digest("pinned")),
            image("unused", "old-1", days_old=200),
            image("gone-index", "old-2", children=(child.digest,)),
            child,
            replace(image("sig-of-gone"), subject=digest("unused")),
            image("inspected", "seen"),
        ),
        inspector_in_use=(
            model.InspectorSighting(digest("inspected"), 2, NOW - timedelta(days=1)),
        ),
    )


def _sigs() -> list[Repository]:
    """Cosign tags naming subjects in other repositories of the registry (and one of none)."""
    waiting = image("sig-of-sig", _cosign("sig-elsewhere-of-absent"))
    return [
        Repository(
            key("sigs"),
            (
                image("sig-elsewhere-of-kept", _cosign("pinned")),
                image("sig-elsewhere-of-gone", _cosign("unused")),
                image("sig-elsewhere-of-absent", _cosign("nowhere")),
                replace(image("follows-sig"), subject=digest("sig-elsewhere-of-kept")),
            ),
        ),
        Repository(key("sigs2"), (waiting,)),
        Repository(key("sigs", C), (image("sig-in-partly-read", _cosign("nowhere")),)),
        Repository(
            key("sigs-old", C),
            tuple(image(f"old-in-c-{n}", f"x{n}", days_old=100 + n) for n in range(3)),
            tags=OPTED_IN,
        ),
    ]


def _holds() -> list[Repository]:
    one = (image("held", "x"),)
    return [
        Repository(key("untagged"), (image("untagged-old"),)),
        Repository(key("broken", B), one, error="AccessDenied: ListImages"),
        Repository(key("public"), one, pull_access=PullAccess(anyone=("Sid Open: no condition",))),
        Repository(key("org-shared"), one, pull_access=PullAccess(organizations=("o-zz", "o-aa"))),
        Repository(key("partner"), one, pull_access=PullAccess(accounts=("999999999999", D))),
        Repository(
            key("svc", D),
            one,
            pull_access=PullAccess(services=("codebuild.amazonaws.com",)),
            tags=OPTED_IN,
        ),
        Repository(key("acc-svc"), one, pull_access=PullAccess(services=("lambda.amazonaws.com",))),
        Repository(key("replicated"), one, delete_replicas=((AccountId(D), Region(EU)),)),
    ]


def _uses() -> tuple[Usage, ...]:
    app = key("app")
    return (
        use(uri(app, "@" + digest("pinned")), "task definition web:3"),
        use(uri(app, ":prod"), "service prod/api"),
        use(uri(app, ":latest"), "task prod/abc", resolved=digest("running")),
        use(uri(app, "@" + digest("archived")), "lambda cold-fn"),
        use(uri(app, "@" + digest("kept-index")), "service prod/multi"),
    )


def _census() -> tuple[CensusEntry, ...]:
    return (
        CensusEntry("eks", AccountId(A), Region(US), True, False, "no reader in this tool"),
        CensusEntry("codebuild", AccountId(B), Region(US), None, False, "switched off"),
        CensusEntry("lambda", AccountId(B), Region(EU), True, False, ""),
    )


def _targets(partly: bool = True) -> tuple[AccountTarget, ...]:
    both = (Region(US), Region(EU))
    return (
        AccountTarget(AccountId(A), both, name="one"),
        AccountTarget(AccountId(B), both),
        AccountTarget(AccountId(C), (Region(US),), repositories=Patterns(("sig*",)))
        if partly
        else AccountTarget(AccountId(C), (Region(US),)),
    )


def _policy(**rest: Any) -> Policy:
    return Policy.with_default(
        Retention(
            keep_last=2,
            min_age_days=14,
            protect_tags=("release-*", r"re:v\d+"),
            keep_pulled_within_days=30,
        ),
        rules=(RepositoryRule(Patterns(("untagged",)), Retention(keep_last=0, untagged="keep")),),
        **rest,
    )


def _exclusions(account: str, region: str) -> model.PullExclusions:
    """The pull witness's exclusions: A's registry lists a scanner; the others' are denied."""
    place = model.AccountRegion(AccountId(account), Region(region))
    if account == A:
        return model.PullExclusions(place, (f"arn:aws:iam::{A}:role/scanner",))
    return model.PullExclusions(place, (), "ClientError: AccessDeniedException: denied")


def plans() -> dict[str, Plan]:
    """A: accepted consumers, caps exceeded; B: blocked by the census; C: usage errors."""
    repos = [_app(), *_sigs(), *_holds()]
    usage = [
        _scan(B, US, usages=_uses(), census=_census()),
        _scan(A, US),
        _scan(D, US),
        _scan(A, None, warnings=(f"{A}: usage not read in 1 enabled region left out",)),
    ]
    by_place: dict[tuple[str, str], list[Repository]] = {}
    for repo in repos:
        by_place.setdefault((repo.key.account_id, repo.key.region), []).append(repo)
    inventory = [
        model.InventoryScan(AccountId(a), Region(r), tuple(rs), pull_exclusions=_exclusions(a, r))
        for (a, r), rs in sorted(by_place.items())
    ]
    accepted = _policy(
        accepted_unread=("eks", "lambda@" + B, "codebuild", "lambda"),
        max_delete_images=1,
        max_delete_percent=10.0,  # a float, as the CLI gives it (an int 10 reads back 10.0)
    )
    kube_error = ScanError("usage", AccountId("kubeconfig"), None, "kubeconfig k.yaml", "no")
    if hasattr(model, "Outside"):
        kube_error = replace(kube_error, account_id=model.Outside.KUBECONFIG)  # type: ignore[attr-defined, unused-ignore]
    broken = [
        *usage,
        external_usage(["team/app:v3", uri(key("app"), ":prod")]),
        _scan("kubeconfig", None, errors=(kube_error,)),
    ]
    return {
        "A": build_plan(usage, inventory, accepted, NOW, _targets(), principal_kinds=KINDS),
        "B": build_plan(
            usage,
            inventory,
            _policy(opt_in_tag=("sweep", "yes")),
            NOW,
            _targets(),
            principal_kinds=KINDS,
        ),
        "C": build_plan(
            broken, inventory, _policy(), NOW, _targets(partly=False), principal_kinds=KINDS
        ),
    }


def rich_outputs() -> str:
    """Every text made of the plans, one section each."""
    made = plans()
    out: list[str] = []
    for name, plan in made.items():
        data = plan_to_json(plan)
        data["checksum"] = checksum(data)
        out += [f"== plan {name}", json.dumps(data, indent=2)]
        out += [f"== markdown {name}", markdown(plan)]
        out += [f"== csv {name}", *("\t".join(row) for row in csv_rows(plan))]
    reviewed = made["A"]
    extra = replace(reviewed.deletions[0], digest=digest("deleted since"))
    reviewed = replace(reviewed, deletions=(*reviewed.deletions, extra))
    fresh = replace(made["A"], deletions=made["A"].deletions[1:], kept=made["A"].kept[:-1])
    fresh = replace(
        fresh, kept=(*fresh.kept, replace(made["A"].deletions[0], reason=made["A"].kept[0].reason))
    )
    for label, again in (("recheck A", fresh), ("recheck blocked", made["C"])):
        out.append(f"== {label}")
        to_delete, skipped = recheck(reviewed, again)
        out += [f"delete {d.repository}@{d.digest}" for d in to_delete]
        out += [f"skip {d.repository}@{d.digest}: {_text(why)}" for d, why in skipped]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(rich_outputs())
