"""aws/transport.py and aws/http1.py over real sockets.

The same request goes three ways: aiobotocore's own `send` (the reference), `Poster` through
aiohttp (a plain aiobotocore HTTP session, or a proxy), and `Poster` through http1.py's pool
(`SharedTLSSession`, what a run uses). A raw TCP server on 127.0.0.1 answers each request as
the case says: well (by length, chunked, up to the close, after an interim 100), or by closing,
with a broken status line or header, a short body, or nothing. Each way must give the same
answer, or the same botocore exception (so `limits.is_retryable` decides alike).
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import (
    ConnectionClosedError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)

from certificates import certificates
from ecr_sweeper.aws.limits import is_retryable
from ecr_sweeper.aws.transport import Poster, SharedTLSSession

HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "A.B"}
# Act: what the server does with one request on a connection; True to read another after it.
Act = Callable[[socket.socket], bool]
WAYS = ("aiobotocore", "aiohttp", "http1")


def _answer(raw: bytes, keep: bool = False) -> Act:
    def act(conn: socket.socket) -> bool:
        conn.sendall(raw)
        return keep

    return act


def _ok(body: bytes = b"{}", keep: bool = False, extra: bytes = b"") -> bytes:
    close = b"" if keep else b"Connection: close\r\n"
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nX-Amzn-RequestId: r-1\r\n%s%s"
        b"Content-Length: %d\r\n\r\n%s" % (close, extra, len(body), body)
    )


def _hang(conn: socket.socket) -> bool:
    conn.recv(1)  # nothing comes: the client gives up first, then closes
    return False


# Each case: the server's act, and the exception every way raises (None: an answer).
CASES: dict[str, tuple[Act, type[Exception] | None]] = {
    "an answer by length": (_answer(_ok()), None),
    "an answer in chunks": (
        _answer(
            b"HTTP/1.1 200 OK\r\nX-Amzn-RequestId: r-1\r\nTransfer-Encoding: chunked\r\n"
            b'Connection: close\r\n\r\n4;ext=1\r\n{"a"\r\n3\r\n: 1\r\n1\r\n}\r\n'
            b"0\r\nX-Trailer: t\r\n\r\n"
        ),
        None,
    ),
    "an answer up to the close": (
        _answer(b'HTTP/1.1 200 OK\r\nX-Amzn-RequestId: r-1\r\n\r\n{"up to": "the close"}'),
        None,
    ),
    "an interim 100 first": (_answer(b"HTTP/1.1 100 Continue\r\n\r\n" + _ok()), None),
    "an error answer": (
        _answer(
            b"HTTP/1.1 400 Bad Request\r\nX-Amzn-RequestId: r-1\r\nConnection: close\r\n"
            b"Content-Length: 2\r\n\r\n{}"
        ),
        None,
    ),
    "closed without an answer": (lambda _: False, ConnectionClosedError),
    "a body shorter than its length": (
        _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}"),
        ConnectionClosedError,
    ),
    "chunks cut short": (
        _answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{}"),
        ConnectionClosedError,
    ),
    # aiohttp's parser reports these as a response error, not BadStatusLine: not retried
    "a broken status line": (_answer(b"HTTP/1.1 OOPS\r\n\r\n"), HTTPClientError),
    "a header line without a colon": (
        _answer(b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n"),
        HTTPClientError,
    ),
    "no answer within the read timeout": (_hang, ReadTimeoutError),
}


def _read_request(conn: socket.socket, pending: bytearray) -> bool:
    """Read one request off `conn` (what came beyond it stays in `pending`); False at EOF."""
    while b"\r\n\r\n" not in pending:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        pending += chunk
    end = pending.index(b"\r\n\r\n")
    head = bytes(pending[:end]).lower().split(b"\r\n")
    length = next((int(h.split(b":", 1)[1]) for h in head if h.startswith(b"content-length:")), 0)
    while len(pending) < end + 4 + length:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        pending += chunk
    del pending[: end + 4 + length]
    return True


@contextmanager
def raw_server(act: Act, tls: ssl.SSLContext | None = None) -> Iterator[Any]:
    """A server on a free 127.0.0.1 port: each request read, then `act`; the connection
    closed when `act` says so. Yields its state (`url`, `connections`, `most_at_once`)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()
    scheme = "https" if tls else "http"
    state: Any = type("State", (), {})()
    state.url = f"{scheme}://127.0.0.1:{listener.getsockname()[1]}/"
    state.connections = 0
    state.open = 0
    state.most_at_once = 0
    lock = threading.Lock()

    def handle(conn: socket.socket) -> None:
        with lock:
            state.open += 1
            state.most_at_once = max(state.most_at_once, state.open)
        try:
            with conn:
                conn.settimeout(5)
                pending = bytearray()
                while _read_request(conn, pending) and act(conn):
                    pass
        except (OSError, ssl.SSLError):
            pass
        finally:
            with lock:
                state.open -= 1

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            state.connections += 1
            if tls is not None:
                try:
                    conn.settimeout(5)
                    conn = tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    conn.close()
                    continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(10)
        listener.close()


def _config(shared: bool, **options: Any) -> AioConfig:
    settings: dict[str, Any] = {
        "read_timeout": 0.5,
        "connect_timeout": 1,
        "retries": {"total_max_attempts": 1},
        **options,
    }
    if shared:
        settings["http_session_cls"] = SharedTLSSession
    return AioConfig(**settings)


async def _send(way: str, url: str, times: int = 1, verify: Any = None, **options: Any) -> Any:
    """What `way` gives for `times` requests (one after another) to `url`: the last answer as
    (status, body, headers), or the exception raised."""
    session: Any = AioSession()
    async with session.create_client(
        "ecr",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AK",
        aws_secret_access_key="SK",
        verify=verify,
        config=_config(way == "http1", **options),
    ) as client:
        http = client._endpoint.http_session
        try:
            for _ in range(times):
                if way == "aiobotocore":
                    sent: Any = HEADERS  # aiobotocore's send only iterates them
                    request = AWSPreparedRequest("POST", url, sent, b"{}", stream_output=False)
                    response = await http.send(request)
                    answer = (response.status_code, await response.content, dict(response.headers))
                else:
                    mine = await Poster(http, url)(HEADERS, b"{}")
                    answer = (mine.status, mine.body, mine.headers)
        except Exception as exc:  # noqa: BLE001 - what it raised is what is compared
            return exc
        return answer


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_way_answers_and_fails_as_aiobotocore_send(case: str) -> None:
    act, expected = CASES[case]
    got = {}
    for way in WAYS:
        with raw_server(act) as server:
            got[way] = anyio.run(_send, way, server.url)
    if expected is None:
        assert got["aiohttp"] == got["aiobotocore"]
        assert got["http1"] == got["aiobotocore"]
        assert got["http1"][2]["x-amzn-requestid"] == "r-1"  # names in lower case
    else:
        for way, result in got.items():
            assert type(result) is expected, (way, result)
            assert is_retryable(result) is (expected is not HTTPClientError)


def test_a_refused_connection_is_an_endpoint_connection_error_each_way() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        url = f"http://127.0.0.1:{taken.getsockname()[1]}/"
    # the port is free again: nothing listens there
    for way in WAYS:
        result = anyio.run(_send, way, url)
        assert type(result) is EndpointConnectionError, (way, result)
        assert is_retryable(result)


def test_http1_keeps_connections_alive_and_opens_a_new_one_when_the_server_closed() -> None:
    with raw_server(_answer(_ok(keep=True), keep=True)) as server:
        assert anyio.run(_send, "http1", server.url, 20)[0] == 200
        assert server.connections == 1  # twenty requests, one connection
    keeps = iter([True, False] * 10)  # every second answer says it closes, and closes

    def alternate(conn: socket.socket) -> bool:
        keep = next(keeps)
        return _answer(_ok(keep=keep), keep=keep)(conn)

    with raw_server(alternate) as server:
        assert anyio.run(_send, "http1", server.url, 20)[0] == 200
        assert server.connections == 10


def test_http1_does_not_reuse_a_connection_the_server_closed_while_idle() -> None:
    def then_close(conn: socket.socket) -> bool:
        conn.sendall(_ok(keep=True))  # says it keeps the connection, then closes it idle
        return False

    async def twice(url: str) -> int:
        session: Any = AioSession()
        async with session.create_client(
            "ecr",
            region_name="us-east-1",
            endpoint_url=url,
            config=_config(True),
            aws_access_key_id="AK",
            aws_secret_access_key="SK",
        ) as client:
            poster = Poster(client._endpoint.http_session, url)
            await poster(HEADERS, b"{}")
            await anyio.sleep(0.3)  # the close arrives while the connection is idle
            return (await poster(HEADERS, b"{}")).status

    with raw_server(then_close) as server:
        assert anyio.run(twice, server.url) == 200
        assert server.connections == 2


def test_http1_opens_at_most_max_pool_connections_and_the_rest_wait() -> None:
    def slow(conn: socket.socket) -> bool:
        time.sleep(0.05)
        conn.sendall(_ok(keep=True))
        return True

    async def many(url: str) -> list[int]:
        session: Any = AioSession()
        config = _config(True, max_pool_connections=3)
        async with session.create_client(
            "ecr",
            region_name="us-east-1",
            endpoint_url=url,
            config=config,
            aws_access_key_id="AK",
            aws_secret_access_key="SK",
        ) as client:
            poster = Poster(client._endpoint.http_session, url)
            statuses: list[int] = []

            async def one() -> None:
                statuses.append((await poster(HEADERS, b"{}")).status)

            async with anyio.create_task_group() as tg:
                for _ in range(12):
                    tg.start_soon(one)
            return statuses

    with raw_server(slow) as server:
        assert anyio.run(many, server.url) == [200] * 12
        assert server.most_at_once == 3
        assert server.connections == 3


def test_http1_speaks_tls_and_verifies_the_server_as_aiobotocore_does(tmp_path: Path) -> None:
    paths = certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(paths["server.crt"], paths["server.key"])
    with raw_server(_answer(_ok()), tls=context) as server:
        for way in WAYS:  # trusting the test's CA: an answer
            assert anyio.run(_send, way, server.url, 1, str(paths["ca.crt"]))[0] == 200, way
        for way in WAYS:  # the default trust store does not know it: refused
            result = anyio.run(_send, way, server.url)
            assert type(result) is SSLError, (way, result)


def test_a_request_field_with_a_line_break_is_refused_before_sending() -> None:
    with raw_server(_answer(_ok())) as server:

        async def forged() -> None:
            session: Any = AioSession()
            async with session.create_client(
                "ecr",
                region_name="us-east-1",
                endpoint_url=server.url,
                config=_config(True),
                aws_access_key_id="AK",
                aws_secret_access_key="SK",
            ) as client:
                poster = Poster(client._endpoint.http_session, server.url)
                await poster({"X-Amz-Target": "A.B\r\nX-Forged: 1"}, b"{}")

        with pytest.raises(ValueError, match="forge"):
            anyio.run(forged)
        assert server.connections == 0
