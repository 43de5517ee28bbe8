"""aws/http1.py's reading of an answer, byte by byte: however the bytes arrive (split
anywhere), the same status, fields, body and reuse come out; what breaks the framing is
refused. (Over real sockets, against aiohttp and aiobotocore: test_transport.py.)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecr_sweeper.aws.http1 import MalformedError, _Answer, request_head

FIELD_NAMES = st.sampled_from([b"X-Amzn-RequestId", b"Content-Type", b"x-amz-crc32", b"Date"])
FIELD_VALUES = st.binary(max_size=40).map(
    lambda b: bytes(c for c in b if 32 < c < 127 and c != ord(":"))
)


@st.composite
def answers(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[bytes, bytes]], bytes, str]:
    """(the answer's bytes, status, fields, body, framing)."""
    status = draw(st.sampled_from([200, 201, 204, 400, 429, 500, 503]))
    fields = draw(st.lists(st.tuples(FIELD_NAMES, FIELD_VALUES), max_size=4))
    body = b"" if status == 204 else draw(st.binary(max_size=3000))
    framing = "length" if status == 204 else draw(st.sampled_from(["length", "chunked", "close"]))
    head = [b"HTTP/1.1 %d Whatever Reason" % status, *(n + b": " + v for n, v in fields)]
    if framing == "length":
        head.append(b"Content-Length: %d" % len(body))
        payload = body
    elif framing == "chunked":
        head.append(b"Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 700), max_size=10))
        pieces, at = [], 0
        for size in sizes:
            if at < len(body):
                piece = body[at : at + size]
                pieces.append(b"%x\r\n%s\r\n" % (len(piece), piece))
                at += size
        if at < len(body):
            pieces.append(b"%x\r\n%s\r\n" % (len(body) - at, body[at:]))
        trailer = draw(st.sampled_from([b"", b"X-Trailer: 1\r\n"]))
        payload = b"".join(pieces) + b"0\r\n" + trailer + b"\r\n"
    else:
        payload = body
    interim = draw(st.sampled_from([b"", b"HTTP/1.1 100 Continue\r\n\r\n"]))
    raw = interim + b"\r\n".join(head) + b"\r\n\r\n" + payload
    return raw, status, fields, body, framing


@given(answers(), st.lists(st.integers(1, 4000), max_size=8))
def test_an_answer_reads_the_same_however_its_bytes_arrive(
    answer: tuple[bytes, int, list[tuple[bytes, bytes]], bytes, str], cuts: list[int]
) -> None:
    raw, status, fields, body, framing = answer
    parsed, buffer, at = _Answer(), bytearray(), 0
    for cut in [*sorted(cuts), len(raw)]:
        buffer += raw[at:cut]
        at = max(at, cut)
        parsed.feed(buffer)
    buffer += raw[at:]
    parsed.feed(buffer)
    if framing == "close":
        assert not parsed.done  # only the close ends it
        assert parsed.closed()
    assert parsed.done
    assert parsed.status == status
    assert list(parsed.headers)[: len(fields)] == [(n, v.strip()) for n, v in fields]
    assert b"".join(parsed.body) == body
    assert parsed.keep is (framing != "close")
    assert not buffer  # nothing of it left over


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 OOPS\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: value\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nName : spaced\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX",
        b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * 70_000 + b"\r\n\r\n",
    ],
)
def test_an_answer_that_breaks_the_framing_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedError):
        _Answer().feed(bytearray(raw))


def test_connection_close_and_http_1_0_answers_end_the_connection() -> None:
    for raw in (
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    ):
        parsed = _Answer()
        parsed.feed(bytearray(raw))
        assert parsed.done
        assert not parsed.keep


def test_a_request_head_carries_its_own_length_and_host() -> None:
    head = request_head("POST", "/", "h:1", {"Content-Length": "99", "X-A": "b"}, 2)
    assert head == (
        b"POST / HTTP/1.1\r\nX-A: b\r\nHost: h:1\r\nAccept-Encoding: identity\r\n"
        b"Content-Length: 2\r\n\r\n"
    )
    with pytest.raises(ValueError, match="forge"):
        request_head("POST", "/", "h", {"X-A": "b\nX-B: c"}, 0)
