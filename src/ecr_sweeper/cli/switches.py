"""The CLI's consumer switches, generated from the registry of consumer kinds.

`with_switches(kinds)` adds a `--NAME/--no-NAME` option (default None: as the accounts file
says) for every kind with a switch, its deprecated spellings as extra flag names on the same
option, to a typer command, and hands the command their values as one keyword,
`switches: dict[str, bool | None]` (kind name → on, off, or not given). Typer reads the command's
parameters from `inspect.signature`, so the decorator sets `__signature__`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

import typer

from ecr_sweeper.aws.consumers.kind import Kind

PANEL = "Usage sources"
SWITCHES = "switches"  # the command's keyword that receives them
F = TypeVar("F", bound=Callable[..., Any])


def flags(name: str) -> str:
    """`step_functions` → `--step-functions/--no-step-functions`."""
    flag = name.replace("_", "-")
    return f"--{flag}/--no-{flag}"


def _parameter(kind: Kind) -> inspect.Parameter:
    assert kind.switch is not None
    option = typer.Option(
        flags(kind.name),
        *(flags(alias) for alias in kind.switch.aliases),
        help=kind.switch.help,
        rich_help_panel=PANEL,
    )
    return inspect.Parameter(
        _identifier(kind.name),
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[bool | None, option],
    )


def _identifier(name: str) -> str:
    return "switch_" + name.replace("-", "_")


def with_switches(kinds: Iterable[Kind]) -> Callable[[F], F]:
    """Add the switch of each of `kinds` that has one to the decorated command (see the
    module docstring). The command takes `switches` as a keyword-only parameter."""
    switched = [kind for kind in kinds if kind.switch is not None]

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name != SWITCHES]
        added = [_parameter(kind) for kind in switched]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {kind.name: kwargs.pop(_identifier(kind.name), None) for kind in switched}
            return command(*args, **kwargs, **{SWITCHES: values})

        parameters = [*kept, *added]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper  # type: ignore[return-value]

    return decorate
