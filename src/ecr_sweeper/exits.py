"""Exit codes, in one table, and the errors that end a command with one of them.

Every code's meaning is written once, here: the CLI's `--help` text and its module docstring
are made from `ExitCode`. An error ends a command with the code of its type (as h11's
`ProtocolError` carries its `error_status_hint`), so nothing maps messages or catches broadly:

    SweeperError            one line for the person, and an exit code
      InputError   (1)      bad input: a file, a value, credentials, an endpoint
      UsageError   (2)      a command-line mistake the parser cannot see
"""

from __future__ import annotations

import textwrap
from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """What the process's exit status means (CI jobs act on them)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    BLOCKED = 3
    INCOMPLETE = 4
    DELETIONS = 5

    @property
    def meaning(self) -> str:
        """What this code means, in a few words (the --help text)."""
        return _MEANING[self][0]

    @property
    def details(self) -> str:
        """What this code means, in full (the module docstring)."""
        return _MEANING[self][1]


_MEANING: dict[ExitCode, tuple[str, str]] = {
    ExitCode.OK: ("ok", "success (plan written / apply finished; there may be nothing to do)"),
    ExitCode.ERROR: (
        "error/bad input",
        "error: bad input (accounts file, plan file, an output path that cannot be written, an "
        "unknown region, a bad role name, missing credentials, an endpoint that cannot be "
        "reached) or an unexpected failure",
    ),
    ExitCode.USAGE: (
        "usage error",
        "command-line usage error (unknown flag, missing argument, a value out of range, not "
        "one of the choices or not of its form: --account, --shard, --org-tag)",
    ),
    ExitCode.BLOCKED: (
        "blocked by safety (a usage source could not be read, or a consumer exists that was "
        "not read and is not accepted; nothing deleted)",
        "blocked by safety: a usage source could not be read, or a consumer exists that the "
        "run did not read and nobody accepted (--accept-unread), so nothing is (or was) deleted",
    ),
    ExitCode.INCOMPLETE: (
        "incomplete (some repositories unreadable or some deletions failed)",
        "incomplete: some repositories could not be listed (plan), or some deletions failed "
        "(apply)",
    ),
    ExitCode.DELETIONS: (
        "deletions planned (plan --detailed-exit-codes only)",
        "deletions planned (plan --detailed-exit-codes only; 0 then means nothing to delete)",
    ),
}
# Not ExitCode members: 128 + the signal's number, as shells report a process a signal stopped.
STOPPED = (
    "130/143 apply stopped by Ctrl-C/SIGTERM (run it again to resume)",
    "130, 143  apply stopped by Ctrl-C or SIGTERM: the batches in flight were journaled; run "
    "apply again to resume",
)


def help_text() -> str:
    """The exit codes in one paragraph (the top-level --help)."""
    codes = ", ".join(f"{code.value} {code.meaning}" for code in ExitCode)
    return f"Exit codes: {codes}, {STOPPED[0]}."


def docstring_table() -> str:
    """The exit codes, one per paragraph (the CLI module's docstring)."""
    rows = [(f"{code.value}", code.details) for code in ExitCode]
    rows.append(("130, 143", STOPPED[1].removeprefix("130, 143").strip()))
    lines = ["Exit codes (documented in the README; CI jobs act on them):"]
    for code, details in rows:
        lines += textwrap.wrap(details, 96, initial_indent=f"  {code}  ", subsequent_indent=" " * 5)
    return "\n".join(lines)


class SweeperError(Exception):
    """An error a person can fix, in one line; it ends the command with `exit_code`."""

    exit_code: ClassVar[ExitCode] = ExitCode.ERROR


class InputError(SweeperError):
    """Bad input: a file, a value, the credentials, an endpoint (exit 1)."""

    exit_code = ExitCode.ERROR


class UsageError(SweeperError):
    """A command-line mistake the parser cannot see: options that do not go together (exit 2)."""

    exit_code = ExitCode.USAGE
