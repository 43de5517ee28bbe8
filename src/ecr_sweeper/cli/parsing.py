"""The parser's side, through public APIs only: help in one style, and every parser error in
one line like every other error.

typer 0.29 carries its own copy of click (not the `click` package installed beside it, whose
exception classes it does not raise). Its public surface is enough: `typer.main.get_command`
gives the click command, whose `main(standalone_mode=False)` raises the parser's errors, all
subclasses of `typer.TyperException` (`typer.BadParameter` for a value); the help is adjusted
through the public attributes and methods of click's commands and parameters (`params`,
`metavar`, `param_type_name`, `options_metavar`, `get_params`, `get_usage_pieces`; and the
methods `get_help_option` and `collect_usage_pieces`, replaced on each command object).
"""

from __future__ import annotations

from typing import Any

import typer


def plain_help(command: Any) -> None:
    """Help in one style, for every option of every command (those added later too): flags
    show no `<bool>`, values their metavar (the option's own, else its name in capitals),
    arguments their name in capitals (`PLAN_FILE`, not typer's `{PLAN_FILE}`)."""
    for param in command.params:
        if param.param_type_name == "option" and (param.is_flag or param.count):
            param.metavar = ""
        elif param.param_type_name == "argument":
            param.metavar = param.metavar or (param.name or "value").upper()
        elif param.metavar is None:  # a choice's is `<a|b>`, set where it is declared
            param.metavar = (param.name or "value").upper()
    own_help_option = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = own_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    def usage_pieces(ctx: Any) -> list[str]:
        # typer writes a required argument `{NAME}`: here `NAME`, `[NAME]`, `[NAME]...`.
        pieces = [command.options_metavar] if command.options_metavar else []
        for param in command.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_usage_name(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    command.get_help_option = help_option
    if any(p.param_type_name == "argument" for p in command.params):
        command.collect_usage_pieces = usage_pieces
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)


def _usage_name(argument: Any) -> str:
    name = str(argument.metavar)
    return (name if argument.required else f"[{name}]") + ("..." if argument.nargs != 1 else "")


def usage_line(exc: typer.TyperException) -> str:
    """A parser error in the style of every other: `--flag: why (see `command --help`)`."""
    message = exc.format_message()
    param = getattr(exc, "param", None)
    if isinstance(exc, typer.BadParameter) and param is not None and exc.message:
        hint = getattr(exc, "param_hint", None) or _long_name(param)
        hint = hint if isinstance(hint, str) else " / ".join(hint)
        message = f"{hint.strip(chr(39))}: {exc.message.removeprefix('Value error, ')}"
    else:  # a usage error, or a missing argument (whose message is empty)
        message = _sentence(message)
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "ecr-sweeper"
    return f"{message} (see `{command} --help`)"


def _long_name(param: Any) -> str:
    """`--output` of `--output / -o`: the name a person looks for in --help."""
    names: list[str] = list(getattr(param, "opts", None) or [param.name])
    return max(names, key=len)


def _sentence(message: str) -> str:
    message = message.rstrip(".")  # click's "Missing argument 'X'." ends a sentence early
    return message[0].lower() + message[1:] if message else message
