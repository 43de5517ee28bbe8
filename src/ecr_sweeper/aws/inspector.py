"""Amazon Inspector as a second witness of use (issue 19 §2): where Inspector scans ECR, its
coverage of each container image says whether a workload runs it (`inUseCount`,
`lastInUseAt`), whatever kind of workload that is.

One call decides whether to read it: BatchGetAccountStatus for the account (its
`resourceState.ecr.status`). Where ECR scanning is not ENABLED (or Inspector answers nothing
for the account), that is the only call. Where it is, ListCoverage lists the account's ECR
container images Inspector sees in use (`ecrImageInUseCount` ≥ 1), paged. Answers are read by
the model's members; an image's repository and digest come from its `resourceId`, the image
ARN (`arn:aws:ecr:REGION:ACCOUNT:repository/NAME/sha256:HEX`).

Read-only and informative: a failure is the witness's `error` (a line of the plan), never an
error of the run; the pull witness and the census still hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ecr_sweeper.aws.limits import Api, describe_errors
from ecr_sweeper.model import AccountId, Digest, InspectorSighting, RepositoryName

ECR_IMAGE = "AWS_ECR_CONTAINER_IMAGE"
COVERAGE_PAGE = 200  # ListCoverage's maximum


@dataclass(frozen=True, slots=True)
class InspectorWitness:
    """What Inspector says of one account × region: whether it scans ECR there, the images it
    sees in use (repository name → sightings), or why that is unknown."""

    enabled: bool = False
    in_use: dict[RepositoryName, tuple[InspectorSighting, ...]] | None = None
    error: str | None = None


async def inspector_witness(inspector2: Any, api: Api, account: AccountId) -> InspectorWitness:
    """Inspector's word on the images of `account` in the client's region (module docstring)."""
    try:
        status = await api.call(inspector2.batch_get_account_status, accountIds=[account])
        if not _ecr_enabled(status, account):
            return InspectorWitness()
        resources = await api.pages(
            inspector2.list_coverage,
            "coveredResources",
            maxResults=COVERAGE_PAGE,
            filterCriteria={
                "resourceType": [{"comparison": "EQUALS", "value": ECR_IMAGE}],
                "accountId": [{"comparison": "EQUALS", "value": account}],
                "ecrImageInUseCount": [{"lowerInclusive": 1}],
            },
        )
    except Exception as exc:  # noqa: BLE001 - a line of the plan, not an error of the run
        return InspectorWitness(error="; ".join(describe_errors(exc)))
    found: dict[RepositoryName, list[InspectorSighting]] = {}
    for resource in resources:
        sighting = _sighting(resource)
        if sighting is not None:
            name, seen = sighting
            found.setdefault(name, []).append(seen)
    return InspectorWitness(
        enabled=True,
        in_use={name: tuple(sorted(seen, key=_by_digest)) for name, seen in found.items()},
    )


def _by_digest(sighting: InspectorSighting) -> str:
    return sighting.digest


def _ecr_enabled(answer: dict[str, Any], account: str) -> bool:
    for state in answer.get("accounts", []):
        if state.get("accountId") == account:
            ecr = (state.get("resourceState") or {}).get("ecr") or {}
            return bool(ecr.get("status") == "ENABLED")
    return False


def _sighting(resource: dict[str, Any]) -> tuple[RepositoryName, InspectorSighting] | None:
    """(repository, sighting) of one covered ECR image in use, else None."""
    if resource.get("resourceType") != ECR_IMAGE:
        return None
    image = (resource.get("resourceMetadata") or {}).get("ecrImage") or {}
    count = int(image.get("inUseCount") or 0)
    arn = str(resource.get("resourceId", ""))
    path, sep, digest = arn.rpartition("/sha256:")
    _, _, name = path.partition(":repository/")
    if count < 1 or not sep or not name:
        return None
    last = image.get("lastInUseAt")
    at = last.astimezone(UTC) if isinstance(last, datetime) else None
    return RepositoryName(name), InspectorSighting(Digest(f"sha256:{digest}"), count, at)
