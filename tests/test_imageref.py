"""Every form a task definition's `image` can take."""

from __future__ import annotations

import pytest

from ecr_sweeper.imageref import ForeignImage, ImageReferenceError, image_uri, parse_image
from ecr_sweeper.model import ImageRef

D = "sha256:" + "ab" * 32
HOST = "111111111111.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("image", "account", "region", "repository", "tag", "digest"),
    [
        (f"{HOST}/app:1.2", "111111111111", "us-east-1", "app", "1.2", None),
        (f"{HOST}/app", "111111111111", "us-east-1", "app", "latest", None),
        (f"{HOST}/app@{D}", "111111111111", "us-east-1", "app", None, D),
        (f"{HOST}/app:v1@{D}", "111111111111", "us-east-1", "app", "v1", D),
        (f"{HOST}/team/svc/api:v1", "111111111111", "us-east-1", "team/svc/api", "v1", None),
        (
            f"{HOST}/docker-hub/library/nginx:1.25",
            "111111111111",
            "us-east-1",
            "docker-hub/library/nginx",
            "1.25",
            None,
        ),
        (
            "222222222222.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app:x",
            "222222222222",
            "us-gov-west-1",
            "app",
            "x",
            None,
        ),
        (
            "333333333333.dkr.ecr.cn-north-1.amazonaws.com.cn/app:x",
            "333333333333",
            "cn-north-1",
            "app",
            "x",
            None,
        ),
        (
            "444444444444.dkr-ecr.eu-west-1.on.aws/app:x",
            "444444444444",
            "eu-west-1",
            "app",
            "x",
            None,
        ),
        (
            "444444444444.dkr-ecr-fips.us-east-2.on.aws/app:x",
            "444444444444",
            "us-east-2",
            "app",
            "x",
            None,
        ),
        (f"{HOST}/a_b.c-d__e:T_1.x-y", "111111111111", "us-east-1", "a_b.c-d__e", "T_1.x-y", None),
        # An explicit :443 (the port ECR serves on) is the same registry, never foreign.
        (f"{HOST}:443/app:1", "111111111111", "us-east-1", "app", "1", None),
        (f"{HOST.upper()}:443/app@{D}", "111111111111", "us-east-1", "app", None, D),
    ],
)
def test_parses_private_ecr_forms(
    image: str, account: str, region: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_image(image)
    assert isinstance(ref, ImageRef)
    assert (ref.repository.account_id, ref.repository.region, ref.repository.name) == (
        account,
        region,
        repository,
    )
    assert (ref.tag, ref.digest) == (tag, digest)


@pytest.mark.parametrize(
    ("image", "host"),
    [
        ("nginx", "docker.io"),
        ("nginx:1.25", "docker.io"),
        ("library/nginx@" + D, "docker.io"),
        ("datadog/agent:7", "docker.io"),
        ("public.ecr.aws/nginx/nginx:stable", "public.ecr.aws"),
        ("ghcr.io/org/app:1", "ghcr.io"),
        ("localhost:5000/app:1", "localhost:5000"),
        ("registry.example.com:443/team/app", "registry.example.com:443"),
        # Looks like ECR but is not an ECR host (wrong label order): foreign, not ours to sweep.
        (
            "111111111111.ecr.dkr.us-east-1.amazonaws.com/app:1",
            "111111111111.ecr.dkr.us-east-1.amazonaws.com",
        ),
    ],
)
def test_recognises_images_outside_private_ecr(image: str, host: str) -> None:
    ref = parse_image(image)
    assert isinstance(ref, ForeignImage)
    assert ref.host == host


@pytest.mark.parametrize(
    "image",
    [
        "",
        " ",
        f"{HOST}/app:1 ",
        "Not A Valid Image!",
        f"{HOST}/App:1",  # repository names are lowercase
        f"{HOST}/app:",  # empty tag
        f"{HOST}/app:-bad",  # tag cannot start with '-'
        f"{HOST}/app@sha256:1234",  # truncated digest
        f"{HOST}/app@md5:" + "a" * 64,  # ECR digests are sha256
        f"{HOST}/app@@{D}",
        f"{HOST}/",
        f"{HOST}//app",
        "@" + D,
        f"{HOST}:5000/app:1",  # ECR serves on 443 only: an error, not "outside ECR"
        f"{HOST}:/app:1",
    ],
)
def test_rejects_what_is_not_a_reference(image: str) -> None:
    with pytest.raises(ImageReferenceError) as caught:
        parse_image(image)
    assert repr(image) in str(caught.value)


def test_canonical_uri_round_trips() -> None:
    for image in (f"{HOST}/team/app:v1", f"{HOST}/app@{D}", f"{HOST}/app:v1@{D}"):
        ref = parse_image(image)
        assert isinstance(ref, ImageRef)
        assert image_uri(ref) == image
