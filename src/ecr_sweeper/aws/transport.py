"""How an AWS call's request reaches its endpoint, and its answer comes back.

The clients of a run are aiobotocore's, with `SharedTLSSession` as their HTTP session: one TLS
context for the whole run, and, per endpoint, a pool of keep-alive HTTP/1.1 connections of our
own (http1.py). wire.py and lean.py send each request through a `Poster`, which writes it to
that pool: aiohttp's request machinery and aiobotocore's wrapping of it (proxy lookup, header
copies, response objects) were most of a sweep's CPU per call on the benchmark (http1.py says
how much). A request through a proxy, or through an HTTP session of aiobotocore's own (tests
that make plain clients), goes through aiohttp as aiobotocore would send it.

Either way the same things come back: an `Answer` (status, body, headers on demand), or
botocore's exception for a transport failure, as aiobotocore's `send` maps aiohttp's
(`_botocore_error`, clause for clause) and the same ones for http1.py's (`_http1_error`), so
`limits.is_retryable` decides alike. tests/aws/test_transport.py makes the same failures happen
to aiobotocore's send and to both ways here, and compares.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
from aiobotocore.httpsession import AIOHTTPSession
from aiohttp.http_exceptions import BadStatusLine
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import mask_proxy_url
from yarl import URL

from ecr_sweeper.aws import http1


class SharedTLSSession(AIOHTTPSession):
    """aiobotocore's HTTP session, with one TLS context for the whole run and a keep-alive
    pool of http1.py's per origin (what `Poster` sends through when no proxy is in the way).

    Each client builds its own context and loads the CA bundle into it (~20 ms of CPU); a run
    has one client per account × region × service, hundreds of them. The context holds no
    per-connection state, so sharing it is safe. The pools take the session's settings: its
    connection limit (`max_pool_connections`), timeouts, keep-alive and TLS verification; they
    close with it.
    """

    _contexts: ClassVar[dict[object, Any]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[str, str, int], http1.Pool] = {}

    def _build_ssl_contexts(self, proxy_url: str | None) -> Any:
        this: Any = self  # aiobotocore's private attributes are not in its type stubs
        parent: Any = super()
        if proxy_url:
            return parent._build_ssl_contexts(proxy_url)
        key = (this._verify, this._cert_file, this._key_file)
        if key not in self._contexts:
            self._contexts[key] = parent._build_ssl_contexts(None)
        return self._contexts[key]

    async def _tls(self) -> ssl.SSLContext:
        """The run's TLS context for this session's settings (built once, off the loop)."""
        this: Any = self
        key = (this._verify, this._cert_file, this._key_file)
        if key not in self._contexts:
            await asyncio.to_thread(self._build_ssl_contexts, None)
        context: ssl.SSLContext = self._contexts[key][0]
        return context

    def pool(self, url: str) -> http1.Pool:
        """The keep-alive connections to `url`'s origin."""
        this: Any = self
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        key = (parts.scheme, parts.hostname or "", parts.port or (443 if tls else 80))
        if key not in self._pools:
            # aiobotocore's default is 12 s (it always sets one, unless told otherwise).
            keepalive = this._connector_args.get("keepalive_timeout") or 12.0
            self._pools[key] = http1.Pool(
                key[1],
                key[2],
                tls=self._tls if tls else None,
                limit=this._max_pool_connections,
                connect_timeout=this._timeout.sock_connect,
                read_timeout=this._timeout.sock_read,
                keepalive=keepalive,
            )
        return self._pools[key]

    async def __aexit__(self, *exc_info: Any) -> None:
        for pool in self._pools.values():
            await pool.close()
        self._pools.clear()
        await super().__aexit__(*exc_info)


@dataclass
class Answer:
    """An HTTP answer: its status, its body, and its headers (names in lower case) on demand."""

    status: int
    body: bytes
    raw_headers: tuple[tuple[bytes, bytes], ...]

    @cached_property
    def headers(self) -> dict[str, str]:
        return {k.decode("utf-8").lower(): v.decode("utf-8") for k, v in self.raw_headers}


class Poster:
    """Requests to one endpoint through `http` (an aiobotocore HTTP session: a client's
    ``_endpoint.http_session``): POSTs to its URL, or any request under it (`send`)."""

    __slots__ = ("_http", "_pool", "_proxy_headers", "_proxy_url", "_target", "_url", "host", "url")

    def __init__(self, http: Any, url: str) -> None:
        self._http = http
        self.url = url
        self._url = URL(url, encoded=True)
        self.host = _host(self._url)  # as SigV4 signs it, and as sent
        self._target = self._url.raw_path_qs
        # As aiobotocore's send asks them for every request, once: the proxy depends only on
        # the URL's scheme (and the environment the session was made in), the same for every
        # URL under the endpoint's; the proxy's credentials on the URL asked, the endpoint's.
        self._proxy_url: str | None = http._proxy_config.proxy_url_for(url)
        self._proxy_headers: dict[str, str] = http._proxy_config.proxy_headers_for(url)
        direct = isinstance(http, SharedTLSSession) and self._proxy_url is None
        self._pool = http.pool(url) if direct else None

    async def __call__(self, headers: Mapping[str, str], body: bytes) -> Answer:
        """POST `body` with `headers` to the endpoint's URL: the whole answer."""
        if self._pool is not None:
            head = http1.request_head("POST", self._target, self.host, headers, len(body))
            return await self._http1(head + body, self.url)
        return await self._aiohttp("POST", self._url, headers, body)

    async def send(self, method: str, url: str, headers: Mapping[str, Any], body: Any) -> Answer:
        """A request to `url` (under the endpoint's) as botocore prepared it: header values of
        bytes are decoded, a body of text is encoded (aiobotocore's send does both)."""
        text = {k: v if isinstance(v, str) else v.decode("utf-8") for k, v in headers.items()}
        data = body if isinstance(body, bytes) else (body or "").encode("utf-8")
        target = URL(url, encoded=True)
        if self._pool is not None:
            head = http1.request_head(method, target.raw_path_qs, _host(target), text, len(data))
            return await self._http1(head + data, url)
        return await self._aiohttp(method, target, text, data)

    async def _http1(self, data: bytes, url: str) -> Answer:
        assert self._pool is not None
        try:
            reply = await self._pool.request(data)
        except CancelledError:
            raise
        except Exception as exc:
            raise _http1_error(exc, url) from exc
        return Answer(reply.status, reply.body, reply.headers)

    async def _aiohttp(
        self, method: str, url: URL, headers: Mapping[str, str], body: Any
    ) -> Answer:
        """One request through aiohttp, ``Accept-Encoding: identity`` added (as aiobotocore
        does). A transport failure raises botocore's exception for it."""
        try:
            session = await self._http._get_session(self._proxy_url)
            async with session.request(
                method,
                url,
                headers={**headers, "Accept-Encoding": "identity"},
                data=body,
                proxy=self._proxy_url,
                proxy_headers=self._proxy_headers,
            ) as response:
                content = await response.read()
                return Answer(response.status, content, response.raw_headers)
        except CancelledError:
            raise
        except Exception as exc:
            raise _botocore_error(exc, str(url), self._proxy_url) from exc


def _host(url: URL) -> str:
    """The ``Host`` of a request to `url`: its port only when not the scheme's default."""
    host = url.raw_host or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return host if url.is_default_port() else f"{host}:{url.port}"


def _http1_error(exc: Exception, url: str) -> Exception:
    """botocore's exception for a failure of http1.py's, as aiobotocore maps aiohttp's for the
    same failure: a refused or unresolvable connection, a timeout, a connection closed early,
    a broken TLS handshake, an answer that is not HTTP."""
    if isinstance(exc, http1.ConnectTimeoutError):
        return ConnectTimeoutError(endpoint_url=url, error=exc)
    if isinstance(exc, http1.ReadTimeoutError):
        return ReadTimeoutError(endpoint_url=url, error=exc)
    if isinstance(exc, http1.ConnectError):  # refused, unreachable, no such host
        return EndpointConnectionError(endpoint_url=url, error=exc)
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return SSLError(endpoint_url=url, error=exc)
    if isinstance(exc, http1.ClosedError | OSError):  # closed or reset while answering
        return ConnectionClosedError(error=exc, endpoint_url=url)
    return HTTPClientError(error=exc)


def _timeout(exc: Exception, url: str, _: str | None) -> Exception:
    if str(exc).lower().startswith("connect"):
        return ConnectTimeoutError(endpoint_url=url, error=exc)
    return ReadTimeoutError(endpoint_url=url, error=exc)


Make = Callable[[Exception, str, str | None], Exception]
# aiobotocore's `send`, clause by clause, in its order (the first that matches decides).
_BOTOCORE_ERRORS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Make], ...] = (
    (aiohttp.ClientSSLError, lambda exc, url, _: SSLError(endpoint_url=url, error=exc)),
    (
        (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError),
        lambda exc, _, proxy: ProxyConnectionError(
            proxy_url=mask_proxy_url(proxy or ""), error=exc
        ),
    ),
    (
        (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, BadStatusLine),
        lambda exc, url, _: ConnectionClosedError(error=exc, endpoint_url=url),
    ),
    (aiohttp.ServerTimeoutError, _timeout),
    (
        (aiohttp.ClientConnectorError, aiohttp.ClientConnectionError, socket.gaierror),
        lambda exc, url, _: EndpointConnectionError(endpoint_url=url, error=exc),
    ),
    (asyncio.TimeoutError, lambda exc, url, _: ReadTimeoutError(endpoint_url=url, error=exc)),
)


def _botocore_error(exc: Exception, url: str, proxy_url: str | None) -> Exception:
    """The exception aiobotocore's `send` raises for `exc`; any other, HTTPClientError."""
    for kinds, make in _BOTOCORE_ERRORS:
        if isinstance(exc, kinds):
            return make(exc, url, proxy_url)
    return HTTPClientError(error=exc)
