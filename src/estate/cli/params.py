"""Options many commands share, each spelled once."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from .client import USAGE, fail
from .output import Format

Output = Annotated[
    Format,
    typer.Option("--output", "-o", help="table, json or yaml", metavar="FORMAT"),
]
Limit = Annotated[
    int, typer.Option(help="At most this many rows (one page)", min=1, max=1000, metavar="N")
]
All = Annotated[bool, typer.Option("--all", help="Every row, following the pages", metavar="")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask; for scripts", metavar="")]
ProviderFilter = Annotated[
    int | None, typer.Option("--provider", help="Only this provider's", metavar="ID")
]
Config = Annotated[
    list[str] | None,
    typer.Option(
        "--config",
        "-c",
        help="connection_config entry (a JSON value, or else a string); repeat",
        metavar="KEY=VALUE",
    ),
]


def id_argument(noun: str) -> Any:
    return typer.Argument(help=f"The {noun}'s id", metavar="ID")


def parse_config(items: list[str], option: str = "--config") -> dict[str, Any]:
    """``KEY=VALUE`` entries as a dict; a value that parses as JSON is taken as JSON."""
    config: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(f"{option}: expected KEY=VALUE, got {item!r}", USAGE)
        try:
            config[key] = json.loads(value)
        except ValueError:
            config[key] = value
    return config
