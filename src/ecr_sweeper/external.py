"""External references: image URIs from outside the scan (EKS manifests, App Runner, a deploy
manifest), given with --external-images or `[sources] external_images`. Pure: no I/O here."""

from __future__ import annotations

from collections.abc import Sequence

from ecr_sweeper.imageref import ForeignImage, ImageReferenceError, parse_image
from ecr_sweeper.model import AccountId, Region, ScanError, Usage, UsageScan

EXTERNAL = AccountId("external")
NO_REGION = Region("-")


def external_usage(images: Sequence[str]) -> UsageScan:
    """One usage per listed image; an unparsable one is a usage error (fail closed)."""
    usages: list[Usage] = []
    errors: list[ScanError] = []
    foreign = 0
    for image in images:
        try:
            ref = parse_image(image)
        except ImageReferenceError as exc:
            errors.append(ScanError("usage", EXTERNAL, None, "external images", str(exc)))
            continue
        if isinstance(ref, ForeignImage):
            foreign += 1
            continue
        usages.append(Usage(image, ref, "the external image list", None, "external"))
    return UsageScan(EXTERNAL, NO_REGION, tuple(usages), tuple(errors), foreign)
