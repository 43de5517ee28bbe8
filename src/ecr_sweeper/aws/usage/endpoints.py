"""Whether a service is offered in a region, so that a region without it is not read (and its
census is "absent") without the run ever failing open.

botocore's endpoint data says where AWS offers each service. Where it lists the service, or
does not know the region (one newer than the data), the service is read like any other. Where
it knows the region and does not list the service, the data may only be older than AWS's
launch there, so the data alone never makes a service absent: its endpoint's host name must
also not exist (DNS answers "no such name"). Any other DNS failure is raised, so the census
counts presence as unknown. (App Runner and Lightsail are offered in a few regions; CodeBuild
is not in every one.)
"""

from __future__ import annotations

import functools
import socket
from typing import Any
from urllib.parse import urlsplit

import anyio
import botocore.session


@functools.cache
def _data_session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def listed(service: str, region: str) -> bool | None:
    """Whether botocore's endpoint data lists `service` in `region`; None when the data knows
    no such region."""
    session = _data_session()
    for partition in session.get_data("endpoints")["partitions"]:
        if region in partition["regions"]:
            return region in session.get_available_regions(service, partition["partition"])
    return None


_NAME_EXISTS: dict[str, bool] = {}  # host → whether DNS knows it (asked once a run)


async def offered(client: Any) -> bool:
    """Whether `client`'s service may have consumers in its region (see the module)."""
    meta = client.meta
    if listed(meta.service_model.service_name, meta.region_name) is not False:
        return True
    host = urlsplit(meta.endpoint_url).hostname or ""
    if host not in _NAME_EXISTS:
        try:
            await anyio.getaddrinfo(host, None)
        except socket.gaierror as exc:
            if exc.errno != socket.EAI_NONAME:
                raise
            _NAME_EXISTS[host] = False
        else:
            _NAME_EXISTS[host] = True
    return _NAME_EXISTS[host]
