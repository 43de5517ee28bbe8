"""The emulator's HTTP server (aiohttp) and the in-process :class:`Emulator` handle.

``run_emulator(scenario, faults=..., quotas=...)`` starts an aiohttp server on 127.0.0.1 (free
port) in a daemon thread with its own event loop, so latency is ``asyncio.sleep`` and thousands
of concurrent requests cost nothing.  All state lives in that loop; the ``Emulator`` methods
marshal inspection/mutation into it, so tests never race the server.

Request pipeline (order matters and mirrors AWS's front door):
  identify caller (SigV4 access key -> account; region from scope) -> count the call ->
  latency -> expired session -> dropped connection -> 5xx -> throttle storm -> token bucket ->
  AccessDenied (Faults) -> operation handler.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qs

from aiohttp import web

from . import (
    arns,
    ops_apprunner,
    ops_census,
    ops_ecr,
    ops_ecs,
    ops_eks,
    ops_gamelift,
    ops_inspector,
    ops_kinds,
    ops_lightsail,
    ops_sagemaker,
    ops_sts,
)
from .context import Ctx, Handler
from .faults import Faults, unit_random
from .kube import KubeCluster, KubeFake
from .quotas import Quotas, TokenBucket
from .scenario import Repository, Scenario, Service, Task, TaskDefinition
from .state import OrgState
from .wire import (
    JSON_CONTENT_TYPE,
    TARGET_PREFIXES,
    AwsError,
    json_error_body,
    parse_authorization,
    request_id,
    xml_error_body,
    xml_response,
)

log = logging.getLogger("awsim")
# Defaults for the keyword arguments below (frozen dataclasses, so sharing them is safe).
NO_FAULTS = Faults()
DEFAULT_QUOTAS = Quotas()
T = TypeVar("T")

HANDLERS: dict[str, dict[str, Handler]] = {
    "ecs": ops_ecs.HANDLERS,
    "ecr": ops_ecr.HANDLERS,
    "sts": ops_sts.STS_HANDLERS,
    "organizations": ops_sts.ORG_HANDLERS,
    **ops_census.HANDLERS,  # consumers not modelled: their census calls answer "none here"
    "apprunner": ops_apprunner.HANDLERS,
    "lightsail": ops_lightsail.HANDLERS,
    "inspector2": ops_inspector.HANDLERS,
    "sagemaker": ops_sagemaker.HANDLERS,
    **ops_kinds.HANDLERS,
    "gamelift": ops_gamelift.HANDLERS,
}
# Throttling error per service, as each one really answers.
_THROTTLE = {
    "ecs": ("ThrottlingException", "Rate exceeded"),
    "apprunner": ("ThrottlingException", "Rate exceeded"),
    "ecr": ("ThrottlingException", "Rate exceeded"),
    "sts": ("Throttling", "Rate exceeded"),
    "eks": ("ThrottlingException", "Rate exceeded"),
    "organizations": (
        "TooManyRequestsException",
        "AWS Organizations can't complete your request "
        "because another request is already in progress. Try again later.",
    ),
}
_SERVER_ERROR = {
    "ecs": "ServerException",
    "apprunner": "InternalServiceErrorException",
    "ecr": "ServerException",
    "sts": "InternalFailure",
    "eks": "ServerException",
    "organizations": "ServiceException",
}


def _body_members(body: bytes) -> dict[str, Any]:
    """The members a REST-JSON request carries in its body (none when it has no JSON object)."""
    try:
        found = json.loads(body) if body else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


class CallKey(NamedTuple):
    account: str
    region: str
    service: str  # ecs | ecr | sts | organizations
    operation: str  # e.g. DescribeImages


@dataclass
class Session:
    """Temporary credentials minted by AssumeRole*."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    account: str
    role: str
    session_name: str
    expires_at: float
    max_calls: int | None
    calls: int = 0

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role}/{self.session_name}"


class AwsimServer:
    """Request handling and all mutable state; used only from the event loop thread."""

    def __init__(
        self,
        scenario: Scenario,
        faults: Faults = NO_FAULTS,
        quotas: Quotas = DEFAULT_QUOTAS,
        default_region: str = "us-east-1",
        stopped_task_retention_s: float | None = None,
    ) -> None:
        self.state = OrgState(scenario)
        self.faults = faults
        self.quotas = quotas
        self.default_region = default_region
        self.stopped_task_retention_s = stopped_task_retention_s
        self.sessions: dict[str, Session] = {}
        self.calls: Counter[CallKey] = Counter()
        self.throttled: Counter[CallKey] = Counter()
        # when each (account, region, service, operation) was first called (monotonic seconds)
        self.first_at: dict[CallKey, float] = {}
        self.fault_counts: Counter[str] = Counter()
        self.buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        # (service, operation, parameter) -> the longest list ever sent in that parameter, so
        # tests can check a client's batching (recorded before the server rejects a long one).
        self.max_items: dict[tuple[str, str, str], int] = {}
        # EKS clusters and their Kubernetes APIs (kube.py), authenticated by these sessions;
        # a scenario region's `eks_clusters` grant access to nobody (the run cannot read them)
        self.kube = KubeFake(self._session_secret)
        for account in scenario.accounts:
            for region in account.regions:
                for name in region.eks_clusters:
                    self.kube.add_cluster(account.id, region.name, KubeCluster(name))

    def _session_secret(self, akid: str) -> tuple[str, str, str] | None:
        sess = self.sessions.get(akid)
        if sess is None or time.time() >= sess.expires_at:
            return None
        return (
            sess.secret_access_key,
            sess.session_token,
            f"arn:aws:iam::{sess.account}:role/{sess.role}",
        )

    # -- credentials ----------------------------------------------------------------------
    def issue_session(self, account: str, role: str, name: str, duration: int) -> Session | None:
        if account in self.faults.denied_accounts:
            return None
        ttl = float(duration)
        if self.faults.credential_ttl_s is not None:
            ttl = min(ttl, self.faults.credential_ttl_s)
        akid = "ASIA" + secrets.token_hex(8).upper()
        sess = Session(
            akid,
            secrets.token_urlsafe(30),
            secrets.token_urlsafe(60),
            account,
            role,
            name,
            time.time() + ttl,
            self.faults.credential_max_calls,
        )
        self.sessions[akid] = sess
        return sess

    def _identity(self, akid: str | None) -> tuple[str, str, Session | None]:
        sess = self.sessions.get(akid) if akid else None
        if sess is not None:
            return sess.account, sess.arn, sess
        # Any unknown access key id ("testing", ...) is the base identity in the management account.
        mgmt = self.state.management_account
        return mgmt, f"arn:aws:iam::{mgmt}:user/awsim", None

    # -- HTTP -----------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("GET", "/_awsim/{what}", self._admin_get)
        app.router.add_route("POST", "/_awsim/{what}", self._admin_post)
        app.router.add_route("*", "/_kube/{account}/{region}/{cluster}/{tail:.*}", self.kube.handle)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._handle_inner(request)
        finally:
            self.in_flight -= 1

    async def _handle_inner(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        target = request.headers.get("X-Amz-Target")
        scope = parse_authorization(request.headers.get("Authorization"))
        if scope is not None and scope.service == "eks":
            return await self._handle_eks(request, scope)
        params: dict[str, Any]
        rest = ops_census.rest_operation(request.method, request.path, scope) or (
            ops_inspector.rest_operation(request.method, request.path, scope.service)
            if scope is not None
            else None
        )
        routed = ops_kinds.route(request.method, request.path, scope.service if scope else None)
        if target:
            prefix, _, op = target.partition(".")
            service = TARGET_PREFIXES.get(prefix) or ops_census.TARGET_PREFIXES.get(prefix, "")
            try:
                params = json.loads(body) if body else {}
            except ValueError:
                return self._error("json", AwsError("SerializationException", "Malformed JSON"))
            proto = "json"
        elif rest is not None:
            (service, op), proto, params = rest, "rest", dict(request.query)
            params.update(_body_members(body))  # a REST-JSON POST's (inspector2's)
        elif routed is not None:
            service, op, path_params = routed
            proto, params = "rest", {**dict(request.query), **_body_members(body), **path_params}
        else:
            form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
            op = form.get("Action", "")
            service, proto, params = ops_census.query_service(scope) or "sts", "query", form
        handler = HANDLERS.get(service, {}).get(op)
        if handler is None:
            return self._error(
                proto, AwsError("UnknownOperationException", f"Unknown operation {target or op}")
            )

        account, caller_arn, sess = self._identity(scope.access_key_id if scope else None)
        region = scope.region if scope else self.default_region
        key = CallKey(account, region, service, op)
        self.calls[key] += 1
        self.first_at.setdefault(key, time.monotonic())
        self._record_lengths(service, op, params)
        n = self.calls[key]
        f = self.faults

        if f.latency_s or f.latency_jitter_s:
            jitter = f.latency_jitter_s * unit_random(f.seed, "latency", account, region, op, n)
            await asyncio.sleep(f.latency_s + jitter)

        try:
            self._admit(request, key, n, sess, proto, caller_arn)
            ctx = Ctx(
                self.state,
                account,
                region,
                caller_arn,
                time.time(),
                self.quotas,
                self.stopped_task_retention_s,
                self.issue_session,
            )
            result = handler(ctx, params)
        except AwsError as e:
            return self._error(proto, e)
        except Exception:  # an emulator bug: answer like an AWS internal error, but loudly
            log.exception("awsim handler %s:%s crashed", service, op)
            self.fault_counts["handler_crash"] += 1
            code = _SERVER_ERROR.get(service, "InternalFailure")
            return self._error(proto, AwsError(code, "awsim internal error", 500))
        return self._answer(proto, op, result)

    @staticmethod
    def _answer(proto: str, op: str, result: Any) -> web.Response:
        """A handler's result in its protocol's answer shape."""
        if isinstance(result, ops_census.RawXml):
            return web.Response(body=result.text.encode(), content_type="text/xml")
        if proto == "rest":
            return web.json_response(result, headers={"x-amzn-RequestId": request_id()})
        if proto == "query":
            return web.Response(
                body=xml_response(op, result),
                content_type="text/xml",
                headers={"x-amzn-RequestId": request_id()},
            )
        return web.Response(
            body=json.dumps(result).encode(),
            headers={"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": request_id()},
        )

    async def _handle_eks(self, request: web.Request, scope: Any) -> web.StreamResponse:
        """EKS is REST-JSON: the operation is the method and path (ops_eks.route)."""
        routed = ops_eks.route(request.method, request.path)
        if routed is None:
            return self._error("json", AwsError("UnknownOperationException", request.path, 404))
        op, params = routed
        account, caller_arn, sess = self._identity(scope.access_key_id)
        key = CallKey(account, scope.region, "eks", op)
        self.calls[key] += 1
        self.first_at.setdefault(key, time.monotonic())
        try:
            self._admit(request, key, self.calls[key], sess, "json", caller_arn)
            result = ops_eks.answer(
                self.kube,
                account,
                scope.region,
                op,
                params,
                request.query,
                f"{request.scheme}://{request.host}",
            )
        except AwsError as e:
            return self._error("json", e)
        return web.json_response(result, headers={"x-amzn-RequestId": request_id()})

    def _admit(
        self,
        request: web.Request,
        key: CallKey,
        n: int,
        sess: Session | None,
        proto: str,
        caller_arn: str,
    ) -> None:
        """The front door, in AWS's order: expired session -> dropped connection -> 5xx ->
        throttle storm -> token bucket -> AccessDenied (Faults).  Raises :class:`AwsError`
        (or ``CancelledError`` after dropping the connection) when the call does not get in."""
        account, region, service, op = key
        f = self.faults
        if sess is not None:
            sess.calls += 1
            if time.time() >= sess.expires_at or (
                sess.max_calls is not None and sess.calls > sess.max_calls
            ):
                self.fault_counts["expired"] += 1
                code = "ExpiredToken" if proto == "query" else "ExpiredTokenException"
                raise AwsError(code, "The security token included in the request is expired")
        if f.random_faults_apply(account, op, region):
            self._random_faults(request, key, n)
        limit = self.quotas.limit_for(f"{service}:{op}")
        if limit is not None:
            # Per account x region, one bucket per ECS category (shared by its actions), else
            # one per operation.
            bkey = (account, region, self.quotas.bucket_for(f"{service}:{op}"))
            bucket = self.buckets.get(bkey)
            now = time.monotonic()
            if bucket is None:
                bucket = self.buckets[bkey] = TokenBucket(limit, now)
            if not bucket.take(now):
                self._throttle(key)
        if service != "sts" and f.denies(account, region, op):
            self.fault_counts["denied"] += 1
            raise AwsError(
                "AccessDeniedException",
                f"User: {caller_arn} is not authorized to perform: {service}:{op} because no "
                "identity-based policy allows the action",
            )

    def _random_faults(self, request: web.Request, key: CallKey, n: int) -> None:
        """Dropped connection, 5xx, throttle storm: each decided by its own deterministic draw."""
        account, region, service, op = key
        f = self.faults
        if f.drop_rate and unit_random(f.seed, "drop", account, region, op, n) < f.drop_rate:
            self.fault_counts["dropped"] += 1
            assert request.transport is not None
            request.transport.abort()  # no response at all, like a reset connection
            raise asyncio.CancelledError
        u = unit_random(f.seed, "5xx", account, region, op, n)
        if f.error_5xx_rate and u < f.error_5xx_rate:
            self.fault_counts["5xx"] += 1
            if int(u * 1e9) % 2:
                raise AwsError(
                    _SERVER_ERROR.get(service, "InternalFailure"),
                    "Internal failure. Please try your request again.",
                    500,
                )
            raise AwsError(
                "ServiceUnavailable", "Service is unavailable. Please try again later.", 503
            )
        if (
            f.throttle_rate
            and unit_random(f.seed, "throttle", account, region, op, n) < f.throttle_rate
        ):
            self._throttle(key)

    def _record_lengths(self, service: str, op: str, params: dict[str, Any]) -> None:
        for name, value in params.items():
            if isinstance(value, list):
                k = (service, op, name)
                self.max_items[k] = max(self.max_items.get(k, 0), len(value))

    def _throttle(self, key: CallKey) -> None:
        self.throttled[key] += 1
        code, msg = _THROTTLE.get(key.service, ("ThrottlingException", "Rate exceeded"))
        raise AwsError(code, msg)

    @staticmethod
    def _error(proto: str, e: AwsError) -> web.Response:
        rid = request_id()
        if proto == "query":
            return web.Response(
                status=e.status,
                body=xml_error_body(e.code, e.message, e.status),
                content_type="text/xml",
                headers={"x-amzn-RequestId": rid},
            )
        return web.Response(
            status=e.status,
            body=json_error_body(e.code, e.message),
            headers={
                "Content-Type": JSON_CONTENT_TYPE,
                "x-amzn-RequestId": rid,
                "x-amzn-ErrorType": e.code,
            },
        )

    # -- admin (JSON) API, for the separate-process mode -----------------------------------
    def stats(self) -> dict[str, Any]:
        return {
            "calls": [[*k, v] for k, v in sorted(self.calls.items())],
            "throttled": [[*k, v] for k, v in sorted(self.throttled.items())],
            "faults": dict(self.fault_counts),
            "first_at": [[*k, v] for k, v in sorted(self.first_at.items())],
            "total_calls": sum(self.calls.values()),
            "total_throttled": sum(self.throttled.values()),
            "deleted": len(self.state.deleted),
            "max_in_flight": self.max_in_flight,
            "max_items": [[*k, v] for k, v in sorted(self.max_items.items())],
        }

    def images(self, account: str, region: str, repo: str) -> dict[str, list[str]]:
        rs = self.state.region(account, region).repos.get(repo)
        return {} if rs is None else {d: list(r.tags) for d, r in rs.images.items()}

    async def _admin_get(self, request: web.Request) -> web.Response:
        what, q = request.match_info["what"], request.query
        if what == "stats":
            return web.json_response(self.stats())
        if what == "images":
            return web.json_response(self.images(q["account"], q["region"], q["repo"]))
        if what == "deleted":
            return web.json_response(self.state.deleted)
        if what == "repositories":
            return web.json_response(
                [
                    [a, r, n, len(rs.images)]
                    for (a, r), reg in sorted(self.state.regions.items())
                    for n, rs in sorted(reg.repos.items())
                ]
            )
        raise web.HTTPNotFound()

    async def _admin_post(self, request: web.Request) -> web.Response:
        what = request.match_info["what"]
        body = await request.json() if request.can_read_body else {}
        if what == "faults":
            self.faults = faults_from_json(body)
        elif what == "reset":
            self.reset_stats()
        elif what == "quotas":  # {"enabled": false}: no token buckets (a reference run)
            self.quotas = replace(self.quotas, enabled=bool(body["enabled"]))
            self.buckets.clear()
        else:
            raise web.HTTPNotFound()
        return web.json_response({"ok": True})

    def reset_stats(self) -> None:
        self.calls.clear()
        self.throttled.clear()
        self.first_at.clear()
        self.fault_counts.clear()
        self.max_in_flight = 0
        self.max_items.clear()


def emulator_env(endpoint_url: str, region: str = "us-east-1") -> dict[str, str]:
    """Environment variables that point boto3/aiobotocore at an emulator (base credentials)."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        # HealthOmics' calls go to a `workflows-` host prefix, which only AWS's hosts have
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
    }


def faults_from_json(d: dict[str, Any]) -> Faults:
    """Faults from a JSON object (sets become lists in JSON)."""
    kw: dict[str, Any] = {}
    for fld in fields(Faults):
        if fld.name in d:
            v = d[fld.name]
            if fld.name == "denied_account_regions":
                v = frozenset(tuple(x) for x in v)
            elif (
                fld.name
                in ("denied_accounts", "denied_operations", "operations", "accounts", "regions")
                and v is not None
            ):
                v = frozenset(v)
            kw[fld.name] = v
    return Faults(**kw)


def faults_to_json(f: Faults) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fld in fields(Faults):
        v = getattr(f, fld.name)
        out[fld.name] = (
            sorted(list(x) if isinstance(x, tuple) else x for x in v)
            if isinstance(v, frozenset)
            else v
        )
    return out


class Emulator:
    """Handle on a running in-process emulator.

    Thread-safe: every method runs in the server loop.
    """

    def __init__(self, server: AwsimServer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._main, args=(host, port, ready), name="awsim", daemon=True
        )
        self._thread.start()
        self.port = ready.result(timeout=30)
        self.endpoint_url = f"http://{host}:{self.port}"

    def _main(self, host: str, port: int, ready: concurrent.futures.Future[int]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._runner = web.AppRunner(self.server.app(), access_log=None, handle_signals=False)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, host, port, backlog=4096, reuse_address=True)
            self._loop.run_until_complete(site.start())
            server = site._server
            assert server is not None
            ready.set_result(getattr(server, "sockets")[0].getsockname()[1])  # noqa: B009
        except BaseException as e:  # noqa: BLE001 - handed to the thread waiting on `ready`
            ready.set_exception(e)
            return
        self._loop.run_forever()

    def close(self) -> None:
        if self._runner is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=60)

    # -- environment ----------------------------------------------------------------------
    def env(self, region: str = "us-east-1") -> dict[str, str]:
        """Environment variables that point boto3/aiobotocore at the emulator (base credentials)."""
        return emulator_env(self.endpoint_url, region)

    # -- configuration --------------------------------------------------------------------
    def set_faults(self, faults: Faults) -> None:
        def do() -> None:
            self.server.faults = faults

        self._call(do)

    def set_quotas(self, quotas: Quotas) -> None:
        def do() -> None:
            self.server.quotas = quotas
            self.server.buckets.clear()

        self._call(do)

    def expire_sessions(self) -> None:
        """Expire every AssumeRole session now (next use -> ExpiredTokenException)."""

        def do() -> None:
            for s in self.server.sessions.values():
                s.expires_at = 0.0

        self._call(do)

    # -- inspection -----------------------------------------------------------------------
    def image_digests(self, account: str, region: str, repo: str) -> set[str]:
        return self._call(lambda: set(self.server.images(account, region, repo)))

    def tags(self, account: str, region: str, repo: str) -> dict[str, tuple[str, ...]]:
        """digest -> tags (in tag order) for every manifest still in the repository."""
        return self._call(
            lambda: {d: tuple(t) for d, t in self.server.images(account, region, repo).items()}
        )

    def repositories(self, account: str, region: str) -> list[str]:
        return self._call(lambda: sorted(self.server.state.region(account, region).repos))

    def deleted(self) -> list[tuple[str, str, str, str]]:
        """(account, region, repo, digest) of every manifest deleted through the API, in order."""
        return self._call(lambda: list(self.server.state.deleted))

    def call_counts(self) -> dict[CallKey, int]:
        return self._call(lambda: dict(self.server.calls))

    def first_calls(self) -> dict[CallKey, float]:
        """When each (account, region, service, operation) was first called (monotonic)."""
        return self._call(lambda: dict(self.server.first_at))

    def throttled_counts(self) -> dict[CallKey, int]:
        return self._call(lambda: dict(self.server.throttled))

    def fault_counts(self) -> dict[str, int]:
        return self._call(lambda: dict(self.server.fault_counts))

    def call_count(
        self,
        account: str | None = None,
        region: str | None = None,
        operation: str | None = None,
        service: str | None = None,
    ) -> int:
        return _sum(self.call_counts(), account, region, operation, service)

    def throttled_count(
        self,
        account: str | None = None,
        region: str | None = None,
        operation: str | None = None,
        service: str | None = None,
    ) -> int:
        return _sum(self.throttled_counts(), account, region, operation, service)

    def max_items(self, operation: str, parameter: str) -> int:
        """The longest list a client ever sent as ``parameter`` of ``operation`` (0: never)."""
        return self._call(
            lambda: max(
                (
                    n
                    for (_, op, p), n in self.server.max_items.items()
                    if (op, p) == (operation, parameter)
                ),
                default=0,
            )
        )

    def stats(self) -> dict[str, Any]:
        return self._call(self.server.stats)

    def reset_stats(self) -> None:
        self._call(self.server.reset_stats)

    # -- mutation -------------------------------------------------------------------------
    def push_image(self, account: str, region: str, repo: str, image: Any) -> None:
        """Push like ``docker push`` (children too; tags move to this image)."""
        self._call(lambda: self.server.state.repo(account, region, repo).push(image))

    def set_activation_delay(self, seconds: float) -> None:
        """How long a restored image stays ACTIVATING before it is ACTIVE (AWS: ≤ 20 min)."""

        def do() -> None:
            self.server.state.activation_delay_s = seconds

        self._call(do)

    def move_tag(self, account: str, region: str, repo: str, tag: str, digest: str) -> None:
        self._call(lambda: self.server.state.repo(account, region, repo).tag(tag, digest))

    def create_repository(self, account: str, region: str, repo: Repository) -> None:
        self._call(lambda: self.server.state.create_repository(account, region, repo))

    def delete_repository(self, account: str, region: str, repo: str) -> None:
        self._call(lambda: self.server.state.region(account, region).repos.pop(repo))

    def add_eks_cluster(self, account: str, region: str, cluster: KubeCluster) -> None:
        """An EKS cluster (ListClusters, DescribeCluster) with its Kubernetes API (kube.py)."""
        self._call(lambda: self.server.kube.add_cluster(account, region, cluster))

    def register_task_definition(self, account: str, region: str, td: TaskDefinition) -> None:
        self._call(lambda: self.server.state.region(account, region).add_task_definition(td))

    def register_daemon_task_definition(
        self, account: str, region: str, family: str, revision: int, containers: dict[str, str]
    ) -> str:
        """Register daemon task definition family:revision (container name → image)."""
        arn = f"arn:aws:ecs:{region}:{account}:daemon-task-definition/{family}:{revision}"
        record = {
            "daemonTaskDefinitionArn": arn,
            "family": family,
            "revision": revision,
            "containerDefinitions": [{"name": n, "image": i} for n, i in containers.items()],
            "status": "ACTIVE",
            "registeredAt": 1_700_000_000 + revision,
        }
        self._call(
            lambda: self.server.state.region(account, region).daemon_task_defs.__setitem__(
                (family, revision), record
            )
        )
        return arn

    def add_daemon(
        self,
        account: str,
        region: str,
        cluster: str,
        name: str,
        revisions: list[tuple[str, dict[str, tuple[str, str]]]],
        deploying: tuple[str, dict[str, tuple[str, str]]] | None = None,
    ) -> str:
        """Run daemon `name` in `cluster` with current revisions, each (daemon task definition
        ARN, container name → (image, digest)); `deploying` is the target revision of a
        deployment in progress that runs nowhere yet. Returns the daemon's ARN."""
        daemon_arn = f"arn:aws:ecs:{region}:{account}:daemon/{cluster}/{name}"
        cluster_arn = arns.cluster_arn(account, region, cluster)

        def do() -> str:
            state = self.server.state.region(account, region)
            current = []
            every = [*revisions, *([deploying] if deploying else [])]
            for n, (task_definition, images) in enumerate(every):
                arn = f"{daemon_arn}/{arns.stable_hex(account, region, name, 'rev', n)}"
                current.append(arn)
                state.daemon_revisions[arn] = {
                    "daemonRevisionArn": arn,
                    "clusterArn": cluster_arn,
                    "daemonArn": daemon_arn,
                    "daemonTaskDefinitionArn": task_definition,
                    "createdAt": 1_700_000_000 + n,
                    "containerImages": [
                        {"containerName": c, "image": i, "imageDigest": d}
                        for c, (i, d) in images.items()
                    ],
                }
            deployment = f"{daemon_arn}/deployment/{arns.stable_hex(account, region, name)}"
            running = current[: len(revisions)]
            state.daemon_deployments[deployment] = {
                "daemonDeploymentArn": deployment,
                "clusterArn": cluster_arn,
                "status": "IN_PROGRESS" if deploying else "SUCCESSFUL",
                "targetDaemonRevision": {"arn": current[-1], "totalRunningInstanceCount": 0},
                "sourceDaemonRevisions": [{"arn": a} for a in running if a != current[-1]],
                "createdAt": 1_700_000_000,
            }
            state.daemons[daemon_arn] = {
                "daemonArn": daemon_arn,
                "clusterArn": cluster_arn,
                "status": "ACTIVE",
                "currentRevisions": running,
                "deploymentArn": deployment,
                "createdAt": 1_700_000_000,
            }
            return daemon_arn

        return self._call(do)

    def add_app_runner_service(
        self, account: str, region: str, name: str, image: str, repository_type: str = "ECR"
    ) -> str:
        """An App Runner service deploying `image`; returns its ARN."""
        service_id = arns.stable_hex(account, region, "apprunner", name)[:32]
        arn = f"arn:aws:apprunner:{region}:{account}:service/{name}/{service_id}"
        record = {
            "ServiceName": name,
            "ServiceId": service_id,
            "ServiceArn": arn,
            "ServiceUrl": f"{service_id}.{region}.awsapprunner.com",
            "CreatedAt": 1_700_000_000,
            "UpdatedAt": 1_700_000_000,
            "Status": "RUNNING",
            "SourceConfiguration": {
                "ImageRepository": {
                    "ImageIdentifier": image,
                    "ImageRepositoryType": repository_type,
                },
                "AutoDeploymentsEnabled": False,
            },
            "InstanceConfiguration": {"Cpu": "1024", "Memory": "2048"},
            "AutoScalingConfigurationSummary": {
                "AutoScalingConfigurationArn": f"arn:aws:apprunner:{region}:{account}:"
                "autoscalingconfiguration/DefaultConfiguration/1/00000000000000000000000000000001",
                "AutoScalingConfigurationName": "DefaultConfiguration",
                "AutoScalingConfigurationRevision": 1,
            },
            "NetworkConfiguration": {"EgressConfiguration": {"EgressType": "DEFAULT"}},
        }
        self._call(
            lambda: self.server.state.region(account, region).app_runner.__setitem__(arn, record)
        )
        return arn

    def add_lightsail_container_service(
        self,
        account: str,
        region: str,
        name: str,
        containers: dict[str, str],
        next_containers: dict[str, str] | None = None,
        *,
        ecr_access: bool = True,
    ) -> str:
        """A Lightsail container service whose current deployment runs `containers` (name →
        image), with a deployment in flight running `next_containers`; returns its ARN."""
        arn = (
            f"arn:aws:lightsail:{region}:{account}:ContainerService/"
            + arns.stable_hex(account, region, "lightsail", name)[:32]
        )

        def deployment(version: int, images: dict[str, str], state: str) -> dict[str, Any]:
            return {
                "version": version,
                "state": state,
                "containers": {
                    n: {"image": image, "command": [], "environment": {"IMAGE": "not-an-image"}}
                    for n, image in images.items()
                },
                "createdAt": 1_700_000_000,
            }

        record: dict[str, Any] = {
            "containerServiceName": name,
            "arn": arn,
            "createdAt": 1_700_000_000,
            "location": {"availabilityZone": "all", "regionName": region},
            "resourceType": "ContainerService",
            "tags": [],
            "power": "nano",
            "state": "DEPLOYING" if next_containers else "RUNNING",
            "scale": 1,
            "currentDeployment": deployment(1, containers, "ACTIVE"),
            "isDisabled": False,
            "privateRegistryAccess": {
                "ecrImagePullerRole": {
                    "isActive": ecr_access,
                    "principalArn": f"arn:aws:iam::{account}:role/amazon/lightsail/{name}",
                }
            },
        }
        if next_containers:
            record["nextDeployment"] = deployment(2, next_containers, "ACTIVATING")
        self._call(
            lambda: self.server.state.region(account, region).lightsail.__setitem__(name, record)
        )
        return arn

    def add_sagemaker(
        self, account: str, region: str, collection: str, name: str, record: dict[str, Any]
    ) -> None:
        """A SageMaker resource (`collection`: "Endpoint", "InferenceComponent", "TrainingJob",
        "MonitoringSchedule", "DataQualityJobDefinition", "Algorithm", "Image", "Model"…) kept
        as its Describe call answers it (ops_sagemaker.py)."""
        self._call(
            lambda: (
                self.server.state.region(account, region)
                .sagemaker.setdefault(collection, {})
                .__setitem__(name, record)
            )
        )

    def add_sagemaker_image_version(
        self, account: str, region: str, image: str, version: int, record: dict[str, Any]
    ) -> None:
        """A version of Studio image `image`, as DescribeImageVersion answers it."""
        self._call(
            lambda: (
                self.server.state.region(account, region)
                .sagemaker_image_versions.setdefault(image, {})
                .__setitem__(version, record)
            )
        )

    def add_consumer(
        self, account: str, region: str, collection: str, key: str, record: dict[str, Any]
    ) -> None:
        """A Braket job, Clean Rooms ML algorithm, HealthOmics workflow or Greengrass
        component (version) record (ops_kinds.py; see awsim.kinds_records)."""
        self._call(
            lambda: (
                self.server.state.region(account, region)
                .consumers.setdefault(collection, {})
                .__setitem__(key, record)
            )
        )

    def add_gamelift_container_group_definition(
        self, account: str, region: str, definition: dict[str, Any]
    ) -> None:
        """A version of a GameLift container group definition, as the API answers it (its
        `Name` and `VersionNumber` say which; see awsim.kinds_records)."""

        def do() -> None:
            store = self.server.state.region(account, region).consumers
            definitions = store.setdefault(ops_gamelift.COLLECTION, {})
            versions = definitions.setdefault(definition["Name"], {"versions": {}})["versions"]
            versions[definition["VersionNumber"]] = definition

        self._call(do)

    def add_service(self, account: str, region: str, cluster: str, service: Service) -> str:
        """Add (or replace) a service; returns its ARN.  Creates the cluster if needed."""

        def do() -> str:
            state = self.server.state
            c = state.cluster(account, region, cluster)
            added = c.add_service(service)
            state.resolve_deployments(state.region(account, region), c, added)
            return added.arn

        return self._call(do)

    def remove_service(self, account: str, region: str, cluster: str, name: str) -> None:
        self._call(lambda: self.server.state.cluster(account, region, cluster).services.pop(name))

    def add_task(self, account: str, region: str, cluster: str, task: Task) -> str:
        """Add a task; returns its ARN."""
        return self._call(
            lambda: self.server.state.cluster(account, region, cluster).add_task(task).arn
        )

    def stop_task(
        self,
        account: str,
        region: str,
        cluster: str,
        task_id: str,
        stopped_at: datetime | None = None,
    ) -> None:
        def do() -> None:
            t = self.server.state.cluster(account, region, cluster).tasks[
                task_id.rsplit("/", 1)[-1]
            ]
            t.last_status = t.desired_status = "STOPPED"
            t.stopped_at = stopped_at or datetime.now().astimezone()

        self._call(do)

    def run(self, fn: Callable[[AwsimServer], T]) -> T:
        """Escape hatch: run ``fn(server)`` inside the server loop (for custom inspection)."""
        return self._call(lambda: fn(self.server))


def _sum(
    counts: dict[CallKey, int],
    account: str | None,
    region: str | None,
    operation: str | None,
    service: str | None,
) -> int:
    return sum(
        v
        for k, v in counts.items()
        if (account is None or k.account == account)
        and (region is None or k.region == region)
        and (operation is None or k.operation == operation)
        and (service is None or k.service == service)
    )


@contextmanager
def run_emulator(
    scenario: Scenario,
    faults: Faults = NO_FAULTS,
    quotas: Quotas = DEFAULT_QUOTAS,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    default_region: str = "us-east-1",
    stopped_task_retention_s: float | None = None,
) -> Iterator[Emulator]:
    """Serve ``scenario`` on ``host`` (free port by default) for the duration of the block."""
    emu = start_emulator(
        scenario,
        faults,
        quotas,
        host=host,
        port=port,
        default_region=default_region,
        stopped_task_retention_s=stopped_task_retention_s,
    )
    try:
        yield emu
    finally:
        emu.close()


def start_emulator(
    scenario: Scenario,
    faults: Faults = NO_FAULTS,
    quotas: Quotas = DEFAULT_QUOTAS,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    default_region: str = "us-east-1",
    stopped_task_retention_s: float | None = None,
) -> Emulator:
    """Like :func:`run_emulator` but returns the handle; call ``.close()`` (or use ``with``)."""
    server = AwsimServer(scenario, faults, quotas, default_region, stopped_task_retention_s)
    return Emulator(server, host, port)


__all__ = [
    "AwsimServer",
    "CallKey",
    "Emulator",
    "Session",
    "faults_from_json",
    "faults_to_json",
    "replace",
    "run_emulator",
    "start_emulator",
]
