"""Messages a person reads: counted nouns, error lines without repeated words, and the totals
`apply` shows before it asks (on a real terminal: a pseudo-terminal)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecr_sweeper.model import AccountId, Region, ScanError
from ecr_sweeper.report import error_line
from ecr_sweeper.words import plural
from moto_helpers import API, APP, REGISTRY, US, repository


@pytest.mark.parametrize(
    ("count", "noun", "text"),
    [
        (1, "clusters", "1 cluster"),
        (2, "clusters", "2 clusters"),
        (0, "clusters", "0 clusters"),
        (1, "task definitions", "1 task definition"),
        (1, "families", "1 family"),
        (1, "repositories", "1 repository"),
        (1, "ECR image references", "1 ECR image reference"),
    ],
)
def test_plural(count: int, noun: str, text: str) -> None:
    assert plural(count, noun) == text


@pytest.mark.parametrize(
    ("subject", "line"),
    [
        ("usage 111111111111/us-east-1", "[usage] 111111111111/us-east-1: boom"),
        (
            "credentials 111111111111/us-east-1",
            "[usage] 111111111111/us-east-1 credentials: boom",
        ),
        ("platform/api", "[usage] 111111111111/us-east-1 platform/api: boom"),
    ],
)
def test_error_lines_say_each_word_once(subject: str, line: str) -> None:
    error = ScanError("usage", AccountId("111111111111"), Region("us-east-1"), subject, "boom")
    assert error_line(error) == line


def test_error_line_of_an_account_without_region() -> None:
    error = ScanError("usage", AccountId("111111111111"), None, "regions of 111111111111", "x")
    assert error_line(error) == "[usage] 111111111111 regions: x"


def read_until(fd: int, wanted: bytes, timeout: float = 60) -> bytes:
    """What the terminal shows until `wanted` appears (or the timeout, then it fails)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, seen.decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.usefixtures("aws")
def test_the_prompt_shows_per_account_and_largest_repository_totals(tmp_path: Path) -> None:
    repository(REGISTRY, US, API, "v1", "v2")
    repository(APP, US, "worker", "old")
    plan = [
        "plan",
        *("--account", REGISTRY, "--account", APP, "--region", US),
        *("--role-name", "EcrSweeper", "--keep-last", "0", "--min-age-days", "0"),
        *("--no-service-revisions", "--no-lambdas", "--no-schedules", "-o", "plan.json"),
    ]
    made = subprocess.run(
        [sys.executable, "-m", "ecr_sweeper", *plan],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert len(json.loads((tmp_path / "plan.json").read_text())["deletions"]) == 3

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ecr_sweeper", "apply", "plan.json"],
        cwd=tmp_path,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    try:
        shown = read_until(controller, b"[y/N]")
        os.write(controller, b"n\n")
        shown += read_until(controller, b"nothing deleted")
        assert process.wait(timeout=60) == 1
    finally:
        process.kill()
        os.close(controller)
    text = shown.decode()
    before = text[: text.index("[y/N]")]
    assert "to delete, per account:" in before
    assert f"{REGISTRY}: 2 images in 1 repository" in before
    assert f"{APP}: 1 image in 1 repository" in before
    assert "largest repositories (2):" in before
    assert f"{REGISTRY}/{US} {API}: 2 images" in before
    assert "Delete up to 3 images" in before
    assert not (tmp_path / "plan.json.journal").exists()


def test_a_blocked_markdown_report_says_why_first_and_has_no_table() -> None:
    from dataclasses import replace

    from ecr_sweeper.report import markdown
    from test_scale_and_reports import sample_plan

    error = ScanError(
        "usage", AccountId("111111111111"), Region("us-east-1"), "usage 111111111111/us-east-1", "x"
    )
    text = markdown(replace(sample_plan(), errors=(error,)))  # a usage error: blocked
    assert text.splitlines()[2].startswith("**BLOCKED**")
    assert "## Errors" in text
    assert "- [usage] 111111111111/us-east-1: x" in text
    assert "| account |" not in text
    assert "for 0 accounts;" in text  # the sample plan has no targets


def test_the_exit_codes_are_documented_from_one_table() -> None:
    import ecr_sweeper.cli
    from ecr_sweeper.exits import ExitCode, help_text

    doc = ecr_sweeper.cli.__doc__ or ""
    for code in ExitCode:
        assert f"{code.value} {code.meaning}" in help_text()
        assert f"  {code.value}  " in doc
    assert ecr_sweeper.cli.EXIT_BLOCKED is ExitCode.BLOCKED
    assert int(ExitCode.BLOCKED) == 3
