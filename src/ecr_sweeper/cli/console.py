"""Where the commands write: stdout (`out`, the plan and summaries), stderr (`log`, every other
line: progress, information, warnings, errors), and the checks of local paths and regions every
command makes before its first AWS call."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from ecr_sweeper.aws.regions import unknown_region
from ecr_sweeper.config import ConfigError
from ecr_sweeper.exits import InputError
from ecr_sweeper.planfile import PlanFileError
from ecr_sweeper.render import ProgressDisplay, Renderer

# Off a terminal (CI logs, pipes) rich would wrap at 80 columns: tables are as wide as their
# content and messages are never wrapped (soft_wrap), so a log line stays one line.
UNWRAPPED = 100_000
out = Console(highlight=False, width=None if sys.stdout.isatty() else UNWRAPPED)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else UNWRAPPED)
log = ProgressDisplay(err)  # every stderr line; each command sets --quiet and --log-format
render = Renderer(out, log)


@contextmanager
def bad_input() -> Iterator[None]:
    """An accounts file, plan file or value that is wrong: an InputError (exit 1)."""
    try:
        yield
    except (ConfigError, PlanFileError) as exc:
        raise InputError(str(exc)) from exc


def check_writable(path: Path, flag: str) -> None:
    """Fail now, before any scan, if `path` cannot be written: a missing folder, a folder in
    its place, no permission. The plan file is written next to it first (`.partial`)."""
    folder = path.parent
    if path.is_dir():
        raise InputError(f"{flag}: {path} is a folder, not a file")
    if not folder.exists():
        raise InputError(f"{flag}: {path}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise InputError(f"{flag}: {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{flag}: {path}: no permission to write in {folder}")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{flag}: {path}: no permission to overwrite it")
    # Permissions do not tell everything (root passes every check; /proc, a read-only mount
    # or a full disk refuse anyway): a file is made there and removed, as the plan's will be.
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise InputError(f"{flag}: {path}: cannot write in {folder}: {exc.strerror}") from exc


def check_regions(names: Sequence[str], origin: str) -> None:
    """Every region must be one botocore knows (a typo fails now, not after retries)."""
    for name in names:
        if (why := unknown_region(name)) is not None:
            raise InputError(f"{origin}: {why}")


class LogLines(logging.Handler):
    """Warnings the libraries log (Python's logging) as one line of the display each, so
    `--log-format json` holds for them too. botocore's credential warnings are left out: a
    credentials failure is reported once, by the up-front check or as the account's error."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[-1] == "credentials" and "botocore" in record.name:
            return
        first, *_ = record.getMessage().splitlines() or [""]
        log.warning(f"warning: {record.name}: {first}")
