"""A demo EKS cluster for `ecr-sweeper demo`: moto has EKS (ListClusters, DescribeCluster) but
no Kubernetes API behind it, so this serves a small read-only one on 127.0.0.1 and points the
moto cluster's endpoint at it. Demo-only (the `demo` extra); nothing here runs in a sweep.

    with demo_eks_cluster("222222222222", "us-east-1", "prod-eks", [
        demo_pod("payments", "api-7c9d4-x2x7q", image, resolved=f"{repo}@{digest}"),
        demo_replica_set("payments", "api-5f6b7c8d9", old_image, replicas=0),
    ]):
        ...  # plan: the images are kept "... (cluster prod-eks, 222222222222/us-east-1)"

The API answers every list the sweep makes (the objects given, by kind; other kinds empty) to
a bearer token in the EKS form (`k8s-aws-v1.` + a presigned STS GetCallerIdentity URL that
signs `x-k8s-aws-id`); the signature itself is not checked (the emulator's tests do that).
"""

from __future__ import annotations

import asyncio
import base64
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from aiohttp import web

_LIST_PATHS = {
    "Pod": "/api/v1/pods",
    "ReplicaSet": "/apis/apps/v1/replicasets",
    "Deployment": "/apis/apps/v1/deployments",
    "StatefulSet": "/apis/apps/v1/statefulsets",
    "DaemonSet": "/apis/apps/v1/daemonsets",
    "ControllerRevision": "/apis/apps/v1/controllerrevisions",
    "Job": "/apis/batch/v1/jobs",
    "CronJob": "/apis/batch/v1/cronjobs",
}
_CREATED = "2026-11-30T09:15:00Z"


def demo_pod(namespace: str, name: str, image: str, resolved: str | None = None) -> dict[str, Any]:
    """A running pod of one container; `resolved` is the `repo@sha256:…` the kubelet pulled."""
    status: dict[str, Any] = {"phase": "Running"}
    if resolved:
        status["containerStatuses"] = [
            {"name": "app", "image": image, "imageID": resolved, "ready": True, "restartCount": 0}
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": _CREATED},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": status,
    }


def demo_replica_set(namespace: str, name: str, image: str, replicas: int) -> dict[str, Any]:
    """A ReplicaSet (`replicas=0`: a Deployment's rollback history)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": _CREATED},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
        "status": {"replicas": replicas},
    }


def _is_eks_token(header: str, cluster: str) -> bool:
    prefix = "Bearer k8s-aws-v1."
    if not header.startswith(prefix):
        return False
    encoded = header[len(prefix) :]
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except ValueError:
        return False
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    signed = query.get("X-Amz-SignedHeaders", "").split(";")
    return query.get("Action") == "GetCallerIdentity" and "x-k8s-aws-id" in signed and bool(cluster)


def _app(cluster: str, objects: Sequence[dict[str, Any]]) -> web.Application:
    by_path: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_path.setdefault(_LIST_PATHS[obj["kind"]], []).append(obj)

    async def answer(request: web.Request) -> web.Response:
        if not _is_eks_token(request.headers.get("Authorization", ""), cluster):
            status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 401}
            return web.json_response({**status, "reason": "Unauthorized"}, status=401)
        if request.path == "/apis":
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        items = by_path.get(request.path, [])
        return web.json_response(
            {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
        )

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    return app


@contextmanager
def serve_demo_kube(cluster: str, objects: Sequence[dict[str, Any]]) -> Iterator[str]:
    """Serve `objects` as a read-only Kubernetes API on 127.0.0.1; yields its URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_app(cluster, objects), access_log=None, handle_signals=False)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    server: Any = site._server  # aiohttp keeps the bound socket there (the port was 0)
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, name="demo-kube", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@contextmanager
def demo_eks_cluster(
    account: str, region: str, name: str, objects: Sequence[dict[str, Any]]
) -> Iterator[str]:
    """Create EKS cluster `name` in moto (in this process's moto server) for `account`, and
    point its endpoint at a demo Kubernetes API serving `objects`. Yields the API's URL."""
    from moto.eks.models import eks_backends

    from ecr_sweeper.demo.moto_patches import account_session

    eks = account_session(account, region).client("eks")
    eks.create_cluster(
        name=name,
        roleArn=f"arn:aws:iam::{account}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"]},
    )
    with serve_demo_kube(name, objects) as url:
        # moto makes up an endpoint on eks.amazonaws.com; the demo's API is on loopback.
        eks_backends[account][region].clusters[name].endpoint = url
        yield url
