"""Keep-alive HTTP/1.1 connections to one AWS endpoint: the requests of a sweep, nothing more.

Why it exists: a sweep makes tens of thousands of small requests, and on the benchmark its CPU,
not AWS, bounds it. aiohttp's request machinery (its request and response objects, payload
registry, cookie jar, tracing and timers) cost 0.35 ms of CPU a request in a side-by-side
measurement on the benchmark's machine, against 0.10 ms for writing the request's bytes to a
pooled connection and reading the answer off it (both with a task per request). transport.py
sends through a `Pool` when it can (no proxy: with one, through aiohttp) and maps the failures
here to botocore's exceptions as aiobotocore does.

What it does, and what it refuses:

* one request at a time per connection (no pipelining); at most `limit` connections, a
  request waits for one beyond that; an idle connection is reused (the most recent first)
  unless it has been idle `keepalive` seconds or the server closed it;
* the answer is read as RFC 9112 frames it: a status line and header fields, then a body by
  ``Transfer-Encoding: chunked``, by ``Content-Length``, or up to the connection's close;
  1xx interim answers are skipped; 204 and 304 have no body. A connection is reused only after
  an HTTP/1.1 answer framed by length or chunks, without ``Connection: close`` and with no byte
  beyond it;
* an answer that breaks the framing (a bad status line, a header line without a colon or
  folded, conflicting lengths, a bad chunk) is `MalformedError`; a connection closed before the
  answer is whole is `ClosedError`; `connect_timeout` bounds making a connection, `read_timeout`
  the wait for each piece of the answer (as botocore's socket timeout does).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_HEAD = 64 * 1024  # bytes of status line and header fields (aiohttp's default limits: 8 KB
# a line, 32 KB a field); beyond it the answer is MalformedError
_NO_BODY = frozenset({204, 304})


class MalformedError(Exception):
    """The answer breaks HTTP/1.1's framing."""


class ClosedError(Exception):
    """The connection closed before the answer was whole."""


class ReadTimeoutError(Exception):
    """No byte of the answer came for `read_timeout` seconds."""


class ConnectTimeoutError(Exception):
    """The connection was not made within `connect_timeout` seconds."""


class ConnectError(Exception):
    """The connection could not be made (refused, unreachable, no such host): the OSError is
    its cause. A failed TLS handshake is left as ssl's own error."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # as sent (names in the server's case)
    body: bytes


def request_head(
    method: str, target: str, host: str, headers: Mapping[str, str], length: int
) -> bytes:
    """The request line and header fields of a request with a body of `length` bytes: `host`
    as ``Host`` unless `headers` has one, ``Accept-Encoding: identity`` unless it has one, and
    ``Content-Length`` (in place of any in `headers`).
    A value or name with a line break is refused (ValueError): it would forge fields."""
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    names = set()
    for name, value in headers.items():
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
            raise ValueError(f"header {name!r}: a line break or colon would forge a field")
        lowered = name.lower()
        if lowered == "content-length":  # ours, of the body as sent
            continue
        if lowered == "transfer-encoding":
            raise ValueError("a request body is sent whole here, with its length")
        names.add(lowered)
        lines.append(f"{name}: {value}\r\n")
    if "host" not in names:
        lines.append(f"Host: {host}\r\n")
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: identity\r\n")
    lines.append(f"Content-Length: {length}\r\n\r\n")
    return "".join(lines).encode("latin-1")


class _Answer:
    """The parse of one answer, fed the connection's bytes as they come."""

    __slots__ = ("_framing", "_left", "body", "done", "headers", "keep", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: tuple[tuple[bytes, bytes], ...] = ()
        self.body: list[bytes] = []
        self.done = False
        self.keep = False  # whether the connection can serve another request after it
        self._framing = ""  # "" (head not read yet), "length", "chunked", "close"
        self._left = 0  # bytes of the body (length) or of the chunk (chunked) still to come

    def feed(self, buffer: bytearray) -> None:
        """Take what it can of `buffer` (consumed from its front); `done` once whole."""
        while not self.done:
            if not self._framing:
                if not self._head(buffer):
                    return
            elif self._framing == "length":
                take = min(self._left, len(buffer))
                self.body.append(bytes(buffer[:take]))
                del buffer[:take]
                self._left -= take
                self.done = self._left == 0
                if not self.done:
                    return
            elif self._framing == "chunked":
                if not self._chunk(buffer):
                    return
            else:  # "close": everything until the connection closes
                self.body.append(bytes(buffer))
                del buffer[:]
                return

    def closed(self) -> bool:
        """The connection closed: whether that ends the answer (a body framed by the close)."""
        self.done = self._framing == "close"
        return self.done

    def _head(self, buffer: bytearray) -> bool:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD:
                raise MalformedError(f"no end of the header fields in {MAX_HEAD} bytes")
            return False
        if end > MAX_HEAD:
            raise MalformedError(f"header fields longer than {MAX_HEAD} bytes")
        lines = bytes(buffer[:end]).split(b"\r\n")
        del buffer[: end + 4]
        version, _, rest = lines[0].partition(b" ")
        code = rest[:3]
        if (
            version not in (b"HTTP/1.1", b"HTTP/1.0")
            or not code.isdigit()
            or rest[3:4] not in (b"", b" ")
        ):
            raise MalformedError(f"bad status line {lines[0][:100]!r}")
        status = int(code)
        fields = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
                raise MalformedError(f"bad header line {line[:100]!r}")
            fields.append((name, value.strip()))
        if 100 <= status < 200:  # an interim answer: the final one follows
            return True
        self.status, self.headers = status, tuple(fields)
        self._frame(version, fields)
        return True

    def _frame(self, version: bytes, fields: list[tuple[bytes, bytes]]) -> None:
        lengths = {v for n, v in fields if n.lower() == b"content-length"}
        coding = b",".join(v for n, v in fields if n.lower() == b"transfer-encoding").lower()
        connection = b",".join(v for n, v in fields if n.lower() == b"connection").lower()
        self.keep = version == b"HTTP/1.1" and b"close" not in connection
        if self.status in _NO_BODY:
            self._framing, self.done = "length", True
        elif coding:
            if coding.rsplit(b",", 1)[-1].strip() != b"chunked":
                self._framing, self.keep = "close", False
            else:
                self._framing = "chunked"
        elif lengths:
            if len(lengths) > 1 or not next(iter(lengths)).isdigit():
                raise MalformedError(f"bad Content-Length {sorted(lengths)!r}")
            self._framing, self._left = "length", int(next(iter(lengths)))
            self.done = self._left == 0
        else:
            self._framing, self.keep = "close", False

    def _chunk(self, buffer: bytearray) -> bool:
        """Take one chunk (or its part) of a chunked body; False when more bytes are needed."""
        if self._left == 0:  # a chunk's size line
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise MalformedError("no end of a chunk size line")
                return False
            size = bytes(buffer[:end]).split(b";", 1)[0].strip()
            if not size or size.strip(b"0123456789abcdefABCDEF"):
                raise MalformedError(f"bad chunk size {size[:20]!r}")
            if int(size, 16) == 0:  # the last chunk: trailer fields (ignored), an empty line
                last = buffer.find(b"\r\n\r\n", end)
                if last < 0:
                    return False
                del buffer[: last + 4]
                self.done = True
                return True
            del buffer[: end + 2]
            self._left = int(size, 16) + 2  # its data, then CRLF
        if self._left > 2:
            take = min(self._left - 2, len(buffer))
            self.body.append(bytes(buffer[:take]))
            del buffer[:take]
            self._left -= take
            if self._left > 2:
                return False
        if len(buffer) < 2:
            return False
        if buffer[:2] != b"\r\n":
            raise MalformedError("a chunk not followed by CRLF")
        del buffer[:2]
        self._left = 0
        return True


class _Connection(asyncio.Protocol):
    """One connection: one request at a time, its answer parsed as it comes."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._answer: _Answer | None = None
        self._waiter: asyncio.Future[Reply] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._read_timeout = 0.0
        self._last_read = 0.0
        self.open = False
        self.idle_since = 0.0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.open = True

    def exchange(self, data: bytes, read_timeout: float | None) -> Awaitable[Reply]:
        """Send a request's bytes; the answer (a Reply), or its failure."""
        assert self.transport is not None
        self._answer = _Answer()
        self._waiter = waiter = self._loop.create_future()
        self._buffer.clear()
        self.transport.write(data)
        if read_timeout:
            self._read_timeout = read_timeout
            self._last_read = self._loop.time()
            self._timer = self._loop.call_at(self._last_read + read_timeout, self._check_timeout)
        return waiter

    def data_received(self, data: bytes) -> None:
        self._last_read = self._loop.time()
        self._buffer += data
        answer = self._answer
        if answer is None:  # bytes nobody asked for: this connection is not to be trusted
            self.abort()
            return
        try:
            answer.feed(self._buffer)
        except MalformedError as exc:
            self._fail(exc)
            self.abort()
            return
        if answer.done:
            if self._buffer:  # more than the answer: not reusable
                answer.keep = False
            self._finish(answer)

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        answer = self._answer
        if answer is not None and answer.closed():
            answer.keep = False
            self._finish(answer)
        else:
            self._fail(ClosedError(str(exc) if exc else "the server closed the connection"))

    def abort(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.abort()

    @property
    def reusable(self) -> bool:
        transport = self.transport
        idle = self._answer is None and self._waiter is None
        return self.open and idle and transport is not None and not transport.is_closing()

    def _finish(self, answer: _Answer) -> None:
        self._stop_timer()
        waiter, self._waiter, self._answer = self._waiter, None, None
        # A fresh buffer: the last one may have grown to a large answer's size, and an idle
        # connection (hundreds of them) should not hold that.
        self._buffer = bytearray()
        if not answer.keep:
            self.open = False
            if self.transport is not None:
                self.transport.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(Reply(answer.status, answer.headers, b"".join(answer.body)))

    def _fail(self, exc: Exception) -> None:
        self._stop_timer()
        waiter, self._waiter, self._answer = self._waiter, None, None
        self.open = False
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _check_timeout(self) -> None:
        self._timer = None
        if self._waiter is None:
            return
        due = self._last_read + self._read_timeout
        if self._loop.time() < due:  # bytes came since: wait for the rest
            self._timer = self._loop.call_at(due, self._check_timeout)
            return
        self._fail(ReadTimeoutError(f"no answer within {self._read_timeout:g} seconds"))
        self.abort()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


SslFactory = Callable[[], Awaitable[ssl.SSLContext]]


class Pool:
    """Keep-alive connections to one origin (`host`, `port`; TLS when `tls` gives a context)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: SslFactory | None,
        limit: int,
        connect_timeout: float | None,
        read_timeout: float | None,
        keepalive: float,
    ) -> None:
        self._host, self._port, self._tls = host, port, tls
        self._limit = max(1, limit)
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._keepalive = keepalive
        self._idle: list[_Connection] = []
        self._open = 0  # connections made and not closed (idle or serving)
        self._waiting: list[asyncio.Future[None]] = []
        self._closed = False

    async def request(self, data: bytes) -> Reply:
        """Send `data` (a whole request) on a connection; the answer."""
        connection = await self._acquire()
        try:
            reply = await connection.exchange(data, self._read_timeout)
        except BaseException:
            connection.abort()
            self._release(connection)
            raise
        self._release(connection)
        return reply

    async def close(self) -> None:
        """Close every idle connection; those serving close when they are released."""
        self._closed = True
        for connection in self._idle:
            connection.abort()
        self._open -= len(self._idle)
        self._idle.clear()
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_exception(ClosedError("the pool is closed"))

    async def _acquire(self) -> _Connection:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise ClosedError("the pool is closed")
            while self._idle:
                connection = self._idle.pop()
                if connection.reusable and loop.time() - connection.idle_since < self._keepalive:
                    return connection
                connection.abort()
                self._open -= 1
            if self._open < self._limit:
                break
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken, then cancelled: the turn goes to the next one
                raise
            finally:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
        self._open += 1
        try:
            return await self._connect(loop)
        except BaseException:
            self._open -= 1
            self._wake()
            raise

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        context = await self._tls() if self._tls is not None else None
        made = loop.create_connection(
            lambda: _Connection(loop),
            self._host,
            self._port,
            ssl=context,
            server_hostname=self._host if context is not None else None,
        )
        try:
            _, connection = await asyncio.wait_for(made, self._connect_timeout)
        except TimeoutError:
            raise ConnectTimeoutError(
                f"no connection to {self._host}:{self._port} within {self._connect_timeout:g} s"
            ) from None
        except (ssl.SSLError, ssl.CertificateError):
            raise
        except OSError as exc:
            raise ConnectError(f"{self._host}:{self._port}: {exc}") from exc
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.reusable and not self._closed:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
        else:
            connection.abort()
            self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return
