"""``estate action …``: what can be done to a resource, doing it, and how it went."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from .client import FAILED, Api, api
from .output import Column, Format, emit, fields, rows, stderr
from .params import Output, id_argument, parse_config

app = typer.Typer(help="Lifecycle actions: list, run, show.", no_args_is_help=True)

ResourceId = Annotated[int, id_argument("resource")]
RunId = Annotated[int, id_argument("action run")]
FINISHED = ("completed", "failed", "canceled")
COLUMNS: list[Column] = [
    ("action", "name"),
    ("profile", "profile"),
    ("available", lambda a: "yes" if a["available"] else f"no: {a['reason']}"),
    (
        "parameters",
        lambda a: ", ".join(
            p["name"] + ("" if p["required"] else "?") + f":{p['type']}" for p in a["params"]
        ),
    ),
    ("description", "description"),
]
Param = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="An action parameter (a JSON value, or else a string); repeat",
        metavar="KEY=VALUE",
    ),
]


def register(root: typer.Typer, epilog: str) -> None:
    app.info.epilog = epilog
    root.add_typer(app, name="action")


def summary(run: dict[str, Any]) -> RenderableType:
    line = Text.assemble(
        f"action run {run['id']} ({run['action']}) ",
        (run["status"], "green" if run["status"] == "completed" else "red"),
    )
    if run.get("refresh_run"):
        line.append(f"; inventory refreshed by collection run {run['refresh_run']}")
    if run.get("error"):
        return Group(line, Text(f"  {run['error']}"))
    return line


def follow(client: Api, run_id: int) -> dict[str, Any]:
    """Poll an action run until it ends, with a progress line on stderr on a terminal."""
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn())
    shown = sys.stderr.isatty()
    with Progress(*columns, console=stderr(), transient=True, disable=not shown) as progress:
        task = progress.add_task("pending", total=None)
        while True:
            run: dict[str, Any] = client.get(f"action-runs/{run_id}/")
            progress.update(task, description=f"{run['action']}: {run['status']}")
            if run["status"] in FINISHED:
                return run
            time.sleep(0.3)


@app.command("list")
def list_actions(resource_id: ResourceId, output: Output = Format.table) -> None:
    """The actions the resource's plugin offers for it, and whether each can run now."""
    with api() as client:
        data = client.get(f"resources/{resource_id}/actions/")
    emit(data, output, lambda d: rows(d["actions"], COLUMNS, d["message"] or ""))


@app.command("run")
def run(
    resource_id: ResourceId,
    name: Annotated[str, typer.Argument(help="The action, e.g. power_off", metavar="NAME")],
    param: Param = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for its end", metavar="")] = False,
    output: Output = Format.table,
) -> None:
    """Run an action on a resource; with --wait, exit 1 unless it completed."""
    body = {"params": parse_config(param or [], "--param")}
    with api() as client:
        started = client.post(f"resources/{resource_id}/actions/{name}/", json=body)
        result = follow(client, started["id"]) if wait else started
    emit(result, output, summary)
    if wait and result["status"] != "completed":
        raise typer.Exit(FAILED)


@app.command("show")
def show(run_id: RunId, output: Output = Format.table) -> None:
    """One action run: parameters (secrets masked), status, result, error, log."""
    with api() as client:
        found = client.get(f"action-runs/{run_id}/")
    emit(found, output, fields)
