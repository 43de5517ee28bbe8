"""The `ecr-sweeper` command: parse, call one entry of the pipeline (runs.py), render.

Every bad input fails before any AWS call but one (`sts:GetCallerIdentity`, the up-front check
of the base credentials), in one line on stderr: `error: <flag, file or key>: <what is wrong>`.

{exit_codes}

The console script is `ecr_sweeper.entry:main`, which adds the `demo` command (the demo package
imports this one; this one never imports the demo).
"""

from __future__ import annotations

import itertools
import logging
import sys
import traceback
from collections.abc import Sequence

import typer

from ecr_sweeper.cli.commands import app, apply_exit_code, plan_exit_code
from ecr_sweeper.cli.console import LogLines, log, render
from ecr_sweeper.cli.parsing import plain_help, usage_line
from ecr_sweeper.exits import ExitCode, SweeperError, docstring_table

__doc__ = (__doc__ or "").format(exit_codes=docstring_table())

# The names scripts and the demo use.
EXIT_OK = ExitCode.OK
EXIT_ERROR = ExitCode.ERROR
EXIT_USAGE = ExitCode.USAGE
EXIT_BLOCKED = ExitCode.BLOCKED
EXIT_INCOMPLETE = ExitCode.INCOMPLETE
EXIT_DELETIONS = ExitCode.DELETIONS  # with --detailed-exit-codes only

__all__ = [
    "EXIT_BLOCKED",
    "EXIT_DELETIONS",
    "EXIT_ERROR",
    "EXIT_INCOMPLETE",
    "EXIT_OK",
    "EXIT_USAGE",
    "app",
    "apply_exit_code",
    "main",
    "plan_exit_code",
    "render",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: every error one line on stderr (JSON with --log-format
    json), parser errors included. Returns the exit code when `argv` is given (the demo)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--log-format=json" in args or ("--log-format", "json") in itertools.pairwise(args):
        log.configure(log_format="json")
    root = logging.getLogger()
    if not any(isinstance(h, LogLines) for h in root.handlers):
        root.addHandler(LogLines())
    command = typer.main.get_command(app)
    plain_help(command)
    try:
        code = command.main(args, prog_name="ecr-sweeper", standalone_mode=False)
    except SweeperError as exc:
        log.error(f"error: {exc}")
        code = exc.exit_code
    except typer.TyperException as exc:  # the parser's own errors
        log.error(f"error: {usage_line(exc)}")
        code = exc.exit_code
    except typer.Abort:
        log.error("error: aborted")
        code = ExitCode.ERROR
    except Exception as exc:
        if not log.json:
            raise  # a bug: the traceback, as Python prints it
        # Even a bug is one JSON line: the traceback goes in its own field.
        log.error(
            f"error: unexpected {type(exc).__name__}: {exc}",
            traceback="".join(traceback.format_exception(exc)),
        )
        code = ExitCode.ERROR
    code = int(code) if isinstance(code, int) else ExitCode.OK
    if argv is None:
        sys.exit(code)
    return code
