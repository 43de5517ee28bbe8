"""Parse container image references as ECS task definitions hold them.

Grammar (docker/distribution `reference`): ``[host[:port]/]path[:tag][@digest]``. The first path
component is a host when it contains ``.`` or ``:`` or is ``localhost``; otherwise the image
lives on Docker Hub. A private ECR host names the registry account and region:

- ``<acct>.dkr.ecr.<region>.amazonaws.com`` (and ``.amazonaws.com.cn`` in China)
- ``<acct>.dkr.ecr-fips.<region>.amazonaws.com`` (FIPS)
- ``<acct>.dkr-ecr.<region>.on.aws`` and ``<acct>.dkr-ecr-fips.<region>.on.aws`` (dual-stack)

each optionally with ``:443``, the port ECR serves on (another port is an error).

A reference with neither tag nor digest means ``:latest``. With both, the runtime pulls the
digest; we keep both the digest and whatever the tag points to, which is the safe reading.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ecr_sweeper.model import AccountId, Digest, ImageRef, Region, RepositoryKey, RepositoryName

_ECR_HOST = re.compile(
    r"(?P<account>\d{12})\.(?:dkr\.ecr|dkr\.ecr-fips|dkr-ecr|dkr-ecr-fips)\."
    r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\."
    r"(?:amazonaws\.com|amazonaws\.com\.cn|on\.aws|on\.amazonwebservices\.com\.cn|api\.aws"
    r"|c2s\.ic\.gov|sc2s\.sgov\.gov)"
)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_HOST = re.compile(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9-]+)*(?::\d+)?")

DOCKER_HUB = "docker.io"


class ImageReferenceError(ValueError):
    """The string is not a container image reference."""

    def __init__(self, image: str, why: str) -> None:
        super().__init__(f"cannot parse image reference {image!r}: {why}")
        self.image = image
        self.why = why


@dataclass(frozen=True, slots=True)
class ForeignImage:
    """An image outside private ECR (Docker Hub, public.ecr.aws, another registry)."""

    host: str
    path: str


@functools.lru_cache(maxsize=65536)  # a sweep sees the same few references thousands of times
def parse_image(image: str) -> ImageRef | ForeignImage:
    """Parse `image` into an ECR reference, or recognise it as foreign.

    Raises `ImageReferenceError` for anything that is not a valid reference, so that a
    caller can report it instead of silently dropping a usage.
    """
    if image.split() != [image]:  # empty, or whitespace anywhere
        raise ImageReferenceError(image, "empty or contains whitespace")
    rest, digest = _split_digest(image)
    host, path = _split_host(rest)
    tag: str | None = None
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ImageReferenceError(image, f"invalid tag {tag!r}")
    if not path or not all(_PATH_COMPONENT.fullmatch(c) for c in path.split("/")):
        raise ImageReferenceError(image, f"invalid repository name {path!r}")
    ecr = _ecr_host(image, host)
    if ecr is None:
        if digest is not None and not _DIGEST.fullmatch(digest) and ":" not in digest:
            raise ImageReferenceError(image, f"invalid digest {digest!r}")
        return ForeignImage(host=host, path=path)
    if digest is not None and not _DIGEST.fullmatch(digest):
        raise ImageReferenceError(image, f"invalid digest {digest!r}")
    if tag is None and digest is None:
        tag = "latest"
    key = RepositoryKey(AccountId(ecr["account"]), Region(ecr["region"]), RepositoryName(path))
    return ImageRef(repository=key, tag=tag, digest=Digest(digest) if digest else None)


def _ecr_host(image: str, host: str) -> re.Match[str] | None:
    """The private ECR host `host` names (an explicit `:443`, the port it serves on, is the
    same registry; any other port is an error, never "outside ECR"), or None."""
    name, colon, port = host.lower().partition(":")
    ecr = _ECR_HOST.fullmatch(name)
    if ecr is not None and colon and port != "443":
        raise ImageReferenceError(image, f"ECR registry {name} serves on port 443, not {port}")
    return ecr


def _split_digest(image: str) -> tuple[str, str | None]:
    if "@" not in image:
        return image, None
    rest, _, digest = image.partition("@")
    if not rest or "@" in digest:
        raise ImageReferenceError(image, "misplaced '@'")
    return rest, digest


def _split_host(rest: str) -> tuple[str, str]:
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        if not _HOST.fullmatch(first):
            raise ImageReferenceError(rest, f"invalid registry host {first!r}")
        return first, remainder
    return DOCKER_HUB, rest


def image_uri(ref: ImageRef) -> str:
    """The canonical URI of an ECR reference (commercial partition host)."""
    key = ref.repository
    uri = f"{key.account_id}.dkr.ecr.{key.region}.amazonaws.com/{key.name}"
    if ref.tag is not None:
        uri += f":{ref.tag}"
    if ref.digest is not None:
        uri += f"@{ref.digest}"
    return uri
