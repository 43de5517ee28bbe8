"""The plan file: a reviewable JSON document that `apply` carries out.

Shape (version 1)::

    {"version": 1, "created_at": "...", "policy": {...}, "targets": [...],
     "summary": {...}, "errors": [...], "deletions": [...], "kept": [...]}

Each element of `deletions` and `kept` has `account_id`, `region`, `repository`,
`image_digest`, `image_tags`, `size_bytes`, `pushed_at`, `media_type` and `reason`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ecr_sweeper.model import (
    PLAN_VERSION,
    AccountId,
    AccountTarget,
    Decision,
    Digest,
    Patterns,
    Plan,
    Policy,
    Region,
    RepositoryKey,
    RepositoryName,
    ScanError,
)
from ecr_sweeper.report import totals


class PlanFileError(Exception):
    """The plan file is missing, not JSON, or not a plan this version understands."""


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as a JSON-ready dict (stable key order, stable element order)."""
    return {
        "version": plan.version,
        "created_at": plan.created_at.isoformat(),
        "blocked": plan.blocked,
        "policy": {"keep_last": plan.policy.keep_last, "min_age_days": plan.policy.min_age_days},
        "targets": [_target_to_json(t) for t in plan.targets],
        "summary": totals(plan),
        "errors": [
            {
                "scope": e.scope,
                "account_id": e.account_id,
                "region": e.region,
                "subject": e.subject,
                "message": e.message,
            }
            for e in plan.errors
        ],
        "deletions": [_decision_to_json(d) for d in plan.deletions],
        "kept": [_decision_to_json(d) for d in plan.kept],
    }


def write_plan(plan: Plan, path: Path) -> None:
    """Write the plan file (atomically: a reader never sees half a plan)."""
    text = json.dumps(plan_to_json(plan), indent=2) + "\n"
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def read_plan(path: Path) -> Plan:
    """Load a plan file; any problem is a PlanFileError naming the file and the key."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path}: not JSON: {exc}") from exc
    try:
        return plan_from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{path}: not a valid plan: {exc!r}") from exc


def plan_from_json(data: dict[str, Any]) -> Plan:
    """Inverse of `plan_to_json`."""
    if data.get("version") != PLAN_VERSION:
        raise ValueError(f"version {data.get('version')!r}, expected {PLAN_VERSION}")
    return Plan(
        created_at=datetime.fromisoformat(data["created_at"]),
        policy=Policy(
            keep_last=int(data["policy"]["keep_last"]),
            min_age_days=int(data["policy"]["min_age_days"]),
        ),
        targets=tuple(_target_from_json(t) for t in data["targets"]),
        deletions=tuple(_decision_from_json(d) for d in data["deletions"]),
        kept=tuple(_decision_from_json(d) for d in data["kept"]),
        errors=tuple(
            ScanError(
                scope=e["scope"],
                account_id=AccountId(e["account_id"]),
                region=Region(e["region"]) if e["region"] else None,
                subject=e["subject"],
                message=e["message"],
            )
            for e in data["errors"]
        ),
    )


def _decision_to_json(d: Decision) -> dict[str, Any]:
    return {
        "account_id": d.repository.account_id,
        "region": d.repository.region,
        "repository": d.repository.name,
        "image_digest": d.digest,
        "image_tags": list(d.tags),
        "size_bytes": d.size_bytes,
        "pushed_at": d.pushed_at.isoformat(),
        "media_type": d.media_type,
        "reason": d.reason,
    }


def _decision_from_json(d: dict[str, Any]) -> Decision:
    return Decision(
        repository=RepositoryKey(
            AccountId(d["account_id"]), Region(d["region"]), RepositoryName(d["repository"])
        ),
        digest=Digest(d["image_digest"]),
        tags=tuple(d["image_tags"]),
        size_bytes=int(d["size_bytes"]),
        pushed_at=datetime.fromisoformat(d["pushed_at"]),
        media_type=d["media_type"],
        reason=d["reason"],
    )


def _target_to_json(t: AccountTarget) -> dict[str, Any]:
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


def _target_from_json(t: dict[str, Any]) -> AccountTarget:
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
