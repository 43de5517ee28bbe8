"""Amazon Inspector (inspector2, REST-JSON), as much as the pull witness's second witness reads:
BatchGetAccountStatus (a region whose scenario sets `inspector_ecr` scans ECR there) and
ListCoverage of ECR container images (each image's scenario `in_use_count` and `last_in_use`
as `inUseCount` and `lastInUseAt`), filtered by resource type, account and `inUseCount`, paged
(`maxResults` 1-200, `nextToken`)."""

from __future__ import annotations

from typing import Any

from .arns import to_epoch
from .context import Ctx, Handler
from .wire import page_size, page_sorted

ECR_IMAGE = "AWS_ECR_CONTAINER_IMAGE"
REST_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/status/batch/get"): "BatchGetAccountStatus",
    ("POST", "/coverage/list"): "ListCoverage",
}


def rest_operation(method: str, path: str, service: str) -> tuple[str, str] | None:
    """(service, operation) of an inspector2 request, else None."""
    if service != "inspector2":
        return None
    op = REST_ROUTES.get((method, path.rstrip("/")))
    return (service, op) if op else None


def _scans_ecr(ctx: Ctx, account: str) -> bool:
    found = ctx.state.accounts.get(account)
    return any(r.name == ctx.region and r.inspector_ecr for r in (found.regions if found else ()))


def batch_get_account_status(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    def state(status: str) -> dict[str, str]:
        # the model requires an error code and message in every state, as AWS answers them
        code = "ALREADY_ENABLED" if status == "ENABLED" else "RESOURCE_NOT_FOUND"
        return {"status": status, "errorCode": code, "errorMessage": status.lower()}

    accounts = []
    for account in req.get("accountIds") or [ctx.account]:
        ecr = "ENABLED" if _scans_ecr(ctx, account) else "DISABLED"
        accounts.append(
            {
                "accountId": account,
                "state": state("ENABLED" if ecr == "ENABLED" else "DISABLED"),
                "resourceState": {"ec2": state("DISABLED"), "ecr": state(ecr)},
            }
        )
    return {"accounts": accounts, "failedAccounts": []}


def _equals(criteria: dict[str, Any], key: str, value: str) -> bool:
    filters = criteria.get(key) or []
    return all(
        (f.get("value") == value) == (f.get("comparison", "EQUALS") == "EQUALS") for f in filters
    )


def list_coverage(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    criteria = req.get("filterCriteria") or {}
    if not _scans_ecr(ctx, ctx.account) or not _equals(criteria, "resourceType", ECR_IMAGE):
        return {"coveredResources": []}
    if not _equals(criteria, "accountId", ctx.account):
        return {"coveredResources": []}
    counts = criteria.get("ecrImageInUseCount") or []
    low = min((f.get("lowerInclusive", 0) for f in counts), default=0)
    found: dict[str, dict[str, Any]] = {}
    for repo in ctx.state.region(ctx.account, ctx.region).repos.values():
        for record in repo.images.values():
            image = record.image
            if image.in_use_count < low:
                continue
            arn = f"{repo.arn}/{record.digest}"
            metadata: dict[str, Any] = {"inUseCount": image.in_use_count}
            if image.last_in_use is not None:
                metadata["lastInUseAt"] = to_epoch(image.last_in_use)
            found[arn] = {
                "resourceType": ECR_IMAGE,
                "resourceId": arn,
                "accountId": ctx.account,
                "scanType": "PACKAGE",
                "resourceMetadata": {
                    "ecrRepository": {"name": repo.name},
                    "ecrImage": {"tags": sorted(record.tags), **metadata},
                },
            }
    kind = "inspector2:ListCoverage"
    size = page_size(kind, req.get("maxResults"), "ValidationException")
    page, token = page_sorted(sorted(found), req.get("nextToken"), size, kind)
    out: dict[str, Any] = {"coveredResources": [found[arn] for arn in page]}
    if token is not None:
        out["nextToken"] = token
    return out


HANDLERS: dict[str, Handler] = {
    "BatchGetAccountStatus": batch_get_account_status,
    "ListCoverage": list_coverage,
}
