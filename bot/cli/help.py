"""`--help` that reads naturally: flags as flags, TEXT / INTEGER / PATH placeholders, not <str>.

Typer labels every parameter with its Python type (`<str>`, `<bool>`, `{text}`); this walks the
built command tree once and gives each parameter a metavar in the usual Unix style instead
(required arguments bare, optional ones in brackets, flags without a placeholder).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import typer.main

_NAMES: dict[Any, str] = {str: "TEXT", int: "INTEGER", float: "NUMBER", Path: "PATH"}


def kefu_command(app: typer.Typer) -> Any:
    """The Click command tree of `app`, every parameter with a natural placeholder."""
    command = typer.main.get_command(app)
    _natural(command)
    return command


def _natural(command: Any) -> None:
    for param in getattr(command, "params", []):
        _placeholder(param)
    help_option = command.get_help_option(typer.Context(command))
    if help_option is not None:
        help_option.metavar = ""  # a flag takes no value
    for child in getattr(command, "commands", {}).values():
        _natural(child)


def _placeholder(param: Any) -> None:
    if param.metavar is not None:
        return  # a placeholder chosen by hand (HASH@SEQ) stays
    if getattr(param, "param_type_name", "") == "argument":
        name = param.metavar = param.name.upper()
        usage = name if param.required else f"[{name}]"
        param.display_type_rich = lambda ctx: None  # the name column already says it
        param._usage_display_name = lambda: usage + ("..." if param.nargs != 1 else "")
    elif getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""
    else:
        param.metavar = _value_name(param)


def _value_name(param: Any) -> str:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:
        return "VALUE"
    if descriptor.is_choice:
        choices = [c.value if isinstance(c, Enum) else str(c) for c in descriptor.choices or ()]
        return "[" + "|".join(choices) + "]"
    if descriptor.is_path:
        return "PATH"
    annotation = descriptor.annotation
    element = (getattr(annotation, "__args__", None) or (annotation,))[0]
    return _NAMES.get(element, getattr(element, "__name__", "VALUE").upper())
