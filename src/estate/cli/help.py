"""Help text without Typer's ``<bool>``, ``<str>``, ``<int>`` type tags.

Typer shows a parameter's Python type in angle brackets where it has no metavar,
and always for arguments and flags (``--help <bool>``). Our options carry
metavars (``ID``, ``KEY=VALUE``, ``URL``); this makes the rest show what Click
would: nothing for a flag, the metavar (or the upper-cased name) otherwise.
"""

from __future__ import annotations

from typer import Context
from typer.core import TyperArgument, TyperOption

_TYPE_NAMES = {int: "INTEGER", float: "NUMBER", str: "TEXT", bool: ""}


def _display_type(self: TyperArgument | TyperOption, ctx: Context) -> str:
    if isinstance(self, TyperOption) and (self.is_flag or self.count):
        return ""
    if self.metavar is not None:
        return self.metavar
    if isinstance(self, TyperArgument):
        return (self.name or "").upper()
    annotation = self.type_descriptor.annotation
    return _TYPE_NAMES.get(annotation, "VALUE")


def _argument_type(self: TyperArgument, ctx: Context) -> str | None:
    return None  # the name column already shows the argument's metavar


def install() -> None:
    """Replace the type tags in every help page of this process."""
    TyperOption.display_type = _display_type  # type: ignore[method-assign,assignment]
    TyperArgument.display_type = _display_type  # type: ignore[method-assign,assignment]
    TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign,assignment]
