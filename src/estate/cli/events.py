"""``estate events …``: what plugins published, newest first."""

from __future__ import annotations

from typing import Annotated

import typer

from .client import api
from .output import Column, Format, emit, fields, page
from .params import All, Limit, Output, ProviderFilter, id_argument

app = typer.Typer(help="Events plugins published.", no_args_is_help=True)

SEVERITIES = "debug, info, warning, error, critical"
COLUMNS: list[Column] = [
    ("id", "id"),
    ("at", "created_at"),
    ("severity", "severity"),
    ("type", "type"),
    ("provider", "provider"),
    ("run", "run"),
    ("message", "message"),
]


def register(root: typer.Typer, epilog: str) -> None:
    app.info.epilog = epilog
    root.add_typer(app, name="events")


@app.command("list")
def list_events(
    provider: ProviderFilter = None,
    run: Annotated[int | None, typer.Option(help="Only this run's", metavar="ID")] = None,
    event_type: Annotated[
        str | None, typer.Option("--type", help="The event type", metavar="TYPE")
    ] = None,
    severity: Annotated[str | None, typer.Option(help=SEVERITIES, metavar="SEVERITY")] = None,
    limit: Limit = 50,
    every: All = False,
    output: Output = Format.table,
) -> None:
    """Events, with filters."""
    params = {"provider": provider, "run": run, "type": event_type, "severity": severity}
    with api() as client:
        data = client.page("events/", params, limit=limit, every=every)
    emit(data, output, lambda d: page(d, COLUMNS, "event(s)"))


@app.command("show")
def show(event_id: Annotated[int, id_argument("event")], output: Output = Format.table) -> None:
    """One event with its data."""
    with api() as client:
        event = client.get(f"events/{event_id}/")
    emit(event, output, fields)
