"""A Kubernetes API server's read side, for the emulator: the list endpoints the sweep reads.

Served by the emulator's own HTTP server under ``/_kube/<account>/<region>/<cluster>`` (EKS
DescribeCluster gives that URL as the cluster's endpoint). What it does as an API server does:

* ``GET /api/v1/pods``, ``/apis/apps/v1/replicasets``… (cluster-wide) and the namespaced forms
  ``/api/v1/namespaces/<ns>/pods``, answering ``<Kind>List`` objects with ``metadata.continue``
  and ``remainingItemCount`` when ``limit`` cuts the list;
* ``410 Gone`` (Status reason ``Expired``) for a continue token the cluster has expired
  (``expire_continue`` of them, as etcd compaction does);
* API discovery (``/apis``, ``/apis/<group>/<version>``) from the kinds it holds;
* authentication as EKS does it: the bearer token ``k8s-aws-v1.<base64url presigned STS
  GetCallerIdentity URL>`` is checked the way STS would (the SigV4 signature is recomputed with
  the emulator session's secret, ``x-k8s-aws-id`` must be the cluster's name and signed, the
  token at most 15 minutes old); an IAM role without an access entry gets 401, as from EKS;
* authorization: ``forbidden_namespaces`` make the cluster-wide lists 403 (RBAC grants a
  cluster-wide list only with cluster-wide permission) and that namespace's lists 403;
  ``failing`` paths answer a status (an API group whose webhook is down, say).

Objects are built by ``tests/awsim/kube_objects.py`` as ``kubectl get -o json`` prints them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TOKEN_PREFIX = "k8s-aws-v1."
TOKEN_LIFETIME_S = 15 * 60
# kind → (group, version, plural, namespaced): what the fake can serve.
RESOURCES: dict[str, tuple[str, str, str]] = {
    "Pod": ("", "v1", "pods"),
    "Deployment": ("apps", "v1", "deployments"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "ControllerRevision": ("apps", "v1", "controllerrevisions"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "Rollout": ("argoproj.io", "v1alpha1", "rollouts"),
    "Service.serving.knative.dev": ("serving.knative.dev", "v1", "services"),
    "Configuration.serving.knative.dev": ("serving.knative.dev", "v1", "configurations"),
    "Revision.serving.knative.dev": ("serving.knative.dev", "v1", "revisions"),
    "ScaledJob": ("keda.sh", "v1alpha1", "scaledjobs"),
}
BUILTIN_GROUPS = ("apps", "batch")


def list_path(kind: str, namespace: str | None = None) -> str:
    """The list endpoint of a kind, cluster-wide or in one namespace."""
    group, version, plural = RESOURCES[kind]
    root = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    return f"{root}/namespaces/{namespace}/{plural}" if namespace else f"{root}/{plural}"


@dataclass
class KubeCluster:
    """One cluster's API: its objects, who may read them, and its faults."""

    name: str
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # kind → objects
    # IAM role ARNs with an access entry (AmazonEKSViewPolicy); and static bearer tokens
    principals: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    forbidden_namespaces: set[str] = field(default_factory=set)
    failing: dict[str, int] = field(default_factory=dict)  # path → HTTP status to answer
    expire_continue: int = 0  # answer 410 to this many continue tokens
    throttle: int = 0  # answer 429 (API priority and fairness) to this many calls
    latency_s: float = 0.0  # each answer waits this long (to see how many calls overlap)
    in_flight: int = 0
    max_in_flight: int = 0
    extra_groups: dict[str, list[str]] = field(default_factory=dict)  # group → versions served
    status: str = "ACTIVE"
    endpoint: str | None = None  # DescribeCluster's endpoint, when not this fake (unreachable)
    private_only: bool = False
    authentication_mode: str = "API_AND_CONFIG_MAP"
    describe_denied: bool = False  # eks:DescribeCluster on this cluster answers AccessDenied
    calls: Counter[str] = field(default_factory=Counter)  # path → GETs
    identities: list[str] = field(default_factory=list)  # who each authenticated call was
    generation: int = 0

    def add(self, *objects: dict[str, Any]) -> None:
        """Add objects (their kind is read from `kind` and `apiVersion`)."""
        for obj in objects:
            self.objects.setdefault(kind_key(obj), []).append(obj)

    def list_calls(self) -> int:
        return sum(self.calls.values())


def kind_key(obj: dict[str, Any]) -> str:
    kind = str(obj["kind"])
    group = str(obj["apiVersion"]).rpartition("/")[0]
    return f"{kind}.{group}" if group == "serving.knative.dev" else kind


class KubeFake:
    """Every fake cluster of the emulator, and the handler that serves them."""

    def __init__(self, secret_of: Any) -> None:
        # access key id → (secret, session token, role ARN) of an emulator session, or None
        self._secret_of = secret_of
        self.clusters: dict[tuple[str, str, str], KubeCluster] = {}

    def add_cluster(self, account: str, region: str, cluster: KubeCluster) -> None:
        self.clusters[(account, region, cluster.name)] = cluster

    def in_region(self, account: str, region: str) -> list[KubeCluster]:
        return [c for (a, r, _), c in sorted(self.clusters.items()) if (a, r) == (account, region)]

    async def handle(self, request: web.Request) -> web.Response:
        key = (
            request.match_info["account"],
            request.match_info["region"],
            request.match_info["cluster"],
        )
        cluster = self.clusters.get(key)
        if cluster is None:
            return _status(404, "NotFound", "no such cluster")
        path = "/" + request.match_info["tail"]
        if request.method != "GET":
            return _status(405, "MethodNotAllowed", "this fake serves reads only")
        cluster.calls[path] += 1
        cluster.in_flight += 1
        cluster.max_in_flight = max(cluster.max_in_flight, cluster.in_flight)
        try:
            if cluster.latency_s:
                await asyncio.sleep(cluster.latency_s)
            return self._answer(cluster, path, request)
        finally:
            cluster.in_flight -= 1

    def _answer(self, cluster: KubeCluster, path: str, request: web.Request) -> web.Response:
        who = self._authenticate(cluster, request)
        if who is None:
            return _status(401, "Unauthorized", "Unauthorized")
        cluster.identities.append(who)
        if cluster.throttle > 0:
            cluster.throttle -= 1
            return _status(429, "TooManyRequests", "Too many requests, please try again later.")
        if path in cluster.failing:
            code = cluster.failing[path]
            return _status(code, "InternalError", f"Internal error occurred: {path} is failing")
        if path == "/apis":
            return web.json_response(_group_list(cluster))
        if path.startswith("/apis/") and path.count("/") == 3:
            return _resource_list(cluster, path)
        return self._list(cluster, path, request.query, who)

    def _authenticate(self, cluster: KubeCluster, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        token = header[len("Bearer ") :]
        if token in cluster.tokens:
            return f"token:{token[:6]}"
        if not token.startswith(TOKEN_PREFIX):
            return None
        role = self._eks_identity(cluster.name, token[len(TOKEN_PREFIX) :])
        return role if role in cluster.principals else None

    def _eks_identity(self, cluster: str, encoded: str) -> str | None:  # noqa: PLR0911
        """The IAM role a presigned GetCallerIdentity URL proves, checked as STS checks it."""
        try:
            url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except ValueError:
            return None
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        params = dict(query)
        signed = params.get("X-Amz-SignedHeaders", "").split(";")
        if params.get("Action") != "GetCallerIdentity" or "x-k8s-aws-id" not in signed:
            return None
        scope = params.get("X-Amz-Credential", "").split("/")
        if len(scope) != 5 or scope[3] != "sts":
            return None
        session = self._secret_of(scope[0])
        if session is None:
            return None
        secret, session_token, role = session
        try:
            signed_at = datetime.strptime(params["X-Amz-Date"] + "+0000", "%Y%m%dT%H%M%SZ%z")
        except (KeyError, ValueError):
            return None
        age = time.time() - signed_at.timestamp()
        if not -60 < age < TOKEN_LIFETIME_S:
            return None
        unsigned = urllib.parse.urlunsplit(
            parts._replace(
                query=urllib.parse.urlencode([(k, v) for k, v in query if k != "X-Amz-Signature"])
            )
        )
        request = AWSRequest("GET", unsigned, headers={"x-k8s-aws-id": cluster})
        request.context["timestamp"] = params["X-Amz-Date"]
        auth = SigV4QueryAuth(
            Credentials(scope[0], secret, session_token),
            "sts",
            scope[2],
            expires=int(params.get("X-Amz-Expires", "60")),
        )
        signature = auth.signature(
            auth.string_to_sign(request, auth.canonical_request(request)), request
        )
        return role if signature == params.get("X-Amz-Signature") else None

    def _list(  # noqa: PLR0911 - one return per answer an API server gives
        self, cluster: KubeCluster, path: str, query: Any, who: str
    ) -> web.Response:
        found = _parse_list_path(path)
        if found is None:
            return _status(404, "NotFound", "the server could not find the requested resource")
        kind, namespace = found
        _, _, plural = RESOURCES[kind]
        if kind not in cluster.objects and RESOURCES[kind][0] not in ("", *BUILTIN_GROUPS):
            return _status(404, "NotFound", "the server could not find the requested resource")
        if (
            namespace is None and cluster.forbidden_namespaces
        ) or namespace in cluster.forbidden_namespaces:
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            group = RESOURCES[kind][0]
            return _status(
                403,
                "Forbidden",
                f'{plural} is forbidden: User "{who}" cannot list resource "{plural}" in API '
                f'group "{group}" {scope}',
                details={"kind": plural, **({"group": group} if group else {})},
            )
        items = [
            o
            for o in cluster.objects.get(kind, [])
            if namespace is None or o["metadata"].get("namespace") == namespace
        ]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        start = 0
        token = query.get("continue")
        if token:
            try:
                token_path, start, generation = json.loads(base64.b64decode(token))
            except ValueError:
                return _status(400, "BadRequest", "continue key is not valid")
            if token_path != path:
                return _status(400, "BadRequest", "continue key is not valid for this list")
            if cluster.expire_continue > 0 or generation != cluster.generation:
                cluster.expire_continue = max(0, cluster.expire_continue - 1)
                cluster.generation += 1
                return _status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.",
                )
        limit = int(query.get("limit", "0") or 0)
        end = start + limit if limit > 0 else len(items)
        page = items[start:end]
        metadata: dict[str, Any] = {"resourceVersion": str(1000 + cluster.generation)}
        if end < len(items):
            metadata["continue"] = base64.b64encode(
                json.dumps([path, end, cluster.generation]).encode()
            ).decode()
            metadata["remainingItemCount"] = len(items) - end
        group, version, _ = RESOURCES[kind]
        return web.json_response(
            {
                "apiVersion": f"{group}/{version}" if group else version,
                "items": page,
                "kind": f"{kind.split('.', 1)[0]}List",
                "metadata": metadata,
            }
        )


def _parse_list_path(path: str) -> tuple[str, str | None] | None:
    for kind in RESOURCES:
        if path == list_path(kind):
            return kind, None
        prefix, _, plural = list_path(kind, "\0").partition("\0")
        if path.startswith(prefix) and path.endswith(plural):
            namespace = path[len(prefix) : -len(plural)].strip("/")
            if namespace and "/" not in namespace and path == list_path(kind, namespace):
                return kind, namespace
    return None


def _served_groups(cluster: KubeCluster) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {g: {"v1"} for g in BUILTIN_GROUPS}
    for kind in cluster.objects:
        group, version, _ = RESOURCES[kind]
        if group:
            groups.setdefault(group, set()).add(version)
    for group, versions in cluster.extra_groups.items():
        groups.setdefault(group, set()).update(versions)
    return groups


def _group_list(cluster: KubeCluster) -> dict[str, Any]:
    groups = []
    for name, versions in sorted(_served_groups(cluster).items()):
        listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in sorted(versions)]
        groups.append({"name": name, "versions": listed, "preferredVersion": listed[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resource_list(cluster: KubeCluster, path: str) -> web.Response:
    _, _, group, version = path.split("/")
    if version not in _served_groups(cluster).get(group, set()):
        return _status(404, "NotFound", "the server could not find the requested resource")
    resources = []
    for kind, (g, v, plural) in RESOURCES.items():
        if (g, v) == (group, version) and (kind in cluster.objects or g in BUILTIN_GROUPS):
            resources.append(
                {
                    "name": plural,
                    "singularName": plural[:-1],
                    "namespaced": True,
                    "kind": kind.split(".", 1)[0],
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
            )
            resources.append(
                {
                    "name": f"{plural}/status",
                    "singularName": "",
                    "namespaced": True,
                    "kind": kind.split(".", 1)[0],
                    "verbs": ["get", "patch", "update"],
                }
            )
    return web.json_response(
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}",
            "resources": resources,
        }
    )


def _status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return web.json_response(body, status=code)
