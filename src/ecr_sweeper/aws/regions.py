"""Region names botocore knows (its endpoint data, per partition), to refuse a typo at once
instead of after minutes of retrying an endpoint that does not exist."""

from __future__ import annotations

import difflib
from functools import cache

import botocore.session

from ecr_sweeper.aws.models import share_loader


@cache
def known_regions() -> dict[str, frozenset[str]]:
    """Partition name (aws, aws-cn, aws-us-gov, …) → the regions botocore's endpoint data
    lists for it."""
    data = share_loader(botocore.session.get_session(), whole=True).load_data("endpoints")
    return {
        str(partition["partition"]): frozenset(partition.get("regions", {}))
        for partition in data.get("partitions", [])
    }


def unknown_region(name: str) -> str | None:
    """None when `name` is a region of some partition; else why not, with the nearest names."""
    everywhere = sorted(r for regions in known_regions().values() for r in regions)
    if name in everywhere:
        return None
    close = difflib.get_close_matches(name, everywhere, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return f"{name!r} is not a region botocore knows in any partition{hint}"
