"""The `demo` command, added to the CLI through the entry-point group `ecr_sweeper.commands`
(pyproject.toml), so that the CLI never imports the demo: the demo imports the CLI."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add `demo` to `app` (the CLI's `ecr_sweeper.cli.app`)."""
    app.command()(demo)


def demo(
    keep_server: Annotated[
        bool, typer.Option(help="Leave moto's server running until Ctrl-C after the demo.")
    ] = False,
) -> None:
    """Plan and apply, as `plan` and `apply` do, on an embedded moto server (no AWS needed).

    It seeds a small organization, runs `plan` to a plan file and `apply` with its journal,
    then checks every image in use survived; its temporary folder is removed."""
    from ecr_sweeper.cli import render
    from ecr_sweeper.demo import run_demo

    raise typer.Exit(run_demo(render, keep_server=keep_server))
