"""EKS (REST-JSON): ListClusters and DescribeCluster, over the fake clusters of ``kube.py``.

A cluster's ``endpoint`` is the emulator's own ``/_kube/<account>/<region>/<name>`` (plain
HTTP on 127.0.0.1), unless the cluster says otherwise (an unreachable private endpoint).
"""

from __future__ import annotations

import base64
from typing import Any

from .kube import KubeCluster, KubeFake
from .wire import AwsError, decode_token, encode_token

LIST_MAX = 100
# Any PEM: the emulator's endpoints are plain HTTP, so the CA is carried, not used.
FAKE_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")


def route(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """(operation, path parameters) of an EKS request, or None."""
    parts = path.strip("/").split("/")
    if method == "GET" and parts == ["clusters"]:
        return "ListClusters", {}
    if method == "GET" and len(parts) == 2 and parts[0] == "clusters":
        return "DescribeCluster", {"name": parts[1]}
    return None


def answer(
    kube: KubeFake,
    account: str,
    region: str,
    op: str,
    params: dict[str, Any],
    query: Any,
    base_url: str,
) -> dict[str, Any]:
    clusters = kube.in_region(account, region)
    if op == "ListClusters":
        names = sorted(c.name for c in clusters)
        size = int(query.get("maxResults", LIST_MAX))
        if not 1 <= size <= LIST_MAX:
            raise AwsError("InvalidParameterException", "maxResults must be 1-100")
        after = decode_token("eks-clusters", query.get("nextToken"))
        start = names.index(after) + 1 if after in names else 0
        page = names[start : start + size]
        result: dict[str, Any] = {"clusters": page}
        if start + size < len(names):
            result["nextToken"] = encode_token("eks-clusters", page[-1])
        return result
    found = [c for c in clusters if c.name == params["name"]]
    if not found:
        raise AwsError(
            "ResourceNotFoundException", f"No cluster found for name: {params['name']}.", 404
        )
    if found[0].describe_denied:
        raise AwsError(
            "AccessDeniedException",
            f"User: arn:aws:sts::{account}:assumed-role/EcrSweeper/ecr-sweeper is not "
            f"authorized to perform: eks:DescribeCluster on resource: "
            f"arn:aws:eks:{region}:{account}:cluster/{found[0].name}",
            403,
        )
    return {"cluster": describe(found[0], account, region, base_url)}


def describe(cluster: KubeCluster, account: str, region: str, base_url: str) -> dict[str, Any]:
    """A DescribeCluster `cluster` as EKS answers it (the fields the API documents)."""
    endpoint = cluster.endpoint or f"{base_url}/_kube/{account}/{region}/{cluster.name}"
    return {
        "name": cluster.name,
        "arn": f"arn:aws:eks:{region}:{account}:cluster/{cluster.name}",
        "createdAt": 1704067200.0,
        "version": "1.31",
        "endpoint": endpoint if cluster.status == "ACTIVE" else None,
        "roleArn": f"arn:aws:iam::{account}:role/eks-cluster",
        "resourcesVpcConfig": {
            "subnetIds": ["subnet-0a1b2c3d"],
            "securityGroupIds": [],
            "clusterSecurityGroupId": "sg-0a1b2c3d",
            "vpcId": "vpc-0a1b2c3d",
            "endpointPublicAccess": not cluster.private_only,
            "endpointPrivateAccess": True,
            "publicAccessCidrs": [] if cluster.private_only else ["0.0.0.0/0"],
        },
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4"},
        "identity": {
            "oidc": {"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{cluster.name}"}
        },
        "status": cluster.status,
        "certificateAuthority": {"data": FAKE_CA.decode()},
        "platformVersion": "eks.10",
        "tags": {},
        "accessConfig": {"authenticationMode": cluster.authentication_mode},
    }
