"""What the CLI prints: data on stdout (a table, or the API's JSON or YAML), the rest on stderr.

``estate resources list -o json | jq`` works because nothing but data reaches stdout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any

import typer
import yaml
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


Getter = str | Callable[[dict[str, Any]], Any]
Column = tuple[str, Getter]


def stdout() -> Console:
    # A console per call: it reads the terminal width of the moment, and in tests
    # writes to the stdout the runner swapped in.
    return Console(highlight=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def emit(data: Any, fmt: Format, table: Callable[[Any], RenderableType | None]) -> None:
    """Print ``data`` as the format asks; ``table`` renders it for people."""
    if fmt is Format.json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt is Format.yaml:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        rendered = table(data)
        if rendered is not None:
            stdout().print(rendered)


def cell(value: Any) -> Text:
    """One value as table text, never read as Rich markup (names are the platform's)."""
    if value is None:
        return Text("")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, dict | list):
        return Text(json.dumps(value, ensure_ascii=False) if value else "")
    return Text(str(value))


def _value(item: dict[str, Any], getter: Getter) -> Any:
    return item.get(getter) if isinstance(getter, str) else getter(item)


def rows(items: Iterable[dict[str, Any]], columns: Sequence[Column], title: str = "") -> Table:
    """A table with one row per item."""
    table = Table(*(name for name, _ in columns), title=title or None)
    for item in items:
        table.add_row(*(cell(_value(item, getter)) for _, getter in columns))
    return table


def fields(item: dict[str, Any], names: Sequence[str] | None = None) -> Table:
    """A two-column table: field, value."""
    table = Table("field", "value", show_header=False)
    for name in names or list(item):
        table.add_row(Text(name, style="bold"), cell(item.get(name)))
    return table


def page(data: dict[str, Any], columns: Sequence[Column], noun: str) -> Table:
    """A list page; says on stderr when more rows are left than it shows."""
    shown = len(data["results"])
    count = f"about {data['count']}" if data.get("count_estimated") else str(data["count"])
    if data.get("next"):
        info(f"showing {shown} of {count} {noun}; --all for every one, or --limit")
    return rows(data["results"], columns, title=f"{count} {noun}")


def info(message: str) -> None:
    stderr().print(Text(message))


def warn(message: str) -> None:
    stderr().print(Text.assemble(("warning: ", "yellow"), message))


def error(message: str) -> None:
    stderr().print(Text.assemble(("error: ", "red"), message))


def confirm(question: str, yes: bool) -> None:
    """Go on when ``yes`` or the person at the terminal agrees; without a terminal, exit 2."""
    if yes:
        return
    if not sys.stdin.isatty():
        error(f"{question} Pass --yes to confirm; there is no terminal to ask on.")
        raise typer.Exit(2)
    if not typer.confirm(question, default=False, err=True):
        error("nothing was changed")
        raise typer.Exit(1)
