"""External image lists (issue 11 §4): every line a private ECR or an explicitly foreign
reference; anything else, or a file that is not UTF-8 text, is an error naming the file (and
line), raised before any AWS call."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import use_only
from ecr_sweeper.config import ConfigError, read_external_images, resolve_sources
from ecr_sweeper.external import external_usage
from sweep import sweeper

HOST = "111111111111.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    "line",
    [
        f"{HOST}/ext/app:v3",
        f"{HOST}:443/ext/app:v3",
        "docker.io/ext/app:v3",
        "docker.io/library/nginx",
        "public.ecr.aws/nginx/nginx:stable",
        "ghcr.io/org/app@sha256:" + "a" * 64,
        "localhost:5000/app",
    ],
)
def test_private_ecr_and_explicitly_foreign_lines_are_accepted(tmp_path: Path, line: str) -> None:
    listed = tmp_path / "images.txt"
    listed.write_text(f"# comment\n\n{line}  # trailing comment\n", "utf-8")
    assert read_external_images(listed) == (line,)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("ext/app:v3", "names no registry host"),
        ("nginx", "names no registry host"),
        ("library/nginx@sha256:" + "a" * 64, "names no registry host"),
        ("111111111111.ecr.dkr.us-east-1.amazonaws.com/app:1", "looks like an ECR registry"),
        ("11111111111.dkr.ecr.us-east-1.amazonaws.com/app:1", "looks like an ECR registry"),
        (f"{HOST}:5000/app:1", "serves on port 443"),
        ("Not An Image", "cannot parse image reference"),
    ],
)
def test_any_other_line_is_an_error_naming_file_and_line(
    tmp_path: Path, line: str, why: str
) -> None:
    listed = tmp_path / "images.txt"
    listed.write_text(f"{HOST}/ok:1\n# two\n{line}\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        read_external_images(listed)
    assert str(caught.value).startswith(f"{listed}:3: ")
    assert why in str(caught.value)


def test_the_suggestion_names_both_readings() -> None:
    scan = external_usage(["ext/app:v3"])
    assert scan.usages == ()
    assert "111111111111" not in scan.errors[0].message
    assert "<account>.dkr.ecr.<region>.amazonaws.com/ext/app:v3" in scan.errors[0].message
    assert "docker.io/ext/app:v3" in scan.errors[0].message


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a binary file"),
        (f"{HOST}/caf\xe9:1\n".encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_a_binary_or_non_utf8_file_is_an_error_naming_it(
    tmp_path: Path, data: bytes, why: str
) -> None:
    listed = tmp_path / "images.bin"
    listed.write_bytes(data)
    with pytest.raises(ConfigError, match=rf"^{listed}: {why}"):
        read_external_images(listed)


def test_a_byte_order_mark_is_not_part_of_the_first_line(tmp_path: Path) -> None:
    listed = tmp_path / "images.txt"
    listed.write_bytes(f"\ufeff{HOST}/app:1\r\n".encode())
    assert read_external_images(listed) == (f"{HOST}/app:1",)


def test_stdin_is_checked_as_a_file_is() -> None:
    binary = io.TextIOWrapper(io.BytesIO(b"\xff\xfe\x00a"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^<stdin>: a binary file"):
        resolve_sources(None, external_files=[Path("-")], stdin=binary)
    bare = io.TextIOWrapper(io.BytesIO(b"ext/app:v3\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^<stdin>:1: 'ext/app:v3' names no registry host"):
        resolve_sources(None, external_files=[Path("-")], stdin=bare)


class _Recorder(BaseHTTPRequestHandler):
    calls: list[str]

    def do_POST(self) -> None:
        self.calls.append(self.headers.get("X-Amz-Target", self.path))
        self.send_response(500)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[str]]]:
    calls: list[str] = []
    handler = type("Handler", (_Recorder,), {"calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("extra", [[], ["--org"]], ids=["accounts", "org"])
def test_plan_refuses_a_bad_list_before_any_aws_call(
    tmp_path: Path,
    endpoint: tuple[str, list[str]],
    extra: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, calls = endpoint
    (tmp_path / "images.txt").write_text(f"{HOST}/app:1\next/app:v3\n", "utf-8")
    use_only(monkeypatch, {"AWS_ENDPOINT_URL": url})
    accounts = [] if extra else ["--account", "111111111111"]
    args = [*accounts, *extra, "--region", "us-east-1", "--external-images", "images.txt"]
    result = sweeper("plan", *args, "--output", "plan.json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "images.txt:2: 'ext/app:v3' names no registry host" in result.stderr
    assert calls == []
    assert not (tmp_path / "plan.json").exists()
