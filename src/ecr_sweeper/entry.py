"""The console script: the CLI with the `demo` command added. The CLI does not import the
demo; this module joins them, so neither imports the other's side of the circle."""

from __future__ import annotations

from collections.abc import Sequence

from ecr_sweeper import cli
from ecr_sweeper.demo.command import register


def main(argv: Sequence[str] | None = None) -> int:
    """`ecr-sweeper`: the CLI's `main` (see `ecr_sweeper.cli.main`), `demo` included."""
    register(cli.app)
    return cli.main(argv)
