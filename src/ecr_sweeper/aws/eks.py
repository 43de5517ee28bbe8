"""EKS: the clusters of an account × region, where their API servers are, and the token that
authenticates the assumed role to them.

The token is what `aws eks get-token` and aws-iam-authenticator make: a presigned STS
GetCallerIdentity URL whose signature covers the header `x-k8s-aws-id: <cluster name>`, in
base64url after `k8s-aws-v1.`. It is built with botocore's own presigner (the header goes in
through the request context, so one STS client serves every cluster concurrently). EKS accepts
a token for 15 minutes; one is used for at most `TOKEN_REFRESH_SECONDS`, then made again (the
credentials under it refresh themselves), and at once after a 401.
"""

from __future__ import annotations

import base64
import binascii
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio

from ecr_sweeper.aws.limits import Api
from ecr_sweeper.kube.client import ClusterAccess

K8S_AWS_ID_HEADER = "x-k8s-aws-id"
TOKEN_PREFIX = "k8s-aws-v1."  # noqa: S105 - the token format's name, not a secret
URL_EXPIRES_SECONDS = 60  # as aws-cli presigns it; EKS itself honours a token for 15 minutes
TOKEN_REFRESH_SECONDS = 10 * 60  # well inside the 15 minutes, for lists that take long
_HANDLERS_ID = "ecr-sweeper-k8s-aws-id"


class ClusterUnavailableError(Exception):
    """The cluster has no API endpoint to read (creating, failed) or an unusable CA."""


@dataclass(frozen=True, slots=True)
class EksCluster:
    """What DescribeCluster says about reaching a cluster."""

    name: str
    endpoint: str
    ca_data: str  # base64 PEM, as EKS gives it
    status: str
    private_only: bool
    authentication_mode: str | None


async def list_clusters(eks: Any, api: Api) -> list[str]:
    """Every EKS cluster name in the client's account × region."""
    names = await api.pages(eks.list_clusters, "clusters", maxResults=100)
    return sorted(str(n) for n in names)


async def describe_cluster(eks: Any, api: Api, name: str) -> EksCluster:
    """DescribeCluster, read by its shapes (Cluster.endpoint, certificateAuthority.data…)."""
    answer = await api.call(eks.describe_cluster, name=name)
    cluster = answer.get("cluster") or {}
    vpc = cluster.get("resourcesVpcConfig") or {}
    access = cluster.get("accessConfig") or {}
    return EksCluster(
        name=str(cluster.get("name", name)),
        endpoint=str(cluster.get("endpoint") or ""),
        ca_data=str((cluster.get("certificateAuthority") or {}).get("data") or ""),
        status=str(cluster.get("status", "")),
        private_only=vpc.get("endpointPublicAccess") is False,
        authentication_mode=access.get("authenticationMode"),
    )


def register_token_handlers(sts: Any) -> None:
    """Teach an STS client to carry `x-k8s-aws-id` from a presign call's params into the
    signed headers (aws-cli's way; idempotent: registered once per client)."""

    def take_param(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if K8S_AWS_ID_HEADER in params:
            context[K8S_AWS_ID_HEADER] = params.pop(K8S_AWS_ID_HEADER)

    def add_header(request: Any, **_: Any) -> None:
        if K8S_AWS_ID_HEADER in request.context:
            request.headers[K8S_AWS_ID_HEADER] = request.context[K8S_AWS_ID_HEADER]

    events = sts.meta.events
    events.register(
        "provide-client-params.sts.GetCallerIdentity", take_param, unique_id=f"{_HANDLERS_ID}-p"
    )
    events.register("before-sign.sts.GetCallerIdentity", add_header, unique_id=f"{_HANDLERS_ID}-h")


async def eks_token(sts: Any, cluster: str) -> str:
    """A fresh EKS token for `cluster`, signed with the STS client's credentials."""
    register_token_handlers(sts)
    url = await sts.generate_presigned_url(
        "get_caller_identity",
        Params={K8S_AWS_ID_HEADER: cluster},
        ExpiresIn=URL_EXPIRES_SECONDS,
        HttpMethod="GET",
    )
    encoded = base64.urlsafe_b64encode(str(url).encode()).decode().rstrip("=")
    return TOKEN_PREFIX + encoded


class EksAuth:
    """Bearer tokens for one cluster, made again when old or after a 401."""

    def __init__(self, sts: Any, cluster: str, lifetime: float = TOKEN_REFRESH_SECONDS) -> None:
        self._sts = sts
        self._cluster = cluster
        self._lifetime = lifetime
        self._token: str | None = None
        self._made_at = 0.0
        self._lock = anyio.Lock()
        self.tokens_made = 0

    async def authorization(self) -> str | None:
        async with self._lock:
            now = anyio.current_time()
            if self._token is None or now - self._made_at >= self._lifetime:
                self._token = await eks_token(self._sts, self._cluster)
                self._made_at = now
                self.tokens_made += 1
            return f"Bearer {self._token}"

    def expire(self) -> None:
        self._token = None


def cluster_access(cluster: EksCluster, sts: Any, label: str) -> ClusterAccess:
    """How to reach an EKS cluster's API as the assumed role (its CA, a token per call)."""
    if cluster.status not in ("ACTIVE", "UPDATING") or not cluster.endpoint:
        raise ClusterUnavailableError(
            f"status {cluster.status or 'unknown'}, endpoint {cluster.endpoint or 'none'}"
        )
    aws_endpoint = str(getattr(getattr(sts, "meta", None), "endpoint_url", "") or "")
    if _on_aws(cluster.endpoint) and not _on_aws(aws_endpoint):
        # An emulator (AWS_ENDPOINT_URL) answered with a real AWS host (moto makes one up):
        # never contact AWS from a run pointed elsewhere.
        raise ClusterUnavailableError(
            f"its endpoint {cluster.endpoint} is on AWS, but this run's AWS endpoint is "
            f"{aws_endpoint}: not contacted"
        )
    context: ssl.SSLContext | None = None
    if cluster.endpoint.startswith("https://"):
        try:
            pem = base64.b64decode(cluster.ca_data, validate=True).decode()
            context = ssl.create_default_context(cadata=pem)
        except (binascii.Error, UnicodeDecodeError, ssl.SSLError, ValueError) as exc:
            why = f"its certificate authority cannot be used: {exc}"
            raise ClusterUnavailableError(why) from exc
    return ClusterAccess(label, cluster.endpoint, EksAuth(sts, cluster.name), context)


def _on_aws(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))
