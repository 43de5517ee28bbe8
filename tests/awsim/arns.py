"""ARN, URI and id helpers shared by the scenario, the server and tests.

Kept free of any other awsim import so every module can use it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

__all__ = [
    "cluster_arn",
    "deployment_arn",
    "image_uri",
    "registry_host",
    "repository_arn",
    "service_arn",
    "service_revision_arn",
    "split_image_uri",
    "stable_hex",
    "stable_int",
    "task_arn",
    "task_definition_arn",
    "task_set_arn",
    "to_epoch",
]


def stable_hex(*parts: object, length: int = 32) -> str:
    """Deterministic hex id derived from ``parts`` (never from ``hash()``, which is salted)."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=32).hexdigest()
    return h[:length]


def stable_int(*parts: object, digits: int = 19) -> str:
    """Deterministic decimal id, e.g. the numeric suffix ECS uses for deployments."""
    return str(int(stable_hex(*parts, length=16), 16))[:digits].rjust(digits, "1")


def to_epoch(dt: datetime) -> float:
    """Epoch seconds as AWS JSON protocols send timestamps; naive datetimes are taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def registry_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def image_uri(
    account: str, region: str, repo: str, *, tag: str | None = None, digest: str | None = None
) -> str:
    """``ACCT.dkr.ecr.REGION.amazonaws.com/repo[:tag][@digest]`` (``:latest`` if neither given)."""
    uri = f"{registry_host(account, region)}/{repo}"
    if tag is None and digest is None:
        tag = "latest"
    if tag is not None:
        uri += f":{tag}"
    if digest is not None:
        uri += f"@{digest}"
    return uri


def split_image_uri(uri: str) -> tuple[str, str | None, str | None]:
    """Split an image reference into ``(name, tag, digest)``; ``name`` keeps the registry host."""
    digest = None
    if "@" in uri:
        uri, digest = uri.split("@", 1)
    tag = None
    last = uri.rsplit("/", 1)[-1]
    if ":" in last:
        uri, tag = uri.rsplit(":", 1)
    return uri, tag, digest


def repository_arn(account: str, region: str, repo: str) -> str:
    return f"arn:aws:ecr:{region}:{account}:repository/{repo}"


def cluster_arn(account: str, region: str, cluster: str) -> str:
    return f"arn:aws:ecs:{region}:{account}:cluster/{cluster}"


def service_arn(account: str, region: str, cluster: str, service: str) -> str:
    # Long ARN format (cluster name included), the default since 2021.
    return f"arn:aws:ecs:{region}:{account}:service/{cluster}/{service}"


def task_arn(account: str, region: str, cluster: str, task_id: str) -> str:
    return f"arn:aws:ecs:{region}:{account}:task/{cluster}/{task_id}"


def task_definition_arn(account: str, region: str, family: str, revision: int) -> str:
    return f"arn:aws:ecs:{region}:{account}:task-definition/{family}:{revision}"


def task_set_arn(account: str, region: str, cluster: str, service: str, task_set_id: str) -> str:
    return f"arn:aws:ecs:{region}:{account}:task-set/{cluster}/{service}/{task_set_id}"


def service_revision_arn(account: str, region: str, cluster: str, service: str, rev: str) -> str:
    return f"arn:aws:ecs:{region}:{account}:service-revision/{cluster}/{service}/{rev}"


def deployment_arn(account: str, region: str, cluster: str, service: str, dep: str) -> str:
    return f"arn:aws:ecs:{region}:{account}:service-deployment/{cluster}/{service}/{dep}"
