"""A loopback HTTP server that answers what a test says and records what it was sent: for
wire-level tests (the protocol suite, answers no AWS emulator gives, such as a proxy's HTML)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiobotocore.credentials import AioCredentials
from aiobotocore.session import AioSession

from ecr_sweeper.aws.session import CLIENT_CONFIG
from ecr_sweeper.aws.wire import WireClient


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(slots=True)
class Loopback:
    """`answer` decides each answer from the request; `requests` holds what came in."""

    url: str
    answer: Callable[[Request], Answer] = lambda _: Answer()
    requests: list[Request] = field(default_factory=list)


@contextmanager
def loopback() -> Iterator[Loopback]:
    """A server on a free 127.0.0.1 port for the duration of the block."""
    state = Loopback("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            state.requests.append(request)
            answer = state.answer(request)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST  # noqa: N815 - the name http.server dispatches GET to

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@asynccontextmanager
async def ecr_client(url: str) -> AsyncIterator[WireClient]:
    """The sweeper's ECR client (aws/wire.py) talking to a loopback server at `url`."""
    session: Any = AioSession()
    async with session.create_client(
        "ecr",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AK",
        aws_secret_access_key="SK",
        config=CLIENT_CONFIG,  # the sweep's: its HTTP session, its pools
    ) as endpoint:
        yield WireClient(endpoint, AioCredentials("AK", "SK"))
