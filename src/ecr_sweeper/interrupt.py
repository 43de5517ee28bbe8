"""Stopping `apply` politely: Ctrl-C (SIGINT) and SIGTERM (GitLab cancelling a job, `docker
stop`, `timeout`) are handled alike.

The work is cancelled; the sections that must finish (a BatchDeleteImage batch in flight and
its journal entry, see `ecr.delete_images`) are shielded, so they finish first. The caller then
says how many images were deleted and that running `apply` again resumes from the journal.

A process started with SIGINT or SIGTERM ignored (a background job of a non-interactive shell
inherits SIGINT ignored) would otherwise not stop at all: `restore_default_handlers` puts the
default dispositions back first, and the handlers installed while the work runs override any
disposition anyway. A second signal, once the work is stopping, takes its default effect.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from anyio.abc import TaskStatus

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def restore_default_handlers() -> list[signal.Signals]:
    """Reset SIGINT and SIGTERM where they are ignored; returns those that were."""
    ignored = [s for s in SIGNALS if signal.getsignal(s) is signal.SIG_IGN]
    for s in ignored:
        signal.signal(s, signal.default_int_handler if s is signal.SIGINT else signal.SIG_DFL)
    return ignored


async def run_until_signalled(work: Callable[[], Awaitable[T]]) -> T | signal.Signals:
    """`work`'s result, or the signal (SIGINT, SIGTERM) that stopped it first."""
    received: list[signal.Signals] = []
    results: list[T] = []

    async def watch(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(*SIGNALS) as signals:
            task_status.started()
            async for signum in signals:
                received.append(signal.Signals(signum))
                group.cancel_scope.cancel()
                return

    try:
        async with anyio.create_task_group() as group:
            await group.start(watch)
            results.append(await work())
            group.cancel_scope.cancel()  # done: stop watching
    except BaseExceptionGroup as group_error:  # the work's own error, as it raised it
        if len(group_error.exceptions) == 1:
            raise group_error.exceptions[0] from None
        raise
    return results[0] if results else received[0]  # work that finished is a result
