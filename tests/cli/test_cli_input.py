"""Issue 14 §2-3: every bad input fails before the scan, in one line, and every stderr line is
readable by a machine and a person. The command runs for real (`python -m ecr_sweeper`) in a
subprocess; "before any AWS call" is proved by an endpoint that counts the connections it gets.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moto_helpers import (
    API,
    APP,
    MOTO_DEFAULT_ACCOUNT,
    REGISTRY,
    US,
    ecr,
    inventory,
    repository,
    service,
    uri,
)
from sweep import sweeper

ROLE = "EcrSweeper"
# What moto can serve of a small plan (see the README: moto answers ListServiceDeployments
# with HTTP 500).
ON_MOTO = ["--no-service-revisions", "--no-lambdas", "--no-schedules"]
PLAN = [
    "plan",
    "--account",
    REGISTRY,
    "--account",
    APP,
    "--region",
    US,
    "--role-name",
    ROLE,
    "--min-age-days",
    "0",
    "--keep-last",
    "0",
    *ON_MOTO,
]


class Endpoint:
    """A TCP endpoint on loopback that counts connections and never answers (it holds them
    open): an AWS endpoint that accepts and hangs, and proof that nothing called it."""

    def __init__(self) -> None:
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self._server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self.connections = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._server.close()


@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    """AWS_ENDPOINT_URL at an endpoint that counts connections and never answers."""
    endpoint = Endpoint()
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", US)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield endpoint
    endpoint.close()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# ---------------------------------------------------------------- §2 bad input, before the scan


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        pytest.param("bogus", "unknown consumer kind 'bogus'", id="no-kind"),
        pytest.param("daemons", "('daemons' is now 'ecs-daemons')", id="a-switch-alias"),
        pytest.param("lambda@12345", "not a 12-digit", id="bad-account"),
        pytest.param("Lambda", "unknown consumer kind 'Lambda'", id="names-are-lower-case"),
    ],
)
def test_accept_unread_names_a_kind_of_the_registry_else_exit_2_before_any_aws_call(
    silent: Endpoint, tmp_path: Path, value: str, fragment: str
) -> None:
    result = sweeper(*PLAN, "--accept-unread", value, cwd=tmp_path)
    line = one_error_line(result.stderr)
    assert result.returncode == 2, result.stderr
    assert line.startswith("error: --accept-unread: "), line
    assert fragment in line
    assert "ecs, schedules, lambda" in line or "not a 12-digit" in line  # the valid kinds
    assert line.endswith("(see `ecr-sweeper plan --help`)"), line
    assert silent.connections == 0
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize(
    ("flag", "value", "fragment"),
    [
        pytest.param("--output", "missing/plan.json", "does not exist", id="output-missing-folder"),
        pytest.param("--output", ".", "is a folder", id="output-is-a-folder"),
        pytest.param("--output", "file.txt/plan.json", "is not a folder", id="output-under-a-file"),
        pytest.param("--markdown", "missing/report.md", "does not exist", id="markdown-missing"),
        pytest.param("--markdown", ".", "is a folder", id="markdown-is-a-folder"),
    ],
)
def test_unwritable_path_exits_1_before_any_aws_call(
    silent: Endpoint, tmp_path: Path, flag: str, value: str, fragment: str
) -> None:
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    args = [*PLAN, flag, value] if flag == "--output" else [*PLAN, "-o", "plan.json", flag, value]
    result = sweeper(*args, cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert flag in line
    assert fragment in line
    assert silent.connections == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # no plan, no .partial


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_in_a_read_only_folder_exits_1_before_any_aws_call(
    silent: Endpoint, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = sweeper(*PLAN, "-o", "locked/plan.json", cwd=tmp_path, timeout=30)
    finally:
        locked.chmod(0o700)
    assert result.returncode == 1
    assert "no permission" in one_error_line(result.stderr)
    assert silent.connections == 0


def test_unknown_region_exits_1_before_any_aws_call(silent: Endpoint, tmp_path: Path) -> None:
    result = sweeper(
        "plan", "--account", REGISTRY, "--region", "us-easy-1", cwd=tmp_path, timeout=30
    )
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert "--region" in line
    assert "'us-easy-1'" in line
    assert "did you mean us-east-1" in line
    assert silent.connections == 0
    assert not (tmp_path / "plan.json").exists()


def test_unknown_region_in_the_accounts_file_exits_1_before_any_aws_call(
    silent: Endpoint, tmp_path: Path
) -> None:
    (tmp_path / "a.toml").write_text(
        f'[[accounts]]\nid = "{REGISTRY}"\nregions = ["{US}", "eu-wset-1"]\n', encoding="utf-8"
    )
    result = sweeper("plan", "--config", "a.toml", cwd=tmp_path, timeout=30)
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert "a.toml: accounts[0].regions" in line
    assert "'eu-wset-1'" in line
    assert silent.connections == 0


@pytest.mark.usefixtures("silent")
def test_closed_port_fails_within_15_seconds_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    started = time.monotonic()
    result = sweeper(*PLAN, cwd=tmp_path, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert "cannot connect to the STS endpoint" in line
    assert elapsed < 15, elapsed
    assert not (tmp_path / "plan.json").exists()


def test_endpoint_that_never_answers_fails_within_15_seconds_in_one_line(
    silent: Endpoint, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = sweeper(*PLAN, cwd=tmp_path, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert "did not answer" in line
    assert silent.connections >= 1  # it was asked, once
    assert elapsed < 15, elapsed
    assert not (tmp_path / "plan.json").exists()


def test_missing_credentials_exit_1_in_one_line_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, silent: Endpoint, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = sweeper(*PLAN, cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    assert "no AWS credentials found" in one_error_line(result.stderr)
    assert silent.connections == 0
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.usefixtures("aws")
def test_apply_checks_the_credentials_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repository(REGISTRY, US, API, "v1", "v2")
    planned = sweeper(*PLAN, "-o", "plan.json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    result = sweeper("apply", "plan.json", "--yes", cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert "cannot connect to the STS endpoint" in one_error_line(result.stderr)
    assert not (tmp_path / "plan.json.journal").exists()


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        pytest.param(["--keep-last", "-1"], "--keep-last", id="negative"),
        pytest.param(["--max-delete-percent", "101"], "--max-delete-percent", id="over-100"),
        pytest.param(["--format", "xml"], "--format", id="format-choice"),
        pytest.param(["--log-format", "yaml"], "--log-format", id="log-format-choice"),
        pytest.param(["--untagged", "maybe"], "--untagged", id="untagged-choice"),
        pytest.param(["--org-unit", "ou-1"], "--org-unit", id="org-unit-without-org"),
    ],
)
def test_out_of_range_values_and_invalid_choices_exit_2_in_one_style(
    silent: Endpoint, tmp_path: Path, args: list[str], flag: str
) -> None:
    result = sweeper("plan", "--account", REGISTRY, "--region", US, *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith(f"error: {flag}"), line
    assert silent.connections == 0


@pytest.mark.parametrize(
    ("args", "flag", "fragment"),
    [
        pytest.param(
            ["--account", "12345"], "--account", "'12345' is not a 12-digit", id="account-id"
        ),
        pytest.param(["--shard", "3/2"], "--shard", "expected I/N", id="shard-over-n"),
        pytest.param(["--shard", "2"], "--shard", "got '2'", id="shard-not-i-of-n"),
        pytest.param(
            ["--org", "--org-tag", "team"], "--org-tag", "expected KEY=VALUE", id="org-tag"
        ),
        pytest.param(["--output", "-"], "--output", "'-' is not a file", id="output-stdout"),
        pytest.param(
            ["--output", "plan.json", "--markdown", "plan.json"],
            "--markdown",
            "is the --output file",
            id="markdown-is-output",
        ),
        pytest.param(
            ["--output", "plan.json", "--markdown", "./plan.json"],
            "--markdown",
            "is the --output file",
            id="markdown-is-output-spelled-otherwise",
        ),
    ],
)
def test_values_of_the_wrong_form_exit_2_in_one_line_before_any_aws_call(
    silent: Endpoint, tmp_path: Path, args: list[str], flag: str, fragment: str
) -> None:
    result = sweeper("plan", "--region", US, *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith(f"error: {flag}: "), line
    assert fragment in line, line
    assert silent.connections == 0
    assert list(tmp_path.iterdir()) == []  # no plan file, none named '-'


def test_unknown_flag_exits_2_in_the_same_style(silent: Endpoint, tmp_path: Path) -> None:
    result = sweeper("plan", "--bogus", cwd=tmp_path)
    assert result.returncode == 2
    assert "no such option: --bogus" in one_error_line(result.stderr)
    assert silent.connections == 0


def test_every_unknown_accounts_file_key_in_one_error(silent: Endpoint, tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        "[defaults]\nrole_nam = 'x'\n[policy]\nkeep_lats = 1\n"
        "[[accounts]]\nid = '111111111111'\ncolour = 'blue'\n"
        "[[accounts]]\nid = '222222222222'\nclusters = { includ = ['a'] }\n",
        encoding="utf-8",
    )
    result = sweeper("plan", "--config", "a.toml", cwd=tmp_path)
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    for key in ("defaults.role_nam", "policy.keep_lats", "accounts[0].colour"):
        assert key in line
    assert "accounts[1].clusters.includ" in line
    assert silent.connections == 0


@pytest.mark.usefixtures("aws")
def test_plan_without_an_account_sweeps_the_callers_own_and_says_so(tmp_path: Path) -> None:
    result = sweeper("plan", "--region", US, *ON_MOTO, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"sweeping the account of the base credentials, {MOTO_DEFAULT_ACCOUNT}" in (
        result.stderr
    )
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert [t["account_id"] for t in doc["targets"]] == [MOTO_DEFAULT_ACCOUNT]


@pytest.mark.usefixtures("aws")
def test_apply_after_the_repository_vanished_reports_already_gone(tmp_path: Path) -> None:
    repository(REGISTRY, US, API, "v1", "v2")
    planned = sweeper(*PLAN, "-o", "plan.json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    ecr(REGISTRY, US).delete_repository(repositoryName=API, force=True)

    applied = sweeper("apply", "plan.json", "--yes", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "already gone 2" in applied.stdout
    assert "skipped 0" in applied.stdout
    assert "skipped " not in applied.stderr


# ---------------------------------------------------------------- §3 output


def json_records(stderr: str) -> list[dict[str, object]]:
    records = []
    for line in stderr.splitlines():
        record = json.loads(line)  # every line, or this raises
        assert isinstance(record, dict)
        assert {"time", "level", "message"} <= set(record), record
        records.append(record)
    return records


@pytest.mark.usefixtures("aws")
def test_json_logs_every_stderr_line_parses(tmp_path: Path) -> None:
    api = repository(REGISTRY, US, API, "v1", "v2")
    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, API)}:v2"})
    ok = sweeper(*PLAN, "--log-format", "json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    levels = {r["level"] for r in json_records(ok.stderr)}
    assert {"info", "progress"} <= levels
    assert any(r["message"] == "plan written to plan.json" for r in json_records(ok.stderr))

    service(APP, US, "broken", {"broken": "Not A Valid Image!"})
    blocked = sweeper(*PLAN, "--log-format", "json", "-o", "blocked.json", cwd=tmp_path)
    assert blocked.returncode == 3
    errors = [r for r in json_records(blocked.stderr) if r["level"] == "error"]
    assert any(str(r["message"]).startswith("BLOCKED") for r in errors)
    assert any("Not A Valid Image!" in str(r["message"]) for r in errors)

    refused = sweeper("apply", "blocked.json", "--yes", "--log-format", "json", cwd=tmp_path)
    assert refused.returncode == 3
    assert json_records(refused.stderr)
    bad = sweeper("plan", "--keep-last", "-1", "--log-format", "json", cwd=tmp_path)
    assert bad.returncode == 2
    assert [r["level"] for r in json_records(bad.stderr)] == ["error"]
    assert set(inventory(REGISTRY, US, API)) == set(api.values())


@pytest.mark.usefixtures("aws")
def test_quiet_in_both_modes(tmp_path: Path) -> None:
    repository(REGISTRY, US, API, "v1")
    text = sweeper(*PLAN, "--quiet", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert text.stderr == ""
    as_json = sweeper(*PLAN, "--quiet", "--log-format", "json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    assert as_json.stderr == ""
    # errors still show
    failing = sweeper(*PLAN, "--quiet", "-o", "missing/plan.json", cwd=tmp_path)
    assert failing.returncode == 1
    assert one_error_line(failing.stderr)


def test_off_a_terminal_a_long_line_is_not_wrapped(silent: Endpoint, tmp_path: Path) -> None:
    long = "d" * 200
    result = sweeper(*PLAN, "-o", f"{long}/plan.json", cwd=tmp_path)
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert long in line
    assert len(line) > 200
    assert silent.connections == 0


@pytest.mark.usefixtures("aws")
def test_plan_table_lists_repositories_with_deletions_and_all_lists_every_one(
    tmp_path: Path,
) -> None:
    repository(REGISTRY, US, API, "v1", "v2")
    repository(REGISTRY, US, "kept/only", "v1")
    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, API)}:v2"})
    service(APP, US, "kept", {"kept": f"{uri(REGISTRY, US, 'kept/only')}:v1"})

    default = sweeper(*PLAN, cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert f" {API} " in default.stdout
    assert "kept/only" not in default.stdout
    assert "total: 3 images in 2 repositories; keep 2, delete 1" in default.stdout

    every = sweeper(*PLAN, "--all", cwd=tmp_path)
    assert every.returncode == 0, every.stderr
    assert f" {API} " in every.stdout
    assert "kept/only" in every.stdout

    shown = sweeper("show", "plan.json", "--all", cwd=tmp_path)
    assert "kept/only" in shown.stdout


@pytest.mark.usefixtures("aws")
def test_blocked_plan_prints_the_reason_first_and_no_table(tmp_path: Path) -> None:
    repository(REGISTRY, US, API, "v1", "v2")
    service(APP, US, "broken", {"broken": "Not A Valid Image!"})
    result = sweeper(*PLAN, cwd=tmp_path)
    assert result.returncode == 3
    assert "ecr-sweeper plan" not in result.stdout  # the table's title
    assert "blocked: nothing is deleted" in result.stdout
    errors = [line for line in result.stderr.splitlines() if not re.match(r"\d\d:\d\d:\d\d ", line)]
    assert errors[1].startswith("BLOCKED"), result.stderr  # after "planning …"
    assert "Not A Valid Image!" in errors[2]


def test_help_has_no_bool_metavars_or_placeholders(silent: Endpoint, tmp_path: Path) -> None:
    for command in ([], ["plan"], ["apply"], ["restore"], ["show"], ["explain"], ["demo"]):
        for flag in ("--help", "-h"):
            result = sweeper(*command, flag, cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            assert "<bool>" not in result.stdout, command
            assert "{" not in result.stdout, command
            assert "<list[str]>" not in result.stdout, command
    assert "PLAN_FILE" in sweeper("apply", "-h", cwd=tmp_path).stdout
    assert silent.connections == 0


def test_version(silent: Endpoint, tmp_path: Path) -> None:
    from ecr_sweeper import __version__

    result = sweeper("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"ecr-sweeper {__version__}"
    assert silent.connections == 0


def test_a_bad_role_name_is_named_once(silent: Endpoint, tmp_path: Path) -> None:
    result = sweeper(*PLAN[:7], "--role-name", "no spaces", cwd=tmp_path)
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert line == "error: --role-name: 'no spaces' is not an IAM role name"
    assert silent.connections == 0


@pytest.mark.usefixtures("aws")
def test_messages_do_not_repeat_words(tmp_path: Path) -> None:
    repository(REGISTRY, US, API, "v1")
    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, API)}:v1"})
    service(APP, US, "broken", {"broken": "Not A Valid Image!"})
    result = sweeper(*PLAN, cwd=tmp_path)
    assert result.returncode == 3
    assert re.search(r"\b1 cluster\b", result.stderr), result.stderr
    assert "1 clusters" not in result.stderr
    usage_lines = [line for line in result.stderr.splitlines() if "[usage]" in line]
    assert usage_lines
    for line in usage_lines:
        assert line.count(f"{APP}/{US}") == 1, line
        assert line.count("usage") == 1, line


@pytest.mark.usefixtures("aws")
def test_a_failing_service_revisions_read_names_its_source_and_switch() -> None:
    from ecr_sweeper.model import Sources
    from moto_helpers import sweep_plan, target

    repository(REGISTRY, US, API, "v1")
    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, API)}:v1"})
    plan = sweep_plan(
        [target(REGISTRY, US), target(APP, US)],
        sources=Sources(off=frozenset({"lambda", "schedules"}), service_revisions=True),
    )
    assert plan.blocked  # moto answers ListServiceDeployments with HTTP 500
    messages = [e.message for e in plan.errors]
    assert any(
        "service revisions could not be read" in m
        and "ListServiceDeployments" in m
        and "--no-service-revisions" in m
        for m in messages
    ), messages


@pytest.mark.usefixtures("aws")
def test_a_shard_that_could_not_read_everything_fails_its_own_job(tmp_path: Path) -> None:
    repository(REGISTRY, US, API, "v1")
    service(APP, US, "broken", {"broken": "Not A Valid Image!"})
    shard = [*PLAN, "--shard", "1/1", "--output", "shard-1.json"]
    result = sweeper(*shard, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "error: shard 1/1: 1 usage error" in result.stderr
    assert (tmp_path / "shard-1.json").exists()  # written for the record
    merged = sweeper("plan", "--merge", "shard-1.json", cwd=tmp_path)
    assert merged.returncode == 3


def test_the_cli_does_not_import_the_demo() -> None:
    """The demo imports the CLI, never the reverse: its command joins through an entry point
    loaded when `main` runs."""
    code = (
        "import sys, ecr_sweeper.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('ecr_sweeper.demo')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
