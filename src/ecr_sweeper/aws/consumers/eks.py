"""EKS clusters: every pod and every pod template of every cluster in the account × region,
read through the cluster's own API as the assumed role (see kube/reader.py for what counts).

The census asks ListClusters. A cluster that cannot be read (DescribeCluster denied, a private
endpoint out of reach, 401 or 403, an API group erroring, a list that cannot complete) makes
the "eks" kind unread here, with one line naming the cluster and what to grant; the planner then
holds what the account could pull. It does not fail the other sources of the run.
"""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.consumers.kind import (
    Findings,
    IamAction,
    Kind,
    ReadContext,
    Reader,
    Reading,
    Switch,
)
from ecr_sweeper.aws.eks import (
    ClusterUnavailableError,
    EksCluster,
    cluster_access,
    describe_cluster,
    list_clusters,
)
from ecr_sweeper.aws.limits import describe_errors
from ecr_sweeper.kube.client import KubeClient, KubeLimits
from ecr_sweeper.kube.reader import Failure, read_cluster

CLUSTERS_AT_ONCE = 4  # per account × region; each cluster bounds its own calls (KubeLimits)
GRANT_ACCESS = (
    "grant the plan role an EKS access entry with AmazonEKSViewPolicy, cluster scope (docs/iam.md)"
)


NAME = "eks"


async def present(ctx: ReadContext) -> bool:
    """Any EKS cluster in the region."""
    eks = await ctx.client("eks")
    answer = await ctx.api.call(eks.list_clusters, maxResults=1)
    return bool(answer.get("clusters"))


class EksClusters:
    """Pods and pod templates of every EKS cluster, through the Kubernetes API."""

    def __init__(self, limits: KubeLimits | None = None) -> None:
        self.limits = limits or KubeLimits()

    async def read(self, ctx: ReadContext) -> Reading:
        """Every cluster of the account × region (one that cannot be read is unread)."""
        found = ctx.findings()
        where = f"{ctx.target.account_id}/{ctx.region}"
        try:
            eks = await ctx.client("eks")
            names = await list_clusters(eks, ctx.api)
            # the tokens' signer, made only where there are clusters to read
            sts = await ctx.client("sts") if names else None
        except Exception as exc:  # noqa: BLE001 - unread for the census, with the reason
            why = "; ".join(describe_errors(exc))
            found.unread(f"clusters cannot be listed ({why}); grant eks:ListClusters")
            return found.reading()
        found.present(bool(names))
        found.count("eks clusters", len(names))
        gate = anyio.CapacityLimiter(CLUSTERS_AT_ONCE)

        async def one(name: str) -> None:
            async with gate:
                await self._cluster(ctx, found, (eks, sts), name, where)

        async with anyio.create_task_group() as tg:
            for name in names:
                tg.start_soon(one, name)
        return found.reading()

    async def _cluster(
        self, ctx: ReadContext, found: Findings, clients: tuple[Any, Any], name: str, where: str
    ) -> None:
        eks, sts = clients
        label = f"cluster {name}, {where}"
        try:
            cluster = await describe_cluster(eks, ctx.api, name)
        except Exception as exc:  # noqa: BLE001 - this cluster is unread; the others go on
            why = "; ".join(describe_errors(exc))
            found.unread(
                f"cluster {name}: DescribeCluster failed ({why}); grant eks:DescribeCluster"
            )
            return
        try:
            access = cluster_access(cluster, sts, name)
        except ClusterUnavailableError as exc:
            found.unread(f"cluster {name}: no API to read: {exc}")
            return
        try:
            async with KubeClient(access, ctx.api.retry, self.limits) as client:
                read = await read_cluster(client)
                found.count("kubernetes API calls", client.calls)
        except Exception as exc:  # noqa: BLE001 - e.g. the STS presigner failing
            why = "; ".join(describe_errors(exc))
            found.unread(f"cluster {name}: cannot be read ({why})")
            return
        for kind, n in read.objects.items():
            found.count(f"eks {kind.split('.', 1)[0].lower()}s", n)
        for use in read.uses:
            found.image(use.image, f"{use.where} ({label})", use.digest, NAME)
        if read.failures:
            found.unread(f"cluster {name}: {unread_line(cluster, read.failures)}")


def unread_line(cluster: EksCluster, failures: list[Failure]) -> str:
    """What failed, and what to grant or change so that it can be read."""
    first = failures[0]
    more = f" (and {len(failures) - 1} more lists)" if len(failures) > 1 else ""
    what = f"GET {first.path}: {first.message}{more}"
    if first.status is None:
        hint = (
            "its endpoint is private-only: run the plan inside the cluster's VPC, or allow "
            "the runner on the public endpoint"
            if cluster.private_only
            else "check that the runner can reach the endpoint"
        )
    elif first.status == 401:
        hint = (
            "the cluster does not know the plan role: "
            + GRANT_ACCESS
            + (
                " (authenticationMode is CONFIG_MAP: switch it to API_AND_CONFIG_MAP)"
                if cluster.authentication_mode == "CONFIG_MAP"
                else ""
            )
        )
    elif first.status == 403:
        hint = GRANT_ACCESS
    else:
        hint = "the API server failed the list; try again, or read it with --external-images"
    return f"{what}; {hint}"


def kind(limits: KubeLimits | None = None) -> Kind:
    """The EKS kind, its clusters read within `limits` (each cluster's own calls)."""
    return Kind(
        name=NAME,
        title="eks",
        present=present,
        readers=(Reader("eks", EksClusters(limits).read),),
        switch=Switch(
            "Read the pods and pod templates of every EKS cluster through its API (default on)."
        ),
        iam=tuple(IamAction(action, "ReadEksClusters", _PURPOSE) for action in _ACTIONS),
        principals=("eks.amazonaws.com", "pods.eks.amazonaws.com"),
        emulated="moto: ListClusters and DescribeCluster (no Kubernetes API); tests/awsim: "
        "clusters and their Kubernetes API (tests/awsim/kube.py)",
    )


_ACTIONS = ("eks:ListClusters", "eks:DescribeCluster")
_PURPOSE = (
    "the clusters, their API endpoint and CA (`--no-eks` turns it off); inside each "
    "cluster, the access entry below"
)
KIND = kind()
