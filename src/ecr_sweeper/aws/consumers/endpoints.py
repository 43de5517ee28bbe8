"""Whether a service is offered in a region, so that a region without it is not read (and its
census is "absent") without failing open where it can be helped.

botocore's endpoint data says where AWS offers each service. Where it lists the service, or
does not know the region (one newer than the data), the service is read like any other. Where
it knows the region and does not list the service, the data may only be older than AWS's
launch there (a pinned botocore ages), so when the run calls AWS's own endpoint the data alone
never makes a service absent: AWS's host name for the service there (`{endpoint prefix}.
{region}.{the partition's DNS suffix}`) must also not exist (DNS answers "no such name"; any
other DNS failure is raised, so the census counts presence as unknown). A run whose endpoint
for the service is not AWS's (an emulator, moto, LocalStack) cannot learn AWS's offer from
DNS, and the data decides, where it knows the service at all: botocore's endpoint data no
longer lists services newer than its rule-set endpoints (Bedrock AgentCore), so for those only
DNS can say, and a run against another endpoint reads them. (App Runner and Lightsail are
offered in a few regions; CodeBuild is not in every one.)
"""

from __future__ import annotations

import functools
import socket
from typing import Any
from urllib.parse import urlsplit

import anyio

from ecr_sweeper.aws.consumers.shapes import called_model, clients_session


def _endpoint_prefix(service: str) -> str:
    """The service's endpoint prefix, from the model the run's clients have (its metadata is
    whole there): asking where a service is offered loads no model they do not."""
    prefix: str = called_model(service).endpoint_prefix
    return prefix


@functools.cache
def _partition_of(region: str) -> dict[str, Any] | None:
    for partition in clients_session().get_data("endpoints")["partitions"]:
        if region in partition["regions"]:
            found: dict[str, Any] = partition
            return found
    return None


@functools.cache
def listed(service: str, region: str) -> bool | None:
    """Whether botocore's endpoint data lists `service` in `region`; None when the data knows
    no such region."""
    partition = _partition_of(region)
    if partition is None:
        return None
    return region in clients_session().get_available_regions(service, partition["partition"])


@functools.cache
def known(service: str) -> bool:
    """Whether botocore's endpoint data lists `service` in any partition (newer services are
    resolved by their rule sets alone, and their data lists them nowhere)."""
    prefix = _endpoint_prefix(service)
    partitions = clients_session().get_data("endpoints")["partitions"]
    return any(prefix in p["services"] for p in partitions)


def aws_host(service: str, region: str) -> str:
    """AWS's own host name of `service` in `region` (a region botocore's data knows)."""
    partition = _partition_of(region)
    if partition is None:
        raise ValueError(f"botocore's endpoint data knows no region {region}")
    prefix = _endpoint_prefix(service)
    return f"{prefix}.{region}.{partition['dnsSuffix']}"


async def name_exists(host: str) -> bool:
    """Whether DNS knows `host` (False only for "no such name"; other failures raise)."""
    try:
        await anyio.getaddrinfo(host, None)
    except socket.gaierror as exc:
        if exc.errno != socket.EAI_NONAME:
            raise
        return False
    return True


_NAME_EXISTS: dict[str, bool] = {}  # host → whether DNS knows it (asked once a run)


async def offered(service: str, region: str, endpoint_url: str) -> bool:
    """Whether `service` may have consumers in `region`, called at `endpoint_url` (see the
    module)."""
    if listed(service, region) is not False:
        return True
    host = aws_host(service, region)
    if urlsplit(endpoint_url).hostname != host:
        return not known(service)  # not AWS's endpoint: the data decides, if it knows it
    if host not in _NAME_EXISTS:
        _NAME_EXISTS[host] = await name_exists(host)
    return _NAME_EXISTS[host]
