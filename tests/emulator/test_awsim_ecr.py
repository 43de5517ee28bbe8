"""ECR operations of the awsim emulator through real boto3 clients over HTTP."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from awsim import (
    UTC,
    Account,
    Emulator,
    Image,
    Platform,
    Quotas,
    Region,
    Repository,
    Scenario,
    image_uri,
    run_emulator,
)
from awsim.fixtures import assume, client, pages
from awsim.manifests import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST

REG, WL = "111111111111", "222222222222"
R = "us-east-1"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
BIG = tuple(
    Image(tags=(f"b{i}",) if i % 3 else (), pushed_at=T0 + timedelta(minutes=i), key=f"big{i}")
    for i in range(2500)
)
MULTI = Image(
    tags=("multi", "stable"),
    platforms=(Platform("amd64"), Platform("arm64", variant="v8")),
    fmt="oci",
)
PLAIN = Image(tags=("v1", "v1.0", "prod"), last_pull=T0 + timedelta(days=9))
UNTAGGED = Image(key="untagged")
SIG = Image(subject=PLAIN, fmt="oci", key="sig")
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{WL}:root"]},
                "Action": ["ecr:DescribeImages", "ecr:BatchGetImage", "ecr:ListImages"],
            }
        ],
    }
)


def _scenario() -> Scenario:
    return Scenario(
        (
            Account(
                REG,
                name="registry",
                regions=(
                    Region(
                        R,
                        repositories=(
                            Repository("big/repo", images=BIG),
                            Repository(
                                "shared/app",
                                images=(MULTI, PLAIN, UNTAGGED, SIG),
                                policy=POLICY,
                                tags=(("team", "platform"), ("ecr-sweeper:protect", "true")),
                            ),
                            *(Repository(f"r{i:04d}") for i in range(150)),
                        ),
                    ),
                ),
            ),
            Account(
                WL,
                regions=(
                    Region(R, repositories=(Repository("mine", images=(Image(tags=("x",)),)),)),
                ),
            ),
        )
    )


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with run_emulator(_scenario(), quotas=Quotas.unlimited()) as e:
        yield e


@pytest.fixture(scope="module")
def ecr(emu: Emulator) -> Any:
    return client(emu.endpoint_url, "ecr")  # base credentials == management account REG


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_digest_is_sha256_of_served_manifest(ecr: Any) -> None:
    imgs = ecr.batch_get_image(
        repositoryName="shared/app", imageIds=[{"imageTag": "v1"}, {"imageTag": "multi"}]
    )
    for got in imgs["images"]:
        m = got["imageManifest"].encode()
        assert got["imageId"]["imageDigest"] == "sha256:" + hashlib.sha256(m).hexdigest()
    by_tag = {i["imageId"]["imageTag"]: i for i in imgs["images"]}
    assert by_tag["v1"]["imageId"]["imageDigest"] == PLAIN.digest
    assert by_tag["v1"]["imageManifestMediaType"] == DOCKER_MANIFEST
    index = json.loads(by_tag["multi"]["imageManifest"])
    assert by_tag["multi"]["imageManifestMediaType"] == OCI_INDEX
    assert [m["digest"] for m in index["manifests"]] == [c.digest for c in MULTI.children]


def test_describe_repositories_pagination(ecr: Any) -> None:
    ps = pages(ecr.describe_repositories, "repositories")
    assert [len(p) for p in ps] == [100, 52]
    repo = next(r for p in ps for r in p if r["repositoryName"] == "shared/app")
    assert repo["repositoryUri"] == f"{REG}.dkr.ecr.{R}.amazonaws.com/shared/app"
    assert repo["repositoryArn"] == f"arn:aws:ecr:{R}:{REG}:repository/shared/app"
    assert len(ecr.describe_repositories(maxResults=1000)["repositories"]) == 152
    with pytest.raises(ClientError) as e:
        ecr.describe_repositories(maxResults=1001)
    assert _code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        ecr.describe_repositories(repositoryNames=["ghost"])
    assert _code(e) == "RepositoryNotFoundException"


def test_describe_images_2500_paginated(ecr: Any) -> None:
    ps = pages(ecr.describe_images, "imageDetails", repositoryName="big/repo", maxResults=1000)
    assert [len(p) for p in ps] == [1000, 1000, 500]
    digests = [d["imageDigest"] for p in ps for d in p]
    assert digests == [i.digest for i in BIG]
    default = ecr.describe_images(repositoryName="big/repo")
    assert len(default["imageDetails"]) == 100
    assert default["nextToken"]
    untagged = [
        d
        for p in pages(
            ecr.describe_images,
            "imageDetails",
            repositoryName="big/repo",
            filter={"tagStatus": "UNTAGGED"},
            maxResults=1000,
        )
        for d in p
    ]
    assert len(untagged) == 834
    assert all("imageTags" not in d for d in untagged)
    paginator = ecr.get_paginator("describe_images")
    assert (
        sum(len(p["imageDetails"]) for p in paginator.paginate(repositoryName="big/repo")) == 2500
    )


def test_describe_images_fields(ecr: Any) -> None:
    details = {
        d["imageDigest"]: d
        for d in ecr.describe_images(repositoryName="shared/app")["imageDetails"]
    }
    assert len(details) == 6  # index + 2 children + plain + untagged + signature
    p = details[PLAIN.digest]
    assert sorted(p["imageTags"]) == ["prod", "v1", "v1.0"]
    assert p["imagePushedAt"] == PLAIN.pushed_at
    assert p["lastRecordedPullTime"] == T0 + timedelta(days=9)
    assert p["imageSizeInBytes"] == PLAIN.size
    assert p["registryId"] == REG
    assert p["repositoryName"] == "shared/app"
    assert p["artifactMediaType"] == "application/vnd.docker.container.image.v1+json"
    idx = details[MULTI.digest]
    assert idx["imageManifestMediaType"] == OCI_INDEX
    assert "artifactMediaType" not in idx
    for c in MULTI.children:
        assert details[c.digest]["imageManifestMediaType"] == OCI_MANIFEST
        assert "imageTags" not in details[c.digest]
    assert (
        details[SIG.digest]["artifactMediaType"]
        == "application/vnd.dev.cosign.artifact.sig.v1+json"
    )
    assert json.loads(SIG.manifest)["subject"]["digest"] == PLAIN.digest
    assert details[SIG.digest]["subjectManifestDigest"] == PLAIN.digest
    assert all("subjectManifestDigest" not in d for k, d in details.items() if k != SIG.digest)


def test_describe_images_by_ids(ecr: Any) -> None:
    r = ecr.describe_images(
        repositoryName="shared/app",
        imageIds=[{"imageTag": "v1"}, {"imageDigest": PLAIN.digest}, {"imageTag": "multi"}],
    )
    assert [d["imageDigest"] for d in r["imageDetails"]] == [PLAIN.digest, MULTI.digest]
    with pytest.raises(ClientError) as e:
        ecr.describe_images(repositoryName="shared/app", imageIds=[{"imageTag": "nope"}])
    assert _code(e) == "ImageNotFoundException"
    with pytest.raises(ClientError) as e:
        ecr.describe_images(repositoryName="ghost")
    assert _code(e) == "RepositoryNotFoundException"


def test_list_images_one_entry_per_tag(ecr: Any) -> None:
    ids = [
        i
        for p in pages(ecr.list_images, "imageIds", repositoryName="shared/app", maxResults=2)
        for i in p
    ]
    assert len(ids) == 2 + 2 + 3 + 1 + 1  # multi(2 tags), 2 children, plain(3 tags), untagged, sig
    assert sum(1 for i in ids if i["imageDigest"] == PLAIN.digest) == 3
    big = [
        i
        for p in pages(ecr.list_images, "imageIds", repositoryName="big/repo", maxResults=1000)
        for i in p
    ]
    assert len(big) == 2500
    assert len({i["imageDigest"] for i in big}) == 2500
    tagged = ecr.list_images(repositoryName="shared/app", filter={"tagStatus": "TAGGED"})[
        "imageIds"
    ]
    assert {i["imageTag"] for i in tagged} == {"multi", "stable", "v1", "v1.0", "prod"}


def test_batch_get_image_failures_and_limit(ecr: Any) -> None:
    r = ecr.batch_get_image(
        repositoryName="shared/app",
        imageIds=[
            {"imageTag": "ghost"},
            {"imageDigest": "sha256:zz"},
            {"imageDigest": "sha256:" + "0" * 64},
            {"imageDigest": PLAIN.digest, "imageTag": "multi"},
        ],
    )
    assert [f["failureCode"] for f in r["failures"]] == [
        "ImageNotFound",
        "InvalidImageDigest",
        "ImageNotFound",
        "ImageTagDoesNotMatchDigest",
    ]
    with pytest.raises(ClientError) as e:
        ecr.batch_get_image(
            repositoryName="big/repo", imageIds=[{"imageTag": f"b{i}"} for i in range(101)]
        )
    assert _code(e) == "InvalidParameterException"


def test_repository_policy_and_tags(ecr: Any) -> None:
    assert json.loads(
        ecr.get_repository_policy(repositoryName="shared/app")["policyText"]
    ) == json.loads(POLICY)
    with pytest.raises(ClientError) as e:
        ecr.get_repository_policy(repositoryName="big/repo")
    assert _code(e) == "RepositoryPolicyNotFoundException"
    tags = ecr.list_tags_for_resource(resourceArn=f"arn:aws:ecr:{R}:{REG}:repository/shared/app")[
        "tags"
    ]
    assert tags == [
        {"Key": "team", "Value": "platform"},
        {"Key": "ecr-sweeper:protect", "Value": "true"},
    ]
    with pytest.raises(ClientError) as e:
        ecr.list_tags_for_resource(resourceArn=f"arn:aws:ecr:{R}:{REG}:repository/ghost")
    assert _code(e) == "RepositoryNotFoundException"


def test_cross_account_needs_repository_policy(emu: Emulator) -> None:
    wl = client(emu.endpoint_url, "ecr", creds=assume(emu.endpoint_url, WL))
    got = wl.describe_images(registryId=REG, repositoryName="shared/app")["imageDetails"]
    assert len(got) == 6
    with pytest.raises(ClientError) as e:
        wl.batch_delete_image(
            registryId=REG, repositoryName="shared/app", imageIds=[{"imageTag": "v1"}]
        )
    assert _code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        wl.describe_images(registryId=REG, repositoryName="big/repo")
    assert _code(e) == "AccessDeniedException"
    assert [r["repositoryName"] for r in wl.describe_repositories()["repositories"]] == ["mine"]


def _deletion_scenario() -> Scenario:
    other = Image(tags=("keep",), key="other")
    return Scenario(
        (
            Account(
                REG,
                regions=(
                    Region(
                        R,
                        repositories=(
                            Repository("app", images=(MULTI, PLAIN, UNTAGGED, SIG, other)),
                        ),
                    ),
                ),
            ),
        )
    )


def test_batch_delete_semantics() -> None:
    with run_emulator(_deletion_scenario(), quotas=Quotas.unlimited()) as emu:
        ecr = client(emu.endpoint_url, "ecr")
        child = MULTI.children[0].digest
        # A child of a live index cannot go; the index listed *later* in the request does not help.
        r = ecr.batch_delete_image(
            repositoryName="app", imageIds=[{"imageDigest": child}, {"imageTag": "v1"}]
        )
        assert r["failures"][0]["failureCode"] == "ImageReferencedByManifestList"
        assert MULTI.digest in r["failures"][0]["failureReason"]
        # Deleting by one of several tags only untags.
        assert r["imageIds"] == [{"imageDigest": PLAIN.digest, "imageTag": "v1"}]
        assert emu.tags(REG, R, "app")[PLAIN.digest] == ("v1.0", "prod")
        # By digest: all tags go, the response lists each.
        r = ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": PLAIN.digest}])
        assert sorted(i["imageTag"] for i in r["imageIds"]) == ["prod", "v1.0"]
        assert r["failures"] == []
        assert PLAIN.digest not in emu.image_digests(REG, R, "app")
        assert SIG.digest in emu.image_digests(REG, R, "app")  # referrers do not block nor cascade
        # Index first, then its children, in one request: all succeed; the children were untagged.
        r = ecr.batch_delete_image(
            repositoryName="app",
            imageIds=[
                {"imageTag": "multi"},
                {"imageDigest": MULTI.digest},
                *({"imageDigest": c.digest} for c in MULTI.children),
            ],
        )
        assert r["failures"] == []
        assert emu.image_digests(REG, R, "app") == {
            UNTAGGED.digest,
            SIG.digest,
            _deletion_scenario().repository(REG, R, "app").image("keep").digest,
        }
        # Failure codes.
        r = ecr.batch_delete_image(
            repositoryName="app",
            imageIds=[
                {"imageDigest": PLAIN.digest},
                {"imageTag": "ghost"},
                {"imageDigest": "md5:xyz!"},
                {"imageTag": "bad tag!"},
                {},
                {"imageDigest": UNTAGGED.digest, "imageTag": "keep"},
            ],
        )
        assert [f["failureCode"] for f in r["failures"]] == [
            "ImageNotFound",
            "ImageNotFound",
            "InvalidImageDigest",
            "InvalidImageTag",
            "MissingDigestAndTag",
            "ImageTagDoesNotMatchDigest",
        ]
        with pytest.raises(ClientError) as e:
            ecr.batch_delete_image(
                repositoryName="app", imageIds=[{"imageTag": f"t{i}"} for i in range(101)]
            )
        assert _code(e) == "InvalidParameterException"
        with pytest.raises(ClientError) as e:
            ecr.batch_delete_image(repositoryName="ghost", imageIds=[{"imageTag": "x"}])
        assert _code(e) == "RepositoryNotFoundException"
        # Last tag removal deletes the image.
        r = ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageTag": "keep"}])
        assert r["failures"] == []
        assert len(emu.image_digests(REG, R, "app")) == 2
        assert [d for *_, d in emu.deleted()][:1] == [PLAIN.digest]


def test_mutators_tag_move_push_delete_repo() -> None:
    with run_emulator(_deletion_scenario(), quotas=Quotas.unlimited()) as emu:
        ecr = client(emu.endpoint_url, "ecr")
        emu.move_tag(REG, R, "app", "prod", UNTAGGED.digest)
        d = ecr.describe_images(repositoryName="app", imageIds=[{"imageTag": "prod"}])[
            "imageDetails"
        ][0]
        assert d["imageDigest"] == UNTAGGED.digest
        new = Image(tags=("v1",), key="new")
        emu.push_image(REG, R, "app", new)
        assert emu.tags(REG, R, "app")[new.digest] == ("v1",)
        assert emu.tags(REG, R, "app")[PLAIN.digest] == ("v1.0",)
        emu.delete_repository(REG, R, "app")
        with pytest.raises(ClientError) as e:
            ecr.list_images(repositoryName="app")
        assert _code(e) == "RepositoryNotFoundException"


def test_pagination_survives_deletes_between_pages() -> None:
    imgs = tuple(Image(tags=(f"t{i}",), key=str(i)) for i in range(300))
    scn = Scenario(
        (Account(REG, regions=(Region(R, repositories=(Repository("aa", images=imgs),)),)),)
    )
    with run_emulator(scn, quotas=Quotas.unlimited()) as emu:
        ecr = client(emu.endpoint_url, "ecr")
        seen: list[str] = []
        kw: dict[str, object] = {"repositoryName": "aa", "maxResults": 100}
        while True:
            resp = ecr.describe_images(**kw)
            page = [d["imageDigest"] for d in resp["imageDetails"]]
            seen += page
            # Delete what we just saw (like a sweeper would) before fetching the next page.
            for i in range(0, len(page), 100):
                ecr.batch_delete_image(
                    repositoryName="aa", imageIds=[{"imageDigest": x} for x in page[i : i + 100]]
                )
            if "nextToken" not in resp:
                break
            kw["nextToken"] = resp["nextToken"]
        assert seen == [i.digest for i in imgs]
        assert emu.image_digests(REG, R, "aa") == set()


def test_image_uri_helpers() -> None:
    assert (
        image_uri(REG, R, "a/b", digest=PLAIN.digest)
        == f"{REG}.dkr.ecr.{R}.amazonaws.com/a/b@{PLAIN.digest}"
    )
    assert image_uri(REG, R, "a/b") == f"{REG}.dkr.ecr.{R}.amazonaws.com/a/b:latest"
