"""A read-only Kubernetes API client: paged `list` calls over aiohttp, nothing else.

Every call is a GET of a list endpoint (or of API discovery). Lists are paged with `limit` and
`continue`, and each page is handed over as it arrives (only a page per list is in memory); a
`410 Gone` (the continue token expired) restarts that list from the start, at most
`KubeLimits.list_restarts` times, keeping what the earlier attempts saw (an object seen once is
evidence of use). Calls per cluster are bounded (`calls_at_once`) and paced by the same
AIMD limiter as AWS calls (a 429 slows it down); 429, 5xx and dropped connections are retried
with the run's retry policy (retry.py, the one AWS calls use); a 401 makes the credentials
refresh once before it counts.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import anyio

from ecr_sweeper.retry import AdaptiveRate, Pacing, RetryPolicy

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class Auth(Protocol):
    """How a client proves who it is: a bearer token (EKS, a kubeconfig token or exec
    plugin), or nothing beyond the TLS client certificate in the client's SSL context."""

    async def authorization(self) -> str | None:
        """The `Authorization` header value for the next call, or None."""
        ...

    def expire(self) -> None:
        """The server said 401: the next `authorization()` must fetch fresh credentials."""
        ...


class NoAuth:
    """A client certificate only (it is in the SSL context), or an open test server."""

    async def authorization(self) -> str | None:
        return None

    def expire(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class ClusterAccess:
    """Where a cluster's API is and how to talk to it. `server` may carry a path prefix (an
    API proxy's `https://proxy/k8s/clusters/c-1`)."""

    name: str
    server: str
    auth: Auth
    ssl_context: ssl.SSLContext | None = None  # None: the system's trust store (or plain HTTP)
    server_hostname: str | None = (
        None  # the name to check the certificate against, if not the URL's
    )


@dataclass(frozen=True, slots=True)
class KubeLimits:
    """Per cluster: calls in flight, the first pacing rate, the page size, and how often an
    expired list restarts before the list counts as not completed."""

    calls_at_once: int = 4
    initial_rate: float = 20.0
    page_size: int = 500  # kubectl's chunk size
    list_restarts: int = 3
    timeout_seconds: float = 60.0
    connect_seconds: float = 10.0


class KubeError(Exception):
    """A call the cluster did not answer with what was asked. `status` is the HTTP status, or
    None when there was no answer (connection refused, timeout, TLS)."""

    def __init__(
        self, path: str, status: int | None, message: str, *, transient: bool = False
    ) -> None:
        super().__init__(f"GET {path}: {message}")
        self.path = path
        self.status = status
        self.message = message
        self.transient = transient  # a connection dropped mid-answer: worth another try


def _retryable(exc: BaseException) -> bool:
    # Not a refused connection or a timeout: a private endpoint out of reach stays so, and
    # retrying it would only make the run wait.
    return isinstance(exc, KubeError) and (exc.status in RETRYABLE_STATUS or exc.transient)


class KubeClient:
    """Read-only calls to one cluster. Use as an async context manager (it owns a connection
    pool); `calls` counts every HTTP request sent, retries included."""

    def __init__(
        self,
        access: ClusterAccess,
        retry: RetryPolicy | None = None,
        limits: KubeLimits | None = None,
    ) -> None:
        self.access = access
        self.limits = limits or KubeLimits()
        self._retry = retry or RetryPolicy()
        self._gate = anyio.Semaphore(self.limits.calls_at_once)
        self._pace = AdaptiveRate(Pacing(initial_rate=self.limits.initial_rate))
        self._session: aiohttp.ClientSession | None = None
        self.calls = 0

    async def __aenter__(self) -> KubeClient:
        connector = aiohttp.TCPConnector(
            limit=self.limits.calls_at_once,
            ssl=self.access.ssl_context if self.access.ssl_context is not None else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=self.limits.timeout_seconds, sock_connect=self.limits.connect_seconds
            ),
            raise_for_status=False,
            trust_env=True,  # HTTPS_PROXY / NO_PROXY, as botocore honours them for AWS calls
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            with anyio.CancelScope(shield=True):
                await self._session.close()

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One GET, paced, retried on 429, 5xx and timeouts; a 401 refreshes the credentials
        and tries once more. Any other failure raises KubeError."""
        # A 429's retry backs off as a 5xx's does: the pacing of a cluster is one model for
        # every list, not the bucket of the call that was throttled.
        async for attempt in self._retry.retrying(_retryable):
            with attempt:
                try:
                    return await self._attempt(path, params)
                except KubeError as exc:
                    if exc.status != 401:
                        raise
                    self.access.auth.expire()  # a token past its life: one fresh try
                    return await self._attempt(path, params)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _attempt(self, path: str, params: Mapping[str, str] | None) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("KubeClient used outside `async with`")
        headers = {"Accept": "application/json"}
        authorization = await self.access.auth.authorization()
        if authorization:
            headers["Authorization"] = authorization
        url = self.access.server.rstrip("/") + path
        # The turn is waited for before taking a slot (as aws/limits.py does): a call waiting
        # for the rate must not hold a slot another list's call could use.
        turn = await self._pace.wait_turn()
        async with self._gate:
            self.calls += 1
            try:
                async with self._session.get(
                    url,
                    params=params,
                    headers=headers,
                    server_hostname=self.access.server_hostname,
                ) as response:
                    body = await response.read()
                    status = response.status
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
                raise KubeError(path, None, _connection_message(exc), transient=True) from exc
            except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError) as exc:
                raise KubeError(path, None, _connection_message(exc)) from exc
        if status == 429:
            self._pace.on_throttled(turn.reserved_at)
        else:
            self._pace.on_success(turn)
        if status != 200:
            raise KubeError(path, status, _status_message(status, body))
        try:
            answer = _json(body)
        except (ValueError, TypeError) as exc:
            raise KubeError(path, status, f"not a JSON object: {exc}") from exc
        return answer

    async def list_items(self, path: str) -> list[dict[str, Any]]:
        """Every item of a list endpoint (in memory at once: for small lists and tests)."""
        items: list[dict[str, Any]] = []
        await self.each_page(path, items.extend)
        return items

    async def each_page(self, path: str, handle: Callable[[list[dict[str, Any]]], None]) -> None:
        """Hand every page of a list endpoint's items to `handle`, page by page. A 410
        (expired continue token) restarts the list (pages already handled stay handled); a
        token that comes back twice is a list that cannot complete."""
        for _ in range(self.limits.list_restarts + 1):
            if await self._list_once(path, handle):
                return
        raise KubeError(
            path, 410, f"the list expired {self.limits.list_restarts + 1} times before it ended"
        )

    async def _list_once(self, path: str, handle: Callable[[list[dict[str, Any]]], None]) -> bool:
        """One pass over a list, page by page; False when its continue token expired."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            params = {"limit": str(self.limits.page_size)}
            if token:
                params["continue"] = token
            try:
                page = await self.get(path, params)
            except KubeError as exc:
                if exc.status == 410 and token is not None:
                    return False
                raise
            handle(_items(page, path))
            token = _continue_token(page, path)
            if not token:
                return True
            if token in seen:
                raise KubeError(path, 200, "the same continue token came back twice")
            seen.add(token)


def _items(page: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    items = page.get("items")
    if items is None:  # an empty list serializes items as null in some servers
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise KubeError(path, 200, "the answer's items is not a list of objects")
    return items


def _continue_token(page: Mapping[str, Any], path: str) -> str | None:
    metadata = page.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise KubeError(path, 200, "the answer's metadata is not an object")
    token = metadata.get("continue")
    if token is not None and not isinstance(token, str):
        raise KubeError(path, 200, "metadata.continue is not a string")
    return token or None


def _json(body: bytes) -> dict[str, Any]:
    import json

    answer = json.loads(body)
    if not isinstance(answer, dict):
        raise TypeError(f"got {type(answer).__name__}")
    return answer


def _status_message(status: int, body: bytes) -> str:
    """`403 Forbidden: pods is forbidden: User "…" cannot list…` from a Status object."""
    reason = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 410: "Gone"}.get(
        status, f"HTTP {status}"
    )
    try:
        answer = _json(body)
    except (ValueError, TypeError):
        return f"{status} {reason}"
    message = answer.get("message")
    if not isinstance(message, str) or not message or message == reason:
        return f"{status} {reason}"
    return f"{status} {reason}: {message}"


def _connection_message(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out (a private endpoint this runner cannot reach?)"
    return f"cannot connect: {type(exc).__name__}: {exc}"
