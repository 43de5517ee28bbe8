"""ECR's archive in the awsim emulator, through real boto3 clients over HTTP:
UpdateImageStorageClass (ACTIVE → ARCHIVED at once; ARCHIVED → ACTIVATING → ACTIVE after the
emulator's delay), the `imageStatus` filter of DescribeImages and ListImages, `lastArchivedAt`
and `lastActivatedAt`, and pulls of an archived image (BatchGetImage, GetDownloadUrlForLayer)
failing as AWS documents. moto implements none of it (moto 5.2.x): there is no moto side.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from awsim import Account, Emulator, Image, Platform, Quotas, Region, Repository, Scenario
from awsim import run_emulator as start
from awsim.fixtures import client

A, R = "111111111111", "us-east-1"
PLAIN = Image(tags=("v1",), key="plain")
OTHER = Image(tags=("v2",), key="other")
MULTI = Image(tags=("multi",), platforms=(Platform("amd64"), Platform("arm64")), key="multi")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    scenario = Scenario(
        (Account(A, (Region(R, repositories=(Repository("app", (PLAIN, OTHER, MULTI)),)),)),)
    )
    with start(scenario, quotas=Quotas.unlimited()) as e:
        yield e


@pytest.fixture
def ecr(emu: Emulator) -> Any:
    return client(emu.endpoint_url, "ecr")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _move(ecr: Any, digest: str, target: str) -> dict[str, Any]:
    answer: dict[str, Any] = ecr.update_image_storage_class(
        repositoryName="app", imageId={"imageDigest": digest}, targetStorageClass=target
    )
    return answer


def _status(ecr: Any, digest: str) -> dict[str, Any]:
    details = ecr.describe_images(
        repositoryName="app", imageIds=[{"imageDigest": digest}], filter={"imageStatus": "ANY"}
    )["imageDetails"]
    assert len(details) == 1
    return dict(details[0])


def test_archiving_is_immediate_and_hides_the_image_from_the_default_listings(ecr: Any) -> None:
    answer = _move(ecr, PLAIN.digest, "ARCHIVE")
    assert answer["imageStatus"] == "ARCHIVED"
    assert answer["imageId"] == {"imageDigest": PLAIN.digest}
    assert answer["repositoryName"] == "app"
    assert answer["registryId"] == A
    detail = _status(ecr, PLAIN.digest)
    assert detail["imageStatus"] == "ARCHIVED"
    assert "lastArchivedAt" in detail
    assert "lastActivatedAt" not in detail
    # Without a filter, DescribeImages and ListImages answer ACTIVE images only (botocore's
    # documentation of `imageStatus`); ARCHIVED lists the archived ones.
    default = {d["imageDigest"] for d in ecr.describe_images(repositoryName="app")["imageDetails"]}
    assert PLAIN.digest not in default
    assert OTHER.digest in default
    listed = {i["imageDigest"] for i in ecr.list_images(repositoryName="app")["imageIds"]}
    assert PLAIN.digest not in listed
    archived = ecr.list_images(repositoryName="app", filter={"imageStatus": "ARCHIVED"})
    assert [i["imageDigest"] for i in archived["imageIds"]] == [PLAIN.digest]
    only = ecr.describe_images(repositoryName="app", filter={"imageStatus": "ARCHIVED"})
    assert [d["imageDigest"] for d in only["imageDetails"]] == [PLAIN.digest]


def test_an_archived_image_cannot_be_pulled_and_a_restored_one_can(ecr: Any, emu: Emulator) -> None:
    manifest = json.loads(PLAIN.manifest)
    layer = manifest["layers"][0]["digest"]
    assert ecr.get_download_url_for_layer(repositoryName="app", layerDigest=layer)["downloadUrl"]
    _move(ecr, PLAIN.digest, "ARCHIVE")
    pulled = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])
    assert pulled["images"] == []
    assert pulled["failures"][0]["failureCode"] == "ImageNotFound"
    with pytest.raises(ClientError) as exc:
        ecr.get_download_url_for_layer(repositoryName="app", layerDigest=layer)
    assert _code(exc) == "LayersNotFoundException"

    emu.set_activation_delay(3600)
    assert _move(ecr, PLAIN.digest, "STANDARD")["imageStatus"] == "ACTIVATING"
    detail = _status(ecr, PLAIN.digest)
    assert detail["imageStatus"] == "ACTIVATING"
    assert detail["lastActivatedAt"] >= detail["lastArchivedAt"]
    activating = ecr.describe_images(repositoryName="app", filter={"imageStatus": "ACTIVATING"})
    assert [d["imageDigest"] for d in activating["imageDetails"]] == [PLAIN.digest]
    still = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])
    assert still["failures"][0]["failureCode"] == "ImageNotFound"  # not pullable until ACTIVE

    emu.set_activation_delay(0)
    _move(ecr, OTHER.digest, "ARCHIVE")
    _move(ecr, OTHER.digest, "STANDARD")
    assert _status(ecr, OTHER.digest)["imageStatus"] == "ACTIVE"
    pulled = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v2"}])
    assert [i["imageId"]["imageDigest"] for i in pulled["images"]] == [OTHER.digest]


def test_a_move_to_the_class_the_image_has_or_is_moving_to_is_not_supported(
    ecr: Any, emu: Emulator
) -> None:
    with pytest.raises(ClientError) as exc:
        _move(ecr, PLAIN.digest, "STANDARD")  # ACTIVE already
    assert _code(exc) == "ImageStorageClassUpdateNotSupportedException"
    _move(ecr, PLAIN.digest, "ARCHIVE")
    with pytest.raises(ClientError) as exc:
        _move(ecr, PLAIN.digest, "ARCHIVE")
    assert _code(exc) == "ImageStorageClassUpdateNotSupportedException"
    emu.set_activation_delay(3600)
    _move(ecr, PLAIN.digest, "STANDARD")
    for target in ("STANDARD", "ARCHIVE"):
        with pytest.raises(ClientError) as exc:
            _move(ecr, PLAIN.digest, target)  # ACTIVATING
        assert _code(exc) == "ImageStorageClassUpdateNotSupportedException"


def test_bad_requests(ecr: Any) -> None:
    with pytest.raises(ClientError) as exc:
        _move(ecr, "sha256:" + "0" * 64, "ARCHIVE")
    assert _code(exc) == "ImageNotFoundException"
    with pytest.raises(ClientError) as exc:
        ecr.update_image_storage_class(
            repositoryName="nope", imageId={"imageTag": "v1"}, targetStorageClass="ARCHIVE"
        )
    assert _code(exc) == "RepositoryNotFoundException"
    with pytest.raises(ClientError) as exc:
        ecr.describe_images(repositoryName="app", filter={"imageStatus": "GONE"})
    assert _code(exc) in ("InvalidParameterException", "ValidationException")


def test_an_index_is_archived_before_its_manifests_and_restored_after_them(ecr: Any) -> None:
    child = MULTI.children[0].digest
    with pytest.raises(ClientError) as exc:
        _move(ecr, child, "ARCHIVE")  # an active index lists it
    assert _code(exc) == "ImageStorageClassUpdateNotSupportedException"
    _move(ecr, MULTI.digest, "ARCHIVE")
    _move(ecr, child, "ARCHIVE")
    with pytest.raises(ClientError) as exc:
        _move(ecr, MULTI.digest, "STANDARD")  # a manifest it lists is archived
    assert _code(exc) == "ImageStorageClassUpdateNotSupportedException"
    _move(ecr, child, "STANDARD")
    assert _move(ecr, MULTI.digest, "STANDARD")["imageStatus"] in ("ACTIVATING", "ACTIVE")


def test_pushing_an_archived_image_again_makes_it_active(ecr: Any, emu: Emulator) -> None:
    _move(ecr, PLAIN.digest, "ARCHIVE")
    emu.push_image(A, R, "app", PLAIN)
    assert _status(ecr, PLAIN.digest)["imageStatus"] == "ACTIVE"
