"""``estate runs …``: collection runs, their logs; cancel one, or wait for its end."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from .client import FAILED, Api, api
from .output import Column, Format, emit, fields, page, stderr
from .params import All, Limit, Output, ProviderFilter, id_argument

app = typer.Typer(help="Collection runs: list, show, log, cancel, wait.", no_args_is_help=True)

RunId = Annotated[int, id_argument("run")]
FINISHED = ("completed", "partial", "failed", "canceled")
STATUSES = ("pending", "running", *FINISHED)
COLUMNS: list[Column] = [
    ("id", "id"),
    ("provider", "provider"),
    ("status", "status"),
    ("found", "resources_found"),
    ("created", "resources_created"),
    ("updated", "resources_updated"),
    ("deleted", "resources_deleted"),
    ("errors", "errors"),
    ("started", "started_at"),
    ("seconds", lambda r: f"{r['duration_seconds']:.1f}" if r["duration_seconds"] else ""),
]


def register(root: typer.Typer, epilog: str) -> None:
    app.info.epilog = epilog
    root.add_typer(app, name="runs")


def summary(run: dict[str, Any]) -> RenderableType:
    """One line of counters, and the error message when there is one."""
    line = Text.assemble(
        f"run {run['id']} ",
        (run["status"], {"completed": "green", "partial": "yellow"}.get(run["status"], "red")),
        f": found {run['resources_found']}, created {run['resources_created']}, "
        f"updated {run['resources_updated']}, unchanged {run['resources_unchanged']}, "
        f"deleted {run['resources_deleted']}, errors {run['errors']}",
    )
    if run.get("error_message"):
        return Group(line, Text(f"  {run['error_message']}"))
    return line


def follow(client: Api, run_id: int) -> dict[str, Any]:
    """Poll a run until it finishes, with a progress line on stderr when it is a terminal."""
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
    )
    shown = sys.stderr.isatty()
    with Progress(*columns, console=stderr(), transient=True, disable=not shown) as progress:
        task = progress.add_task("pending", total=None, counts="")
        while True:
            run: dict[str, Any] = client.get(f"collection-runs/{run_id}/")
            counts = f"found {run['resources_found']} · new {run['resources_created']} · errors {run['errors']}"
            progress.update(task, description=run["status"], counts=counts)
            if run["status"] in FINISHED:
                return run
            time.sleep(0.3)


@app.command("list")
def list_runs(
    provider: ProviderFilter = None,
    status: Annotated[str | None, typer.Option(help=", ".join(STATUSES), metavar="STATUS")] = None,
    limit: Limit = 50,
    every: All = False,
    output: Output = Format.table,
) -> None:
    """Collection runs, newest first."""
    with api() as client:
        params = {"provider": provider, "status": status}
        data = client.page("collection-runs/", params, limit=limit, every=every)
    emit(data, output, lambda d: page(d, COLUMNS, "run(s)"))


@app.command("show")
def show(run_id: RunId, output: Output = Format.table) -> None:
    """One run with its counters (its log: ``estate runs log``)."""
    with api() as client:
        run = client.get(f"collection-runs/{run_id}/")
    emit(run, output, lambda r: fields({k: v for k, v in r.items() if k != "log"}))


@app.command("log")
def log(run_id: RunId) -> None:
    """A run's log, as plain text."""
    with api() as client:
        run = client.get(f"collection-runs/{run_id}/")
    sys.stdout.write(
        run["log"] if run["log"].endswith("\n") or not run["log"] else run["log"] + "\n"
    )


@app.command("cancel")
def cancel(run_id: RunId, output: Output = Format.table) -> None:
    """Cancel a pending or running run."""
    with api() as client:
        run = client.post(f"collection-runs/{run_id}/cancel/")
    emit(run, output, lambda r: Text(f"run {r['id']} {r['status']}; cancel requested"))


@app.command("wait")
def wait(run_id: RunId, output: Output = Format.table) -> None:
    """Wait for a run to finish; exit 1 unless it completed."""
    with api() as client:
        run = follow(client, run_id)
    emit(run, output, summary)
    if run["status"] != "completed":
        raise typer.Exit(FAILED)
