"""External references: image URIs from outside the scan (EKS manifests, App Runner, a deploy
manifest), given with --external-images or `[sources] external_images`. Pure: no I/O here."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ecr_sweeper.imageref import DOCKER_HUB, ForeignImage, ImageReferenceError, parse_image
from ecr_sweeper.model import ImageRef, Outside, ScanError, Usage, UsageScan

# An AWS host naming ECR or its registry (`dkr`) that parse_image did not read as private ECR:
# a typo (label order, an 11-digit account) meant to protect an ECR image.
_LOOKS_LIKE_ECR = re.compile(r".*\b(?:ecr|dkr)\b.*\.(?:amazonaws\.com(?:\.cn)?|on\.aws)(?::\d+)?")


def external_reference_problem(image: str) -> str | None:
    """Why `image` may not stand in an external list, or None.

    A line there exists to protect an ECR image, so it must be a private ECR reference, or a
    foreign one whose registry host is written out (`docker.io/library/nginx`, `ghcr.io/…`).
    A bare `team/app:v3` would be read as Docker Hub's and protect nothing in ECR."""
    try:
        ref = parse_image(image)
    except ImageReferenceError as exc:
        return str(exc)
    if isinstance(ref, ImageRef):
        return None
    first, slash, _ = image.partition("/")
    if not (slash and ("." in first or ":" in first or first == "localhost")):
        return (
            f"{image!r} names no registry host: write the private ECR URI "
            f"(<account>.dkr.ecr.<region>.amazonaws.com/{image}), or {DOCKER_HUB}/{image} "
            f"if it is a Docker Hub image"
        )
    if _LOOKS_LIKE_ECR.fullmatch(ref.host.lower()):
        return (
            f"{image!r}: {ref.host!r} looks like an ECR registry but is not a private ECR host "
            f"(<account>.dkr.ecr.<region>.amazonaws.com)"
        )
    return None


def external_usage(images: Sequence[str]) -> UsageScan:
    """One usage per listed image; one that is not a private ECR or an explicit foreign
    reference is a usage error (fail closed)."""
    usages: list[Usage] = []
    errors: list[ScanError] = []
    foreign = 0
    for image in images:
        if problem := external_reference_problem(image):
            errors.append(
                ScanError("usage", Outside.EXTERNAL_IMAGES, None, "external images", problem)
            )
            continue
        ref = parse_image(image)
        if isinstance(ref, ForeignImage):
            foreign += 1
            continue
        usages.append(Usage(image, ref, "the external image list", None, "external"))
    return UsageScan(Outside.EXTERNAL_IMAGES, tuple(usages), tuple(errors), foreign)
