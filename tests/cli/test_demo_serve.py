"""`ecr-sweeper demo --serve` (issue 20 §1), run for real in a subprocess: it keeps the demo's
moto server and seeded organization running, prints the exports and the `plan` commands to try,
and stops cleanly on SIGTERM. Every wait is bounded."""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

SEEDED_WITHIN = 240.0  # seconds: seeding the demo's organization on a busy machine
PLAN_WITHIN = 240.0


def _lines_until(
    stream: queue.Queue[str | None], last: str, within: float, seen: list[str]
) -> list[str]:
    """The lines a process prints, up to the one that starts with `last` (bounded)."""
    while True:
        try:
            line = stream.get(timeout=within)
        except queue.Empty:
            raise AssertionError(f"no {last!r} within {within} s: {seen}") from None
        if line is None:
            raise AssertionError(f"the server ended before {last!r}: {seen}")
        seen.append(line.rstrip("\n"))
        if line.startswith(last):
            return seen


def _plan(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert args[0] == "ecr-sweeper", args
    return subprocess.run(
        [sys.executable, "-m", "ecr_sweeper", *args[1:]],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=PLAN_WITHIN,
        check=False,
    )


def test_demo_serve_keeps_the_org_running_for_the_printed_commands_until_sigterm(
    tmp_path: Path,
) -> None:
    # stdout is read by one thread only (communicate() would race it for the last lines);
    # stderr goes to a file, so a full pipe can never stall the server.
    stderr_file = tmp_path / "serve.stderr"
    with stderr_file.open("w", encoding="utf-8") as stderr_sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "ecr_sweeper", "demo", "--serve"],
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_sink,
            text=True,
        )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        printed = _lines_until(lines, "Ctrl-C", SEEDED_WITHIN, [])
        exports = next(line for line in printed if line.startswith("export "))
        unset = next(line for line in printed if line.startswith("unset "))
        settings = dict(word.split("=", 1) for word in shlex.split(exports)[1:])
        assert set(shlex.split(unset)[1:]) >= {"AWS_PROFILE", "AWS_SESSION_TOKEN"}
        endpoint = urlsplit(settings["AWS_ENDPOINT_URL"])
        assert endpoint.hostname == "127.0.0.1"
        # Another shell: none of this one's AWS settings, the printed ones.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | settings
        first, accepted = [
            shlex.split(line) for line in printed if line.startswith("ecr-sweeper plan ")
        ]

        blocked = _plan(first, env, tmp_path)
        assert blocked.returncode == 3, blocked.stderr  # the census: an EKS cluster unread
        assert "BLOCKED" in blocked.stderr

        planned = _plan(accepted, env, tmp_path)
        assert planned.returncode == 0, planned.stderr
        doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
        assert doc["blocked"] is False
        assert doc["errors"] == []
        assert doc["deletions"], doc["summary"]
        assert {t["account_id"] for t in doc["targets"]} == {
            "111111111111",
            "222222222222",
            "333333333333",
        }
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        finally:
            if server.poll() is None:  # pragma: no cover - only when it did not stop
                server.kill()
                server.wait(timeout=30)
        reader.join(timeout=30)
        assert server.stdout is not None
        server.stdout.close()
    stderr = stderr_file.read_text(encoding="utf-8")
    assert server.returncode == 0, stderr
    rest: list[str] = []
    while (line := lines.get(timeout=5)) is not None:
        rest.append(line)
    assert rest[-1].startswith("stopped by SIGTERM"), rest
    # The server is gone with it.
    with socket.socket() as probe:
        assert probe.connect_ex((endpoint.hostname, endpoint.port or 80)) != 0
