"""The `demo` command, added to the CLI's typer app by `register` (the console script's entry
does it). Its module imports nothing of the `demo` extra: moto and boto3 load when it runs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from ecr_sweeper.render import ProgressDisplay, Renderer

# As the CLI's consoles: off a terminal, lines are never wrapped.
_UNWRAPPED = 100_000


def demo(
    keep_server: Annotated[
        bool, typer.Option(help="Leave moto's server running until Ctrl-C after the demo.")
    ] = False,
    serve: Annotated[
        bool,
        typer.Option(
            help="Only seed the organization and keep its moto server running: print the "
            "`export` lines and `plan` commands to try from another shell; Ctrl-C or "
            "SIGTERM stops it."
        ),
    ] = False,
) -> None:
    """Plan and apply, as `plan` and `apply` do, on an embedded moto server (no AWS needed).

    It seeds a small organization, runs `plan` to a plan file and `apply` with its journal,
    then checks every image in use survived; its temporary folder is removed. With --serve,
    it seeds the organization and serves it for your own commands instead."""
    from ecr_sweeper.demo.run import run_demo, serve_demo  # moto and boto3: the `demo` extra

    out = Console(highlight=False, width=None if sys.stdout.isatty() else _UNWRAPPED)
    err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else _UNWRAPPED)
    render = Renderer(out, ProgressDisplay(err))
    if serve:
        raise typer.Exit(serve_demo(render))
    raise typer.Exit(run_demo(render, keep_server=keep_server))


def register(app: typer.Typer) -> None:
    """Add `demo` to `app` (once: registering again changes nothing)."""
    if not any(info.callback is demo for info in app.registered_commands):
        app.command()(demo)
