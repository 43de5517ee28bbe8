"""ECR operations (JSON 1.1, target prefix ``AmazonEC2ContainerRegistry_V20150921``).

BatchDeleteImage semantics (decided here, documented for the sweeper's authors):

* by digest: removes the manifest and all its tags; the answer lists one ``{imageDigest,
  imageTag}`` per removed tag (or just ``{imageDigest}`` if it was untagged).
* by tag: removes that tag; removing an image's last tag deletes the image (AWS documented).
* a child manifest of an image index still present in the repository fails with
  ``ImageReferencedByManifestList``.  Ids are processed **in request order**: an index deleted
  earlier in the same request no longer protects its children, an index listed later does.
* deleting an index leaves its children in place (untagged), like ECR.
* referrers (signatures with ``subject``) never block deletion of their subject.
* unknown digest/tag -> ``ImageNotFound``; malformed digest -> ``InvalidImageDigest``; malformed
  tag -> ``InvalidImageTag``; neither given -> ``MissingDigestAndTag``; digest and tag that do
  not match -> ``ImageTagDoesNotMatchDigest``.

Cross-account access (``registryId`` != caller) is allowed only when the repository policy has
an ``Allow`` statement whose principal names the caller's account (or ``*``) and whose action
matches (``ecr:*``, wildcards ok); otherwise ``AccessDeniedException`` like IAM would answer.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from .arns import to_epoch
from .context import Ctx, Handler
from .state import ImageRecord, RepoState
from .wire import AwsError, decode_token, encode_token, page_size, page_sorted

E_PARAM = "InvalidParameterException"
_DIGEST_RE = re.compile(r"^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$")
_TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,299}$")


def policy_allows(policy_text: str | None, account: str, action: str) -> bool:
    """Tiny IAM resource-policy evaluator: explicit Allow for the account, no Deny support."""
    if not policy_text:
        return False
    try:
        doc = json.loads(policy_text)
    except ValueError:
        return False
    stmts = doc.get("Statement", [])
    for st in stmts if isinstance(stmts, list) else [stmts]:
        if st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        principals: list[str] = []
        if principal == "*":
            principals = ["*"]
        elif isinstance(principal, dict):
            p = principal.get("AWS", [])
            principals = [p] if isinstance(p, str) else list(p)
        if not any(p in ("*", account) or f":{account}:" in p for p in principals):
            continue
        acts = st.get("Action", [])
        acts = [acts] if isinstance(acts, str) else acts
        if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in acts):
            return True
    return False


def _registry(ctx: Ctx, req: dict[str, Any]) -> str:
    return str(req.get("registryId") or ctx.account)


def _repo(ctx: Ctx, req: dict[str, Any], action: str) -> RepoState:
    registry = _registry(ctx, req)
    name = req.get("repositoryName") or ""
    repo = ctx.state.region(registry, ctx.region).repos.get(name)
    if registry != ctx.account and (
        repo is None or not policy_allows(repo.policy, ctx.account, f"ecr:{action}")
    ):
        target = repo.arn if repo else f"arn:aws:ecr:{ctx.region}:{registry}:repository/{name}"
        raise AwsError(
            "AccessDeniedException",
            f"User: {ctx.caller_arn} is not authorized to perform: ecr:{action} "
            f"on resource: {target} "
            f"because no resource-based policy allows the ecr:{action} action",
        )
    if repo is None:
        raise AwsError(
            "RepositoryNotFoundException",
            f"The repository with name '{name}' does not exist "
            f"in the registry with id '{registry}'",
        )
    return repo


def _render_repo(r: RepoState) -> dict[str, Any]:
    return {
        "repositoryArn": r.arn,
        "registryId": r.account,
        "repositoryName": r.name,
        "repositoryUri": r.uri,
        "createdAt": to_epoch(r.created_at),
        "imageTagMutability": r.tag_mutability,
        "imageScanningConfiguration": {"scanOnPush": False},
        "encryptionConfiguration": {"encryptionType": "AES256"},
    }


def describe_repositories(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    registry = _registry(ctx, req)
    repos = ctx.state.region(registry, ctx.region).repos
    names = req.get("repositoryNames")
    if names:
        if req.get("maxResults") is not None or req.get("nextToken") is not None:
            raise AwsError(E_PARAM, "maxResults and nextToken cannot be used with repositoryNames")
        if len(names) > 100:
            raise AwsError(
                E_PARAM,
                "Invalid parameter at 'repositoryNames' failed to satisfy "
                "constraint: 'Member must have length less than or equal to 100'",
            )
        return {
            "repositories": [
                _render_repo(_repo(ctx, {**req, "repositoryName": n}, "DescribeRepositories"))
                for n in names
            ]
        }
    size = page_size("ecr:DescribeRepositories", req.get("maxResults"))
    visible = sorted(
        n
        for n, r in repos.items()
        if registry == ctx.account
        or policy_allows(r.policy, ctx.account, "ecr:DescribeRepositories")
    )
    last = decode_token("ecr:DescribeRepositories", req.get("nextToken"))
    import bisect

    start = bisect.bisect_right(visible, last) if last is not None else 0
    page = visible[start : start + size]
    out: dict[str, Any] = {"repositories": [_render_repo(repos[n]) for n in page]}
    if start + size < len(visible):
        out["nextToken"] = encode_token("ecr:DescribeRepositories", page[-1])
    return out


def _detail(repo: RepoState, rec: ImageRecord, now: float) -> dict[str, Any]:
    img = rec.image
    d: dict[str, Any] = {
        "registryId": repo.account,
        "repositoryName": repo.name,
        "imageDigest": img.digest,
        "imageSizeInBytes": img.reported_size,
        "imagePushedAt": to_epoch(img.pushed_at),
        "imageManifestMediaType": img.media_type,
    }
    if rec.tags:
        d["imageTags"] = list(rec.tags)
    amt = img.artifact_media_type
    if amt:
        d["artifactMediaType"] = amt
    if img.subject is not None:  # ECR names an OCI referrer's subject (botocore 1.43's model)
        d["subjectManifestDigest"] = img.subject.digest
    if img.last_pull is not None:
        d["lastRecordedPullTime"] = to_epoch(img.last_pull)
    d["imageStatus"] = rec.status_at(now)
    if rec.archived_at is not None:
        d["lastArchivedAt"] = rec.archived_at
    if rec.activated_at is not None:
        d["lastActivatedAt"] = rec.activated_at
    return d


IMAGE_STATUSES = ("ACTIVE", "ARCHIVED", "ACTIVATING", "ANY")


def _status_filter(req: dict[str, Any]) -> str:
    """DescribeImages' and ListImages' `filter.imageStatus`: ACTIVE unless asked (archived
    images are hidden)."""
    status = (req.get("filter") or {}).get("imageStatus") or "ACTIVE"
    if status not in IMAGE_STATUSES:
        raise AwsError(E_PARAM, f"Invalid imageStatus: {status}")
    return str(status)


def _status_keep(rec: ImageRecord, status: str, now: float) -> bool:
    return status in ("ANY", rec.status_at(now))


def _tag_filter(req: dict[str, Any]) -> str:
    status = (req.get("filter") or {}).get("tagStatus") or "ANY"
    if status not in ("TAGGED", "UNTAGGED", "ANY"):
        raise AwsError(E_PARAM, f"Invalid tagStatus: {status}")
    return str(status)


def _keep(rec: ImageRecord, status: str) -> bool:
    return status == "ANY" or (status == "TAGGED") == bool(rec.tags)


def _check_ids(ids: list[Any]) -> None:
    if len(ids) > 100:
        raise AwsError(
            E_PARAM,
            "Invalid parameter at 'imageIds' failed to satisfy constraint: "
            "'Member must have length less than or equal to 100'",
        )


def _find(  # noqa: PLR0911 - one return per ECR failure code reads best
    repo: RepoState, image_id: dict[str, Any]
) -> tuple[ImageRecord | None, str | None]:
    """Resolve an ImageIdentifier; returns (record, failure code)."""
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    if digest is None and tag is None:
        return None, "MissingDigestAndTag"
    if digest is not None and not _DIGEST_RE.match(digest):
        return None, "InvalidImageDigest"
    if tag is not None and not _TAG_RE.match(tag):
        return None, "InvalidImageTag"
    if tag is not None:
        by_tag = repo.by_tag.get(tag)
        if by_tag is None:
            return None, "ImageNotFound"
        if digest is not None and digest != by_tag:
            return None, "ImageTagDoesNotMatchDigest"
        return repo.images[by_tag], None
    rec = repo.images.get(digest or "")
    return (rec, None) if rec is not None else (None, "ImageNotFound")


_REASONS = {
    "MissingDigestAndTag": "Invalid request parameters: both tag and digest cannot be null",
    "InvalidImageDigest": "Invalid request parameters: image digest should satisfy the regex "
    "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
    "InvalidImageTag": "Invalid request parameters: image tag should satisfy the regex "
    "'[a-zA-Z0-9_][a-zA-Z0-9_.-]{{0,299}}'",
    "ImageNotFound": "Requested image not found",
    "ImageTagDoesNotMatchDigest": "Invalid request parameters: "
    "given tag does not map to the given digest",
    "ImageReferencedByManifestList": "Requested image referenced by manifest list: {parents}",
}


def _failure(image_id: dict[str, Any], code: str, **fmt: Any) -> dict[str, Any]:
    return {"imageId": image_id, "failureCode": code, "failureReason": _REASONS[code].format(**fmt)}


def describe_images(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    repo = _repo(ctx, req, "DescribeImages")
    status = _tag_filter(req)
    image_status = _status_filter(req)
    ids = req.get("imageIds")
    if ids:
        if req.get("maxResults") is not None or req.get("nextToken") is not None:
            raise AwsError(E_PARAM, "maxResults and nextToken cannot be used with imageIds")
        _check_ids(ids)
        seen: dict[str, ImageRecord] = {}
        for image_id in ids:
            rec, code = _find(repo, image_id)
            if rec is None:
                if code in ("InvalidImageDigest", "InvalidImageTag", "MissingDigestAndTag"):
                    raise AwsError(E_PARAM, _REASONS[str(code)])
                raise AwsError(
                    "ImageNotFoundException",
                    "The image with imageId "
                    f"{{imageDigest:'{image_id.get('imageDigest', 'null')}', "
                    f"imageTag:'{image_id.get('imageTag', 'null')}'}} does not exist within the "
                    f"repository with name '{repo.name}' in the registry with id '{repo.account}'",
                )
            seen.setdefault(rec.digest, rec)
        return {
            "imageDetails": [
                _detail(repo, r, ctx.now)
                for r in seen.values()
                if _keep(r, status) and _status_keep(r, image_status, ctx.now)
            ]
        }
    size = page_size("ecr:DescribeImages", req.get("maxResults"))
    last = decode_token("ecr:DescribeImages", req.get("nextToken"))
    order, _ = repo.ordered()
    i = repo.after(last) if last is not None else 0
    out: list[dict[str, Any]] = []
    last_seq = None
    while i < len(order) and len(out) < size:
        rec = order[i]
        if _keep(rec, status) and _status_keep(rec, image_status, ctx.now):
            out.append(_detail(repo, rec, ctx.now))
        last_seq = rec.seq
        i += 1
    resp: dict[str, Any] = {"imageDetails": out}
    if i < len(order):
        resp["nextToken"] = encode_token("ecr:DescribeImages", last_seq)
    return resp


def list_images(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """One ImageIdentifier per (digest, tag); untagged images once with the digest only."""
    repo = _repo(ctx, req, "ListImages")
    status = _tag_filter(req)
    image_status = _status_filter(req)
    size = page_size("ecr:ListImages", req.get("maxResults"))
    key = decode_token("ecr:ListImages", req.get("nextToken"))
    order, _ = repo.ordered()
    if key is None:
        i, skip = 0, 0
    else:
        seq, skip = key
        i = repo.after(seq - 1)
        if i < len(order) and order[i].seq != seq:
            skip = 0  # that image vanished meanwhile; continue with the next one
    out: list[dict[str, str]] = []
    next_key = None
    while i < len(order):
        rec = order[i]
        if _keep(rec, status) and _status_keep(rec, image_status, ctx.now):
            ids = [{"imageDigest": rec.digest, "imageTag": t} for t in rec.tags] or [
                {"imageDigest": rec.digest}
            ]
            for j in range(skip, len(ids)):
                if len(out) == size:
                    next_key = [rec.seq, j]
                    break
                out.append(ids[j])
            if next_key is not None:
                break
        skip = 0
        i += 1
    if next_key is None and i < len(order) and len(out) == size:
        next_key = [order[i].seq, 0]
    resp: dict[str, Any] = {"imageIds": out}
    if next_key is not None:
        # An exact-boundary token may lead to an empty last page, which AWS also does.
        resp["nextToken"] = encode_token("ecr:ListImages", next_key)
    return resp


def batch_get_image(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    repo = _repo(ctx, req, "BatchGetImage")
    ids = req.get("imageIds") or []
    _check_ids(ids)
    images, failures = [], []
    for image_id in ids:
        rec, code = _find(repo, image_id)
        if rec is not None and rec.status_at(ctx.now) != "ACTIVE":
            rec, code = None, "ImageNotFound"  # an archived image cannot be pulled (AWS: 404)
        if rec is None:
            failures.append(_failure(image_id, str(code)))
            continue
        out_id = {"imageDigest": rec.digest}
        if image_id.get("imageTag"):
            out_id["imageTag"] = image_id["imageTag"]
        images.append(
            {
                "registryId": repo.account,
                "repositoryName": repo.name,
                "imageId": out_id,
                "imageManifest": rec.image.manifest.decode(),
                "imageManifestMediaType": rec.image.media_type,
            }
        )
    return {"images": images, "failures": failures}


def batch_delete_image(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    repo = _repo(ctx, req, "BatchDeleteImage")
    ids = req.get("imageIds") or []
    if not ids:
        raise AwsError(
            E_PARAM,
            "Invalid parameter at 'imageIds' failed to satisfy constraint: "
            "'Member must have length greater than or equal to 1'",
        )
    _check_ids(ids)
    deleted, failures = [], []
    for image_id in ids:
        rec, code = _find(repo, image_id)
        if rec is None:
            failures.append(_failure(image_id, str(code)))
            continue
        tag = image_id.get("imageTag")
        if tag is not None and len(rec.tags) > 1:
            repo.untag(tag)
            deleted.append({"imageDigest": rec.digest, "imageTag": tag})
            continue
        parents = repo.referencing_indexes(rec.digest)
        if parents:
            failures.append(
                _failure(image_id, "ImageReferencedByManifestList", parents=sorted(parents))
            )
            continue
        tags = list(rec.tags)
        repo.delete(rec.digest)
        if tag is not None:
            deleted.append({"imageDigest": rec.digest, "imageTag": tag})
        else:
            deleted.extend(
                [{"imageDigest": rec.digest, "imageTag": t} for t in tags]
                or [{"imageDigest": rec.digest}]
            )
        ctx.state.deleted.append((repo.account, repo.region, repo.name, rec.digest))
    return {"imageIds": deleted, "failures": failures}


def get_repository_policy(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    repo = _repo(ctx, req, "GetRepositoryPolicy")
    if not repo.policy:
        raise AwsError(
            "RepositoryPolicyNotFoundException",
            f"Repository policy does not exist for the repository with name '{repo.name}' "
            f"in the registry with id '{repo.account}'",
        )
    return {"registryId": repo.account, "repositoryName": repo.name, "policyText": repo.policy}


def list_tags_for_resource(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    arn = req.get("resourceArn") or ""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "ecr" or not parts[5].startswith("repository/"):
        raise AwsError(E_PARAM, f"Invalid parameter at 'resourceArn': {arn}")
    region, account, name = parts[3], parts[4], parts[5][len("repository/") :]
    repo = ctx.state.region(account, region).repos.get(name) if region == ctx.region else None
    if repo is None:
        raise AwsError(
            "RepositoryNotFoundException",
            f"The repository with name '{name}' does not exist in the registry with id '{account}'",
        )
    if account != ctx.account and not policy_allows(
        repo.policy, ctx.account, "ecr:ListTagsForResource"
    ):
        raise AwsError(
            "AccessDeniedException",
            f"User: {ctx.caller_arn} is not authorized to perform: ecr:ListTagsForResource "
            f"on resource: {arn}",
        )
    return {"tags": [{"Key": k, "Value": v} for k, v in repo.resource_tags]}


def describe_registry(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG001
    """The caller's registry in the region: its replication configuration (the scenario's JSON,
    `deleteReplication` included, which botocore 1.43.117's model does not know yet)."""
    account = ctx.state.accounts.get(ctx.account)
    config: dict[str, Any] = {"rules": []}
    for region in account.regions if account is not None else ():
        if region.name == ctx.region and region.replication:
            config = json.loads(region.replication)
    return {"registryId": ctx.account, "replicationConfiguration": config}


def get_download_url_for_layer(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """A layer (or config blob) of an ACTIVE image of the repository: an archived image's
    layers cannot be pulled, like its manifest."""
    repo = _repo(ctx, req, "GetDownloadUrlForLayer")
    layer = req.get("layerDigest") or ""
    if not _DIGEST_RE.match(layer):
        raise AwsError(E_PARAM, f"Invalid parameter at 'layerDigest': {layer}")
    for rec in repo.images.values():
        if rec.status_at(ctx.now) == "ACTIVE" and layer in _blobs(rec):
            return {
                "downloadUrl": f"https://awsim.invalid/{repo.account}/{repo.name}/blobs/{layer}",
                "layerDigest": layer,
            }
    raise AwsError(
        "LayersNotFoundException",
        f"The specified layers could not be found: repository '{repo.name}', layer {layer}",
    )


def _blobs(rec: ImageRecord) -> set[str]:
    manifest = json.loads(rec.image.manifest)
    blobs = [manifest.get("config") or {}, *manifest.get("layers", [])]
    return {str(b.get("digest")) for b in blobs if b.get("digest")}


STORAGE_CLASSES = ("STANDARD", "ARCHIVE")


def update_image_storage_class(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """One image to the archive (ACTIVE → ARCHIVED at once) or back (ARCHIVED → ACTIVATING,
    ACTIVE after `OrgState.activation_delay_s`).

    Decided here, for want of AWS's word: a move to the class the image has or is moving to,
    archiving a manifest an ACTIVE index of the repository lists (archive the index first),
    and restoring an index whose listed manifests are archived (restore those first) fail
    with ``ImageStorageClassUpdateNotSupportedException``."""
    repo = _repo(ctx, req, "UpdateImageStorageClass")
    target = req.get("targetStorageClass")
    if target not in STORAGE_CLASSES:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{target}' at 'targetStorageClass' failed to "
            "satisfy constraint: Member must satisfy enum value set: [STANDARD, ARCHIVE]",
        )
    image_id = req.get("imageId") or {}
    rec, code = _find(repo, image_id)
    if rec is None:
        if code != "ImageNotFound":
            raise AwsError(E_PARAM, _REASONS[str(code)])
        raise AwsError(
            "ImageNotFoundException",
            f"The image with imageId {{imageDigest:'{image_id.get('imageDigest', 'null')}', "
            f"imageTag:'{image_id.get('imageTag', 'null')}'}} does not exist within the "
            f"repository with name '{repo.name}' in the registry with id '{repo.account}'",
        )
    status = rec.status_at(ctx.now)

    def refuse(why: str) -> AwsError:
        return AwsError(
            "ImageStorageClassUpdateNotSupportedException",
            f"The image {rec.digest} in repository '{repo.name}' cannot be moved to {target}: "
            f"{why}",
        )

    if target == "ARCHIVE":
        if status != "ACTIVE":
            raise refuse(f"its status is {status}")
        listed_by = sorted(
            p
            for p in repo.referencing_indexes(rec.digest)
            if repo.images[p].status_at(ctx.now) == "ACTIVE"
        )
        if listed_by:
            raise refuse(f"an active image index lists it: {listed_by[0]}")
        rec.status, rec.archived_at = "ARCHIVED", ctx.now
    else:
        if status != "ARCHIVED":
            raise refuse(f"its status is {status}")
        archived_children = sorted(
            c.digest
            for c in rec.image.children
            if c.digest in repo.images and repo.images[c.digest].status_at(ctx.now) != "ACTIVE"
        )
        if archived_children:
            raise refuse(f"a manifest it lists is not active: {archived_children[0]}")
        rec.status, rec.activated_at = "ACTIVATING", ctx.now
        rec.active_from = ctx.now + ctx.state.activation_delay_s
    out_id = {"imageDigest": rec.digest}
    if image_id.get("imageTag"):
        out_id["imageTag"] = image_id["imageTag"]
    return {
        "registryId": repo.account,
        "repositoryName": repo.name,
        "imageId": out_id,
        "imageStatus": rec.status,
    }


def list_pull_time_update_exclusions(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """The caller's registry in the region: the principals whose pulls ECR does not record
    (`pullTimeUpdateExclusions`, ARNs; paged by `maxResults` / `nextToken`)."""
    account = ctx.state.accounts.get(ctx.account)
    arns = sorted(
        {
            arn
            for region in (account.regions if account is not None else ())
            if region.name == ctx.region
            for arn in region.pull_time_exclusions
        }
    )
    kind = "ecr:ListPullTimeUpdateExclusions"
    page, token = page_sorted(
        arns, req.get("nextToken"), page_size(kind, req.get("maxResults")), kind
    )
    out: dict[str, Any] = {"pullTimeUpdateExclusions": page}
    if token is not None:
        out["nextToken"] = token
    return out


HANDLERS: dict[str, Handler] = {
    "DescribeRegistry": describe_registry,
    "ListPullTimeUpdateExclusions": list_pull_time_update_exclusions,
    "DescribeRepositories": describe_repositories,
    "DescribeImages": describe_images,
    "ListImages": list_images,
    "BatchGetImage": batch_get_image,
    "BatchDeleteImage": batch_delete_image,
    "UpdateImageStorageClass": update_image_storage_class,
    "GetDownloadUrlForLayer": get_download_url_for_layer,
    "GetRepositoryPolicy": get_repository_policy,
    "ListTagsForResource": list_tags_for_resource,
}
