"""Issue 20 §2-3: the first hour. Every bad input is one line on stderr, with its exit code,
before the scan (and, where the input is local, before any AWS call); error bodies are one
line. The command runs for real (`python -m ecr_sweeper`) against real HTTP servers: an endpoint
that counts connections (test_cli_input.Endpoint), an ordinary web server, moto's server.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from cli.test_cli_input import ON_MOTO, Endpoint, one_error_line, silent
from cli.test_cli_input import PLAN as CLI_PLAN
from ecr_sweeper import wording
from ecr_sweeper.model import Repository, Unused
from ecr_sweeper.plan import build_plan
from ecr_sweeper.render import ProgressDisplay
from ecr_sweeper.report import APPLY_CSV_COLUMNS, find_decisions, human_bytes
from ecr_sweeper.words import BODY_LIMIT, one_line
from moto_helpers import (
    API,
    APP,
    EU,
    MOTO_DEFAULT_ACCOUNT,
    REGISTRY,
    US,
    client,
    repository,
    service,
)
from planning import NO_RETENTION, NOW, digest, image, inventory, key
from sweep import sweeper

__all__ = ["silent"]  # the fixture, shared with test_cli_input


class WebServer:
    """An ordinary web server on loopback (Python's http.server): 404 pages and 501 for POST,
    in HTML, as a mistyped AWS_ENDPOINT_URL might reach."""

    def __init__(self) -> None:
        handler = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": _no_log})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _no_log(*_: object) -> None:
    """http.server logs every request on stderr; the test's output stays the command's."""


@pytest.fixture
def web_server(silent: Endpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebServer]:
    """`silent`'s isolated environment, with AWS_ENDPOINT_URL at a web server instead."""
    server = WebServer()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    yield server
    server.close()
    assert silent.connections == 0


PLAN = ["plan", "--region", US, "--min-age-days", "0"]


# ---------------------------------------------------------------- §2 one line, before any scan


def test_a_profile_that_does_not_exist_is_one_line(
    silent: Endpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nope")
    result = sweeper(*PLAN, cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    assert "(nope) could not be found" in one_error_line(result.stderr)
    assert silent.connections == 0


def test_a_web_identity_token_file_that_does_not_exist_is_one_line(
    silent: Endpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GitLab's OIDC path: a role and a token file, no keys.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ROLE_ARN", f"arn:aws:iam::{REGISTRY}:role/ci")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(tmp_path / "nonexistent"))
    result = sweeper(*PLAN, cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert "nonexistent: No such file or directory" in line
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in line
    assert silent.connections == 0


def test_an_endpoint_without_a_scheme_is_one_line(
    silent: Endpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", silent.url.removeprefix("http://"))
    result = sweeper(*PLAN, cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert "is not a URL" in line
    assert "http://localhost:5000" in line
    assert silent.connections == 0


def test_an_ordinary_web_server_as_endpoint_is_one_line_without_its_html(
    web_server: WebServer, tmp_path: Path
) -> None:
    result = sweeper(*PLAN, cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert f"the endpoint {web_server.url} does not answer like AWS STS" in line
    assert "<" not in line
    assert not (tmp_path / "plan.json").exists()


def test_a_missing_kubeconfig_fails_before_any_aws_call(silent: Endpoint, tmp_path: Path) -> None:
    result = sweeper(*PLAN, "--kubeconfig", "nope.yaml", cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith("error: --kubeconfig: nope.yaml: cannot read"), line
    assert silent.connections == 0


def test_a_kubeconfig_without_the_context_fails_before_any_aws_call(
    silent: Endpoint, tmp_path: Path
) -> None:
    (tmp_path / "kube.yaml").write_text(
        "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n", encoding="utf-8"
    )
    result = sweeper(*PLAN, "--kubeconfig", "kube.yaml", cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    assert "--kubeconfig: kube.yaml: current-context" in one_error_line(result.stderr)
    assert silent.connections == 0


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(
            'path = "nope.yaml"',
            "error: a.toml: sources.kubeconfigs[1]: nope.yaml: cannot read",
            id="missing-file",
        ),
        pytest.param(
            'path = "kube.yaml"\ncontexts = ["prod"]',
            "error: a.toml: sources.kubeconfigs[1]: kube.yaml: ",
            id="unknown-context",
        ),
    ],
)
def test_a_kubeconfig_of_the_accounts_file_is_checked_before_any_aws_call(
    silent: Endpoint, tmp_path: Path, entry: str, expected: str
) -> None:
    (tmp_path / "kube.yaml").write_text(
        "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n"
        "current-context: ''\n",
        encoding="utf-8",
    )
    (tmp_path / "ok.yaml").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n"
        "- name: a\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        "users:\n- name: a\n  user: {token: t}\n"
        "contexts:\n- name: a\n  context: {cluster: a, user: a}\n",
        encoding="utf-8",
    )
    (tmp_path / "a.toml").write_text(
        f'[[sources.kubeconfigs]]\npath = "ok.yaml"\n\n[[sources.kubeconfigs]]\n{entry}\n',
        encoding="utf-8",
    )
    result = sweeper(*PLAN, "--config", "a.toml", cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith(expected), line
    assert silent.connections == 0


@pytest.mark.usefixtures("aws")
def test_an_account_without_a_role_that_is_not_the_callers_fails_before_the_scan(
    tmp_path: Path,
) -> None:
    result = sweeper(*PLAN, *ON_MOTO, "--account", APP, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert f"--account {APP}: no role to assume" in line
    assert f"belong to account {MOTO_DEFAULT_ACCOUNT}" in line
    assert "--role-name" in line
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_output_where_no_file_can_be_made_fails_before_any_aws_call(
    silent: Endpoint, tmp_path: Path
) -> None:
    # /proc passes every permission check as root; making a file there still fails.
    result = sweeper(*PLAN, "--output", "/proc/plan.json", cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith("error: --output: /proc/plan.json: cannot write in /proc"), line
    assert silent.connections == 0


def test_apply_without_a_plan_file_says_what_is_missing(silent: Endpoint, tmp_path: Path) -> None:
    result = sweeper("apply", cwd=tmp_path, timeout=30)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert line == "error: missing argument 'PLAN_FILE' (see `ecr-sweeper apply --help`)"
    assert silent.connections == 0


# ---------------------------------------------------------------- §3 error bodies, one line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "<html><head><title>500 Internal Server Error</title></head><body><h1>500 "
            "Internal Server Error</h1></body></html>",
            "500 Internal Server Error",
            id="html-page-is-its-title",
        ),
        pytest.param(
            "ClientError: An error occurred (500): <!DOCTYPE html>\n<html><body>\n<h1>Oops"
            "</h1>\n<p>broken</p></body></html>",
            "ClientError: An error occurred (500): Oops broken",
            id="untitled-page-is-its-text",
        ),
        pytest.param("a\nb\r\n  c", "a b c", id="lines-joined"),
        pytest.param("expected <a|b>, not <ListFooResponse>", None, id="not-html-kept"),
    ],
)
def test_a_body_in_a_message_is_one_line_without_markup(text: str, expected: str | None) -> None:
    assert one_line(text) == (text if expected is None else expected)


def test_a_long_body_is_cut() -> None:
    cut = one_line("x" * 5000)
    assert len(cut) == BODY_LIMIT
    assert cut.endswith("…")


# ---------------------------------------------------------------- §3 messages people can read


def test_explain_finds_a_repository_name_without_a_slash_and_its_tag() -> None:
    worker = Repository(key("worker"), (image("b1", "b1"), image("b2", "b2")))
    team = Repository(key("team/worker"), (image("t2", "b2"),))
    plan = build_plan([], inventory(worker, team), NO_RETENTION, NOW)
    assert [(d.repository.name, d.tags) for d in find_decisions(plan, "worker:b2")] == [
        ("worker", ("b2",))
    ]
    assert [d.repository.name for d in find_decisions(plan, "team/worker:b2")] == ["team/worker"]
    assert len(find_decisions(plan, "b2")) == 2  # a bare tag: every repository's
    assert [d.tags for d in find_decisions(plan, f"worker@{digest('b1')}")] == [("b1",)]


@pytest.mark.parametrize(
    ("days", "keep_last", "sentence"),
    [
        (0, 0, "delete: no workload uses this digest"),
        (0, 3, "delete: no workload uses this digest; not among the 3 most recently pushed"),
        (1, 0, "delete: no workload uses this digest; older than 1 day"),
        (
            14,
            10,
            "delete: no workload uses this digest; older than 14 days and not among the 10 "
            "most recently pushed",
        ),
    ],
)
def test_an_unused_images_reason_leaves_out_a_rule_of_zero(
    days: int, keep_last: int, sentence: str
) -> None:
    assert wording.reason(Unused(min_age_days=days, keep_last=keep_last)) == sentence


def test_json_log_messages_do_not_repeat_their_level() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(Console(file=stream, width=10_000), log_format="json")
    display.warning("warning: x is off")
    display.error("error: --flag: wrong")
    display.error("BLOCKED: y")
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["level"], r["message"]) for r in records] == [
        ("warning", "x is off"),
        ("error", "--flag: wrong"),
        ("error", "BLOCKED: y"),
    ]


@pytest.mark.usefixtures("aws")
def test_progress_lines_do_not_count_what_is_not_there(tmp_path: Path) -> None:
    service(MOTO_DEFAULT_ACCOUNT, US, "api", {"api": "public.ecr.aws/nginx/nginx:1"})
    result = sweeper(*PLAN, *ON_MOTO, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    usage_lines = [line for line in result.stderr.splitlines() if " usage " in line]
    assert usage_lines, result.stderr
    for line in usage_lines:
        assert " 0 " not in line, line
    # The region where something runs has its line; the empty ones only their step.
    said = [line for line in usage_lines if f"usage {MOTO_DEFAULT_ACCOUNT}/" in line]
    assert len(said) == 1, said
    assert f"usage {MOTO_DEFAULT_ACCOUNT}/{US}: " in said[0]
    assert "nothing running" not in result.stderr


@pytest.mark.usefixtures("aws")
def test_a_kind_accepted_in_two_regions_is_one_warning_line(tmp_path: Path) -> None:
    for region in (US, EU):
        client(APP, region, "codebuild").create_project(
            name="build",
            source={"type": "S3", "location": "bucket/source.zip"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=f"arn:aws:iam::{APP}:role/build",
        )
    accepted = ["--no-codebuild", "--accept-unread", "codebuild"]
    regions = ["--usage-regions", US, "--usage-regions", EU]
    result = sweeper(*CLI_PLAN, *regions, *accepted, "-o", "plan.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "codebuild present" in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"  warning: {APP} in 2 regions ({EU}, {US}): codebuild present")
    # The plan file keeps one warning per account × region, for scripts.
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    places = sorted(w.split(":")[0] for w in doc["warnings"] if "codebuild present" in w)
    assert places == [f"{APP}/{EU}", f"{APP}/{US}"]


@pytest.mark.usefixtures("aws")
def test_plan_ends_with_the_command_that_applies_it(tmp_path: Path) -> None:
    repository(REGISTRY, US, API, "v1", "v2")
    result = sweeper(*CLI_PLAN, "-o", "my plan.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "review it, then apply it: ecr-sweeper apply 'my plan.json'"
    )


# ---------------------------------------------------------------- §3 apply lists what it deleted


def _planned(tmp_path: Path) -> list[dict[str, Any]]:
    """Two unused images of one repository, planned for deletion: the plan's deletions."""
    repository(REGISTRY, US, API, "v1", "v2")
    planned = sweeper(*CLI_PLAN, "-o", "plan.json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    deletions = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))["deletions"]
    assert [d["image_tags"] for d in deletions] != []
    return sorted(deletions, key=lambda d: str(d["image_digest"]))


@pytest.mark.usefixtures("aws")
def test_apply_lists_what_it_deleted_as_json_and_again_what_an_earlier_run_did(
    tmp_path: Path,
) -> None:
    deletions = _planned(tmp_path)
    applied = sweeper("apply", "plan.json", "--yes", "--format", "json", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    doc = json.loads(applied.stdout)
    assert doc["summary"]["deleted"] == len(deletions) == 2
    assert doc["blocked"] is False
    assert doc["errors"] == []
    fields = ("account_id", "region", "repository", "image_digest", "image_tags", "size_bytes")
    assert [{k: i[k] for k in fields} for i in doc["images"]] == [
        {k: d[k] for k in fields} for d in deletions
    ]
    assert {i["outcome"] for i in doc["images"]} == {"deleted"}
    assert sorted(tag for i in doc["images"] for tag in i["image_tags"]) == ["v1", "v2"]

    again = sweeper("apply", "plan.json", "--yes", "--format", "json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    redone = json.loads(again.stdout)
    assert redone["summary"]["deleted"] == 0
    assert [i["image_digest"] for i in redone["images"]] == [d["image_digest"] for d in deletions]
    assert {i["outcome"] for i in redone["images"]} <= {"deleted-earlier", "already-gone"}


@pytest.mark.usefixtures("aws")
def test_apply_lists_what_it_deleted_as_csv(tmp_path: Path) -> None:
    deletions = _planned(tmp_path)
    applied = sweeper("apply", "plan.json", "--yes", "--format", "csv", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    header, *rows = list(csv.reader(io.StringIO(applied.stdout)))
    assert header == list(APPLY_CSV_COLUMNS)
    assert rows == [
        [
            "deleted",
            REGISTRY,
            US,
            API,
            str(d["image_digest"]),
            " ".join(d["image_tags"]),
            str(d["size_bytes"]),
            "",
        ]
        for d in deletions
    ]


@pytest.mark.usefixtures("aws")
def test_apply_lists_what_it_deleted_as_markdown(tmp_path: Path) -> None:
    deletions = _planned(tmp_path)
    applied = sweeper("apply", "plan.json", "--yes", "--format", "markdown", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    lines = applied.stdout.splitlines()
    assert lines[0] == "# ecr-sweeper apply"
    assert lines[2].startswith("Deleted **2 images**")
    rows = [line for line in lines if line.startswith("| deleted |")]
    assert len(rows) == 2
    for row, d in zip(rows, deletions, strict=True):
        assert row.startswith(f"| deleted | {REGISTRY} | {US} | `{API}` | `{d['image_tags'][0]}` |")
        assert f"`{d['image_digest']}`" in row


@pytest.mark.usefixtures("aws")
def test_apply_table_lists_each_deleted_image_with_its_tags_digest_and_size(
    tmp_path: Path,
) -> None:
    deletions = _planned(tmp_path)
    applied = sweeper("apply", "plan.json", "--yes", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "ecr-sweeper apply: deleted" in applied.stdout
    for d in deletions:
        row = next(line for line in applied.stdout.splitlines() if str(d["image_digest"]) in line)
        for cell in (REGISTRY, US, API, *d["image_tags"], human_bytes(int(d["size_bytes"]))):
            assert cell in row, (cell, row)
    assert applied.stdout.splitlines()[-1].startswith("apply: deleted 2 ")


@pytest.mark.usefixtures("aws")
def test_apply_with_nothing_to_delete_prints_an_empty_document(tmp_path: Path) -> None:
    planned = sweeper(*CLI_PLAN, "-o", "plan.json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    applied = sweeper("apply", "plan.json", "--yes", "--format", "json", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    doc = json.loads(applied.stdout)
    assert doc["images"] == []
    assert doc["summary"]["deleted"] == 0
